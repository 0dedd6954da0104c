package tax

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Names of the tax module's invariant checks.
const (
	CheckReceiptSequence = "receipt-sequence"
	CheckReceiptState    = "receipt-state"
	CheckRunningTotals   = "running-totals"
	CheckReceiptIndexes  = "receipt-indexes"
	CheckRevenue         = "revenue-movements"
)

// LedgerRecords is what the revenue check reads from the public-money
// ledger collected tax is credited to (x/funds' Keeper).
type LedgerRecords interface {
	Movement(kv store.KV, id uint64) (*fundsv1.Movement, error)
}

// taxAudit is one run of the tax invariants.
type taxAudit struct {
	k                                    Keeper
	kv                                   store.KV
	ledger                               LedgerRecords
	seq, state, totals, indexes, revenue *appv1.InvariantCheck
	// next is, per authority, the sequence the next receipt must have.
	next map[string]uint64
	// amendments is, per receipt key suffix, how many amendments its state counts.
	amendments map[string]uint32
	// want are the running totals recomputed from the receipts, by key.
	want map[string]*taxv1.Total
}

// Invariants checks what the module promises about receipts: each
// authority's receipts are numbered from 1 without gaps; each receipt's
// stored state is its receipt folded with its amendments, numbered 1..n,
// so its net is the amount less refunds (0 once cancelled) and never
// negative; the running totals are the sums of the live receipts; the
// period and bank-reference indexes follow each receipt's
// current state; and the funds ledger (ledger) holds exactly the
// movements each receipt and amendment names, crediting the tax type's
// revenue account with the receipt's net. It reads every receipt, its
// amendments and movements: it is for tests, audits and the invariants
// query, never for the block's hot path.
func (k Keeper) Invariants(kv store.KV, ledger LedgerRecords) (*appv1.ModuleInvariants, error) {
	a := &taxAudit{
		k: k, kv: kv, ledger: ledger,
		seq:        module.NewCheck(CheckReceiptSequence, "each authority's receipts are numbered 1, 2, ... up to its last issued number, without gaps, each under the id its number gives"),
		state:      module.NewCheck(CheckReceiptState, "each receipt's stored state is the receipt folded with its amendments 1..n: net = amount - refunded (0 once cancelled), never negative, and each amendment's net_before and net_after follow the chain"),
		totals:     module.NewCheck(CheckRunningTotals, "every running total (per payer commitment, per tax type and per collector, each by period) is the sum of the live receipts it covers, and no other total is stored"),
		indexes:    module.NewCheck(CheckReceiptIndexes, "each receipt is listed under its tax type's current period, each live receipt holds its bank reference, and every index entry names a receipt that matches it"),
		revenue:    module.NewCheck(CheckRevenue, "revenue is pending until a settling bank confirms it: a receipt credits nothing, each confirmation credits its amount to the tax type's revenue account, an amendment takes back only confirmed revenue above the new net; so the ledger holds each receipt's confirmed amount, never above its net"),
		next:       map[string]uint64{},
		amendments: map[string]uint32{},
		want:       map[string]*taxv1.Total{},
	}
	store.IteratePrefix(kv, api.TaxReceiptsPrefix(), func(key, v []byte) bool {
		a.receipt(key, v)
		return false
	})
	a.sequences()
	a.orphans()
	a.storedTotals()
	a.indexEntries()
	r := &appv1.ModuleInvariants{Module: "tax", Checks: []*appv1.InvariantCheck{a.seq, a.state, a.totals, a.indexes, a.revenue}, Ok: true}
	for _, c := range r.Checks {
		r.Ok = r.Ok && c.Ok
	}
	return r, nil
}

