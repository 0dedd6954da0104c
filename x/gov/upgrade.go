package gov

import (
	"strconv"

	"github.com/tallyledger/tally/api"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Plan returns the scheduled upgrade, or nil when none is.
func (Keeper) Plan(kv store.KV) (*govv1.UpgradePlan, error) {
	p := &govv1.UpgradePlan{}
	found, err := store.GetProto(kv, api.GovUpgradeKey(), p)
	if err != nil || !found {
		return nil, err
	}
	return p, nil
}

// UpgradeApplied reports the height at which an upgrade was applied (0 if not).
func (Keeper) UpgradeApplied(kv store.KV, name string) int64 {
	return int64(getU64(kv, api.GovDoneKey(name)))
}

// MarkUpgradeApplied records that the scheduled upgrade's migration ran at
// ctx.Height and clears the plan, so the migration never runs twice.
func (k Keeper) MarkUpgradeApplied(ctx module.Context, plan *govv1.UpgradePlan) {
	ctx.Store.Delete(api.GovUpgradeKey())
	setU64(ctx.Store, api.GovDoneKey(plan.Name), uint64(ctx.Height))
	ctx.Emit(EventUpgradeApplied, module.Indexed("name", plan.Name),
		module.Attr("height", strconv.FormatInt(ctx.Height, 10)),
		module.Attr("proposal_id", strconv.FormatUint(plan.ProposalId, 10)))
}
