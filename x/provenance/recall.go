package provenance

import (
	"bytes"
	"slices"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Recalls reach everything downstream without unbounded work in any one
// transaction or block.
//
// The recall message marks only the item it names and queues one task:
// "mark the children of this item". At the end of every block, EndBlock
// takes tasks from the queue, oldest first; a task marks each child not
// already recalled (status recalled, the order that reached it, the
// custodian owed an acknowledgement) and queues a task for it in turn.
// It stops once it has marked Params.recall_budget items or run that many
// tasks. An item has at most MaxOutputs children (it is an input to one
// split, merge or transformation only, because that consumes it), so a
// block marks at most recall_budget + MaxOutputs - 1 items, however large
// the graph, and it also stops when the block's end-of-block budget is
// spent; a recall of N descendants finishes in about N/recall_budget
// blocks or more (20 blocks for 10,000 at the default budgets).
//
// Why marked state rather than deriving "recalled" from ancestors on every
// read: each custodian must acknowledge, and "which custodians have not
// acknowledged" must be a provable list; both need a record per recalled
// item. A read would also have to walk an unbounded ancestor graph, and so
// would every custody check. The cost is a short window (a few blocks for
// very large graphs) in which an item not yet reached can still move; the
// propagation follows the graph as it stands when it arrives, so items
// moved, split or merged in the window are still reached, and the
// custodian at that time is the one who must acknowledge.
//
// An item reached by two orders belongs to the first; the second does not
// queue its children again, because the first already covers them.

// Recall orders a recall of an item and everything made from it.
func (k Keeper) Recall(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgRecall) error {
	if ctx.Store.Has(api.ProvenanceRecallOrderKey(m.OrderId)) {
		return ErrDuplicateOrder.Wrapf("recall order %q already exists; give the new recall its own notice number", m.OrderId)
	}
	it, err := k.Item(ctx.Store, m.ItemId)
	if err != nil {
		return err
	}
	if it.Recall != nil {
		return ErrAlreadyRecalled.Wrapf("item %s was recalled by order %s at height %d", it.Id, it.Recall.OrderId, it.Recall.Height)
	}
	mandate, err := k.requireRegulator(ctx, signer.AgencyId)
	if err != nil {
		return err
	}
	order := &provenancev1.RecallOrder{
		Id: m.OrderId, ItemId: it.Id, Regulator: slices.Clone(signer.Address), AgencyId: signer.AgencyId,
		Reason: m.Reason, Height: ctx.Height, TimeUnix: ctx.Time.Unix(), Mandate: mandate,
	}
	ctx.Emit(EventRecallOrdered, module.Indexed("order", order.Id), itemAttr(it.Id), addr("regulator", signer.Address),
		module.Indexed("agency", signer.AgencyId), module.Attr("reason", m.Reason))
	if err := k.mark(ctx, order, it, ""); err != nil {
		return err
	}
	return k.finishTask(ctx, order)
}

// mark recalls one item for order and queues its children.
func (k Keeper) mark(ctx module.Context, order *provenancev1.RecallOrder, it *provenancev1.Item, via string) error {
	before := it.Status
	if before == statusInTransit {
		o, found, err := k.Offer(ctx.Store, it.Id)
		if err != nil {
			return err
		}
		if found && o.Status == offerOpen {
			if err := closeOffer(ctx, o, provenancev1.OfferStatus_OFFER_STATUS_CANCELLED); err != nil {
				return err
			}
		}
	}
	ack := before == statusActive || before == statusInTransit // the goods exist somewhere
	it.Status = statusRecalled
	it.Recall = &provenancev1.RecallMark{
		OrderId: order.Id, Height: ctx.Height, TimeUnix: ctx.Time.Unix(), StatusBefore: before, AckRequired: ack, Via: via,
	}
	related := []string{order.Id}
	if via != "" {
		related = append(related, via)
	}
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_RECALLED, Actor: order.Regulator, Related: related, Note: order.Reason}); err != nil {
		return err
	}
	if err := saveItem(ctx.Store, it); err != nil {
		return err
	}
	order.Reached++
	if ack {
		ctx.Store.Set(api.ProvenanceAwaitingAckKey(order.Id, it.Custodian, it.Id), []byte{})
		order.AwaitingAck++
	}
	if len(it.Children) > 0 {
		task := &provenancev1.RecallTask{OrderId: order.Id, ItemId: it.Id}
		n, err := nextQueueSeq(ctx.Store)
		if err != nil {
			return err
		}
		if err := store.SetProto(ctx.Store, api.ProvenanceQueueKey(n), task); err != nil {
			return err
		}
		order.Queued++
	}
	ctx.Emit(EventRecalled, itemAttr(it.Id), module.Indexed("order", order.Id), addr("custodian", it.Custodian),
		module.Attr("ack_required", strconv.FormatBool(ack)))
	return nil
}

