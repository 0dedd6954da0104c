package app

import (
	"encoding/hex"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

// paramRegistry lists every parameter governance may change, each with the
// validation of the module that owns it. The funds currency is fixed at
// genesis and is not here.
func paramRegistry() *gov.Registry {
	field := func(name, desc string, key []byte, def func() proto.Message, validate func(proto.Message) error) gov.Param {
		_, f, _ := strings.Cut(name, ".")
		return gov.Param{Name: name, Description: desc, Key: key, Default: def, Field: protoreflect.Name(f), Validate: validate}
	}
	appDef := func() proto.Message { return DefaultParams() }
	appVal := func(m proto.Message) error { return ValidateParams(m.(*appv1.Params)) }
	fundsDef := func() proto.Message { return funds.DefaultParams() }
	fundsVal := func(m proto.Message) error { return funds.ValidateParams(m.(*fundsv1.Params)) }
	benDef := func() proto.Message { return benefits.DefaultParams() }
	benVal := func(m proto.Message) error { return benefits.ValidateParams(m.(*benefitsv1.Params)) }
	provDef := func() proto.Message { return provenance.DefaultParams() }
	provVal := func(m proto.Message) error { return provenance.ValidateParams(m.(*provenancev1.Params)) }
	params := []gov.Param{
		field("app.max_tx_bytes", "largest encoded transaction accepted, in bytes", api.ParamsKey(), appDef, appVal),
		field("app.max_messages", "most messages one transaction may carry", api.ParamsKey(), appDef, appVal),
		field("app.timeout_window", "how far above the current height a timeout_height may be, in blocks", api.ParamsKey(), appDef, appVal),
		field("app.max_memo_bytes", "longest memo accepted, in bytes", api.ParamsKey(), appDef, appVal),
		field("app.max_tx_units", "most resource-meter units one transaction may use", api.ParamsKey(), appDef, appVal),
		field("app.max_block_units", "most resource-meter units a block's transactions may use together", api.ParamsKey(), appDef, appVal),
		field("app.max_pending_per_signer", "most transactions of one signer a node's mempool admits between two blocks", api.ParamsKey(), appDef, appVal),
		field("app.end_block_units", "resource-meter units of end-of-block work per block; the rest carries over", api.ParamsKey(), appDef, appVal),
		field("funds.annual_appropriation_limit", "most that may be appropriated in one calendar year, minor units", api.FundsParamsKey(), fundsDef, fundsVal),
		field("funds.max_tranches_per_movement", "most tranches one movement may consume", api.FundsParamsKey(), fundsDef, fundsVal),
		field("benefits.payments_per_block", "scheduled payment work per block", api.BenefitsParamsKey(), benDef, benVal),
		field("benefits.max_deduction_percent", "most of one payment withheld to recover an overpayment, percent", api.BenefitsParamsKey(), benDef, benVal),
		field("provenance.recall_budget", "items recall propagation may mark per block", api.ProvenanceParamsKey(), provDef, provVal),
		field("provenance.max_offer_seconds", "longest a custody offer may stay open", api.ProvenanceParamsKey(), provDef, provVal),
		field("provenance.default_offer_seconds", "offer duration when none is named", api.ProvenanceParamsKey(), provDef, provVal),
		field("provenance.expiry_budget", "expired offers closed per block", api.ProvenanceParamsKey(), provDef, provVal),
	}
	return gov.NewRegistry(append(params, gov.OwnParams()...)...)
}

var govRoutes = moduleRoutes{
	name: "gov",
	query: func(a *App, q Query) (*abci.ResponseQuery, error) {
		switch q.Path {
		case api.PathGovProposal:
			id, err := parseProposalID(q.Data)
			if err != nil {
				return nil, err
			}
			return a.single(api.GovProposalKey(id), q.Height, q.Prove)
		case api.PathGovProposals:
			return a.list(q)
		case api.PathGovOpenProposals:
			return a.list(q)
		case api.PathGovVotes:
			if _, err := parseProposalID(q.Data); err != nil {
				return nil, err
			}
			return a.list(q)
		case api.PathGovMandates:
			return a.list(q)
		case api.PathGovMandate:
			id, err := parseQueryID(string(q.Data))
			if err != nil {
				return nil, err
			}
			return a.single(api.GovGrantKey(id), q.Height, q.Prove)
		case api.PathGovValidators:
			return a.list(q)
		case api.PathGovParams:
			return a.single(api.GovParamsKey(), q.Height, q.Prove)
		case api.PathGovUpgrade:
			return a.single(api.GovUpgradeKey(), q.Height, q.Prove)
		case api.PathGovParam:
			p, err := a.gov.Registry().Lookup(string(q.Data))
			if err != nil {
				return nil, err
			}
			return a.single(p.Key, q.Height, q.Prove)
		case api.PathGovMisbehaviour:
			seq, err := parseQueryID(string(q.Data))
			if err != nil {
				return nil, err
			}
			return a.single(api.GovMisbehaviourKey(seq), q.Height, q.Prove)
		case api.PathGovMisbehaviours:
			if len(q.Data) > 0 {
				return nil, ErrInvalidQuery.Wrapf("%s takes no argument: leave the ListRequest's arg empty", api.PathGovMisbehaviours)
			}
			return a.list(q)
		case api.PathGovValidatorMisbehaviours:
			arg := string(q.Data)
			addr, err := hex.DecodeString(arg)
			if err != nil || len(addr) != gov.ConsensusAddressSize {
				return nil, ErrInvalidQuery.Wrapf("give the validator's consensus address as %d hex digits (got %s)", 2*gov.ConsensusAddressSize, api.Quote(arg))
			}
			return a.list(q)
		case api.PathGovRegistry:
			list, err := a.gov.Registry().List(readOnlyAt{a: a, height: q.Height})
			if err != nil {
				return nil, err
			}
			bz, err := proto.Marshal(list)
			if err != nil {
				return nil, err
			}
			return &abci.ResponseQuery{Value: bz, Height: q.Height}, nil
		}
		return nil, ErrUnknownQuery.Wrapf("no gov query %s; paths are %s", api.Quote(q.Path), strings.Join([]string{
			api.PathGovProposal, api.PathGovProposals, api.PathGovOpenProposals, api.PathGovVotes, api.PathGovMandates, api.PathGovMandate, api.PathGovValidators,
			api.PathGovParams, api.PathGovParam, api.PathGovRegistry, api.PathGovUpgrade,
			api.PathGovMisbehaviour, api.PathGovMisbehaviours, api.PathGovValidatorMisbehaviours}, ", "))
	},
}

// govModule is gov's route table, with its end-of-block work, whose
// validator changes the app collects for FinalizeBlock's answer.
func (a *App) govModule() module.Module {
	m := a.gov.Module()
	m.EndBlock = func(ctx module.Context) error {
		updates, err := a.gov.EndBlock(ctx)
		if err != nil {
			return err
		}
		a.govUpdates = updates
		return nil
	}
	return m
}

func parseProposalID(data []byte) (uint64, error) {
	id, ok := api.ParseDecimal(data)
	if !ok || id == 0 {
		return 0, ErrInvalidQuery.Wrapf("give the proposal id as a decimal number (got %s)", api.Quote(data))
	}
	return id, nil
}

// readOnlyAt reads committed state at one height through the KV interface;
// writes are refused by panicking, since queries never write.
type readOnlyAt struct {
	a      *App
	height int64
}

func (r readOnlyAt) Get(key []byte) []byte {
	v, _ := r.a.store.GetAt(r.height, key)
	return v
}
func (r readOnlyAt) Has(key []byte) bool { return r.Get(key) != nil }
func (r readOnlyAt) Set([]byte, []byte)  { panic("query wrote state") }
func (r readOnlyAt) Delete([]byte)       { panic("query wrote state") }
func (r readOnlyAt) Iterate(start, end []byte, asc bool, fn func(k, v []byte) bool) {
	_ = r.a.store.IterateAt(r.height, start, end, asc, fn)
}

// validatorUpdates turns the validator changes governance executed in this
// block into CometBFT's form, and picks up parameter changes to the app's
// own rules so the next block uses them.
func (a *App) validatorUpdates() ([]abci.ValidatorUpdate, error) {
	ups := a.govUpdates
	a.govUpdates = nil
	out := make([]abci.ValidatorUpdate, len(ups))
	for i, u := range ups {
		out[i] = abci.Ed25519ValidatorUpdate(u.PubKey, u.Power)
	}
	p, err := module.Params(a.store, api.ParamsKey(), DefaultParams)
	if err != nil {
		return nil, err
	}
	if !proto.Equal(p, a.params) {
		a.params = p
	}
	return out, nil
}

// misbehaviour hands the evidence CometBFT committed in this block to
// governance, after the modules' end-of-block work, so a removal it
// executes is counted with that block's other validator changes. Like
// end-of-block work, a failure is a bug: it is logged and its writes are
// dropped, identically on every node.
func (a *App) misbehaviour(req *abci.RequestFinalizeBlock) []abci.Event {
	if len(req.Misbehavior) == 0 {
		return nil
	}
	evidence := make([]gov.Evidence, len(req.Misbehavior))
	for i, m := range req.Misbehavior {
		t := govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_UNKNOWN
		switch m.Type {
		case abci.MisbehaviorType_DUPLICATE_VOTE:
			t = govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE
		case abci.MisbehaviorType_LIGHT_CLIENT_ATTACK:
			t = govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_LIGHT_CLIENT_ATTACK
		}
		evidence[i] = gov.Evidence{Type: t, Address: m.Validator.Address, Power: m.Validator.Power,
			TotalVotingPower: m.TotalVotingPower, Height: m.Height, Time: m.Time}
	}
	cache := store.NewCache(a.store)
	var events []module.Event
	ctx := module.NewContext(cache, req.Height, req.Time, a.chainID, &events)
	updates, err := a.gov.HandleMisbehaviour(ctx, evidence)
	if err != nil {
		a.logger.Error("recording misbehaviour failed", "height", req.Height, "err", err)
		return nil
	}
	cache.Write()
	a.govUpdates = gov.MergeUpdates(a.govUpdates, updates)
	return toABCI(events)
}

// genesisValidators reads CometBFT's genesis validators for governance.
func genesisValidators(vals []abci.ValidatorUpdate) ([]gov.ValidatorUpdate, error) {
	out := make([]gov.ValidatorUpdate, len(vals))
	for i, v := range vals {
		pk := v.PubKey.GetEd25519()
		if len(pk) == 0 {
			return nil, gov.ErrInvalidConsensusKey.Wrapf("genesis validator %d does not have an ed25519 key; tally validators use ed25519", i)
		}
		out[i] = gov.ValidatorUpdate{PubKey: pk, Power: v.Power}
	}
	return out, nil
}
