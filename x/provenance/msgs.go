package provenance

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Event types the provenance module emits.
const (
	EventItemRegistered         = "provenance.item_registered"
	EventCustodyOffered         = "provenance.custody_offered"
	EventCustodyAccepted        = "provenance.custody_accepted"
	EventOfferRejected          = "provenance.offer_rejected"
	EventOfferWithdrawn         = "provenance.offer_withdrawn"
	EventOfferExpired           = "provenance.offer_expired"
	EventInspectorAccredited    = "provenance.inspector_accredited"
	EventAccreditationWithdrawn = "provenance.accreditation_withdrawn"
	EventAttested               = "provenance.attested"
	EventSplit                  = "provenance.split"
	EventMerged                 = "provenance.merged"
	EventTransformed            = "provenance.transformed"
	EventRetired                = "provenance.retired"
	EventRecallOrdered          = "provenance.recall_ordered"
	EventRecalled               = "provenance.recalled"
	EventRecallAcknowledged     = "provenance.recall_acknowledged"
	EventRecallComplete         = "provenance.recall_complete"
)

const (
	statusActive    = provenancev1.ItemStatus_ITEM_STATUS_ACTIVE
	statusInTransit = provenancev1.ItemStatus_ITEM_STATUS_IN_TRANSIT
	statusConsumed  = provenancev1.ItemStatus_ITEM_STATUS_CONSUMED
	statusDestroyed = provenancev1.ItemStatus_ITEM_STATUS_DESTROYED
	statusRecalled  = provenancev1.ItemStatus_ITEM_STATUS_RECALLED
	offerOpen       = provenancev1.OfferStatus_OFFER_STATUS_OPEN
)

// StatusName is the short lower-case name of an item status ("in_transit").
func StatusName(s provenancev1.ItemStatus) string {
	return module.EnumName(s, "ITEM_STATUS_")
}

func addr(key string, a []byte) module.Attribute { return module.Indexed(key, hex.EncodeToString(a)) }
func itemAttr(id string) module.Attribute        { return module.Indexed("item", id) }

// exists reports whether an item id is taken.
func exists(kv store.KV, id string) bool { return kv.Has(api.ProvenanceItemKey(id)) }

// settleExpired closes the item's offer if it is open and its time has
// passed, so the custodian can act on the item again without waiting for
// the end-of-block sweep.
func (k Keeper) settleExpired(ctx module.Context, it *provenancev1.Item) error {
	if it.Status != statusInTransit {
		return nil
	}
	o, found, err := k.Offer(ctx.Store, it.Id)
	if err != nil || !found || o.Status != offerOpen || ctx.Time.Unix() < o.ExpiresTimeUnix {
		return err
	}
	return expire(ctx, it, o)
}

// expire closes an open offer whose time has passed and returns the item to
// its custodian.
func expire(ctx module.Context, it *provenancev1.Item, o *provenancev1.Offer) error {
	if err := closeOffer(ctx, o, provenancev1.OfferStatus_OFFER_STATUS_EXPIRED); err != nil {
		return err
	}
	it.Status = statusActive
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_OFFER_EXPIRED, Counterparty: o.To, Location: o.Location}); err != nil {
		return err
	}
	ctx.Emit(EventOfferExpired, itemAttr(it.Id), addr("from", o.From), addr("to", o.To))
	return saveItem(ctx.Store, it)
}

// held loads an item the signer must hold and that must be active: the
// precondition of offering, splitting, merging, transforming and retiring.
func (k Keeper) held(ctx module.Context, signer *agencyv1.Account, id string) (*provenancev1.Item, error) {
	it, err := k.Item(ctx.Store, id)
	if err != nil {
		return nil, err
	}
	if err := k.settleExpired(ctx, it); err != nil {
		return nil, err
	}
	if !bytes.Equal(it.Custodian, signer.Address) {
		return nil, ErrNotCustodian.Wrapf("item %s is held by %x; only its custodian may do this", id, it.Custodian)
	}
	switch it.Status {
	case statusActive:
		return it, nil
	case statusRecalled:
		return nil, ErrItemRecalled.Wrapf("item %s was recalled by order %s; it can only be acknowledged", id, it.GetRecall().GetOrderId())
	case statusInTransit:
		return nil, ErrItemNotActive.Wrapf("item %s is offered to another account; withdraw the offer first", id)
	default:
		return nil, ErrItemNotActive.Wrapf("item %s is %s; nothing more can be done with it", id, StatusName(it.Status))
	}
}

