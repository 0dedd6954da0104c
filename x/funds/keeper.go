// Package funds is the public-money ledger: money created by the Treasury
// against appropriations (or entering as revenue), moved between agencies,
// programmes and recipients' bank accounts, and leaving only by confirmed
// settlement or refund. Money is held in earmarked tranches that are split
// as they move, so every penny has exactly one path back to the inflow it
// came from.
package funds

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"strconv"

	"github.com/tallyledger/tally/api"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// Keeper is the funds module's access to state. It holds no state of its
// own; the agency keeper tells it which agencies exist, and Mandates
// (governance) whether an agency may create or settle money.
type Keeper struct {
	Agency   agency.Keeper
	Mandates Mandates
}

// Mandates is what the ledger needs from governance: that an agency holds
// a mandate in force for an act, within its ceiling (x/gov's Keeper). The
// returned id is recorded with the act.
type Mandates interface {
	Require(ctx module.Context, agencyID string, kind govv1.Mandate, amount uint64) (uint64, error)
}

// require asks governance for agencyID's mandate of kind; a ledger wired
// without governance refuses every act that needs one.
func (k Keeper) require(ctx module.Context, agencyID string, kind govv1.Mandate, amount uint64) (uint64, error) {
	if k.Mandates == nil {
		return 0, module.ErrInternal.Wrapf("the funds module has no mandate registry wired; acts that need a mandate are refused")
	}
	return k.Mandates.Require(ctx, agencyID, kind, amount)
}

// DefaultParams are the funds rules of a new chain.
func DefaultParams() *fundsv1.Params {
	return &fundsv1.Params{
		Currency:                 "GBP",
		AnnualAppropriationLimit: 1_000_000_000_000_00, // £1 trillion in pence
		MaxTranchesPerMovement:   64,
	}
}

// Params reads the funds params (defaults before genesis wrote them).
func (Keeper) Params(kv store.KV) (*fundsv1.Params, error) {
	return module.Params(kv, api.FundsParamsKey(), DefaultParams)
}

// CheckCurrency refuses an amount in another currency than the ledger's.
func (k Keeper) CheckCurrency(kv store.KV, currency string) error {
	p, err := k.Params(kv)
	if err != nil {
		return err
	}
	if currency != p.Currency {
		return ErrWrongCurrency.Wrapf("amount is in %s; this ledger keeps %s (in minor units)", api.Quote(currency), p.Currency)
	}
	return nil
}

// Balance is what holder has, in minor units.
func (Keeper) Balance(kv store.KV, holder string) (uint64, error) {
	b := &fundsv1.Balance{}
	if _, err := store.GetProto(kv, api.FundsBalanceKey(holder), b); err != nil {
		return 0, err
	}
	return b.Amount, nil
}

// Totals reads the ledger-wide running totals.
func (Keeper) Totals(kv store.KV) (*fundsv1.Totals, error) {
	t := &fundsv1.Totals{}
	_, err := store.GetProto(kv, api.FundsTotalsKey(), t)
	return t, err
}

// Movement loads a movement, or returns ErrUnknownMovement.
func (Keeper) Movement(kv store.KV, id uint64) (*fundsv1.Movement, error) {
	m := &fundsv1.Movement{}
	found, err := store.GetProto(kv, api.FundsMovementKey(id), m)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownMovement.Wrapf("no movement %d", id)
	}
	return m, nil
}

// Tranche loads a tranche.
func (Keeper) Tranche(kv store.KV, id uint64) (*fundsv1.Tranche, error) {
	t := &fundsv1.Tranche{}
	found, err := store.GetProto(kv, api.FundsTrancheKey(id), t)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("tranche %d is missing", id)
	}
	return t, nil
}

// FormatID writes a movement id as the interface to other modules uses it.
func FormatID(id uint64) string { return strconv.FormatUint(id, 10) }

// ParseID reads a movement or payment id written by FormatID.
func ParseID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, ErrUnknownMovement.Wrapf("%s is not a movement id (a positive whole number)", api.Quote(s))
	}
	return id, nil
}

func add(a, b uint64) (uint64, error) {
	s, carry := bits.Add64(a, b, 0)
	if carry != 0 {
		return 0, ErrOverflow.Wrapf("%d + %d does not fit in 64 bits", a, b)
	}
	return s, nil
}

// move is the one place money changes hands. from is empty for an inflow,
// to for an outflow. It consumes from's open tranches oldest first (only
// those that came from onlyFrom, when set; exactly the tranches listed in
// exact, when set), splitting the last, and creates one new tranche at to
// per tranche consumed. Nothing is written unless the whole move can be made.
type move struct {
	kind               fundsv1.MovementKind
	from, to           string
	amount             uint64
	purpose, reference string
	source             string
	signer             []byte
	settles            uint64
	onlyFrom           string
	exact              []uint64
	mandate            uint64
}

