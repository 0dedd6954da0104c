package node

import (
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	rpcserver "github.com/cometbft/cometbft/rpc/jsonrpc/server"
	rpctypes "github.com/cometbft/cometbft/rpc/jsonrpc/types"
	"github.com/prometheus/client_golang/prometheus"
)

// The remote signer watch.
//
// A node with priv_validator_laddr set signs through `tallyd signer`,
// which connects to it there. When the signer dies or its connection
// breaks while the node runs, CometBFT's signer client pings it (every
// ~3.3 s), drops the connection that does not answer and waits for a new
// one; meanwhile the validator signs nothing, and CometBFT's log says
// only "Ping timeout" among its other lines. The node watches that
// connection itself: while it is down it logs an error naming the address
// and what to do, exports tally_remote_signer_up 0, and answers the RPC
// method remote_signer with the time it went down, which `tallyd status`
// turns into a warning. When the signer connects again all three clear.
// The watch only reads whether the client holds a connection; it sends
// nothing to the signer, so it never delays a signature.

// RemoteSignerUnreachable starts the error the node logs, and the warning
// `tallyd status` gives, while no remote signer is connected.
const RemoteSignerUnreachable = "remote signer unreachable"

// RemoteSignerRoute is the node's RPC method reporting its remote signer
// (RemoteSignerStatus).
const RemoteSignerRoute = "remote_signer"

// signerWatchEvery is how often the watch looks at the connection; the
// signer is reported unreachable once it has been seen without a
// connection twice running (1-2 s after CometBFT dropped it).
const signerWatchEvery = time.Second

// signerWatchRepeat is how often the error is logged again while the
// signer stays unreachable.
const signerWatchRepeat = time.Minute

// RemoteSignerStatus is the answer of the remote_signer RPC method.
type RemoteSignerStatus struct {
	// Remote is whether the node signs through a remote signer
	// (priv_validator_laddr set); false when it signs with the key file in
	// its home (or does not sign). The address itself is not given: the
	// RPC may be public, and CometBFT's signer listener takes whichever
	// signer connects first, so where it listens is for the operator
	// (`tallyd status --home` reads it from the node's config).
	Remote bool `json:"remote"`
	// Connected is whether a signer is connected now.
	Connected bool `json:"connected"`
	// UnreachableSince is when the node last saw its signer go (RFC 3339,
	// UTC); empty while one is connected.
	UnreachableSince string `json:"unreachable_since,omitempty"`
}

// connectedSigner is what CometBFT's remote signer client
// (privval.RetrySignerClient) tells of its connection.
type connectedSigner interface {
	IsConnected() bool
}

// signerWatch follows one remote signer's connection.
type signerWatch struct {
	laddr  string
	pv     connectedSigner
	logger log.Logger
	every  time.Duration
	// up is tally_remote_signer_up, or nil with metrics off.
	up prometheus.Gauge

	mu sync.Mutex
	// misses counts looks in a row that found no connection.
	misses int
	// since is when the signer was first seen gone (zero while up);
	// logged is when the error was last logged.
	since, logged time.Time
}

// newSignerWatch watches pv, the node's remote signer client at laddr;
// with reg set it exports tally_remote_signer_up there.
func newSignerWatch(laddr string, pv connectedSigner, reg prometheus.Registerer, logger log.Logger) *signerWatch {
	w := &signerWatch{laddr: laddr, pv: pv, logger: logger, every: signerWatchEvery}
	if reg != nil {
		w.up = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "tally", Name: "remote_signer_up",
			Help: "1 while the node's remote signer (tallyd signer at priv_validator_laddr) is connected, 0 while it is unreachable and the validator signs nothing. Exported only by nodes with a remote signer.",
		}))
		w.up.Set(1)
	}
	return w
}

// run looks at the connection every w.every until stop is closed.
func (w *signerWatch) run(stop <-chan struct{}) {
	t := time.NewTicker(w.every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			w.look(now, w.pv.IsConnected())
		}
	}
}

// look records one look at the connection, taken at now.
func (w *signerWatch) look(now time.Time, connected bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if connected {
		if !w.since.IsZero() {
			w.logger.Info("remote signer connected again: the validator signs again", "priv_validator_laddr", w.laddr,
				"unreachable_for", now.Sub(w.since).Round(time.Second).String())
		}
		w.misses, w.since, w.logged = 0, time.Time{}, time.Time{}
		if w.up != nil {
			w.up.Set(1)
		}
		return
	}
	w.misses++
	if w.misses == 1 {
		w.since = now // tentatively: reported from the second miss
		return
	}
	if w.up != nil {
		w.up.Set(0)
	}
	if w.logged.IsZero() || now.Sub(w.logged) >= signerWatchRepeat {
		w.logged = now
		w.logger.Error(RemoteSignerUnreachable+": no `tallyd signer` is connected at priv_validator_laddr, so this validator signs no votes or blocks. Check that `tallyd signer --connect "+w.laddr+"` runs with this validator's key and state and can reach this node (its own log says why it cannot); the node takes it back as soon as it connects",
			"priv_validator_laddr", w.laddr, "since", w.since.UTC().Format(time.RFC3339),
			"for", now.Sub(w.since).Round(time.Second).String())
	}
}

// status is the watch's answer to the remote_signer RPC method.
func (w *signerWatch) status() RemoteSignerStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := RemoteSignerStatus{Remote: true, Connected: w.misses < 2}
	if !st.Connected {
		st.UnreachableSince = w.since.UTC().Format(time.RFC3339)
	}
	return st
}

// remoteSignerRoute answers the remote_signer RPC method from w (nil:
// the node has no remote signer).
func remoteSignerRoute(w *signerWatch) *rpcserver.RPCFunc {
	return rpcserver.NewRPCFunc(func(*rpctypes.Context) (*RemoteSignerStatus, error) {
		if w == nil {
			return &RemoteSignerStatus{}, nil
		}
		st := w.status()
		return &st, nil
	}, "")
}