func sortedAttributes(attrs []*provenancev1.Attribute) []*provenancev1.Attribute {
	out := make([]*provenancev1.Attribute, len(attrs))
	for i, a := range attrs {
		out[i] = &provenancev1.Attribute{Key: a.Key, Value: a.Value}
	}
	slices.SortFunc(out, func(a, b *provenancev1.Attribute) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func cloneDocuments(docs []*provenancev1.Document) []*provenancev1.Document {
	out := make([]*provenancev1.Document, len(docs))
	for i, d := range docs {
		out[i] = proto.Clone(d).(*provenancev1.Document)
	}
	return out
}

// MetadataHolder is the id of the item whose attributes and documents it
// has: its own, or the one its metadata_from names.
func MetadataHolder(it *provenancev1.Item) string {
	if it.MetadataFrom != "" {
		return it.MetadataFrom
	}
	return it.Id
}

// Metadata returns the attributes and documents item it has, following
// its metadata_from reference (one hop: the holder always carries its
// own), and the id of the item that carries them.
func (k Keeper) Metadata(kv store.KV, it *provenancev1.Item) (attrs []*provenancev1.Attribute, docs []*provenancev1.Document, holder string, err error) {
	if it.MetadataFrom == "" {
		return it.Attributes, it.Documents, it.Id, nil
	}
	h, err := k.Item(kv, it.MetadataFrom)
	if err != nil {
		return nil, nil, "", fmt.Errorf("item %s inherits its metadata from %s: %w", it.Id, it.MetadataFrom, err)
	}
	return h.Attributes, h.Documents, h.Id, nil
}

// create writes a new item held by its custodian, with its first history
// entry.
func create(ctx module.Context, it *provenancev1.Item, first *provenancev1.Event) error {
	if exists(ctx.Store, it.Id) {
		return ErrDuplicateItem.Wrapf("item %s is already registered; choose another serial or lot", it.Id)
	}
	it.Status = statusActive
	it.CreatedHeight = ctx.Height
	it.CreatedTimeUnix = ctx.Time.Unix()
	custodian := it.Custodian
	it.Custodian = nil
	setCustodian(ctx.Store, it, custodian)
	if err := record(ctx, it, first); err != nil {
		return err
	}
	return saveItem(ctx.Store, it)
}

// RegisterItem registers a new item or batch held by the signer.
func (k Keeper) RegisterItem(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgRegisterItem) error {
	it := &provenancev1.Item{
		Id: m.Id, Product: m.Product, Quantity: m.Quantity, Unit: m.Unit, Origin: m.Origin,
		Attributes: sortedAttributes(m.Attributes), Documents: cloneDocuments(m.Documents),
		Producer: slices.Clone(signer.Address), Custodian: slices.Clone(signer.Address),
	}
	if err := create(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_REGISTERED, Actor: signer.Address, Location: m.Origin}); err != nil {
		return err
	}
	ctx.Emit(EventItemRegistered, itemAttr(it.Id), addr("custodian", signer.Address), module.Attr("product", it.Product),
		module.Attr("quantity", strconv.FormatUint(it.Quantity, 10)), module.Attr("unit", it.Unit))
	return nil
}

// OfferCustody offers an item the signer holds to another active account.
func (k Keeper) OfferCustody(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgOfferCustody) error {
	it, err := k.Item(ctx.Store, m.ItemId)
	if err != nil {
		return err
	}
	if err := k.settleExpired(ctx, it); err != nil {
		return err
	}
	if it.Status == statusInTransit && bytes.Equal(it.Custodian, signer.Address) {
		return ErrOfferPending.Wrapf("item %s is already offered; withdraw that offer before making another", it.Id)
	}
	if it, err = k.held(ctx, signer, m.ItemId); err != nil {
		return err
	}
	if bytes.Equal(m.To, signer.Address) {
		return ErrSelfOffer.Wrapf("you already hold item %s", it.Id)
	}
	if _, err := k.activeAccount(ctx.Store, m.To); err != nil {
		return err
	}
	p, err := k.Params(ctx.Store)
	if err != nil {
		return err
	}
	ttl := m.TtlSeconds
	if ttl == 0 {
		ttl = p.DefaultOfferSeconds
	}
	if ttl > p.MaxOfferSeconds {
		return ErrInvalidTTL.Wrapf("ttl_seconds %d is above the chain's limit of %d", ttl, p.MaxOfferSeconds)
	}
	if it.OfferSeq, err = module.Next(it.OfferSeq, "offer of item "+it.Id); err != nil {
		return err
	}
	o := &provenancev1.Offer{
		ItemId: it.Id, Seq: it.OfferSeq, From: slices.Clone(signer.Address), To: slices.Clone(m.To), Location: m.Location,
		OfferedHeight: ctx.Height, OfferedTimeUnix: ctx.Time.Unix(), ExpiresTimeUnix: ctx.Time.Unix() + ttl, Status: offerOpen,
	}
	if err := store.SetProto(ctx.Store, api.ProvenanceOfferKey(it.Id), o); err != nil {
		return err
	}
	ctx.Store.Set(api.ProvenanceOfferToKey(o.To, it.Id), []byte{})
	ctx.Store.Set(api.ProvenanceOfferExpiryKey(o.ExpiresTimeUnix, it.Id), []byte{})
	it.Status = statusInTransit
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_OFFERED, Actor: signer.Address, Counterparty: m.To, Location: m.Location}); err != nil {
		return err
	}
	ctx.Emit(EventCustodyOffered, itemAttr(it.Id), addr("from", signer.Address), addr("to", m.To),
		module.Attr("location", m.Location), module.Attr("expires", strconv.FormatInt(o.ExpiresTimeUnix, 10)))
	return saveItem(ctx.Store, it)
}