func (k Keeper) move(ctx module.Context, r move) (*fundsv1.Movement, error) {
	kv := ctx.Store
	if r.amount == 0 {
		return nil, ErrZeroAmount.Wrapf("move a positive number of minor units")
	}
	p, err := k.Params(kv)
	if err != nil {
		return nil, err
	}
	var take []*fundsv1.Tranche
	if r.from != "" {
		if take, err = k.selectTranches(kv, p, r); err != nil {
			return nil, err
		}
	}
	// Balances first: an overflow at the receiver must stop the move
	// before any tranche is touched.
	if r.to != "" {
		bal, err := k.Balance(kv, r.to)
		if err != nil {
			return nil, err
		}
		if _, err := add(bal, r.amount); err != nil {
			return nil, err
		}
	}
	id, err := module.NextSeq(kv, api.FundsMovementSeqKey(), "movement")
	if err != nil {
		return nil, err
	}
	m := &fundsv1.Movement{
		Id: id, Kind: r.kind, From: r.from, To: r.to, Amount: r.amount,
		Purpose: r.purpose, Reference: r.reference, Source: r.source,
		Height: ctx.Height, TimeUnix: ctx.Time.Unix(), Signer: r.signer, Settles: r.settles, Mandate: r.mandate,
	}
	if r.from == "" { // an inflow: a new root
		t, err := k.newTranche(kv, r.to, id, 0, id, r.amount, "")
		if err != nil {
			return nil, err
		}
		m.Legs = append(m.Legs, &fundsv1.Leg{Root: id, ToTranche: t, Amount: r.amount})
	}
	need := r.amount
	for _, src := range take {
		x := min(src.Remaining, need)
		need -= x
		src.Remaining -= x
		if src.Remaining == 0 {
			kv.Delete(api.FundsOpenKey(src.Holder, src.Id))
			kv.Delete(api.FundsOpenFromKey(src.Holder, src.FromHolder, src.Id))
			closeHead(kv, src.Holder, src.Id)
		}
		if err := store.SetProto(kv, api.FundsTrancheKey(src.Id), src); err != nil {
			return nil, err
		}
		leg := &fundsv1.Leg{Root: src.Root, FromTranche: src.Id, Amount: x}
		if r.to != "" {
			if leg.ToTranche, err = k.newTranche(kv, r.to, src.Root, src.Id, id, x, r.from); err != nil {
				return nil, err
			}
		}
		m.Legs = append(m.Legs, leg)
	}
	for i, leg := range m.Legs {
		leg.Movement, leg.From, leg.To = id, r.from, r.to
		if err := store.SetProto(kv, api.FundsRootLegKey(leg.Root, id, i), leg); err != nil {
			return nil, err
		}
	}
	if err := k.addBalance(kv, r.from, r.amount, false); err != nil {
		return nil, err
	}
	if err := k.addBalance(kv, r.to, r.amount, true); err != nil {
		return nil, err
	}
	if err := store.SetProto(kv, api.FundsMovementKey(id), m); err != nil {
		return nil, err
	}
	return m, nil
}

// selectTranches picks the tranches a move consumes, refusing an
// overdraft or a move that would need more than the per-movement limit.
func (k Keeper) selectTranches(kv store.KV, p *fundsv1.Params, r move) ([]*fundsv1.Tranche, error) {
	bal, err := k.Balance(kv, r.from)
	if err != nil {
		return nil, err
	}
	if bal < r.amount {
		return nil, ErrInsufficientFunds.Wrapf("%s holds %d; cannot move %d", r.from, bal, r.amount)
	}
	var ids []uint64
	if r.exact != nil {
		ids = r.exact
	} else {
		prefix := api.FundsOpenPrefix(r.from)
		if r.onlyFrom != "" {
			prefix = api.FundsOpenFromPrefix(r.from, r.onlyFrom)
		}
		var sum uint64
		limit := int(p.MaxTranchesPerMovement)
		if r.onlyFrom == "" {
			if head := kv.Get(api.FundsHeadKey(r.from)); len(head) == 8 {
				t, err := k.Tranche(kv, binary.BigEndian.Uint64(head))
				if err != nil {
					return nil, err
				}
				if t.Remaining >= r.amount { // the oldest tranche covers it
					return []*fundsv1.Tranche{t}, nil
				}
			}
		}
		store.IteratePrefix(kv, prefix, func(key, _ []byte) bool {
			if len(ids) == limit {
				return true
			}
			id := binary.BigEndian.Uint64(key[len(key)-8:])
			ids = append(ids, id)
			t, err := k.Tranche(kv, id)
			if err != nil {
				return true
			}
			sum += t.Remaining
			return sum >= r.amount
		})
		if sum < r.amount {
			switch {
			case r.onlyFrom != "" && len(ids) < limit:
				return nil, ErrNotReturnable.Wrapf("%s holds only %d that came from %s; cannot return %d there", r.from, sum, r.onlyFrom, r.amount)
			default:
				return nil, ErrTooFragmented.Wrapf("the oldest %d tranches at %s hold %d; move at most that much in one movement", limit, r.from, sum)
			}
		}
	}
	out := make([]*fundsv1.Tranche, 0, len(ids))
	var sum uint64
	for _, id := range ids {
		t, err := k.Tranche(kv, id)
		if err != nil {
			return nil, err
		}
		if t.Holder != r.from {
			return nil, fmt.Errorf("tranche %d is held by %s, not %s", id, t.Holder, r.from)
		}
		sum += t.Remaining
		out = append(out, t)
	}
	if sum < r.amount { // only exact lists can get here
		return nil, ErrInsufficientFunds.Wrapf("the tranches named hold %d of %d at %s", sum, r.amount, r.from)
	}
	return out, nil
}

