// Package provenance traces goods from source to shelf: items and batches
// registered by producers, custody handed on by offer and acceptance,
// inspections attested by accredited inspectors, splits, merges and
// transformations that form a lineage graph, and recalls that reach every
// downstream item. Every step is an entry in the item's append-only
// history.
package provenance

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Accounts is what the module needs from the agency module: the accounts
// that act, to check they exist and what roles and agency they have.
type Accounts interface {
	Account(kv store.KV, addr []byte) (*agencyv1.Account, error)
}

// Keeper is the provenance module's access to state. It holds no state of
// its own; every method works on the KV it is given.
type Keeper struct {
	accounts Accounts
	mandates Mandates
}

// Mandates is what the module needs from governance: that an agency holds
// a mandate in force (x/gov's Keeper). Ordering a recall and accrediting
// an inspector bind other agencies, so each needs the acting agency's
// regulator mandate; the grant's id is recorded with the act.
type Mandates interface {
	Require(ctx module.Context, agencyID string, kind govv1.Mandate, amount uint64) (uint64, error)
}

// NewKeeper returns a Keeper that reads accounts through accounts (the
// agency keeper). It refuses the acts that need a mandate until
// WithMandates wires governance.
func NewKeeper(accounts Accounts) Keeper { return Keeper{accounts: accounts} }

// WithMandates returns k asking mandates for the regulator mandate.
func (k Keeper) WithMandates(mandates Mandates) Keeper {
	k.mandates = mandates
	return k
}

// requireRegulator asks for agencyID's regulator mandate.
func (k Keeper) requireRegulator(ctx module.Context, agencyID string) (uint64, error) {
	if k.mandates == nil {
		return 0, module.ErrInternal.Wrapf("the provenance module has no mandate registry wired; recalls and accreditations are refused")
	}
	return k.mandates.Require(ctx, agencyID, govv1.Mandate_MANDATE_REGULATOR, 0)
}

// DefaultParams bound the module's per-block work.
func DefaultParams() *provenancev1.Params {
	return &provenancev1.Params{
		RecallBudget:        1000,
		MaxOfferSeconds:     30 * 24 * 3600, // a month: long enough for sea freight
		DefaultOfferSeconds: 7 * 24 * 3600,
		ExpiryBudget:        1000,
	}
}

// ValidateParams checks parameters for values that would stall the module.
func ValidateParams(p *provenancev1.Params) error {
	switch {
	case p == nil:
		return ErrInvalidGenesis.Wrapf("params are missing")
	case p.RecallBudget == 0:
		return ErrInvalidGenesis.Wrapf("recall_budget must be at least 1, or recalls never finish")
	case p.ExpiryBudget == 0:
		return ErrInvalidGenesis.Wrapf("expiry_budget must be at least 1, or offers never expire")
	case p.MaxOfferSeconds <= 0:
		return ErrInvalidGenesis.Wrapf("max_offer_seconds must be positive")
	case p.DefaultOfferSeconds <= 0 || p.DefaultOfferSeconds > p.MaxOfferSeconds:
		return ErrInvalidGenesis.Wrapf("default_offer_seconds must be positive and at most max_offer_seconds")
	}
	return nil
}

// Params reads the module's parameters (the defaults if none are stored).
func (Keeper) Params(kv store.KV) (*provenancev1.Params, error) {
	return module.Params(kv, api.ProvenanceParamsKey(), DefaultParams)
}

// Item loads an item, or returns ErrUnknownItem.
func (Keeper) Item(kv store.KV, id string) (*provenancev1.Item, error) {
	it := &provenancev1.Item{}
	found, err := store.GetProto(kv, api.ProvenanceItemKey(id), it)
	if err != nil {
		return nil, fmt.Errorf("item %s: %w", id, err)
	}
	if !found {
		return nil, ErrUnknownItem.Wrapf("no item with id %s; check the id or register it first", id)
	}
	return it, nil
}

func saveItem(kv store.KV, it *provenancev1.Item) error {
	return store.SetProto(kv, api.ProvenanceItemKey(it.Id), it)
}

