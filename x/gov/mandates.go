package gov

// Statutory mandates. The acts that create or move public money or bind
// other agencies — appropriating, naming a tax type's revenue agency,
// issuing receipts, running a benefit programme, settling, ordering a
// recall, accrediting inspectors — need a mandate the agencies granted by
// vote, with its legal basis, scope, ceiling and expiry. Modules ask for one
// through Require (through a small interface of their own, wired in app);
// the id Require returns is kept in the record the act makes, so the record
// proves which grant it was made under.
//
// State layout (beside gov/m/<agency id>/<mandate>, the grant in force):
//
//	gov/mgseq         → last grant id (8 bytes big-endian)
//	gov/mg/<id 8 b>   → MandateGrant, every grant ever made, kept for ever

import (
	"fmt"
	"math/bits"
	"time"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// Errors of acts refused for want of a mandate. Codes 60-69 are the
// mandate mechanism's, so other work in this codespace cannot collide.
var (
	ErrNoMandate      = module.Register(Codespace, 60, "no mandate in force for this act")
	ErrMandateLapsed  = module.Register(Codespace, 61, "mandate has lapsed")
	ErrMandateCeiling = module.Register(Codespace, 62, "over the mandate's ceiling")
	ErrUnknownGrant   = module.Register(Codespace, 63, "unknown mandate grant")
)

// Grant loads a mandate grant by id (in force or not), or returns
// ErrUnknownGrant.
func (Keeper) Grant(kv store.KV, id uint64) (*govv1.MandateGrant, error) {
	g := &govv1.MandateGrant{}
	found, err := store.GetProto(kv, api.GovGrantKey(id), g)
	if err != nil {
		return nil, fmt.Errorf("mandate grant %d: %w", id, err)
	}
	if !found {
		return nil, ErrUnknownGrant.Wrapf("no mandate grant %d; list grants in force with `tallyd query gov mandates`", id)
	}
	return g, nil
}

// Require checks that agencyID holds a mandate of kind in force at the
// block time — granted, not withdrawn, not lapsed, held by an active agency —
// and, when amount is not 0 and the mandate has a ceiling, that amount fits
// under the ceiling; it then counts amount as used. It returns the id of the
// grant, which the caller records with the act. The refusal names the
// missing mandate and how to get one.
func (k Keeper) Require(ctx module.Context, agencyID string, kind govv1.Mandate, amount uint64) (uint64, error) {
	kv := ctx.Store
	name := MandateName(kind)
	g, err := k.Mandate(kv, agencyID, kind)
	if err != nil {
		return 0, err
	}
	if g == nil {
		return 0, ErrNoMandate.Wrapf("agency %q holds no %s mandate; this act needs one granted by governance vote (`tallyd tx gov grant-mandate %s %s --legal-basis ...`)", agencyID, name, agencyID, name)
	}
	if g.UntilUnix != 0 && ctx.Time.Unix() >= g.UntilUnix {
		return 0, ErrMandateLapsed.Wrapf("agency %q's %s mandate (grant %d) lapsed at %s; propose a new grant", agencyID, name, g.Id, time.Unix(g.UntilUnix, 0).UTC().Format(time.RFC3339))
	}
	ag, err := k.Agency.Agency(kv, agencyID)
	if err != nil {
		return 0, err
	}
	if ag.Status != agencyv1.Status_STATUS_ACTIVE {
		return 0, ErrNoMandate.Wrapf("agency %q is %s; its %s mandate (grant %d) is not exercised while it is not active", agencyID, agency.StatusName(ag.Status), name, g.Id)
	}
	if amount == 0 {
		return g.Id, nil
	}
	used, carry := bits.Add64(g.Used, amount, 0)
	if g.Ceiling != 0 && (carry != 0 || used > g.Ceiling) {
		return 0, ErrMandateCeiling.Wrapf("agency %q's %s mandate (grant %d, %s) has used %d of its ceiling %d; at most %d more", agencyID, name, g.Id, g.LegalBasis, g.Used, g.Ceiling, g.Ceiling-min(g.Used, g.Ceiling))
	}
	if carry != 0 {
		used = ^uint64(0) // no ceiling: the count saturates rather than wrap
	}
	g.Used = used
	return g.Id, k.saveGrant(kv, g, true)
}

// saveGrant writes a grant's permanent record and, when inForce, the
// record in force too.
func (Keeper) saveGrant(kv store.KV, g *govv1.MandateGrant, inForce bool) error {
	if err := store.SetProto(kv, api.GovGrantKey(g.Id), g); err != nil {
		return err
	}
	if !inForce {
		return nil
	}
	return store.SetProto(kv, api.GovMandateKey(g.AgencyId, int32(g.Mandate)), g)
}

// grant puts g in force under a new id; a grant it replaces (the same
// agency and mandate) is recorded as ended at this height.
func (k Keeper) grant(kv store.KV, g *govv1.MandateGrant, height int64) error {
	if err := k.end(kv, g.AgencyId, g.Mandate, height); err != nil {
		return err
	}
	id, err := module.NextSeq(kv, api.GovGrantSeqKey(), "mandate grant")
	if err != nil {
		return err
	}
	g.Id = id
	return k.saveGrant(kv, g, true)
}

// end withdraws the grant in force of agencyID's mandate, if any: its
// permanent record keeps the height it ended at.
func (k Keeper) end(kv store.KV, agencyID string, m govv1.Mandate, height int64) error {
	old, err := k.Mandate(kv, agencyID, m)
	if err != nil || old == nil {
		return err
	}
	kv.Delete(api.GovMandateKey(agencyID, int32(m)))
	if old.Id == 0 {
		return nil // a grant made before grants were numbered has no permanent record
	}
	old.WithdrawnHeight = height
	return k.saveGrant(kv, old, false)
}

// validateGrant checks what a grant must say: a defined mandate, a legal
// basis, a scope that fits, and a ceiling for a treasury (supply) mandate,
// since money created under it must have a limit the agencies voted for.
func validateGrant(m govv1.Mandate, until int64, legalBasis, scope string, ceiling uint64) error {
	if err := ValidateMandate(m); err != nil {
		return err
	}
	if until < 0 {
		return ErrInvalidMandate.Wrapf("until_unix %d is negative; use 0 for no end", until)
	}
	if legalBasis == "" || len(legalBasis) > maxReasonBytes {
		return ErrInvalidMandate.Wrapf("cite the legal basis of the mandate in 1 to %d bytes", maxReasonBytes)
	}
	if len(scope) > maxReasonBytes {
		return ErrInvalidMandate.Wrapf("scope is %d bytes; at most %d", len(scope), maxReasonBytes)
	}
	if m == govv1.Mandate_MANDATE_TREASURY && ceiling == 0 {
		return ErrInvalidMandate.Wrapf("a treasury (supply) mandate needs a ceiling: the most it may appropriate in total, in minor units")
	}
	return nil
}

// FoundingCeiling is the ceiling of the treasury mandate FoundingMandates
// grants: £1 trillion in pence, the default annual appropriation limit.
const FoundingCeiling uint64 = 1_000_000_000_000_00

// FoundingLegalBasis is the legal basis FoundingMandates cites.
const FoundingLegalBasis = "founding agreement (genesis)"

// kindMandates is which mandates an agency of each kind is founded with.
var kindMandates = []struct {
	kind     agencyv1.Kind
	mandates []govv1.Mandate
}{
	{agencyv1.Kind_KIND_TREASURY, []govv1.Mandate{govv1.Mandate_MANDATE_TREASURY}},
	{agencyv1.Kind_KIND_TAX_AUTHORITY, []govv1.Mandate{govv1.Mandate_MANDATE_TAX_AUTHORITY}},
	{agencyv1.Kind_KIND_BENEFITS, []govv1.Mandate{govv1.Mandate_MANDATE_BENEFITS_PAYER}},
	{agencyv1.Kind_KIND_REGULATOR, []govv1.Mandate{govv1.Mandate_MANDATE_REGULATOR}},
	{agencyv1.Kind_KIND_BANK, []govv1.Mandate{govv1.Mandate_MANDATE_SETTLEMENT_BANK}},
	{agencyv1.Kind_KIND_COUNCIL, []govv1.Mandate{govv1.Mandate_MANDATE_REVENUE, govv1.Mandate_MANDATE_BENEFITS_PAYER}},
}

// FoundingMandates are the mandates a new chain's genesis grants its
// founding agencies, by kind: the treasury its supply mandate (with
// FoundingCeiling), a tax authority its tax-authority mandate, a benefits
// agency benefits-payer, a regulator regulator, a bank settlement-bank and
// a council revenue (its council tax) and benefits-payer (its own schemes). Genesis tools (testnet, the genesis ceremony) use it so
// every agency that signs the genesis sees the same grants; later grants are
// voted.
func FoundingMandates(agencies []*agencyv1.Agency) []*govv1.MandateGrant {
	var out []*govv1.MandateGrant
	for _, a := range agencies {
		for _, km := range kindMandates {
			if km.kind != a.Kind {
				continue
			}
			for _, m := range km.mandates {
				g := &govv1.MandateGrant{AgencyId: a.Id, Mandate: m, LegalBasis: FoundingLegalBasis, Scope: "founding " + MandateName(m) + " mandate"}
				if m == govv1.Mandate_MANDATE_TREASURY {
					g.Ceiling = FoundingCeiling
				}
				out = append(out, g)
			}
		}
	}
	return out
}

// DefaultMaxReceiptAmount is gov.max_receipt_amount on a new chain: £10
// million in pence. A payment above it is receipted in parts, each of
// which the settling bank confirms.
const DefaultMaxReceiptAmount uint64 = 10_000_000_00

// MaxReceiptAmount is the largest amount one tax receipt (or a correction)
// may carry, so that one collector cannot create unbounded revenue with one
// record.
func (k Keeper) MaxReceiptAmount(kv store.KV) (uint64, error) {
	p, err := k.Params(kv)
	if err != nil {
		return 0, err
	}
	if p.MaxReceiptAmount == 0 {
		return DefaultMaxReceiptAmount, nil
	}
	return p.MaxReceiptAmount, nil
}
