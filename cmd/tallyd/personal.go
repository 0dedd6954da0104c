package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tallyledger/tally/client/personal"
)

// personalCmd is the agency-side store of personal data kept off chain
// (client/personal): records encrypted under a key per person, commitments
// for the chain, and shredding.
func personalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "personal",
		Short: "Keep personal data off chain, encrypted per person; print commitments for the chain; shred",
		Long: `An agency keeps what it must know about a person (evidence, contact
details) here, never on the chain. Each person's records are encrypted
under that person's own key; the chain holds only commitments:

  put PERSON NAME < file   stores a record, prints its commitment (write it
                           on chain, e.g. as an enrolment's evidence hash)
  get PERSON NAME          prints the record and its commitment
  pseudonym PERSON DOMAIN  the person's pseudonymous reference for one use
                           (e.g. benefits/recipient), derived from their key
  shred PERSON             destroys the person's key: every copy of their
                           records, backups included, becomes unreadable,
                           and their pseudonyms can no longer be linked to
                           them. Commitments on the chain stay and still
                           verify, but nothing opens them.

PERSON is the agency's own identifier for the person; it is never written
to disk in the clear. The store lives in --store (default <home>/personal);
keep its keys/ directory on separate, access-controlled media.`,
	}
	store := func(c *cobra.Command) (*personal.Store, error) {
		dir, _ := c.Flags().GetString("store")
		if dir == "" {
			dir = filepath.Join(homeFlag(c), "personal")
		}
		return personal.Open(dir)
	}
	cmd.PersistentFlags().String("store", "", "personal store directory (default <home>/personal)")
	cmd.AddCommand(&cobra.Command{
		Use:   "put PERSON NAME",
		Short: "Store a record read from stdin, encrypted under the person's key; print its commitment",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store(c)
			if err != nil {
				return err
			}
			data, err := io.ReadAll(os.Stdin)
			if err != nil {
				return err
			}
			com, err := s.Put(args[0], args[1], data)
			if err != nil {
				return err
			}
			fmt.Println(hex.EncodeToString(com.Hash))
			return nil
		},
	}, &cobra.Command{
		Use:   "get PERSON NAME",
		Short: "Print a record and, on stderr, its commitment",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store(c)
			if err != nil {
				return err
			}
			data, com, err := s.Get(args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "commitment", hex.EncodeToString(com.Hash))
			_, err = os.Stdout.Write(data)
			return err
		},
	}, &cobra.Command{
		Use:   "pseudonym PERSON DOMAIN",
		Short: "Print the person's 64-hex pseudonym for one use (e.g. benefits/recipient, tax/taxpayer)",
		Args:  cobra.ExactArgs(2),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store(c)
			if err != nil {
				return err
			}
			p, err := s.Pseudonym(args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Println(hex.EncodeToString(p))
			return nil
		},
	}, &cobra.Command{
		Use:   "shred PERSON",
		Short: "Destroy the person's key, erasing their records everywhere they were copied",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			s, err := store(c)
			if err != nil {
				return err
			}
			if err := s.Shred(args[0]); err != nil {
				return err
			}
			fmt.Println("shredded: the person's records can no longer be read")
			return nil
		},
	})
	return cmd
}