// Offer loads an item's latest offer; found is false when it never had one.
func (Keeper) Offer(kv store.KV, itemID string) (*provenancev1.Offer, bool, error) {
	o := &provenancev1.Offer{}
	found, err := store.GetProto(kv, api.ProvenanceOfferKey(itemID), o)
	return o, found, err
}

// Accreditation loads an inspector's accreditation; found is false when
// the inspector was never accredited.
func (Keeper) Accreditation(kv store.KV, inspector []byte) (*provenancev1.Accreditation, bool, error) {
	a := &provenancev1.Accreditation{}
	found, err := store.GetProto(kv, api.ProvenanceAccreditationKey(inspector), a)
	return a, found, err
}

// RecallOrder loads a recall order, or returns ErrUnknownOrder.
func (Keeper) RecallOrder(kv store.KV, id string) (*provenancev1.RecallOrder, error) {
	o := &provenancev1.RecallOrder{}
	found, err := store.GetProto(kv, api.ProvenanceRecallOrderKey(id), o)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, ErrUnknownOrder.Wrapf("no recall order %s", api.Quote(id))
	}
	return o, nil
}

// History reads an item's whole history in order. It is for tests and
// tools; clients page through /provenance/history.
func (Keeper) History(kv store.KV, id string) ([]*provenancev1.Event, error) {
	var out []*provenancev1.Event
	var err error
	store.IteratePrefix(kv, api.ProvenanceHistoryPrefix(id), func(_, v []byte) bool {
		e := &provenancev1.Event{}
		if err = proto.Unmarshal(v, e); err != nil {
			return true
		}
		out = append(out, e)
		return false
	})
	return out, err
}

// record appends ev to the item's history, numbering it. The caller saves
// the item afterwards (its event count changed).
func record(ctx module.Context, it *provenancev1.Item, ev *provenancev1.Event) error {
	n, err := module.Next(it.Events, "history entry of item "+it.Id)
	if err != nil {
		return err
	}
	it.Events = n
	ev.ItemId = it.Id
	ev.Seq = it.Events
	ev.Height = ctx.Height
	ev.TimeUnix = ctx.Time.Unix()
	if ev.Status == provenancev1.ItemStatus_ITEM_STATUS_UNSPECIFIED {
		ev.Status = it.Status
	}
	if ev.Quantity == 0 {
		ev.Quantity = it.Quantity
	}
	it.UpdatedHeight = ctx.Height
	return store.SetProto(ctx.Store, api.ProvenanceHistoryKey(it.Id, ev.Seq), ev)
}

// setCustodian moves an item in the held-items index.
func setCustodian(kv store.KV, it *provenancev1.Item, to []byte) {
	if len(it.Custodian) > 0 {
		kv.Delete(api.ProvenanceHeldKey(it.Custodian, it.Id))
	}
	it.Custodian = append([]byte(nil), to...)
	kv.Set(api.ProvenanceHeldKey(to, it.Id), []byte{})
}

// closeOffer ends an open offer with status and removes it from the
// open-offer indexes.
func closeOffer(ctx module.Context, o *provenancev1.Offer, status provenancev1.OfferStatus) error {
	ctx.Store.Delete(api.ProvenanceOfferToKey(o.To, o.ItemId))
	ctx.Store.Delete(api.ProvenanceOfferExpiryKey(o.ExpiresTimeUnix, o.ItemId))
	o.Status = status
	o.ClosedHeight = ctx.Height
	return store.SetProto(ctx.Store, api.ProvenanceOfferKey(o.ItemId), o)
}

// nextQueueSeq hands out recall queue numbers, from 0: the counter holds
// the number after the last task queued, which is NextSeq's count less one.
func nextQueueSeq(kv store.KV) (uint64, error) {
	n, err := module.NextSeq(kv, api.ProvenanceQueueNextKey(), "recall task")
	return n - 1, err
}

// activeAccount loads an account and checks that it is active.
func (k Keeper) activeAccount(kv store.KV, addr []byte) (*agencyv1.Account, error) {
	acc, err := k.accounts.Account(kv, addr)
	if err != nil || acc.Status != agencyv1.Status_STATUS_ACTIVE {
		return nil, ErrUnknownAccount.Wrapf("%x is not an active account; custody can only pass to an active account", addr)
	}
	return acc, nil
}
