package gov

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// ValidatorUpdate is a change to CometBFT's validator set: power 0 removes
// the key. The app hands these to CometBFT from FinalizeBlock; they take
// effect two blocks later (H+2).
type ValidatorUpdate struct {
	PubKey []byte
	Power  int64
}

// check runs content against a throwaway copy of state: it succeeds exactly
// when executing the content now would. The power-change window of recent
// blocks is not counted: that is a rule about execution, not about asking.
func (k Keeper) check(ctx module.Context, c *govv1.Content, id uint64, window bool) error {
	dry := module.NewContext(store.NewCache(ctx.Store), ctx.Height, ctx.Time, ctx.ChainID, nil)
	_, err := k.apply(dry, c, id, window)
	return err
}

// apply executes a passed proposal's content. On error the caller drops
// ctx's writes.
func (k Keeper) apply(ctx module.Context, c *govv1.Content, id uint64, window bool) ([]ValidatorUpdate, error) {
	kv := ctx.Store
	switch m := c.GetSum().(type) {
	case *govv1.Content_AddValidator:
		v := m.AddValidator
		if _, err := k.Validator(kv, v.PubKey); err == nil {
			return nil, ErrValidatorExists.Wrapf("consensus key %X is already a validator; propose a power change instead", v.PubKey)
		}
		if err := k.requireActive(kv, v.AgencyId); err != nil {
			return nil, err
		}
		if err := checkValidatorKeyProof(ctx, v.PubKey, v.KeyProof, v.AgencyId, keyproof.AddValidator); err != nil {
			return nil, err
		}
		if err := k.spendPowerChange(ctx, uint64(v.Power), window); err != nil {
			return nil, err
		}
		rec := &govv1.Validator{PubKey: v.PubKey, Power: v.Power, AgencyId: v.AgencyId, NodeAddress: v.NodeAddress, AddedHeight: ctx.Height}
		ups, err := k.setValidator(ctx, rec, id)
		if err != nil {
			return nil, err
		}
		return ups, k.requireSpread(kv, fmt.Sprintf("adding validator %X with power %d", v.PubKey, v.Power))
	case *govv1.Content_SetValidatorPower:
		s := m.SetValidatorPower
		val, err := k.Validator(kv, s.PubKey)
		if err != nil {
			return nil, err
		}
		if val.Power == s.Power {
			return nil, ErrInvalidPower.Wrapf("validator %X already has power %d", s.PubKey, s.Power)
		}
		if err := k.spendPowerChange(ctx, absDiff(val.Power, s.Power), window); err != nil {
			return nil, err
		}
		val.Power = s.Power
		ups, err := k.setValidator(ctx, val, id)
		if err != nil {
			return nil, err
		}
		return ups, k.requireSpread(kv, fmt.Sprintf("setting validator %X's power to %d", s.PubKey, s.Power))
	case *govv1.Content_RemoveValidator:
		val, err := k.Validator(kv, m.RemoveValidator.PubKey)
		if err != nil {
			return nil, err
		}
		if err := k.requireMinValidators(kv); err != nil {
			return nil, err
		}
		if err := k.spendPowerChange(ctx, uint64(val.Power), window); err != nil {
			return nil, err
		}
		ups, err := k.removeValidator(ctx, val, id)
		if err != nil {
			return nil, err
		}
		// The power left behind is shared by fewer: removing one validator
		// can lift another above the cap.
		return ups, k.requireSpread(kv, fmt.Sprintf("removing validator %X", val.PubKey))
	case *govv1.Content_RotateValidatorKey:
		r := m.RotateValidatorKey
		val, err := k.Validator(kv, r.OldPubKey)
		if err != nil {
			return nil, err
		}
		if _, err := k.Validator(kv, r.NewPubKey); err == nil {
			return nil, ErrValidatorExists.Wrapf("new consensus key %X is already a validator's key", r.NewPubKey)
		}
		if err := checkValidatorKeyProof(ctx, r.NewPubKey, r.KeyProof, val.AgencyId, keyproof.RotateValidator); err != nil {
			return nil, err
		}
		// The power moves from one key to another: counted once, as a
		// replacement of that much voting power.
		if err := k.spendPowerChange(ctx, uint64(val.Power), window); err != nil {
			return nil, err
		}
		out, err := k.removeValidator(ctx, val, id)
		if err != nil {
			return nil, err
		}
		val.PubKey = r.NewPubKey
		in, err := k.setValidator(ctx, val, id)
		if err != nil {
			return nil, err
		}
		return append(out, in...), k.requireSpread(kv, fmt.Sprintf("rotating validator %X's key", r.OldPubKey))
	case *govv1.Content_AdmitAgency:
		a := m.AdmitAgency
		if _, err := k.Agency.Agency(kv, a.AgencyId); err == nil {
			return nil, ErrAgencyExists.Wrapf("an agency with id %q exists; choose another id", a.AgencyId)
		}
		if holder := k.Agency.KeyHolder(kv, a.AdminPubKey); holder != nil {
			return nil, agency.ErrKeyInUse.Wrapf("admin_pub_key is already the key of account %x; generate a new key for the new agency's admin", holder)
		}
		if err := agency.CheckKeyProof("admin_pub_key", a.AdminPubKey, a.AdminKeyProof, ctx.ChainID, a.AgencyId, agency.AddressOf(a.AdminPubKey), keyproof.AdmitAgency); err != nil {
			return nil, err
		}
		return nil, k.Agency.AdmitAgency(kv, a.AgencyId, a.Name, a.Kind, a.AdminPubKey, ctx.Height)
	case *govv1.Content_SetAgencyStatus:
		return nil, k.setAgencyStatus(ctx, m.SetAgencyStatus)
	case *govv1.Content_GrantMandate:
		g := m.GrantMandate
		if err := k.requireActive(kv, g.AgencyId); err != nil {
			return nil, err
		}
		if g.UntilUnix != 0 && g.UntilUnix <= ctx.Time.Unix() {
			return nil, ErrInvalidMandate.Wrapf("until_unix %d is not after the block time %d; give a future date or 0 for no end", g.UntilUnix, ctx.Time.Unix())
		}
		rec := &govv1.MandateGrant{AgencyId: g.AgencyId, Mandate: g.Mandate, UntilUnix: g.UntilUnix, LegalBasis: g.LegalBasis, ProposalId: id, GrantedHeight: ctx.Height,
			Scope: g.Scope, Ceiling: g.Ceiling}
		return nil, k.grant(kv, rec, ctx.Height)
	case *govv1.Content_WithdrawMandate:
		w := m.WithdrawMandate
		key := api.GovMandateKey(w.AgencyId, int32(w.Mandate))
		if !kv.Has(key) {
			return nil, ErrMandateNotHeld.Wrapf("agency %q holds no %s mandate; list mandates with `tallyd query gov mandates`", w.AgencyId, MandateName(w.Mandate))
		}
		return nil, k.end(kv, w.AgencyId, w.Mandate, ctx.Height)
	case *govv1.Content_ChangeParam:
		if err := k.Reg.Set(kv, m.ChangeParam.Name, m.ChangeParam.Value); err != nil {
			return nil, err
		}
		if m.ChangeParam.Name == paramMaxValidatorShare {
			// A cap the set already breaks would leave it stuck: every
			// later change would be refused until someone's power fell.
			return nil, k.requireSpread(kv, fmt.Sprintf("lowering gov.max_validator_share to %s", m.ChangeParam.Value))
		}
		return nil, nil
	case *govv1.Content_ScheduleUpgrade:
		u := m.ScheduleUpgrade
		if u.Height <= ctx.Height {
			return nil, ErrUpgradeHeightPast.Wrapf("height %d is not after the current height %d; choose a later height", u.Height, ctx.Height)
		}
		if kv.Has(api.GovDoneKey(u.Name)) {
			return nil, ErrUpgradeDone.Wrapf("upgrade %q was already applied; give the new upgrade a new name", u.Name)
		}
		// A later plan replaces an earlier one still pending.
		return nil, store.SetProto(kv, api.GovUpgradeKey(), &govv1.UpgradePlan{Name: u.Name, Height: u.Height, Notes: u.Notes, ProposalId: id})
	}
	return nil, ErrInvalidProposal.Wrapf("the proposal has no content")
}