// receipt checks one receipt and everything derived from it.
func (a *taxAudit) receipt(key, v []byte) {
	ref, ok := api.ReceiptRefOfSuffix(key[len(api.TaxReceiptsPrefix()):])
	if !ok {
		module.Failf(a.seq, "receipt key %q is not <authority>/<8-byte sequence>", key)
		return
	}
	r := &taxv1.Receipt{}
	if err := proto.Unmarshal(v, r); err != nil {
		module.Failf(a.seq, "receipt %s does not decode: %v", ref.ID(), err)
		return
	}
	if want := a.next[ref.Authority] + 1; ref.Seq != want {
		module.Failf(a.seq, "authority %q: receipt number %d is stored where %d comes next", ref.Authority, ref.Seq, want)
	}
	a.next[ref.Authority] = ref.Seq
	if r.Id != ref.ID() || r.Authority != ref.Authority || r.Sequence != ref.Seq {
		module.Failf(a.seq, "receipt stored as %s says it is %s (authority %q, number %d)", ref.ID(), r.Id, r.Authority, r.Sequence)
	}

	s := &taxv1.ReceiptState{}
	found, err := store.GetProto(a.kv, api.TaxReceiptStateKey(ref), s)
	if err != nil || !found {
		module.Failf(a.state, "receipt %s has no readable state (%v)", ref.ID(), err)
		return
	}
	a.amendments[string(ref.KeySuffix())] = s.Amendments
	ams := a.chain(ref, r, s)

	for _, key := range totalKeys(r, s) {
		c := contribution(s)
		if c.Receipts == 0 {
			continue
		}
		t := a.want[string(key)]
		if t == nil {
			t = &taxv1.Total{}
			a.want[string(key)] = t
		}
		t.Receipts += c.Receipts
		t.Collected += c.Collected
		t.Refunded += c.Refunded
		t.Net += c.Net
	}

	if !a.kv.Has(api.TaxTypePeriodIndexKey(r.TaxType, s.Period, ref)) {
		module.Failf(a.indexes, "receipt %s is missing from the index of %s %s", r.Id, r.TaxType, s.Period)
	}
	if s.Status != taxv1.Status_STATUS_CANCELLED {
		if got := a.kv.Get(api.TaxBankRefKey(r.CollectorAgency, r.BankReference)); string(got) != r.Id {
			module.Failf(a.indexes, "receipt %s is live but %q's bank reference %x names %q", r.Id, r.CollectorAgency, r.BankReference, got)
		}
	}
	a.revenueOf(ref, r, s, ams)
}

// chain loads a receipt's amendments, folds them and compares the result
// with the stored state. It returns the amendments it could read.
func (a *taxAudit) chain(ref ReceiptRef, r *taxv1.Receipt, s *taxv1.ReceiptState) []*taxv1.Amendment {
	ams, err := a.k.Amendments(a.kv, ref, s.Amendments)
	if err != nil {
		module.Failf(a.state, "receipt %s: its state counts %d amendments: %v", r.Id, s.Amendments, err)
		return nil
	}
	switch {
	case s.Refunded > s.Amount:
		module.Failf(a.state, "receipt %s: %d refunded of %d collected, a negative net", r.Id, s.Refunded, s.Amount)
	case s.Status == taxv1.Status_STATUS_CANCELLED && s.Net != 0:
		module.Failf(a.state, "receipt %s is cancelled but its net is %d, not 0", r.Id, s.Net)
	case s.Status != taxv1.Status_STATUS_CANCELLED && s.Net != s.Amount-s.Refunded:
		module.Failf(a.state, "receipt %s (%s): net is %d; amount %d less refunded %d is %d", r.Id, StatusName(s.Status), s.Net, s.Amount, s.Refunded, s.Amount-s.Refunded)
	}
	// Fold as a reader does, so each amendment's own record of itself and
	// of the net it found and left is checked against the chain.
	folded, err := api.FoldReceipt(r, ams)
	if err != nil {
		module.Failf(a.state, "receipt %s: %v", r.Id, err)
		return ams
	}
	if !proto.Equal(folded, s) {
		module.Failf(a.state, "receipt %s: stored state (%s, amount %d, refunded %d, net %d, period %s) is not its records folded (%s, amount %d, refunded %d, net %d, period %s)",
			r.Id, StatusName(s.Status), s.Amount, s.Refunded, s.Net, s.Period, StatusName(folded.Status), folded.Amount, folded.Refunded, folded.Net, folded.Period)
	}
	return ams
}

