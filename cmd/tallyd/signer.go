package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/privval"
	"github.com/spf13/cobra"
)

// signerRetryWait is how long the signer waits between attempts to reach
// its node; it keeps trying for as long as it runs.
const signerRetryWait = 500 * time.Millisecond

func signerCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "signer --key FILE --state FILE --connect ADDR --chain-id ID",
		Short: "Hold a validator's consensus key in a process of its own and sign for its node",
		Long: `signer keeps a validator's consensus key (priv_validator_key.json) out of the
node: it connects to the node's priv_validator_laddr and answers its
requests for signatures, and nothing else.

It keeps its own last-signed state (--state, priv_validator_state.json):
before every signature it checks the height, round and step against it
and refuses to sign a different block or vote at a height/round/step it has
already signed, then saves the new state to disk before answering. So a
signer killed and restarted at any moment never signs two different blocks
at one height and round. Move the state file with the key, never copy it.

The node's config.toml names where it waits for the signer:
  priv_validator_laddr = "unix:///srv/tally/privval.sock"   (same machine)
  priv_validator_laddr = "tcp://127.0.0.1:26659"            (encrypted, another process or machine)
and the signer connects there (--connect). While the node runs, the
signer reconnects after any break; while it is unreachable, the node
cannot vote and says so: in its log ("remote signer unreachable"), in
tally_remote_signer_up (0) and in a warning of tallyd status.

Example:
  tallyd signer --key /srv/signer/priv_validator_key.json \
      --state /srv/signer/priv_validator_state.json \
      --connect unix:///srv/tally/privval.sock --chain-id tally-main`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			keyFile, _ := f.GetString("key")
			stateFile, _ := f.GetString("state")
			addr, _ := f.GetString("connect")
			chainID, _ := f.GetString("chain-id")
			if keyFile == "" || stateFile == "" || addr == "" || chainID == "" {
				return errors.New("--key, --state, --connect and --chain-id are all required")
			}
			if _, err := os.Stat(keyFile); err != nil {
				return fmt.Errorf("validator key: %w", err)
			}
			var pv *privval.FilePV
			if _, err := os.Stat(stateFile); errors.Is(err, os.ErrNotExist) {
				fresh, _ := f.GetBool("new-state")
				if !fresh {
					return fmt.Errorf("no signing state at %s: move the key's priv_validator_state.json with it, or pass --new-state only for a key that has never signed", stateFile)
				}
				pv = privval.LoadFilePVEmptyState(keyFile, stateFile)
				pv.Save()
			} else {
				pv = privval.LoadFilePV(keyFile, stateFile)
			}
			var dialer privval.SocketDialer
			switch {
			case strings.HasPrefix(addr, "unix://"):
				dialer = privval.DialUnixFn(strings.TrimPrefix(addr, "unix://"))
			case strings.HasPrefix(addr, "tcp://"):
				dialer = privval.DialTCPFn(strings.TrimPrefix(addr, "tcp://"), 5*time.Second, ed25519.GenPrivKey())
			default:
				return fmt.Errorf("--connect %q: want unix://PATH or tcp://HOST:PORT (the node's priv_validator_laddr)", addr)
			}
			logger := log.NewFilter(log.NewTMLogger(log.NewSyncWriter(os.Stdout)), log.AllowInfo()).With("module", "signer")
			endpoint := privval.NewSignerDialerEndpoint(logger, dialer,
				privval.SignerDialerEndpointRetryWaitInterval(signerRetryWait),
				privval.SignerDialerEndpointConnRetries(math.MaxInt32))
			server := privval.NewSignerServer(endpoint, chainID, pv)
			if err := server.Start(); err != nil {
				return fmt.Errorf("starting the signer: %w", err)
			}
			pub, _ := pv.GetPubKey()
			fmt.Printf("Signing for validator %s (chain %s) through %s\n", pub.Address(), chainID, addr)
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
			<-sig
			return server.Stop()
		},
	}
	f := cmd.Flags()
	f.String("key", "", "the validator's consensus key file (priv_validator_key.json)")
	f.String("state", "", "the signer's last-signed state file (priv_validator_state.json); it moves with the key")
	f.String("connect", "", "the node's priv_validator_laddr: unix://PATH or tcp://HOST:PORT")
	f.String("chain-id", "", "the chain the signer signs for; requests for any other chain are refused")
	f.Bool("new-state", false, "start a state file for a key that has never signed (never for a key that has)")
	return cmd
}
