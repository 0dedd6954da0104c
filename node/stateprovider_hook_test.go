package node

import (
	"context"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	sm "github.com/cometbft/cometbft/state"
	"github.com/cometbft/cometbft/types"
)

// TestStateProvider is the state provider a node joining by state sync
// gives CometBFT (stateprovider.go), with its timings set, for tests.
type TestStateProvider struct{ p *patientStateProvider }

func NewTestStateProvider(genesisFile string, servers []string, trust light.TrustOptions, try, pause time.Duration) (*TestStateProvider, error) {
	p, err := newPatientStateProvider(genesisFile, servers, trust, log.NewNopLogger())
	if err != nil {
		return nil, err
	}
	p.try, p.pause = try, pause
	return &TestStateProvider{p}, nil
}

func (t *TestStateProvider) AppHash(ctx context.Context, h uint64) ([]byte, error) {
	return t.p.AppHash(ctx, h)
}

func (t *TestStateProvider) State(ctx context.Context, h uint64) (sm.State, error) {
	return t.p.State(ctx, h)
}

func (t *TestStateProvider) Commit(ctx context.Context, h uint64) (*types.Commit, error) {
	return t.p.Commit(ctx, h)
}

// Tries is how many attempts it has made.
func (t *TestStateProvider) Tries() int { t.p.mu.Lock(); defer t.p.mu.Unlock(); return t.p.tries }