func (k Keeper) requireActive(kv store.KV, id string) error {
	ag, err := k.Agency.Agency(kv, id)
	if err != nil {
		return err
	}
	if ag.Status != agencyv1.Status_STATUS_ACTIVE {
		return ErrAgencyNotActive.Wrapf("agency %q is %s", id, agency.StatusName(ag.Status))
	}
	return nil
}

func (k Keeper) setAgencyStatus(ctx module.Context, s *govv1.SetAgencyStatus) error {
	kv := ctx.Store
	ag, err := k.Agency.Agency(kv, s.AgencyId)
	if err != nil {
		return err
	}
	switch {
	case ag.Status == agencyv1.Status_STATUS_REMOVED:
		return ErrInvalidStatus.Wrapf("agency %q has been removed; removal is final", ag.Id)
	case ag.Status == s.Status:
		return ErrInvalidStatus.Wrapf("agency %q is already %s", ag.Id, agency.StatusName(s.Status))
	}
	if s.Status != agencyv1.Status_STATUS_ACTIVE && ag.Status == agencyv1.Status_STATUS_ACTIVE {
		voting, err := k.votingAgencies(kv)
		if err != nil {
			return err
		}
		if voting[ag.Id] && len(voting) <= 1 {
			return ErrLastAgency.Wrapf("agency %q is the last active agency that votes; nobody would be left to vote", ag.Id)
		}
	}
	if s.Status == agencyv1.Status_STATUS_REMOVED {
		vals, err := k.Validators(kv)
		if err != nil {
			return err
		}
		for _, v := range vals {
			if v.AgencyId == ag.Id {
				return ErrAgencyRunsValidators.Wrapf("agency %q operates validator %X; propose its removal or hand it to another agency first", ag.Id, v.PubKey)
			}
		}
	}
	return k.Agency.SetAgencyStatus(kv, ag.Id, s.Status)
}