// openOfferTo loads the item and its open offer made to the signer; the
// common checks of accepting and rejecting.
func (k Keeper) openOfferTo(ctx module.Context, signer *agencyv1.Account, id string) (*provenancev1.Item, *provenancev1.Offer, error) {
	it, err := k.Item(ctx.Store, id)
	if err != nil {
		return nil, nil, err
	}
	if it.Status == statusRecalled {
		return nil, nil, ErrItemRecalled.Wrapf("item %s was recalled by order %s; custody can no longer move (any open offer was cancelled)", id, it.GetRecall().GetOrderId())
	}
	o, found, err := k.Offer(ctx.Store, id)
	if err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, ErrNoOpenOffer.Wrapf("item %s has never been offered", id)
	}
	if !bytes.Equal(o.To, signer.Address) {
		return nil, nil, ErrNotReceiver.Wrapf("item %s was offered to %x, not to you", id, o.To)
	}
	switch {
	case o.Status == provenancev1.OfferStatus_OFFER_STATUS_WITHDRAWN:
		return nil, nil, ErrOfferWithdrawn.Wrapf("the offer of item %s was withdrawn at height %d; ask the custodian to offer it again", id, o.ClosedHeight)
	case o.Status == provenancev1.OfferStatus_OFFER_STATUS_EXPIRED,
		o.Status == offerOpen && ctx.Time.Unix() >= o.ExpiresTimeUnix:
		return nil, nil, ErrOfferExpired.Wrapf("the offer of item %s expired at %d (unix seconds); ask the custodian to offer it again", id, o.ExpiresTimeUnix)
	case o.Status != offerOpen:
		return nil, nil, ErrNoOpenOffer.Wrapf("the last offer of item %s is already %s", id, module.EnumName(o.Status, "OFFER_STATUS_"))
	}
	return it, o, nil
}

