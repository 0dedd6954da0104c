package provenance

import (
	"bytes"
	"encoding/binary"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Names of the provenance module's invariant checks.
const (
	CheckItemStatus   = "item-status"
	CheckHistory      = "history-sequence"
	CheckLineage      = "lineage-links"
	CheckSplits       = "split-quantities"
	CheckMerges       = "merge-quantities"
	CheckTransforms   = "transform-lineage"
	CheckOffers       = "custody-offers"
	CheckCustodyIndex = "custody-index"
	CheckRecalls      = "recall-reach"
	CheckMetadata     = "metadata-reference"
)

// consumption is the one history entry that consumed an item into others.
type consumption struct {
	typ     provenancev1.EventType
	related []string
}

// recallCount is what an order's records must add up to.
type recallCount struct{ reached, awaiting, queued uint64 }

// provenanceAudit is one run of the provenance invariants.
type provenanceAudit struct {
	kv                                                                                   store.KV
	status, history, lineage, splits, merges, transforms, offers, held, recall, metadata *appv1.InvariantCheck

	items    map[string]*provenancev1.Item
	order    []string // item ids in key order
	consumed map[string]consumption
	byOrder  map[string]*recallCount
	marked   map[string][]string // recall order → the items it marked
}

// Invariants checks what the module's handlers promise about items:
// every status is a defined one and "recalled" goes with a recall mark;
// each history and attestation log is numbered without gaps; parents and
// children name each other, and an item has children exactly when one
// split, merge or transformation consumed it; a split's parts add up to
// the parent's quantity in its unit and product, a merge's output to its
// like inputs; custody offers and the held-items index agree with the
// items; and every recall mark, unacknowledged entry and queued task
// belongs to an order whose counts they make up, a finished order having
// reached every descendant. It reads every item, its history and every
// index: it is for tests, audits and the invariants query, never for the
// block's hot path.
func (k Keeper) Invariants(kv store.KV) (*appv1.ModuleInvariants, error) {
	a := &provenanceAudit{
		kv:         kv,
		status:     module.NewCheck(CheckItemStatus, "every item's status is active, in transit, consumed, destroyed or recalled, and an item is recalled exactly when it carries a recall mark"),
		history:    module.NewCheck(CheckHistory, "each item's history is numbered 1 to its event count, and its attestations 1 to its attestation count, every entry naming the item"),
		lineage:    module.NewCheck(CheckLineage, "parents and children name each other and exist; an item has children exactly when one split, merge or transformation consumed it, whose history entry names them"),
		splits:     module.NewCheck(CheckSplits, "a split's parts (at least two) each have the parent as their only parent and its product and unit, and their quantities add up to the parent's"),
		merges:     module.NewCheck(CheckMerges, "a merge's inputs (at least two) were all merged into its output alone, are of the output's product and unit, and their quantities add up to the output's"),
		transforms: module.NewCheck(CheckTransforms, "every input of a transformation lists exactly its outputs as children, and every output lists exactly its inputs as parents"),
		offers:     module.NewCheck(CheckOffers, "an item is in transit exactly when its latest offer is open; an open offer is the item's latest, made by its custodian, and indexed by receiver and expiry; no index entry names an offer that is not open"),
		held:       module.NewCheck(CheckCustodyIndex, "the held-items index lists each item under its custodian, and nothing else"),
		recall:     module.NewCheck(CheckRecalls, "every recall mark, unacknowledged entry and queued task names an existing order and item and adds up to the order's reached, awaiting_ack and queued counts; a complete order has reached every child of every item it marked"),
		metadata:   module.NewCheck(CheckMetadata, "an item that inherits its attributes and documents names, in metadata_from, an existing item that carries its own, and has none of its own"),
		items:      map[string]*provenancev1.Item{},
		consumed:   map[string]consumption{},
		byOrder:    map[string]*recallCount{},
		marked:     map[string][]string{},
	}
	store.IteratePrefix(kv, api.ProvenanceItemsPrefix(), func(key, v []byte) bool {
		it := &provenancev1.Item{}
		if err := proto.Unmarshal(v, it); err != nil || it.Id != string(key[len(api.ProvenanceItemsPrefix()):]) {
			module.Failf(a.status, "item record %q does not decode as that item (%v)", key[len(api.ProvenanceItemsPrefix()):], err)
			return false
		}
		a.items[it.Id] = it
		a.order = append(a.order, it.Id)
		return false
	})
	for _, id := range a.order {
		a.itemRecords(a.items[id])
	}
	for _, id := range a.order {
		a.links(a.items[id])
		a.metadataRef(a.items[id])
	}
	a.checkOffers()
	a.checkHeld()
	a.checkRecalls()
	r := &appv1.ModuleInvariants{Module: "provenance", Ok: true,
		Checks: []*appv1.InvariantCheck{a.status, a.history, a.lineage, a.splits, a.merges, a.transforms, a.offers, a.held, a.recall, a.metadata}}
	for _, c := range r.Checks {
		r.Ok = r.Ok && c.Ok
	}
	return r, nil
}

// metadataRef checks that an item's metadata_from, if any, reaches in one
// hop an item that carries its own metadata.
func (a *provenanceAudit) metadataRef(it *provenancev1.Item) {
	if it.MetadataFrom == "" {
		return
	}
	if len(it.Attributes) > 0 || len(it.Documents) > 0 {
		module.Failf(a.metadata, "item %s inherits its metadata from %s but also carries its own", it.Id, it.MetadataFrom)
	}
	h, ok := a.items[it.MetadataFrom]
	switch {
	case !ok:
		module.Failf(a.metadata, "item %s inherits its metadata from %s, which does not exist", it.Id, it.MetadataFrom)
	case h.MetadataFrom != "":
		module.Failf(a.metadata, "item %s inherits its metadata from %s, which itself inherits from %s: a reference must name the holder", it.Id, h.Id, h.MetadataFrom)
	}
}

// itemRecords checks one item's status and logs, and notes its consuming
// step and recall mark.
func (a *provenanceAudit) itemRecords(it *provenancev1.Item) {
	switch it.Status {
	case statusActive, statusInTransit, statusConsumed, statusDestroyed, statusRecalled:
	default:
		module.Failf(a.status, "item %s has status %d, which is not defined", it.Id, it.Status)
	}
	if (it.Status == statusRecalled) != (it.Recall != nil) {
		module.Failf(a.status, "item %s is %s but %s a recall mark", it.Id, StatusName(it.Status), carries(it.Recall != nil))
	}

	var n uint64
	store.IteratePrefix(a.kv, api.ProvenanceHistoryPrefix(it.Id), func(key, v []byte) bool {
		n++
		ev := &provenancev1.Event{}
		if err := proto.Unmarshal(v, ev); err != nil {
			module.Failf(a.history, "item %s: history entry %d does not decode: %v", it.Id, n, err)
			return false
		}
		if seq := binary.BigEndian.Uint64(key[len(key)-8:]); seq != n || ev.Seq != n || ev.ItemId != it.Id {
			module.Failf(a.history, "item %s: history entry %d is stored as number %d and says it is number %d of %s", it.Id, n, seq, ev.Seq, ev.ItemId)
		}
		switch ev.Type {
		case provenancev1.EventType_EVENT_TYPE_SPLIT, provenancev1.EventType_EVENT_TYPE_MERGED, provenancev1.EventType_EVENT_TYPE_TRANSFORMED:
			if prev, twice := a.consumed[it.Id]; twice {
				module.Failf(a.lineage, "item %s was consumed twice: %s into %v and %s into %v", it.Id, prev.typ, prev.related, ev.Type, ev.Related)
			}
			a.consumed[it.Id] = consumption{typ: ev.Type, related: ev.Related}
		}
		return false
	})
	if n != it.Events {
		module.Failf(a.history, "item %s counts %d history entries but %d are stored", it.Id, it.Events, n)
	}
	var m uint64
	store.IteratePrefix(a.kv, api.ProvenanceAttestationPrefix(it.Id), func(key, v []byte) bool {
		m++
		at := &provenancev1.Attestation{}
		if err := proto.Unmarshal(v, at); err != nil || at.Seq != m || at.ItemId != it.Id || binary.BigEndian.Uint64(key[len(key)-8:]) != m {
			module.Failf(a.history, "item %s: attestation %d is not stored as its number %d of the item (%v)", it.Id, m, m, err)
		}
		return false
	})
	if m != it.Attestations {
		module.Failf(a.history, "item %s counts %d attestations but %d are stored", it.Id, it.Attestations, m)
	}

	if it.Status == statusInTransit {
		o := &provenancev1.Offer{}
		if found, err := store.GetProto(a.kv, api.ProvenanceOfferKey(it.Id), o); err != nil || !found || o.Status != offerOpen {
			module.Failf(a.offers, "item %s is in transit but its latest offer is %s", it.Id, offerState(found, o))
		}
	}
	if !a.kv.Has(api.ProvenanceHeldKey(it.Custodian, it.Id)) {
		module.Failf(a.held, "item %s is missing from the held-items index of its custodian %x", it.Id, it.Custodian)
	}

	if mark := it.Recall; mark != nil {
		c := a.count(mark.OrderId)
		c.reached++
		a.marked[mark.OrderId] = append(a.marked[mark.OrderId], it.Id)
		ack := mark.StatusBefore == statusActive || mark.StatusBefore == statusInTransit
		switch {
		case mark.AckRequired != ack:
			module.Failf(a.recall, "item %s was %s when recall %s reached it, but ack_required is %v", it.Id, StatusName(mark.StatusBefore), mark.OrderId, mark.AckRequired)
		case mark.Acknowledged && !mark.AckRequired:
			module.Failf(a.recall, "item %s acknowledged recall %s, which asked no acknowledgement of it", it.Id, mark.OrderId)
		}
		awaiting := mark.AckRequired && !mark.Acknowledged
		if awaiting {
			c.awaiting++
		}
		if has := a.kv.Has(api.ProvenanceAwaitingAckKey(mark.OrderId, it.Custodian, it.Id)); has != awaiting {
			module.Failf(a.recall, "item %s (recall %s, acknowledged %v) is %s the order's unacknowledged index", it.Id, mark.OrderId, mark.Acknowledged, inOrMissing(has))
		}
	}
}

func carries(yes bool) string {
	if yes {
		return "carries"
	}
	return "has no"
}

func inOrMissing(in bool) string {
	if in {
		return "in"
	}
	return "missing from"
}

func (a *provenanceAudit) count(order string) *recallCount {
	c := a.byOrder[order]
	if c == nil {
		c = &recallCount{}
		a.byOrder[order] = c
	}
	return c
}

func offerState(found bool, o *provenancev1.Offer) string {
	if !found {
		return "missing"
	}
	return o.Status.String()
}

// consumedBefore reports whether an item was consumed (possibly recalled
// since: a recall keeps the status it found).
func consumedBefore(it *provenancev1.Item) bool {
	return it.Status == statusConsumed || it.Status == statusRecalled && it.GetRecall().GetStatusBefore() == statusConsumed
}

// links checks an item's parents and children, and the split, merge or
// transformation rules of the step that made them.
func (a *provenanceAudit) links(it *provenancev1.Item) {
	for _, c := range it.Children {
		if child, ok := a.items[c]; !ok {
			module.Failf(a.lineage, "item %s lists child %s, which does not exist", it.Id, c)
		} else if !slices.Contains(child.Parents, it.Id) {
			module.Failf(a.lineage, "item %s lists child %s, which does not list it as a parent", it.Id, c)
		}
	}
	for _, p := range it.Parents {
		if parent, ok := a.items[p]; !ok {
			module.Failf(a.lineage, "item %s lists parent %s, which does not exist", it.Id, p)
		} else if !slices.Contains(parent.Children, it.Id) {
			module.Failf(a.lineage, "item %s lists parent %s, which does not list it as a child", it.Id, p)
		}
	}
	step, wasConsumed := a.consumed[it.Id]
	switch {
	case len(it.Children) > 0 && !wasConsumed:
		module.Failf(a.lineage, "item %s has children %v but no split, merge or transformation in its history", it.Id, it.Children)
		return
	case len(it.Children) == 0 && wasConsumed:
		module.Failf(a.lineage, "item %s was consumed by a %s into %v but lists no children", it.Id, step.typ, step.related)
		return
	case !wasConsumed:
		return
	}
	if !slices.Equal(step.related, it.Children) {
		module.Failf(a.lineage, "item %s's children %v are not the items its %s made (%v)", it.Id, it.Children, step.typ, step.related)
	}
	if !consumedBefore(it) {
		module.Failf(a.lineage, "item %s was consumed by a %s but its status is %s", it.Id, step.typ, StatusName(it.Status))
	}
	switch step.typ {
	case provenancev1.EventType_EVENT_TYPE_SPLIT:
		a.split(it)
	case provenancev1.EventType_EVENT_TYPE_MERGED:
		if len(it.Children) == 1 {
			if out, ok := a.items[it.Children[0]]; ok && len(out.Parents) > 0 && out.Parents[0] == it.Id {
				a.merge(out) // once per merge, from its first input
			}
		} else {
			module.Failf(a.merges, "item %s was merged into %d items %v; a merge makes one", it.Id, len(it.Children), it.Children)
		}
	case provenancev1.EventType_EVENT_TYPE_TRANSFORMED:
		if out, ok := a.items[it.Children[0]]; !ok || len(out.Parents) == 0 || out.Parents[0] == it.Id {
			a.transform(it) // once per transformation, from its first input
		}
	}
}

func (a *provenanceAudit) split(parent *provenancev1.Item) {
	if len(parent.Children) < 2 {
		module.Failf(a.splits, "item %s was split into %d part; a split has at least two", parent.Id, len(parent.Children))
	}
	var sum uint64
	for _, id := range parent.Children {
		child, ok := a.items[id]
		if !ok {
			continue // reported by lineage-links
		}
		if !slices.Equal(child.Parents, []string{parent.Id}) {
			module.Failf(a.splits, "part %s of split %s has parents %v; a part has its parent only", id, parent.Id, child.Parents)
		}
		if child.Unit != parent.Unit || child.Product != parent.Product {
			module.Failf(a.splits, "part %s is %s in %q but split %s is %s in %q", id, child.Product, child.Unit, parent.Id, parent.Product, parent.Unit)
		}
		if sum+child.Quantity < sum {
			module.Failf(a.splits, "the parts of split %s overflow 64 bits", parent.Id)
			return
		}
		sum += child.Quantity
	}
	if sum != parent.Quantity {
		module.Failf(a.splits, "the parts of %s (%v) add up to %d %s; it held %d %s", parent.Id, parent.Children, sum, parent.Unit, parent.Quantity, parent.Unit)
	}
}

func (a *provenanceAudit) merge(out *provenancev1.Item) {
	if len(out.Parents) < 2 {
		module.Failf(a.merges, "item %s was merged from %d input; a merge has at least two", out.Id, len(out.Parents))
	}
	var sum uint64
	for _, id := range out.Parents {
		in, ok := a.items[id]
		if !ok {
			continue // reported by lineage-links
		}
		if step := a.consumed[id]; step.typ != provenancev1.EventType_EVENT_TYPE_MERGED || !slices.Equal(in.Children, []string{out.Id}) {
			module.Failf(a.merges, "input %s of merge %s was %s into %v, not merged into it alone", id, out.Id, step.typ, in.Children)
		}
		if in.Unit != out.Unit || in.Product != out.Product {
			module.Failf(a.merges, "input %s is %s in %q but merge %s is %s in %q", id, in.Product, in.Unit, out.Id, out.Product, out.Unit)
		}
		if sum+in.Quantity < sum {
			module.Failf(a.merges, "the inputs of merge %s overflow 64 bits", out.Id)
			return
		}
		sum += in.Quantity
	}
	if sum != out.Quantity {
		module.Failf(a.merges, "the inputs of %s (%v) add up to %d %s; it holds %d %s", out.Id, out.Parents, sum, out.Unit, out.Quantity, out.Unit)
	}
}

func (a *provenanceAudit) transform(in *provenancev1.Item) {
	first := a.items[in.Children[0]]
	for _, id := range in.Children {
		out, ok := a.items[id]
		if !ok {
			continue // reported by lineage-links
		}
		if first != nil && !slices.Equal(out.Parents, first.Parents) {
			module.Failf(a.transforms, "outputs %s and %s of one transformation list different inputs: %v and %v", first.Id, id, first.Parents, out.Parents)
		}
		for _, p := range out.Parents {
			other, ok := a.items[p]
			if !ok {
				continue
			}
			if step := a.consumed[p]; step.typ != provenancev1.EventType_EVENT_TYPE_TRANSFORMED || !slices.Equal(other.Children, in.Children) {
				module.Failf(a.transforms, "output %s of %s was made with input %s, which was %s into %v rather than into the same outputs %v", id, in.Id, p, step.typ, other.Children, in.Children)
			}
		}
	}
}

// checkOffers checks every offer record and the receiver and expiry indexes.
func (a *provenanceAudit) checkOffers() {
	store.IteratePrefix(a.kv, api.ProvenanceOffersPrefix(), func(key, v []byte) bool {
		o := &provenancev1.Offer{}
		if err := proto.Unmarshal(v, o); err != nil || !bytes.Equal(key, api.ProvenanceOfferKey(o.ItemId)) {
			module.Failf(a.offers, "offer record %x does not decode as the offer of its item (%v)", key, err)
			return false
		}
		it, ok := a.items[o.ItemId]
		if !ok {
			module.Failf(a.offers, "an offer names item %s, which does not exist", o.ItemId)
			return false
		}
		if o.Seq == 0 || o.Seq > it.OfferSeq {
			module.Failf(a.offers, "offer %d of item %s is beyond the %d offers the item counts", o.Seq, it.Id, it.OfferSeq)
		}
		open := o.Status == offerOpen
		if open {
			switch {
			case it.Status != statusInTransit:
				module.Failf(a.offers, "item %s has an open offer to %x but is %s, not in transit", it.Id, o.To, StatusName(it.Status))
			case o.Seq != it.OfferSeq || !bytes.Equal(o.From, it.Custodian):
				module.Failf(a.offers, "item %s's open offer %d is from %x; the item is held by %x and last offered as number %d", it.Id, o.Seq, o.From, it.Custodian, it.OfferSeq)
			}
		}
		if has := a.kv.Has(api.ProvenanceOfferToKey(o.To, o.ItemId)); has != open {
			module.Failf(a.offers, "item %s's offer to %x is %s but %s the receiver's open offers", it.Id, o.To, o.Status, inOrMissing(has))
		}
		if has := a.kv.Has(api.ProvenanceOfferExpiryKey(o.ExpiresTimeUnix, o.ItemId)); has != open {
			module.Failf(a.offers, "item %s's offer to %x is %s but %s the expiry index", it.Id, o.To, o.Status, inOrMissing(has))
		}
		return false
	})
	openOffer := func(id string) *provenancev1.Offer {
		o := &provenancev1.Offer{}
		if found, err := store.GetProto(a.kv, api.ProvenanceOfferKey(id), o); err != nil || !found || o.Status != offerOpen {
			return nil
		}
		return o
	}
	store.IteratePrefix(a.kv, api.ProvenanceOffersToPrefix(nil), func(key, _ []byte) bool {
		if len(key) <= len(api.ProvenanceOffersToPrefix(nil))+api.AddressSize {
			module.Failf(a.offers, "receiver index entry %x is too short", key)
			return false
		}
		to, id := key[len(api.ProvenanceOffersToPrefix(nil)):len(api.ProvenanceOffersToPrefix(nil))+api.AddressSize], string(key[len(api.ProvenanceOffersToPrefix(nil))+api.AddressSize:])
		if o := openOffer(id); o == nil || !bytes.Equal(o.To, to) {
			module.Failf(a.offers, "the open offers of %x list item %s, which has no open offer to them", to, id)
		}
		return false
	})
	store.IteratePrefix(a.kv, api.ProvenanceOfferExpiryPrefix(), func(key, _ []byte) bool {
		if len(key) <= len(api.ProvenanceOfferExpiryPrefix())+8 {
			module.Failf(a.offers, "expiry index entry %x is too short", key)
			return false
		}
		id := string(key[len(api.ProvenanceOfferExpiryPrefix())+8:])
		if o := openOffer(id); o == nil || !bytes.Equal(key, api.ProvenanceOfferExpiryKey(o.ExpiresTimeUnix, id)) {
			module.Failf(a.offers, "the expiry index lists item %s at %d, but it has no open offer expiring then", id, binary.BigEndian.Uint64(key[len(api.ProvenanceOfferExpiryPrefix()):]))
		}
		return false
	})
}

// checkHeld checks every entry of the held-items index.
func (a *provenanceAudit) checkHeld() {
	store.IteratePrefix(a.kv, api.ProvenanceHeldPrefix(nil), func(key, _ []byte) bool {
		if len(key) <= len(api.ProvenanceHeldPrefix(nil))+api.AddressSize {
			module.Failf(a.held, "held-items entry %x is too short", key)
			return false
		}
		who, id := key[len(api.ProvenanceHeldPrefix(nil)):len(api.ProvenanceHeldPrefix(nil))+api.AddressSize], string(key[len(api.ProvenanceHeldPrefix(nil))+api.AddressSize:])
		if it, ok := a.items[id]; !ok || !bytes.Equal(it.Custodian, who) {
			module.Failf(a.held, "the held items of %x list %s, which they do not hold", who, id)
		}
		return false
	})
}

// checkRecalls checks recall marks, the unacknowledged index and the
// propagation queue against the orders.
func (a *provenanceAudit) checkRecalls() {
	for _, id := range a.order {
		it := a.items[id]
		mark := it.Recall
		if mark == nil {
			continue
		}
		if mark.Via != "" {
			via, ok := a.items[mark.Via]
			switch {
			case !slices.Contains(it.Parents, mark.Via):
				module.Failf(a.recall, "recall %s reached item %s via %s, which is not one of its parents", mark.OrderId, id, mark.Via)
			case !ok || via.Recall == nil || via.Recall.OrderId != mark.OrderId:
				module.Failf(a.recall, "recall %s reached item %s via %s, which that order did not reach", mark.OrderId, id, mark.Via)
			}
		}
	}
	store.IteratePrefix(a.kv, api.ProvenanceAllAwaitingAckPrefix(), func(key, _ []byte) bool {
		rest := key[len(api.ProvenanceAllAwaitingAckPrefix()):]
		if len(rest) < 1 || len(rest) < 1+int(rest[0])+api.AddressSize+1 {
			module.Failf(a.recall, "unacknowledged entry %x is too short", key)
			return false
		}
		order := string(rest[1 : 1+int(rest[0])])
		custodian, id := rest[1+int(rest[0]):1+int(rest[0])+api.AddressSize], string(rest[1+int(rest[0])+api.AddressSize:])
		it, ok := a.items[id]
		if !ok || it.Recall == nil || it.Recall.OrderId != order || !bytes.Equal(it.Custodian, custodian) {
			module.Failf(a.recall, "recall %s lists item %s of %x as unacknowledged, but the item does not carry that recall under that custodian", order, id, custodian)
		}
		return false
	})
	store.IteratePrefix(a.kv, api.ProvenanceQueuePrefix(), func(key, v []byte) bool {
		task := &provenancev1.RecallTask{}
		if err := proto.Unmarshal(v, task); err != nil {
			module.Failf(a.recall, "queued task %x does not decode: %v", key, err)
			return false
		}
		a.count(task.OrderId).queued++
		if it, ok := a.items[task.ItemId]; !ok || it.Recall == nil || it.Recall.OrderId != task.OrderId {
			module.Failf(a.recall, "a queued task of recall %s spreads from item %s, which that order did not reach", task.OrderId, task.ItemId)
		}
		return false
	})
	seen := map[string]bool{}
	store.IteratePrefix(a.kv, api.ProvenanceRecallOrdersPrefix(), func(key, v []byte) bool {
		o := &provenancev1.RecallOrder{}
		if err := proto.Unmarshal(v, o); err != nil || o.Id != string(key[len(api.ProvenanceRecallOrdersPrefix()):]) {
			module.Failf(a.recall, "recall order record %q does not decode as that order (%v)", key[len(api.ProvenanceRecallOrdersPrefix()):], err)
			return false
		}
		seen[o.Id] = true
		c := a.count(o.Id)
		if o.Reached != c.reached || o.AwaitingAck != c.awaiting || o.Queued != c.queued {
			module.Failf(a.recall, "recall %s counts %d reached, %d awaiting acknowledgement, %d queued; its records show %d, %d, %d",
				o.Id, o.Reached, o.AwaitingAck, o.Queued, c.reached, c.awaiting, c.queued)
		}
		if o.Complete != (o.Queued == 0) {
			module.Failf(a.recall, "recall %s is complete=%v with %d tasks queued", o.Id, o.Complete, o.Queued)
		}
		if it, ok := a.items[o.ItemId]; !ok || it.Recall == nil || it.Recall.OrderId != o.Id || it.Recall.Via != "" {
			module.Failf(a.recall, "recall %s names item %s, which does not carry the order's own mark", o.Id, o.ItemId)
		}
		if o.Complete {
			a.reachedAll(o.Id)
		}
		return false
	})
	for _, id := range a.order {
		if mark := a.items[id].Recall; mark != nil && !seen[mark.OrderId] {
			module.Failf(a.recall, "item %s carries the mark of recall %s, which does not exist", id, mark.OrderId)
		}
	}
}

// reachedAll checks that a complete order left no child of an item it
// marked unrecalled.
func (a *provenanceAudit) reachedAll(order string) {
	for _, id := range a.marked[order] {
		for _, c := range a.items[id].Children {
			if child, ok := a.items[c]; ok && child.Recall == nil {
				module.Failf(a.recall, "recall %s is complete but item %s, made from %s which it reached, is not recalled", order, c, id)
			}
		}
	}
}