func (k Keeper) requireMinValidators(kv store.KV) error {
	p, err := k.Params(kv)
	if err != nil {
		return err
	}
	vals, err := k.Validators(kv)
	if err != nil {
		return err
	}
	if uint64(len(vals)) <= uint64(p.MinValidators) {
		return ErrTooFewValidators.Wrapf("the set has %d validators and gov.min_validators is %d; add a validator first", len(vals), p.MinValidators)
	}
	return nil
}

// paramMaxValidatorShare is the registry name of max_validator_share.
const paramMaxValidatorShare = "gov.max_validator_share"

// requireSpread refuses a validator set, as a change (what) would leave
// it, in which one validator, or one agency's validators together, hold
// more than gov.max_validator_share of the total power. The rule binds once the set has MinValidatorsFloor
// validators: fewer cannot all stay below a third, and such a set — only
// a single-operator genesis makes one, since removals stop at
// gov.min_validators — tolerates no fault whatever the shares. Checking
// the resulting set, not the step, is what stops a validator climbing
// past the cap in steps each within gov.max_power_change.
func (k Keeper) requireSpread(kv store.KV, what string) error {
	p, err := k.Params(kv)
	if err != nil {
		return err
	}
	limit, err := maxValidatorShare(p)
	if err != nil {
		return err
	}
	vals, err := k.Validators(kv)
	if err != nil {
		return err
	}
	if len(vals) < MinValidatorsFloor {
		return nil
	}
	var total uint64
	var top *govv1.Validator
	for _, v := range vals {
		total += uint64(v.Power)
		if top == nil || v.Power > top.Power {
			top = v
		}
	}
	if limit.Exceeded(uint64(top.Power), total) {
		return ErrPowerConcentrated.Wrapf("%s would leave validator %X (operated by %s) with %d of %d total power, above gov.max_validator_share %s; spread the power (add or strengthen other validators first, or weaken this one)",
			what, top.PubKey, top.AgencyId, top.Power, total, limit)
	}
	// One agency running several validators holds their sum: the cap is
	// on what one party controls, not on one key. Genesis validators
	// mapped to no agency are each their own operator. Agencies are
	// visited in the set's key order, so the message is deterministic.
	sums := map[string]uint64{}
	var order []string
	for _, v := range vals {
		if v.AgencyId == UnknownOperator {
			continue
		}
		if _, seen := sums[v.AgencyId]; !seen {
			order = append(order, v.AgencyId)
		}
		sums[v.AgencyId] += uint64(v.Power)
	}
	for _, ag := range order {
		if limit.Exceeded(sums[ag], total) {
			return ErrPowerConcentrated.Wrapf("%s would leave agency %q operating validators with %d of %d total power together, above gov.max_validator_share %s; one agency's validators count as one party",
				what, ag, sums[ag], total, limit)
		}
	}
	return nil
}

