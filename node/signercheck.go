package node

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// RemoteSignerNotValidator is the start of the error the node logs when
// its remote signer's key is not in the validator set; `tallyd status`
// warns with the same words.
const RemoteSignerNotValidator = "the remote signer's key is not a validator of this chain"

// checkRemoteSigner logs an error, once the node has started, when the
// node signs through a remote signer (priv_validator_laddr) whose key is
// not in the validator set of the node's latest state. A signer started
// with another key (the wrong file, another validator's backup) answers
// CometBFT like the right one; the node then runs as a full node and its
// validator misses every block without any other sign. It is logged, not
// refused: a validator still to be admitted by the agencies runs its
// signer before its key is in the set.
func (n *Node) checkRemoteSigner() error {
	laddr := n.Config().PrivValidatorListenAddr
	if laddr == "" || n.PrivValidator() == nil {
		return nil
	}
	pk, err := n.PrivValidator().GetPubKey()
	if err != nil {
		return fmt.Errorf("asking the remote signer at %s for its key: %w", laddr, err)
	}
	env, err := n.ConfigureRPC()
	if err != nil {
		return err
	}
	st, err := env.StateStore.Load()
	if err != nil {
		return fmt.Errorf("loading the state to check the remote signer's key: %w", err)
	}
	if st.Validators != nil && st.Validators.HasAddress(pk.Address()) {
		return nil
	}
	n.Logger.Error(RemoteSignerNotValidator+": it will not sign blocks. Check that `tallyd signer --key` is this validator's key (or that the agencies have admitted it)",
		"signer_address", pk.Address().String(), "priv_validator_laddr", laddr, "height", st.LastBlockHeight)
	return nil
}

// removeStaleSignerSocket removes the unix socket file of
// priv_validator_laddr when nothing listens on it: a node that exited
// without closing its listener (its start gave up waiting for the
// signer) leaves the file, and the next start then fails with "bind:
// address already in use". A live listener (another process running this
// home) answers the dial and its file is kept.
func removeStaleSignerSocket(laddr string) {
	path, ok := strings.CutPrefix(laddr, "unix://")
	if !ok {
		return
	}
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&os.ModeSocket == 0 {
		return
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return
	}
	_ = os.Remove(path)
}