// finishTask saves order, completing it when no task is left.
func (k Keeper) finishTask(ctx module.Context, order *provenancev1.RecallOrder) error {
	if order.Queued == 0 && !order.Complete {
		order.Complete = true
		order.CompletedHeight = ctx.Height
		ctx.Emit(EventRecallComplete, module.Indexed("order", order.Id), module.Attr("reached", strconv.FormatUint(order.Reached, 10)),
			module.Attr("awaiting_ack", strconv.FormatUint(order.AwaitingAck, 10)))
	}
	return store.SetProto(ctx.Store, api.ProvenanceRecallOrderKey(order.Id), order)
}

// AcknowledgeRecall records that the custodian of a recalled item has
// acted on the recall.
func (k Keeper) AcknowledgeRecall(ctx module.Context, signer *agencyv1.Account, m *provenancev1.MsgAcknowledgeRecall) error {
	it, err := k.Item(ctx.Store, m.ItemId)
	if err != nil {
		return err
	}
	if it.Recall == nil {
		return ErrNotRecalled.Wrapf("item %s is not recalled (a recall still spreading reaches it within a few blocks)", it.Id)
	}
	if !bytes.Equal(it.Custodian, signer.Address) {
		return ErrNotCustodian.Wrapf("item %s is held by %x; only its custodian acknowledges the recall", it.Id, it.Custodian)
	}
	if !it.Recall.AckRequired {
		return ErrAckNotRequired.Wrapf("item %s was already %s when the recall reached it", it.Id, StatusName(it.Recall.StatusBefore))
	}
	if it.Recall.Acknowledged {
		return ErrAlreadyAcknowledged.Wrapf("item %s: acknowledged at height %d", it.Id, it.Recall.AckHeight)
	}
	order, err := k.RecallOrder(ctx.Store, it.Recall.OrderId)
	if err != nil {
		return err
	}
	it.Recall.Acknowledged = true
	it.Recall.AckHeight = ctx.Height
	ctx.Store.Delete(api.ProvenanceAwaitingAckKey(order.Id, it.Custodian, it.Id))
	order.AwaitingAck--
	if err := record(ctx, it, &provenancev1.Event{Type: provenancev1.EventType_EVENT_TYPE_RECALL_ACKNOWLEDGED, Actor: signer.Address,
		Related: []string{order.Id}, Note: m.Note}); err != nil {
		return err
	}
	if err := saveItem(ctx.Store, it); err != nil {
		return err
	}
	ctx.Emit(EventRecallAcknowledged, itemAttr(it.Id), module.Indexed("order", order.Id), addr("custodian", signer.Address))
	return store.SetProto(ctx.Store, api.ProvenanceRecallOrderKey(order.Id), order)
}

// EndBlock does the module's bounded end-of-block work: it spreads queued
// recalls (at most recall_budget tasks, and items marked stop further
// tasks once recall_budget is reached) and closes offers whose time has
// passed (at most expiry_budget). It reports how many items it marked.
func (k Keeper) EndBlock(ctx module.Context) (marked int, err error) {
	p, err := k.Params(ctx.Store)
	if err != nil {
		return 0, err
	}
	if marked, err = k.propagate(ctx, int(p.RecallBudget)); err != nil {
		return marked, err
	}
	return marked, k.expireOffers(ctx, int(p.ExpiryBudget))
}