// AcceptCustody moves an item to the signer, who was offered it.
func (k Keeper) AcceptCustody(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgAcceptCustody) error {
	it, o, err := k.openOfferTo(ctx, signer, m.ItemId)
	if err != nil {
		return err
	}
	if err := closeOffer(ctx, o, provenancev1.OfferStatus_OFFER_STATUS_ACCEPTED); err != nil {
		return err
	}
	from := slices.Clone(it.Custodian)
	setCustodian(ctx.Store, it, signer.Address)
	it.Status = statusActive
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_CUSTODY_ACCEPTED, Actor: signer.Address, Counterparty: from, Location: m.Location}); err != nil {
		return err
	}
	ctx.Emit(EventCustodyAccepted, itemAttr(it.Id), addr("from", from), addr("to", signer.Address), module.Attr("location", m.Location))
	return saveItem(ctx.Store, it)
}

// RejectCustody turns down an offer made to the signer; the item stays
// with its custodian.
func (k Keeper) RejectCustody(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgRejectCustody) error {
	it, o, err := k.openOfferTo(ctx, signer, m.ItemId)
	if err != nil {
		return err
	}
	if err := closeOffer(ctx, o, provenancev1.OfferStatus_OFFER_STATUS_REJECTED); err != nil {
		return err
	}
	it.Status = statusActive
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_OFFER_REJECTED, Actor: signer.Address, Counterparty: o.From, Location: o.Location, Note: m.Reason}); err != nil {
		return err
	}
	ctx.Emit(EventOfferRejected, itemAttr(it.Id), addr("from", o.From), addr("to", signer.Address), module.Attr("reason", m.Reason))
	return saveItem(ctx.Store, it)
}

// WithdrawOffer takes back the signer's open offer.
func (k Keeper) WithdrawOffer(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgWithdrawOffer) error {
	it, err := k.Item(ctx.Store, m.ItemId)
	if err != nil {
		return err
	}
	if !bytes.Equal(it.Custodian, signer.Address) {
		return ErrNotCustodian.Wrapf("item %s is held by %x; only its custodian may withdraw an offer", it.Id, it.Custodian)
	}
	o, found, err := k.Offer(ctx.Store, it.Id)
	if err != nil {
		return err
	}
	switch {
	case !found || o.Status != offerOpen && o.Status != provenancev1.OfferStatus_OFFER_STATUS_WITHDRAWN && o.Status != provenancev1.OfferStatus_OFFER_STATUS_EXPIRED:
		return ErrNoOpenOffer.Wrapf("item %s has no open offer to withdraw", it.Id)
	case o.Status == provenancev1.OfferStatus_OFFER_STATUS_WITHDRAWN:
		return ErrOfferWithdrawn.Wrapf("the offer of item %s was already withdrawn at height %d", it.Id, o.ClosedHeight)
	case o.Status == provenancev1.OfferStatus_OFFER_STATUS_EXPIRED || ctx.Time.Unix() >= o.ExpiresTimeUnix:
		return ErrOfferExpired.Wrapf("the offer of item %s expired at %d (unix seconds); it closes by itself", it.Id, o.ExpiresTimeUnix)
	}
	if err := closeOffer(ctx, o, provenancev1.OfferStatus_OFFER_STATUS_WITHDRAWN); err != nil {
		return err
	}
	it.Status = statusActive
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_OFFER_WITHDRAWN, Actor: signer.Address, Counterparty: o.To, Location: o.Location}); err != nil {
		return err
	}
	ctx.Emit(EventOfferWithdrawn, itemAttr(it.Id), addr("from", signer.Address), addr("to", o.To))
	return saveItem(ctx.Store, it)
}