// revenueOf checks the funds movements a receipt, its confirmations and
// its amendments name. Revenue is pending until a settling bank confirms
// it: the receipt itself credits nothing; each confirmation credits its
// amount; an amendment moves money only to take back confirmed revenue
// above the new net. So the ledger holds confirmed - taken back, which is
// the receipt's Confirmed amount, never above its net; net - Confirmed is
// pending.
func (a *taxAudit) revenueOf(ref ReceiptRef, r *taxv1.Receipt, s *taxv1.ReceiptState, ams []*taxv1.Amendment) {
	tt, err := a.k.TaxType(a.kv, r.TaxType)
	if err != nil {
		module.Failf(a.revenue, "receipt %s is of tax type %s, which is not registered", r.Id, r.TaxType)
		return
	}
	if want := a.k.holder(tt.RevenueAgency); r.RevenueHolder != want {
		module.Failf(a.revenue, "receipt %s credits %q, but %s's revenue goes to %q", r.Id, r.RevenueHolder, tt.Code, want)
	}
	if r.RevenueMovement != "" {
		module.Failf(a.revenue, "receipt %s names funds movement %s; a receipt credits nothing until a settling bank confirms it", r.Id, r.RevenueMovement)
	}
	c, err := a.k.Confirmed(a.kv, ref)
	if err != nil {
		module.Failf(a.revenue, "receipt %s: confirmed amount unreadable: %v", r.Id, err)
		return
	}
	confs, err := a.k.Confirmations(a.kv, ref, c.Confirmations)
	if err != nil {
		module.Failf(a.revenue, "receipt %s: %v", r.Id, err)
		return
	}
	var in, out uint64
	for i, cf := range confs {
		if cf.ReceiptId != r.Id || cf.Number != uint32(i+1) || cf.Id != api.ConfirmationID(r.Id, cf.Number) {
			module.Failf(a.revenue, "confirmation %d of receipt %s says it is %s, number %d of %s", i+1, r.Id, cf.Id, cf.Number, cf.ReceiptId)
		}
		a.movement(cf.Id, cf.RevenueMovement, fundsv1.MovementKind_MOVEMENT_KIND_CREDIT_REVENUE, r.RevenueHolder, cf.Amount)
		in += cf.Amount
	}
	for _, am := range ams {
		if am.RevenueMovement == "" {
			continue
		}
		if am.NetAfter >= am.NetBefore {
			module.Failf(a.revenue, "amendment %s did not lower the net (%d to %d) but names funds movement %s", am.Id, am.NetBefore, am.NetAfter, am.RevenueMovement)
			continue
		}
		got := a.movement(am.Id, am.RevenueMovement, fundsv1.MovementKind_MOVEMENT_KIND_DEBIT_REVENUE, r.RevenueHolder, 0)
		if got > am.NetBefore-am.NetAfter {
			module.Failf(a.revenue, "amendment %s took %d out of the revenue account, more than the %d it lowered the net by", am.Id, got, am.NetBefore-am.NetAfter)
		}
		out += got
	}
	switch {
	case out > in || in-out != c.Amount:
		module.Failf(a.revenue, "receipt %s: confirmations credited %d and amendments took back %d, but %d is recorded as confirmed", r.Id, in, out, c.Amount)
	case c.Amount > s.Net:
		module.Failf(a.revenue, "receipt %s has %d confirmed, above its net %d", r.Id, c.Amount, s.Net)
	}
}

// movement checks that the funds ledger holds the revenue movement ref
// names: kind, the revenue account, amount (any, when amount is 0), and
// the tax source and ref. It returns the movement's amount.
func (a *taxAudit) movement(ref, id string, kind fundsv1.MovementKind, holder string, amount uint64) uint64 {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		module.Failf(a.revenue, "%s names funds movement %q, which is no movement id", ref, id)
		return 0
	}
	if a.ledger == nil {
		module.Failf(a.revenue, "no funds ledger to read movement %s of %s from", id, ref)
		return 0
	}
	m, err := a.ledger.Movement(a.kv, n)
	if err != nil {
		module.Failf(a.revenue, "%s names funds movement %d: %v", ref, n, err)
		return 0
	}
	account := m.To
	if kind == fundsv1.MovementKind_MOVEMENT_KIND_DEBIT_REVENUE {
		account = m.From
	}
	if amount == 0 {
		amount = m.Amount
	}
	if m.Kind != kind || account != holder || m.Amount != amount || m.Source != LedgerSource || m.Reference != ref {
		module.Failf(a.revenue, "%s: funds movement %d is %s of %d for %q (source %q, ref %q); want %s of %d for %q (source %q, ref %q)",
			ref, n, module.EnumName(m.Kind, "MOVEMENT_KIND_"), m.Amount, account, m.Source, m.Reference, module.EnumName(kind, "MOVEMENT_KIND_"), amount, holder, LedgerSource, ref)
	}
	return m.Amount
}

// sequences compares each authority's series with its last issued number.
func (a *taxAudit) sequences() {
	seen := map[string]bool{}
	store.IteratePrefix(a.kv, api.TaxSeqsPrefix(), func(key, v []byte) bool {
		auth := string(key[len(api.TaxSeqsPrefix()):])
		seen[auth] = true
		if len(v) != 8 {
			module.Failf(a.seq, "authority %q: last receipt number is %d bytes, not 8", auth, len(v))
			return false
		}
		if last := binary.BigEndian.Uint64(v); a.next[auth] != last {
			module.Failf(a.seq, "authority %q issued receipts up to number %d, but the last stored is %d", auth, last, a.next[auth])
		}
		return false
	})
	for auth, n := range a.next {
		if !seen[auth] {
			module.Failf(a.seq, "authority %q has receipts up to %d but no receipt series", auth, n)
		}
	}
}

