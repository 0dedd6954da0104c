package app

import (
	"fmt"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// UpgradeHandler migrates state for a named software upgrade. It runs once,
// at the start of the block at the upgrade's scheduled height, in the new
// binary. It must be deterministic like any state transition.
type UpgradeHandler func(ctx module.Context) error

// UpgradeNeededError is what FinalizeBlock returns when the chain reaches a
// scheduled upgrade this binary has no handler for. CometBFT stops on it;
// the block is not applied, so the new binary replays it.
type UpgradeNeededError struct {
	Name   string
	Height int64
	Notes  string
}

func (e *UpgradeNeededError) Error() string {
	return fmt.Sprintf("UPGRADE %q NEEDED at height %d (%s): this binary does not handle it; stop the node, install the tallyd release that registers upgrade %q, and start it again on the same home",
		e.Name, e.Height, e.Notes, e.Name)
}

// IsUpgradeHalt reports whether a consensus failure's description (the
// text CometBFT logs, which no longer carries the error's type) is this
// planned halt rather than a fault.
func IsUpgradeHalt(reason string) bool {
	return strings.Contains(reason, "UPGRADE ") && strings.Contains(reason, " NEEDED at height ")
}

// applyUpgrade runs the scheduled upgrade's migration when the block is at
// its height, or refuses to go on when this binary has no handler for it.
func (a *App) applyUpgrade(req *abci.RequestFinalizeBlock) ([]abci.Event, error) {
	plan, err := a.gov.Plan(a.store)
	if err != nil || plan == nil || plan.Height != req.Height {
		return nil, err
	}
	h, ok := a.upgrades[plan.Name]
	if !ok {
		err := &UpgradeNeededError{Name: plan.Name, Height: plan.Height, Notes: plan.Notes}
		a.logger.Error(err.Error())
		return nil, err
	}
	cache := store.NewCache(a.store)
	var events []module.Event
	ctx := module.NewContext(cache, req.Height, req.Time, a.chainID, &events)
	if err := h(ctx); err != nil {
		return nil, fmt.Errorf("upgrade %q migration failed at height %d: %w", plan.Name, plan.Height, err)
	}
	a.gov.MarkUpgradeApplied(ctx, plan)
	cache.Write()
	a.logger.Info("upgrade applied", "name", plan.Name, "height", plan.Height)
	return toABCI(events), nil
}
