package client

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ConfigFile is the client configuration's file name inside a tallyd home
// (--home, default $TALLY_HOME or ~/.tally). `tallyd testnet init` writes
// one into the network's directory.
const ConfigFile = "client.toml"

// Config is what tallyd's client commands use when their flags are not
// given, like a Cosmos chain's client.toml: the node to talk to, the chain,
// and where the signing keys are.
type Config struct {
	Node           string // RPC address, e.g. tcp://127.0.0.1:27001
	ChainID        string
	KeyringBackend string // "file" or "test"
	KeyringDir     string
}

// WriteConfig writes c to dir/client.toml.
func WriteConfig(dir string, c Config) error {
	body := "# tallyd client configuration: the defaults for --node, --chain-id,\n" +
		"# --keyring-backend and --keyring-dir when a command is run with --home " + strconv.Quote(dir) + "\n" +
		"# (or TALLY_HOME=" + strconv.Quote(dir) + "). A flag given on the command line wins.\n" +
		fmt.Sprintf("node = %s\nchain_id = %s\nkeyring_backend = %s\nkeyring_dir = %s\n",
			strconv.Quote(c.Node), strconv.Quote(c.ChainID), strconv.Quote(c.KeyringBackend), strconv.Quote(c.KeyringDir))
	return os.WriteFile(filepath.Join(dir, ConfigFile), []byte(body), 0o644)
}