// orphans finds states and amendments of receipts that do not exist.
func (a *taxAudit) orphans() {
	store.IteratePrefix(a.kv, api.TaxReceiptStatesPrefix(), func(key, _ []byte) bool {
		if _, ok := a.amendments[string(key[len(api.TaxReceiptStatesPrefix()):])]; !ok {
			module.Failf(a.state, "state %x belongs to no receipt", key[len(api.TaxReceiptStatesPrefix()):])
		}
		return false
	})
	store.IteratePrefix(a.kv, api.TaxAmendmentsPrefix(), func(key, _ []byte) bool {
		rest := key[len(api.TaxAmendmentsPrefix()):]
		if len(rest) < 5 {
			module.Failf(a.state, "amendment key %x is too short", key)
			return false
		}
		suffix, n := rest[:len(rest)-5], binary.BigEndian.Uint32(rest[len(rest)-4:])
		count, ok := a.amendments[string(suffix)]
		switch {
		case !ok:
			module.Failf(a.state, "amendment %d of %x belongs to no receipt", n, suffix)
		case n == 0 || n > count:
			name := fmt.Sprintf("%x", suffix)
			if ref, ok := api.ReceiptRefOfSuffix(suffix); ok {
				name = ref.ID()
			}
			module.Failf(a.state, "receipt %s has amendment number %d; its state counts %d", name, n, count)
		}
		return false
	})
}

// storedTotals compares every stored running total with the recomputed one.
func (a *taxAudit) storedTotals() {
	for _, prefix := range [][]byte{api.TaxPayerTotalsPrefix(), api.TaxAllTypeTotalsPrefix(), api.TaxCollectorTotalsPrefix()} {
		store.IteratePrefix(a.kv, prefix, func(key, v []byte) bool {
			t := &taxv1.Total{}
			if err := proto.Unmarshal(v, t); err != nil {
				module.Failf(a.totals, "total %q does not decode: %v", key, err)
				return false
			}
			want := a.want[string(key)]
			if want == nil {
				want = &taxv1.Total{}
			}
			if !proto.Equal(t, want) {
				module.Failf(a.totals, "total %q holds %d receipts, %d collected, %d refunded, %d net; its live receipts sum to %d, %d, %d, %d",
					key, t.Receipts, t.Collected, t.Refunded, t.Net, want.Receipts, want.Collected, want.Refunded, want.Net)
			}
			return false
		})
	}
	for key, t := range a.want {
		if !a.kv.Has([]byte(key)) {
			module.Failf(a.totals, "total %q is missing; its live receipts sum to %d receipts, %d net", key, t.Receipts, t.Net)
		}
	}
}

// indexEntries checks that every index entry names a receipt that matches it.
func (a *taxAudit) indexEntries() {
	state := func(receiptKey []byte) (*taxv1.Receipt, *taxv1.ReceiptState, ReceiptRef, bool) {
		ref, ok := api.ReceiptRefOfSuffix(receiptKey[len(api.TaxReceiptsPrefix()):])
		r, s := &taxv1.Receipt{}, &taxv1.ReceiptState{}
		if !ok {
			return nil, nil, ref, false
		}
		f1, err1 := store.GetProto(a.kv, receiptKey, r)
		f2, err2 := store.GetProto(a.kv, api.TaxReceiptStateKey(ref), s)
		return r, s, ref, f1 && f2 && err1 == nil && err2 == nil
	}
	store.IteratePrefix(a.kv, api.TaxAllTypePeriodPrefix(), func(key, _ []byte) bool {
		rk := api.TaxReceiptKeyOfIndex(key)
		if rk == nil {
			module.Failf(a.indexes, "tax type and period index entry %q is malformed", key)
			return false
		}
		r, s, ref, ok := state(rk)
		switch {
		case !ok:
			module.Failf(a.indexes, "tax type and period index entry %q names no receipt", key)
		case !bytes.Equal(key, api.TaxTypePeriodIndexKey(r.TaxType, s.Period, ref)):
			module.Failf(a.indexes, "index entry %q lists %s, which is now %s %s", key, r.Id, r.TaxType, s.Period)
		}
		return false
	})
	store.IteratePrefix(a.kv, api.TaxBankRefsPrefix(), func(key, v []byte) bool {
		ref, err := ParseReceiptID(string(v))
		if err != nil {
			module.Failf(a.indexes, "bank reference %x names %q, which is no receipt id", key[len(api.TaxBankRefsPrefix()):], v)
			return false
		}
		r, _, _, ok := state(api.TaxReceiptKey(ref))
		switch {
		case !ok:
			module.Failf(a.indexes, "bank reference %x names receipt %s, which does not exist", key[len(api.TaxBankRefsPrefix()):], v)
		case !bytes.Equal(key, api.TaxBankRefKey(r.CollectorAgency, r.BankReference)):
			module.Failf(a.indexes, "bank reference %x names receipt %s, which records %x of %q", key[len(api.TaxBankRefsPrefix()):], r.Id, r.BankReference, r.CollectorAgency)
		}
		return false
	})
}
