package explorer

import (
	"sort"
	"strings"

	"github.com/tallyledger/tally/api"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// The chain indexes goods by id, custodian and lineage, not by time. The
// provenance landing page finds recent items and recall orders through the
// node's transaction index (their events), then reads every record it
// shows from state with proofs: the index only says where to look.

// recentTxs is how many recent transactions of each kind are asked for.
const recentTxs = 30

// maxRecentItems is how many recent items the landing page shows.
const maxRecentItems = 12

type itemRef struct {
	id     string
	height int64
}

// recentItemIDs lists the ids of items most recently created (registered,
// split, merged or made by a transformation), newest first, as the node's
// transaction index reports them.
func (sn *snap) recentItemIDs() []string {
	var refs []itemRef
	search := func(query, attr string, list bool) {
		perPage := recentTxs
		page := 1
		res, err := sn.c.RPC.TxSearch(sn.ctx, query, false, &page, &perPage, "desc")
		if err != nil {
			return
		}
		typ, _, _ := strings.Cut(query, ".item")
		typ, _, _ = strings.Cut(typ, ".outputs")
		for _, tx := range res.Txs {
			if tx.TxResult.Code != 0 || tx.Height > sn.height {
				continue
			}
			for _, e := range tx.TxResult.Events {
				if e.Type != typ {
					continue
				}
				for _, a := range e.Attributes {
					if a.Key != attr {
						continue
					}
					ids := []string{a.Value}
					if list {
						ids = strings.Split(a.Value, ",")
					}
					for _, id := range ids {
						refs = append(refs, itemRef{id, tx.Height})
					}
				}
			}
		}
	}
	search("provenance.item_registered.item EXISTS", "item", false)
	search("provenance.transformed.outputs EXISTS", "outputs", true)
	search("provenance.split.item EXISTS", "children", true)
	search("provenance.merged.item EXISTS", "item", false)
	sort.SliceStable(refs, func(i, j int) bool { return refs[i].height > refs[j].height })
	seen := map[string]bool{}
	var ids []string
	for _, r := range refs {
		if r.id != "" && !seen[r.id] {
			seen[r.id] = true
			ids = append(ids, r.id)
		}
	}
	return ids
}

// recentItems reads the recent items from state, with proofs.
func (sn *snap) recentItems(limit int) []*provenancev1.Item {
	var out []*provenancev1.Item
	for _, id := range sn.recentItemIDs() {
		if len(out) == limit {
			break
		}
		it := &provenancev1.Item{}
		if sn.record(api.PathProvenanceItem, []byte(id), it) == nil {
			out = append(out, it)
		}
	}
	return out
}

// recallOrders reads the recall orders the transaction index knows of,
// newest first, from state with proofs.
func (sn *snap) recallOrders() []*provenancev1.RecallOrder {
	perPage, page := recentTxs, 1
	res, err := sn.c.RPC.TxSearch(sn.ctx, "provenance.recall_ordered.order EXISTS", false, &page, &perPage, "desc")
	if err != nil {
		return nil
	}
	var out []*provenancev1.RecallOrder
	seen := map[string]bool{}
	for _, tx := range res.Txs {
		if tx.Height > sn.height {
			continue
		}
		id := eventAttr(tx.TxResult.Events, "provenance.recall_ordered", "order")
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		o := &provenancev1.RecallOrder{}
		if sn.record(api.PathProvenanceRecall, []byte(id), o) == nil {
			out = append(out, o)
		}
	}
	return out
}

// itemSummary is one row of the landing page's recent items.
type itemSummary struct {
	Item map[string]any `json:"item"`
	// Product is the product in words ("Mature cheddar cheese (GTIN …)").
	Product string `json:"product_name"`
}

func summarise(it *provenancev1.Item) itemSummary {
	return itemSummary{Item: protoMap(it), Product: productWords(it.Product, it.Attributes)}
}

// provenanceHome fills the landing page: recent items, open recalls, and
// the lineage picture of the newest open recall's item (else of the newest
// item).
func (sn *snap) provenanceHome(d map[string]any) {
	items := sn.recentItems(maxRecentItems)
	var recent []itemSummary
	for _, it := range items {
		recent = append(recent, summarise(it))
	}
	d["recent_items"] = recent
	d["recent_scope"] = recentTxs
	var open []map[string]any
	var focus string
	for _, o := range sn.recallOrders() {
		if o.Complete && o.AwaitingAck == 0 {
			continue
		}
		open = append(open, protoMap(o))
		if focus == "" {
			focus = o.ItemId
		}
	}
	d["open_recalls"] = open
	if focus == "" && len(items) > 0 {
		focus = items[0].Id
	}
	if focus == "" {
		return
	}
	it := &provenancev1.Item{}
	if sn.record(api.PathProvenanceItem, []byte(focus), it) != nil {
		return
	}
	up, _ := lineage(sn, focus, provenancev1.LineageDirection_LINEAGE_DIRECTION_UP)
	down, _ := lineage(sn, focus, provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN)
	d["focus"] = summarise(it)
	d["graph"] = lineageGraph(it, up, down)
}