// AccreditInspector accredits an inspector of the signer's own agency.
func (k Keeper) AccreditInspector(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgAccreditInspector) error {
	acc, err := k.accounts.Account(ctx.Store, m.Inspector)
	if err != nil || acc.Status != agencyv1.Status_STATUS_ACTIVE {
		return ErrUnknownAccount.Wrapf("%x is not an active account", m.Inspector)
	}
	if acc.AgencyId != signer.AgencyId {
		return ErrOtherAgency.Wrapf("inspector %x belongs to agency %q; a regulator accredits inspectors of its own agency (%q)", m.Inspector, acc.AgencyId, signer.AgencyId)
	}
	if !slices.Contains(acc.Roles, agencyv1.Role_ROLE_INSPECTOR) {
		return ErrNotInspector.Wrapf("account %x does not hold the inspector role; an admin of %q must grant it first", m.Inspector, acc.AgencyId)
	}
	prev, found, err := k.Accreditation(ctx.Store, m.Inspector)
	if err != nil {
		return err
	}
	if found && prev.Active {
		return ErrAlreadyAccredited.Wrapf("inspector %x was accredited by %x at height %d", m.Inspector, prev.AccreditedBy, prev.AccreditedHeight)
	}
	mandate, err := k.requireRegulator(ctx, signer.AgencyId)
	if err != nil {
		return err
	}
	a := &provenancev1.Accreditation{
		Inspector: slices.Clone(m.Inspector), AgencyId: acc.AgencyId, AccreditedBy: slices.Clone(signer.Address),
		AccreditedHeight: ctx.Height, AccreditedTimeUnix: ctx.Time.Unix(), Active: true, Serial: prev.GetSerial() + 1, Mandate: mandate,
	}
	if err := store.SetProto(ctx.Store, api.ProvenanceAccreditationKey(m.Inspector), a); err != nil {
		return err
	}
	ctx.Emit(EventInspectorAccredited, addr("inspector", m.Inspector), addr("regulator", signer.Address), module.Indexed("agency", acc.AgencyId))
	return nil
}

// WithdrawAccreditation withdraws an inspector's accreditation. Past
// attestations keep the copy of the accreditation they were made under.
func (k Keeper) WithdrawAccreditation(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgWithdrawAccreditation) error {
	a, found, err := k.Accreditation(ctx.Store, m.Inspector)
	if err != nil {
		return err
	}
	if !found {
		return ErrAccreditationMissing.Wrapf("inspector %x has never been accredited", m.Inspector)
	}
	if a.AgencyId != signer.AgencyId {
		return ErrOtherAgency.Wrapf("inspector %x was accredited in agency %q; only its regulators may withdraw it", m.Inspector, a.AgencyId)
	}
	if !a.Active {
		return ErrNotAccreditedNow.Wrapf("inspector %x's accreditation was withdrawn at height %d", m.Inspector, a.WithdrawnHeight)
	}
	a.Active = false
	a.WithdrawnBy = slices.Clone(signer.Address)
	a.WithdrawnHeight = ctx.Height
	if err := store.SetProto(ctx.Store, api.ProvenanceAccreditationKey(m.Inspector), a); err != nil {
		return err
	}
	ctx.Emit(EventAccreditationWithdrawn, addr("inspector", m.Inspector), addr("regulator", signer.Address), module.Indexed("agency", a.AgencyId), module.Attr("reason", m.Reason))
	return nil
}

// Attest records an inspection by an accredited inspector. Items in any
// status may be inspected: evidence about consumed or recalled goods
// still matters.
func (k Keeper) Attest(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgAttest) error {
	a, found, err := k.Accreditation(ctx.Store, signer.Address)
	if err != nil {
		return err
	}
	if !found || !a.Active || a.AgencyId != signer.AgencyId {
		return ErrNotAccredited.Wrapf("account %x has no active accreditation; a regulator of %q must accredit it", signer.Address, signer.AgencyId)
	}
	it, err := k.Item(ctx.Store, m.ItemId)
	if err != nil {
		return err
	}
	if it.Attestations, err = module.Next(it.Attestations, "attestation of item "+it.Id); err != nil {
		return err
	}
	att := &provenancev1.Attestation{
		ItemId: it.Id, Seq: it.Attestations, Inspector: slices.Clone(signer.Address), InspectionType: m.InspectionType,
		Result: m.Result, EvidenceSha256: slices.Clone(m.EvidenceSha256), Location: m.Location,
		Height: ctx.Height, TimeUnix: ctx.Time.Unix(), Note: m.Note, Accreditation: a,
	}
	if err := store.SetProto(ctx.Store, api.ProvenanceAttestationKey(it.Id, att.Seq), att); err != nil {
		return err
	}
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_ATTESTED, Actor: signer.Address, Location: m.Location,
		Note: m.InspectionType + " " + m.Result}); err != nil {
		return err
	}
	ctx.Emit(EventAttested, itemAttr(it.Id), addr("inspector", signer.Address), module.Attr("type", m.InspectionType), module.Attr("result", m.Result),
		module.Attr("accredited_by", hex.EncodeToString(a.AccreditedBy)))
	return saveItem(ctx.Store, it)
}