// spendPowerChange refuses a change of delta power when, together with the
// changes of this block and the one before (whose updates are still on
// their way to CometBFT), it would exceed gov.max_power_change of the total
// power: beyond that, the old set could no longer guarantee safety.
func (k Keeper) spendPowerChange(ctx module.Context, delta uint64, window bool) error {
	p, err := k.Params(ctx.Store)
	if err != nil {
		return err
	}
	limit, err := ParseFraction(p.MaxPowerChange)
	if err != nil {
		return err
	}
	vals, err := k.Validators(ctx.Store)
	if err != nil {
		return err
	}
	var total uint64
	for _, v := range vals {
		total += uint64(v.Power)
	}
	spent := delta
	if window {
		spent += getU64(ctx.Store, api.GovPowerChangeKey(ctx.Height)) + getU64(ctx.Store, api.GovPowerChangeKey(ctx.Height-1))
	}
	if limit.Exceeded(spent, total) {
		return ErrUnsafeValidatorChange.Wrapf("changing %d of %d total power (with %d already changed in the last two blocks) exceeds gov.max_power_change %s; split it into smaller steps in later blocks", delta, total, spent-delta, limit)
	}
	if window {
		setU64(ctx.Store, api.GovPowerChangeKey(ctx.Height), getU64(ctx.Store, api.GovPowerChangeKey(ctx.Height))+delta)
	}
	return nil
}

func absDiff(a, b int64) uint64 {
	if a > b {
		return uint64(a - b)
	}
	return uint64(b - a)
}

func (k Keeper) setValidator(ctx module.Context, v *govv1.Validator, id uint64) ([]ValidatorUpdate, error) {
	if err := store.SetProto(ctx.Store, api.GovValidatorKey(v.PubKey), v); err != nil {
		return nil, err
	}
	ctx.Emit(EventValidatorChanged, module.Indexed("proposal_id", strconv.FormatUint(id, 10)),
		module.Attr("pub_key", hexUpper(v.PubKey)), module.Attr("power", strconv.FormatInt(v.Power, 10)), module.Indexed("agency", v.AgencyId))
	return []ValidatorUpdate{{PubKey: v.PubKey, Power: v.Power}}, nil
}

func (k Keeper) removeValidator(ctx module.Context, v *govv1.Validator, id uint64) ([]ValidatorUpdate, error) {
	ctx.Store.Delete(api.GovValidatorKey(v.PubKey))
	ctx.Emit(EventValidatorChanged, module.Indexed("proposal_id", strconv.FormatUint(id, 10)),
		module.Attr("pub_key", hexUpper(v.PubKey)), module.Attr("power", "0"), module.Indexed("agency", v.AgencyId))
	return []ValidatorUpdate{{PubKey: v.PubKey, Power: 0}}, nil
}

