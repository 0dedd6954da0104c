// Package tax keeps tax receipts: a registry of tax types held by tax
// authorities, the collectors they authorise, receipts those collectors
// issue (crediting the public-money ledger), append-only amendments, and
// the running totals that let a taxpayer prove payment — and a council or
// the Treasury see what was collected — with one proof per answer.
package tax

import (
	"fmt"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// RevenueLedger is the public-money ledger collected tax is credited to and
// refunds are debited from (x/funds' Keeper). Both calls write through the
// Context's store, so they commit or roll back with the tax message.
type RevenueLedger interface {
	CreditRevenue(ctx module.Context, holder string, amount uint64, source, ref string, mandate uint64) (movementID string, err error)
	DebitRevenue(ctx module.Context, holder string, amount uint64, source, ref string) (movementID string, err error)
}

// LedgerSource is the source every tax movement carries in the funds ledger;
// its ref is the receipt or amendment id.
const LedgerSource = "tax"

// Keeper is the tax module's access to state. Its fields are the keepers
// of the modules it calls: the revenue ledger, and how that ledger names an
// agency's account.
type Keeper struct {
	ledger   RevenueLedger
	holderOf func(agencyID string) string
	agency   agency.Keeper
	gov      Governance
}

// Governance is what the tax module needs from x/gov: the mandates that
// let an authority register tax types and issue receipts and let an agency
// receive revenue (Require returns the grant's id, recorded with the act),
// and the per-receipt cap.
type Governance interface {
	Require(ctx module.Context, agencyID string, kind govv1.Mandate, amount uint64) (uint64, error)
	MaxReceiptAmount(kv store.KV) (uint64, error)
}

// NewKeeper returns a Keeper crediting ledger; holderOf maps an agency id to
// its account in that ledger (funds.AgencyHolder). It refuses every act that
// needs a mandate until WithGovernance wires one.
func NewKeeper(ledger RevenueLedger, holderOf func(agencyID string) string) Keeper {
	return Keeper{ledger: ledger, holderOf: holderOf}
}

// WithGovernance returns k asking gov for mandates and the receipt cap.
func (k Keeper) WithGovernance(gov Governance) Keeper {
	k.gov = gov
	return k
}

// TaxType loads a tax type, or returns ErrUnknownTaxType.
func (Keeper) TaxType(kv store.KV, code string) (*taxv1.TaxType, error) {
	t := &taxv1.TaxType{}
	found, err := store.GetProto(kv, api.TaxTypeKey(code), t)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownTaxType.Wrapf("no tax type %s; a tax authority's admin registers types with register-tax-type", api.Quote(code))
	}
	return t, nil
}

// Authorisation loads a collector's authorisation for a tax type; nil when
// there has never been one.
func (Keeper) Authorisation(kv store.KV, collector []byte, taxType string) (*taxv1.Authorisation, error) {
	a := &taxv1.Authorisation{}
	found, err := store.GetProto(kv, api.TaxAuthorisationKey(collector, taxType), a)
	if err != nil || !found {
		return nil, err
	}
	return a, nil
}

// ActiveAuthorisations is how many tax types a collector may currently issue.
func (Keeper) ActiveAuthorisations(kv store.KV, collector []byte) (uint64, error) {
	c := &taxv1.Collector{}
	if _, err := store.GetProto(kv, api.TaxCollectorKey(collector), c); err != nil {
		return 0, err
	}
	return c.ActiveAuthorisations, nil
}

func (k Keeper) addActive(kv store.KV, collector []byte, delta int) error {
	n, err := k.ActiveAuthorisations(kv, collector)
	if err != nil {
		return err
	}
	switch {
	case delta > 0:
		n++
	case n == 0:
		return fmt.Errorf("collector %x: active authorisation count would go below zero", collector)
	default:
		n--
	}
	return store.SetProto(kv, api.TaxCollectorKey(collector), &taxv1.Collector{Address: collector, ActiveAuthorisations: n})
}

// Receipt loads a receipt, or returns ErrUnknownReceipt.
func (Keeper) Receipt(kv store.KV, r ReceiptRef) (*taxv1.Receipt, error) {
	rec := &taxv1.Receipt{}
	found, err := store.GetProto(kv, api.TaxReceiptKey(r), rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownReceipt.Wrapf("no receipt %s", r.ID())
	}
	return rec, nil
}