func (k Keeper) newTranche(kv store.KV, holder string, root, parent, movement, amount uint64, from string) (uint64, error) {
	id, err := module.NextSeq(kv, api.FundsTrancheSeqKey(), "tranche")
	if err != nil {
		return 0, err
	}
	t := &fundsv1.Tranche{Id: id, Holder: holder, Root: root, Parent: parent, Movement: movement, Amount: amount, Remaining: amount, FromHolder: from}
	// A freshly built tranche always encodes: SetProto cannot fail here.
	_ = store.SetProto(kv, api.FundsTrancheKey(id), t)
	kv.Set(api.FundsOpenKey(holder, id), []byte{})
	kv.Set(api.FundsOpenFromKey(holder, from, id), []byte{})
	if !kv.Has(api.FundsHeadKey(holder)) {
		kv.Set(api.FundsHeadKey(holder), api.Uint64(id)) // ids only grow: a new tranche is never older than the head
	}
	return id, nil
}

// closeHead moves holder's head past a tranche just closed, if it was the
// head: to the next open tranche, or nowhere.
func closeHead(kv store.KV, holder string, closed uint64) {
	head := kv.Get(api.FundsHeadKey(holder))
	if len(head) != 8 || binary.BigEndian.Uint64(head) != closed {
		return
	}
	var next []byte
	kv.Iterate(api.FundsOpenKey(holder, closed), store.PrefixEnd(api.FundsOpenPrefix(holder)), true, func(key, _ []byte) bool {
		next = append([]byte(nil), key[len(key)-8:]...)
		return true
	})
	if next == nil {
		kv.Delete(api.FundsHeadKey(holder))
		return
	}
	kv.Set(api.FundsHeadKey(holder), next)
}

func (k Keeper) addBalance(kv store.KV, holder string, amount uint64, credit bool) error {
	if holder == "" {
		return nil
	}
	b := &fundsv1.Balance{Holder: holder}
	if _, err := store.GetProto(kv, api.FundsBalanceKey(holder), b); err != nil {
		return err
	}
	if credit {
		s, err := add(b.Amount, amount)
		if err != nil {
			return err
		}
		b.Amount = s
	} else {
		if b.Amount < amount {
			return ErrInsufficientFunds.Wrapf("%s holds %d; cannot move %d", holder, b.Amount, amount)
		}
		b.Amount -= amount
	}
	return store.SetProto(kv, api.FundsBalanceKey(holder), b)
}

// updateTotals applies f to the ledger-wide totals.
func (k Keeper) updateTotals(kv store.KV, f func(t *fundsv1.Totals) error) error {
	t, err := k.Totals(kv)
	if err != nil {
		return err
	}
	if err := f(t); err != nil {
		return err
	}
	return store.SetProto(kv, api.FundsTotalsKey(), t)
}

// newRoot records the totals of a fresh inflow movement.
func (k Keeper) newRoot(kv store.KV, m *fundsv1.Movement) error {
	return store.SetProto(kv, api.FundsRootTotalsKey(m.Id), &fundsv1.RootTotals{
		Root: m.Id, Kind: m.Kind, Reference: m.Reference, Source: m.Source, Inflow: m.Amount,
	})
}

// leaveRoots adds an outflow's legs to their roots' settled or refunded totals.
func (k Keeper) leaveRoots(kv store.KV, m *fundsv1.Movement, settled bool) error {
	for _, leg := range m.Legs {
		rt := &fundsv1.RootTotals{}
		if _, err := store.GetProto(kv, api.FundsRootTotalsKey(leg.Root), rt); err != nil {
			return err
		}
		var err error
		if settled {
			rt.Settled, err = add(rt.Settled, leg.Amount)
		} else {
			rt.Refunded, err = add(rt.Refunded, leg.Amount)
		}
		if err != nil {
			return err
		}
		if err := store.SetProto(kv, api.FundsRootTotalsKey(leg.Root), rt); err != nil {
			return err
		}
	}
	return nil
}
