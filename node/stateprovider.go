package node

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	lightprovider "github.com/cometbft/cometbft/light/provider"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/statesync"
	"github.com/cometbft/cometbft/types"
)

// A node joining by state sync checks the snapshot it restores with
// CometBFT's light client, which reads headers from the RPC servers in
// config.toml's [statesync] rpc_servers. CometBFT's own set-up gives the
// light client 10 s to read its first header and stops the node for good
// if a server is slower; every later read that fails (an app hash, the
// state, the commit) makes it refuse the snapshot it was about to restore.
// A server busy for a few seconds (a validator under load: CI saw one take
// longer than 10 s on a loaded 2-core machine) should cost the joining node
// a wait, not its start or the snapshot. So the node gives CometBFT its own
// provider: the light client is set up at its first use, and a read that
// fails for want of an answer (a timeout, a refused or broken connection,
// no response) is asked again, each try at most stateSyncTry, until the
// caller's deadline (CometBFT's: 30 s for each snapshot's reads). An
// answer that fails verification is not asked again: the light client has
// already tried its witnesses.

// stateSyncTry is the longest one attempt to reach the RPC servers may take
// before it is abandoned and made again on a fresh connection.
const stateSyncTry = 10 * time.Second

// stateSyncPause is the wait between attempts.
const stateSyncPause = time.Second

// patientStateProvider is a statesync.StateProvider that sets up the light
// client's provider on first use and asks again when the servers do not
// answer.
type patientStateProvider struct {
	mu     sync.Mutex // one read at a time, as CometBFT's own provider
	inner  statesync.StateProvider
	make   func(context.Context) (statesync.StateProvider, error)
	logger log.Logger
	try    time.Duration
	pause  time.Duration
	tries  int // attempts made, for tests
}

// newPatientStateProvider is the provider for a node whose genesis is
// genesisFile, reading from servers, trusting trust.
func newPatientStateProvider(genesisFile string, servers []string, trust light.TrustOptions, logger log.Logger) (*patientStateProvider, error) {
	gen, err := sm.MakeGenesisStateFromFile(genesisFile)
	if err != nil {
		return nil, err
	}
	return &patientStateProvider{
		make: func(ctx context.Context) (statesync.StateProvider, error) {
			return statesync.NewLightClientStateProvider(ctx, gen.ChainID, gen.Version, gen.InitialHeight, servers, trust, logger)
		},
		logger: logger,
		try:    stateSyncTry,
		pause:  stateSyncPause,
	}, nil
}

// AppHash implements statesync.StateProvider.
func (p *patientStateProvider) AppHash(ctx context.Context, height uint64) (hash []byte, err error) {
	err = p.ask(ctx, "the app hash", height, func(ctx context.Context, sp statesync.StateProvider) (err error) {
		hash, err = sp.AppHash(ctx, height)
		return err
	})
	return hash, err
}

// Commit implements statesync.StateProvider.
func (p *patientStateProvider) Commit(ctx context.Context, height uint64) (c *types.Commit, err error) {
	err = p.ask(ctx, "the commit", height, func(ctx context.Context, sp statesync.StateProvider) (err error) {
		c, err = sp.Commit(ctx, height)
		return err
	})
	return c, err
}

// State implements statesync.StateProvider.
func (p *patientStateProvider) State(ctx context.Context, height uint64) (st sm.State, err error) {
	err = p.ask(ctx, "the state", height, func(ctx context.Context, sp statesync.StateProvider) (err error) {
		st, err = sp.State(ctx, height)
		return err
	})
	return st, err
}

// ask runs read against the light client's provider (set up first if it
// is not yet), again after a pause while it fails for want of an answer
// and ctx has time left.
func (p *patientStateProvider) ask(ctx context.Context, what string, height uint64, read func(context.Context, statesync.StateProvider) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for attempt := 1; ; attempt++ {
		err := p.once(ctx, read)
		if err == nil || ctx.Err() != nil || !unanswered(err) {
			return err
		}
		p.logger.Info("state sync: the RPC servers did not answer the light client; asking again", "reading", what, "height", height, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(p.pause):
		}
	}
}

// once is one attempt, within p.try.
func (p *patientStateProvider) once(ctx context.Context, read func(context.Context, statesync.StateProvider) error) error {
	ctx, cancel := context.WithTimeout(ctx, p.try)
	defer cancel()
	p.tries++
	if p.inner == nil {
		sp, err := p.make(ctx)
		if err != nil {
			return err
		}
		p.inner = sp
	}
	return read(ctx, p.inner)
}

// unanswered says whether err is the servers' silence (worth asking
// again) rather than an answer that failed.
func unanswered(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, lightprovider.ErrNoResponse) || errors.As(err, &ne)
}