// propagate runs queued recall tasks until budget items are marked,
// budget tasks have run or the block's end-of-block budget is spent (each
// item marked is charged a store.RecallStep on top of its state access).
func (k Keeper) propagate(ctx module.Context, budget int) (int, error) {
	marked := 0
	for tasks := 0; tasks < budget && marked < budget && !ctx.Exhausted(); tasks++ {
		key, task, err := firstTask(ctx.Store)
		if err != nil || task == nil {
			return marked, err
		}
		ctx.Store.Delete(key)
		order, err := k.RecallOrder(ctx.Store, task.OrderId)
		if err != nil {
			return marked, err
		}
		parent, err := k.Item(ctx.Store, task.ItemId)
		if err != nil {
			return marked, err
		}
		for _, id := range parent.Children {
			child, err := k.Item(ctx.Store, id)
			if err != nil {
				return marked, err
			}
			if child.Recall != nil {
				continue // already reached, by this order through another path or by an earlier one
			}
			if err := k.mark(ctx, order, child, parent.Id); err != nil {
				return marked, err
			}
			ctx.Charge(store.RecallStep, 1)
			marked++
		}
		order.Queued--
		if err := k.finishTask(ctx, order); err != nil {
			return marked, err
		}
	}
	return marked, nil
}

// firstTask returns the oldest queued task, or nil when the queue is empty.
func firstTask(kv store.KV) ([]byte, *provenancev1.RecallTask, error) {
	var key, val []byte
	store.IteratePrefix(kv, api.ProvenanceQueuePrefix(), func(k, v []byte) bool {
		key, val = slices.Clone(k), slices.Clone(v)
		return true
	})
	if key == nil {
		return nil, nil, nil
	}
	t := &provenancev1.RecallTask{}
	if err := proto.Unmarshal(val, t); err != nil {
		return nil, nil, err
	}
	return key, t, nil
}

// expireOffers closes up to budget open offers whose expiry time has come,
// stopping early when the block's end-of-block budget is spent; the rest
// stay due and are closed at the next block.
func (k Keeper) expireOffers(ctx module.Context, budget int) error {
	now := ctx.Time.Unix()
	if now < 0 {
		return nil
	}
	end := api.ProvenanceOfferExpiryDueEnd(now) // expiry ≤ now
	var due []string
	ctx.Store.Iterate(api.ProvenanceOfferExpiryPrefix(), end, true, func(key, _ []byte) bool {
		due = append(due, string(key[len(api.ProvenanceOfferExpiryPrefix())+8:]))
		return len(due) == budget
	})
	for _, id := range due {
		if ctx.Exhausted() {
			return nil
		}
		ctx.Charge(store.OfferExpiry, 1)
		it, err := k.Item(ctx.Store, id)
		if err != nil {
			return err
		}
		o, found, err := k.Offer(ctx.Store, id)
		if err != nil {
			return err
		}
		if !found || o.Status != offerOpen {
			continue
		}
		if err := expire(ctx, it, o); err != nil {
			return err
		}
	}
	return nil
}

// QueueLength counts queued recall tasks (for tests and operators).
func QueueLength(kv store.KV) int {
	n := 0
	store.IteratePrefix(kv, api.ProvenanceQueuePrefix(), func(_, _ []byte) bool { n++; return false })
	return n
}

// QueueLengthUpTo counts queued recall tasks, stopping at limit (capped
// is then true). For operators' metrics.
func QueueLengthUpTo(kv store.KV, limit int) (n int, capped bool) {
	store.IteratePrefix(kv, api.ProvenanceQueuePrefix(), func(_, _ []byte) bool {
		n++
		capped = n >= limit
		return capped
	})
	return n, capped
}

// RecallFigures are the open recalls, for operators' metrics.
type RecallFigures struct {
	// Open counts orders still propagating or with items awaiting
	// acknowledgement; Unacknowledged those with items awaiting it.
	Open, Unacknowledged int
	// OldestUnacknowledgedUnix is the block time the oldest order with
	// items awaiting acknowledgement was made (0: none).
	OldestUnacknowledgedUnix int64
	// Capped is set when the walk stopped at the limit.
	Capped bool
}

// OpenRecalls reads up to limit recall orders.
func OpenRecalls(kv store.KV, limit int) (RecallFigures, error) {
	var f RecallFigures
	var err error
	seen := 0
	store.IteratePrefix(kv, api.ProvenanceRecallOrdersPrefix(), func(_, v []byte) bool {
		o := &provenancev1.RecallOrder{}
		if err = proto.Unmarshal(v, o); err != nil {
			return true
		}
		if !o.Complete || o.AwaitingAck > 0 {
			f.Open++
		}
		if o.AwaitingAck > 0 {
			f.Unacknowledged++
			if f.OldestUnacknowledgedUnix == 0 || o.TimeUnix < f.OldestUnacknowledgedUnix {
				f.OldestUnacknowledgedUnix = o.TimeUnix
			}
		}
		seen++
		f.Capped = seen >= limit
		return f.Capped
	})
	return f, err
}
