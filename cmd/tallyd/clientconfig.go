package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/tallyledger/tally/client"
)

// configFlags maps client.toml's keys to the flags they give defaults to.
var configFlags = map[string]string{
	"node":            "node",
	"chain_id":        "chain-id",
	"keyring_backend": "keyring-backend",
	"keyring_dir":     "keyring-dir",
}

// applyClientConfig fills the flags the user did not give from
// <home>/client.toml, when there is one. `tallyd testnet init` writes it, so
// `tallyd --home build/localnet query ...` (or TALLY_HOME=build/localnet)
// talks to the local network with its demo keys.
func applyClientConfig(cmd *cobra.Command) error {
	path := filepath.Join(homeFlag(cmd), client.ConfigFile)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	v := viper.New()
	v.SetConfigFile(path)
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil {
		return fmt.Errorf("reading the client configuration %s: %w", path, err)
	}
	for key, flag := range configFlags {
		f := cmd.Flags().Lookup(flag)
		if f == nil || f.Changed || !v.IsSet(key) {
			continue
		}
		if err := cmd.Flags().Set(flag, v.GetString(key)); err != nil {
			return fmt.Errorf("%s: %s = %q: %w", path, key, v.GetString(key), err)
		}
	}
	return nil
}