func hexUpper(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*len(b))
	for i, c := range b {
		out[2*i], out[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(out)
}

// MaxClosingEventsWeight is the most the events of one proposal closing
// at the end of a block weigh (app.EventsWeight: JSON frames, type and
// keys, values at six bytes a byte), so a block's closing proposals emit
// at most this many bytes each. The heaviest is a failure: proposal_failed
// with a proposal id of up to 20 digits, a content type of up to 20 bytes
// (rotate_validator_key) and a reason of up to module.MaxLogBytes, 6,560.
// An execution emits proposal_executed (376) and what its content emits:
// at most two validator changes (a key rotation), each of up to 1,608 (a
// 64-digit key, 19-digit power, 128-byte agency id), 3,592 in all; a
// rejection 867. TestBlockClosingTheMostProposalsStaysWithinItsBound
// checks it against the real emission.
const MaxClosingEventsWeight = 6_560

// EndBlock tallies every open proposal: one that has passed executes now,
// atomically (a failure is recorded with its reason and nothing of it
// applies); one whose voting period is over without passing is rejected.
// It returns the validator updates of the proposals executed, one per key.
func (k Keeper) EndBlock(ctx module.Context) ([]ValidatorUpdate, error) {
	kv := ctx.Store
	kv.Delete(api.GovPowerChangeKey(ctx.Height - 2)) // outside the power-change window now
	var ids []uint64
	store.IteratePrefix(kv, api.GovOpenPrefix(), func(key, _ []byte) bool {
		ids = append(ids, getU64FromKey(key[len(api.GovOpenPrefix()):]))
		return false
	})
	if len(ids) == 0 {
		return nil, nil
	}
	params, err := k.Params(kv)
	if err != nil {
		return nil, err
	}
	active, err := k.votingAgencies(kv)
	if err != nil {
		return nil, err
	}
	var updates []ValidatorUpdate
	for _, id := range ids {
		// Charged but never cut short: governance is how a stuck chain
		// changes its limits, and the open proposals are already bounded
		// by the per-agency cap on open proposals.
		ctx.Charge(store.Proposal, 1)
		p, err := k.Proposal(kv, id)
		if err != nil {
			return nil, err
		}
		if err := k.tally(kv, p, active); err != nil {
			return nil, err
		}
		passed, err := passes(p, params)
		if err != nil {
			return nil, err
		}
		idAttr := module.Indexed("proposal_id", strconv.FormatUint(id, 10))
		switch {
		case passed:
			cache := store.NewCache(kv)
			var events []module.Event
			// The content runs on the end-of-block meter: its state access
			// was already charged through kv, and any work it charges
			// itself is counted too (its events are bounded by what it used,
			// app.endBlock).
			ectx := ctx.Branch(cache, &events)
			ups, err := k.apply(ectx, p.Content, id, true)
			if err != nil {
				p.Status = govv1.ProposalStatus_PROPOSAL_STATUS_FAILED
				// The reason is at most module.MaxLogBytes, as a transaction's log.
				var reason string
				p.FailureCodespace, p.FailureCode, reason = module.CodeOf(err) // the code, not the text: see Proposal
				ctx.Emit(EventFailed, idAttr, module.Indexed("type", ContentType(p.Content)), module.Attr("reason", reason))
				break
			}
			cache.Write()
			updates = MergeUpdates(updates, ups)
			p.Status = govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED
			ctx.Emit(EventExecuted, idAttr, module.Indexed("type", ContentType(p.Content)))
			for _, e := range events {
				ctx.Emit(e.Type, e.Attributes...)
			}
		case ctx.Time.Unix() >= p.VotingEndUnix:
			p.Status = govv1.ProposalStatus_PROPOSAL_STATUS_REJECTED
			ctx.Emit(EventRejected, idAttr, module.Attr("yes", strconv.FormatUint(p.Yes, 10)),
				module.Attr("no", strconv.FormatUint(p.No, 10)), module.Attr("abstain", strconv.FormatUint(p.Abstain, 10)),
				module.Attr("active_agencies", strconv.FormatUint(p.ActiveAgencies, 10)))
		default:
			continue
		}
		p.EndHeight = ctx.Height
		if err := store.SetProto(kv, api.GovProposalKey(id), p); err != nil {
			return nil, err
		}
		kv.Delete(api.GovOpenKey(id))
		if p.ProposerAgency != SystemMisbehaviour { // the chain's own proposals are counted against no agency
			setU64(kv, api.GovOpenCountKey(p.ProposerAgency), getU64(kv, api.GovOpenCountKey(p.ProposerAgency))-1)
		}
	}
	return updates, nil
}

// tally recounts a proposal's votes, counting only agencies that vote now
// (active, and of a voting kind).
func (k Keeper) tally(kv store.KV, p *govv1.Proposal, active map[string]bool) error {
	p.Yes, p.No, p.Abstain, p.ActiveAgencies = 0, 0, 0, uint64(len(active))
	var err error
	store.IteratePrefix(kv, api.GovVotesPrefix(p.Id), func(_, bz []byte) bool {
		v := &govv1.Vote{}
		if err = unmarshal(bz, v); err != nil {
			return true
		}
		if !active[v.AgencyId] {
			return false
		}
		switch v.Option {
		case govv1.VoteOption_VOTE_OPTION_YES:
			p.Yes++
		case govv1.VoteOption_VOTE_OPTION_NO:
			p.No++
		default:
			p.Abstain++
		}
		return false
	})
	return err
}

// passes applies the stricter of the threshold and quorum in force at
// submission and those in force now: lowering the threshold cannot help a
// proposal already open, and a proposal to change the threshold is judged
// by the current one.
func passes(p *govv1.Proposal, params *govv1.Params) (bool, error) {
	threshold, err := stricter(p.PassThreshold, params.PassThreshold)
	if err != nil {
		return false, err
	}
	quorum, err := stricter(p.Quorum, params.Quorum)
	if err != nil {
		return false, err
	}
	n := p.ActiveAgencies
	return n > 0 && threshold.Exceeded(p.Yes, n) && quorum.Reached(p.Yes+p.No+p.Abstain, n), nil
}

func stricter(a, b string) (Fraction, error) {
	fa, err := ParseFraction(a)
	if err != nil {
		return Fraction{}, err
	}
	fb, err := ParseFraction(b)
	if err != nil {
		return Fraction{}, err
	}
	if fa.Less(fb) {
		return fb, nil
	}
	return fa, nil
}

// MergeUpdates appends ups to list, keeping one entry per key (the last),
// because CometBFT refuses a list that names a key twice.
func MergeUpdates(list, ups []ValidatorUpdate) []ValidatorUpdate {
	for _, u := range ups {
		i := slices.IndexFunc(list, func(x ValidatorUpdate) bool { return bytes.Equal(x.PubKey, u.PubKey) })
		if i >= 0 {
			list[i] = u
			continue
		}
		list = append(list, u)
	}
	return list
}

func getU64FromKey(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}