// Split divides an active item into children whose quantities sum to the
// parent's. The parent is consumed; the children inherit its product,
// unit and origin, and its attributes and documents by reference
// (Item.metadata_from).
func (k Keeper) Split(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgSplit) error {
	parent, err := k.held(ctx, signer, m.ItemId)
	if err != nil {
		return err
	}
	var sum uint64
	ids := make([]string, len(m.Parts))
	for i, p := range m.Parts {
		sum += p.Quantity // ValidateBasic checked that the sum does not overflow
		ids[i] = p.Id
	}
	if sum != parent.Quantity {
		return ErrQuantityMismatch.Wrapf("parts add up to %d %s; item %s holds %d %s", sum, parent.Unit, parent.Id, parent.Quantity, parent.Unit)
	}
	from := MetadataHolder(parent)
	for _, p := range m.Parts {
		child := &provenancev1.Item{
			Id: p.Id, Product: parent.Product, Quantity: p.Quantity, Unit: parent.Unit, Origin: parent.Origin,
			MetadataFrom: from, // by reference: a copy would write the parent's metadata once per part
			Producer:     slices.Clone(parent.Producer), Custodian: slices.Clone(signer.Address), Parents: []string{parent.Id},
		}
		ctx.Charge(store.Child, 1)
		if err := create(ctx, child, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_CREATED_FROM, Actor: signer.Address,
			Location: m.Location, Related: []string{parent.Id}, Note: "split"}); err != nil {
			return err
		}
	}
	parent.Children = ids
	parent.Status = statusConsumed
	if err := record(ctx, parent, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_SPLIT, Actor: signer.Address, Location: m.Location, Related: ids}); err != nil {
		return err
	}
	ctx.Emit(EventSplit, itemAttr(parent.Id), addr("custodian", signer.Address), module.Attr("children", strings.Join(ids, ",")))
	return saveItem(ctx.Store, parent)
}

// consumeInputs loads inputs the signer holds, all active.
func (k Keeper) consumeInputs(ctx module.Context, signer *agencyv1.Account, ids []string) ([]*provenancev1.Item, error) {
	inputs := make([]*provenancev1.Item, len(ids))
	for i, id := range ids {
		it, err := k.held(ctx, signer, id)
		if err != nil {
			return nil, err
		}
		inputs[i] = it
	}
	return inputs, nil
}

// finishInputs marks inputs consumed into outputs and records why.
func finishInputs(ctx module.Context, signer *agencyv1.Account, inputs []*provenancev1.Item, outputs []string, typ provenancev1.EventType, location, note string) error {
	for _, in := range inputs {
		in.Children = slices.Clone(outputs)
		in.Status = statusConsumed
		if err := record(ctx, in, &provenancev1.Event{Type: typ, Actor: signer.Address, Location: location, Related: outputs, Note: note}); err != nil {
			return err
		}
		if err := saveItem(ctx.Store, in); err != nil {
			return err
		}
	}
	return nil
}