// State loads a receipt's derived state.
func (Keeper) State(kv store.KV, r ReceiptRef) (*taxv1.ReceiptState, error) {
	s := &taxv1.ReceiptState{}
	found, err := store.GetProto(kv, api.TaxReceiptStateKey(r), s)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("receipt %s has no state record", r.ID())
	}
	return s, nil
}

// Amendments loads a receipt's amendments in order.
func (Keeper) Amendments(kv store.KV, r ReceiptRef, n uint32) ([]*taxv1.Amendment, error) {
	out := make([]*taxv1.Amendment, 0, n)
	for i := uint32(1); i <= n; i++ {
		a := &taxv1.Amendment{}
		found, err := store.GetProto(kv, api.TaxAmendmentKey(r, i), a)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("receipt %s: amendment %d is missing", r.ID(), i)
		}
		out = append(out, a)
	}
	return out, nil
}

// Total loads a running total; a missing total is zero.
func (Keeper) Total(kv store.KV, key []byte) (*taxv1.Total, error) {
	t := &taxv1.Total{}
	_, err := store.GetProto(kv, key, t)
	return t, err
}

// totalKeys are the running totals a receipt in state s counts towards.
func totalKeys(r *taxv1.Receipt, s *taxv1.ReceiptState) [][]byte {
	return [][]byte{
		api.TaxPayerTotalKey(r.TaxType, s.Period, s.Payer),
		api.TaxTypeTotalKey(r.TaxType, s.Period),
		api.TaxCollectorTotalKey(r.Collector, r.TaxType, s.Period),
	}
}

// moveTotals takes a receipt's contribution in state before (nil for a new
// receipt) out of the totals and puts its contribution in state after in.
func (k Keeper) moveTotals(kv store.KV, r *taxv1.Receipt, before, after *taxv1.ReceiptState) error {
	if before != nil {
		for _, key := range totalKeys(r, before) {
			if err := k.adjust(kv, key, contribution(before), false); err != nil {
				return err
			}
		}
	}
	for _, key := range totalKeys(r, after) {
		if err := k.adjust(kv, key, contribution(after), true); err != nil {
			return err
		}
	}
	return nil
}

// adjust adds c to (or subtracts it from) the total at key. A total that
// drops to zero is deleted, so "no live receipts" is proven by absence.
func (k Keeper) adjust(kv store.KV, key []byte, c *taxv1.Total, add bool) error {
	t, err := k.Total(kv, key)
	if err != nil {
		return err
	}
	fields := []struct {
		dst *uint64
		d   uint64
	}{{&t.Receipts, c.Receipts}, {&t.Collected, c.Collected}, {&t.Refunded, c.Refunded}, {&t.Net, c.Net}}
	for _, f := range fields {
		switch {
		case add && *f.dst > ^uint64(0)-f.d:
			return ErrOverflow.Wrapf("a running total would exceed %d minor units", ^uint64(0))
		case add:
			*f.dst += f.d
		case *f.dst < f.d:
			return fmt.Errorf("running total at %q would go below zero: totals are inconsistent", key)
		default:
			*f.dst -= f.d
		}
	}
	if t.Receipts == 0 && t.Collected == 0 && t.Refunded == 0 && t.Net == 0 {
		kv.Delete(key)
		return nil
	}
	return store.SetProto(kv, key, t)
}

// taxAuthority checks that signer's agency is a tax authority; the
// admin role itself is checked by the app's permission table.
func (k Keeper) taxAuthority(kv store.KV, signer *agencyv1.Account) (*agencyv1.Agency, error) {
	ag, err := k.agency.Agency(kv, signer.AgencyId)
	if err != nil {
		return nil, err
	}
	if ag.Kind != agencyv1.Kind_KIND_TAX_AUTHORITY {
		return nil, ErrNotTaxAuthority.Wrapf("agency %q is a %s; only an admin of a tax_authority agency manages tax types and collectors", ag.Id, agency.KindName(ag.Kind))
	}
	return ag, nil
}
