package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/client/keys"
)

func keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Manage account keys (ed25519) in a keyring",
		Long: `Account keys sign transactions. The 'file' backend (default) encrypts each
private key under a passphrase (argon2id + XChaCha20-Poly1305); the
passphrase is read from $TALLY_KEYRING_PASSPHRASE or asked for on the
terminal, where it is not shown; a new passphrase needs at least 12
characters. A keyring directory that other users could read is set back
to 0700, with a warning. The 'test' backend stores keys UNENCRYPTED and is only for local
demonstrations.`,
	}
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Create a new key and print its address and public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			info, err := kr.Add(args[0])
			if err != nil {
				return err
			}
			return printJSON(info)
		},
	}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the keys in the keyring",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			infos, err := kr.List()
			if err != nil {
				return err
			}
			return printJSON(infos)
		},
	}
	show := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's address and public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			info, err := kr.Show(args[0])
			if err != nil {
				return err
			}
			return printJSON(info)
		},
	}
	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a key from the keyring (export it first if you may need it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			if err := kr.Delete(args[0]); err != nil {
				return err
			}
			fmt.Printf("deleted key %q\n", args[0])
			return nil
		},
	}
	export := &cobra.Command{
		Use:   "export NAME FILE",
		Short: "Write a key, encrypted under an export passphrase, to FILE",
		Long:  "The export passphrase is read from $TALLY_EXPORT_PASSPHRASE or asked for on the terminal.",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			pass, err := exportPassphrase(true)
			if err != nil {
				return err
			}
			armor, err := kr.Export(args[0], pass)
			if err != nil {
				return err
			}
			if err := os.WriteFile(args[1], armor, 0o600); err != nil {
				return err
			}
			fmt.Printf("exported key %q to %s\n", args[0], args[1])
			return nil
		},
	}
	imp := &cobra.Command{
		Use:   "import NAME FILE",
		Short: "Import a key written by 'tallyd keys export'",
		Long:  "The export passphrase is read from $TALLY_EXPORT_PASSPHRASE or asked for on the terminal.",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kr, err := openKeyring(cmd)
			if err != nil {
				return err
			}
			armor, err := os.ReadFile(args[1])
			if err != nil {
				return err
			}
			pass, err := exportPassphrase(false)
			if err != nil {
				return err
			}
			info, err := kr.Import(args[0], armor, pass)
			if err != nil {
				return err
			}
			return printJSON(info)
		},
	}
	for _, c := range []*cobra.Command{add, list, show, del, export, imp} {
		addKeyringFlags(c)
		cmd.AddCommand(c)
	}
	cmd.AddCommand(keysProveCmd(), keysProveValidatorCmd())
	return cmd
}

// exportPassphrase reads the export passphrase from the environment or,
// hidden, from the terminal; a new one (confirm) is asked twice.
func exportPassphrase(confirm bool) (string, error) {
	if p := os.Getenv("TALLY_EXPORT_PASSPHRASE"); p != "" {
		return p, nil
	}
	return keys.PassphraseFromTerminal(os.Stdin, os.Stderr)("Export passphrase", confirm)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