// Merge combines active items of one product and unit into a new item
// whose quantity is their sum.
func (k Keeper) Merge(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgMerge) error {
	inputs, err := k.consumeInputs(ctx, signer, m.ItemIds)
	if err != nil {
		return err
	}
	first := inputs[0]
	var sum uint64
	origin := first.Origin
	for _, in := range inputs {
		if in.Product != first.Product || in.Unit != first.Unit {
			return ErrMismatchedInputs.Wrapf("item %s is %s in %s but item %s is %s in %s; merge only like with like (use transform to make a new product)",
				first.Id, first.Product, first.Unit, in.Id, in.Product, in.Unit)
		}
		next := sum + in.Quantity
		if next < sum {
			return ErrInvalidQuantity.Wrapf("merged quantity overflows 64 bits")
		}
		sum = next
		if in.Origin != origin {
			origin = m.Location // mixed origins: the batch originates where it was made
		}
	}
	out := &provenancev1.Item{
		Id: m.NewId, Product: first.Product, Quantity: sum, Unit: first.Unit, Origin: origin,
		Producer: slices.Clone(signer.Address), Custodian: slices.Clone(signer.Address), Parents: slices.Clone(m.ItemIds),
	}
	ctx.Charge(store.Child, 1)
	if err := create(ctx, out, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_CREATED_FROM, Actor: signer.Address,
		Location: m.Location, Related: m.ItemIds, Note: "merge"}); err != nil {
		return err
	}
	if err := finishInputs(ctx, signer, inputs, []string{m.NewId}, provenancev1.EventType_EVENT_TYPE_MERGED, m.Location, ""); err != nil {
		return err
	}
	ctx.Emit(EventMerged, itemAttr(m.NewId), addr("custodian", signer.Address), module.Attr("inputs", strings.Join(m.ItemIds, ",")),
		module.Attr("quantity", strconv.FormatUint(sum, 10)))
	return nil
}

// Transform turns active inputs into new products. Quantities are not
// conserved across products (litres of milk become kilograms of cheese).
func (k Keeper) Transform(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgTransform) error {
	inputs, err := k.consumeInputs(ctx, signer, m.ItemIds)
	if err != nil {
		return err
	}
	ids := make([]string, len(m.Outputs))
	for i, o := range m.Outputs {
		ids[i] = o.Id
		out := &provenancev1.Item{
			Id: o.Id, Product: o.Product, Quantity: o.Quantity, Unit: o.Unit, Origin: m.Location,
			Attributes: sortedAttributes(o.Attributes), Documents: cloneDocuments(o.Documents),
			Producer: slices.Clone(signer.Address), Custodian: slices.Clone(signer.Address), Parents: slices.Clone(m.ItemIds),
		}
		ctx.Charge(store.Child, 1)
		if err := create(ctx, out, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_CREATED_FROM, Actor: signer.Address,
			Location: m.Location, Related: m.ItemIds, Note: m.Process}); err != nil {
			return err
		}
	}
	if err := finishInputs(ctx, signer, inputs, ids, provenancev1.EventType_EVENT_TYPE_TRANSFORMED, m.Location, m.Process); err != nil {
		return err
	}
	ctx.Emit(EventTransformed, module.Indexed("outputs", strings.Join(ids, ",")), addr("custodian", signer.Address),
		module.Attr("inputs", strings.Join(m.ItemIds, ",")), module.Attr("process", m.Process))
	return nil
}

// Retire ends an active item: consumed or destroyed.
func (k Keeper) Retire(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgRetire) error {
	it, err := k.held(ctx, signer, m.ItemId)
	if err != nil {
		return err
	}
	it.Status = m.Status
	typ := provenancev1.EventType_EVENT_TYPE_CONSUMED
	if m.Status == statusDestroyed {
		typ = provenancev1.EventType_EVENT_TYPE_DESTROYED
	}
	if err := record(ctx, it, &provenancev1.Event{Type: typ, Actor: signer.Address, Location: m.Location, Note: m.Note}); err != nil {
		return err
	}
	ctx.Emit(EventRetired, itemAttr(it.Id), addr("custodian", signer.Address), module.Attr("status", StatusName(m.Status)))
	return saveItem(ctx.Store, it)
}
