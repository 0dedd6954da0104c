package provenance

import (
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// Getter reads one key of state at a fixed committed height.
type Getter func(key []byte) ([]byte, error)

// Lineage walks the lineage graph breadth-first from item id — up to the
// items it was made from, or down to the items made from it — and returns
// the ids of the walk's items from position offset on (the start item is
// not included), at most limit of them, and whether more follow. The walk
// visits each item once and follows parents and children in record order,
// so the same state always gives the same order and pages line up.
func Lineage(get Getter, id string, dir provenancev1.LineageDirection, offset uint64, limit int) (ids []string, more bool, err error) {
	if dir != provenancev1.LineageDirection_LINEAGE_DIRECTION_UP && dir != provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN {
		return nil, false, ErrInvalidQuery.Wrapf("direction must be up or down")
	}
	if err := ValidateItemID(id); err != nil {
		return nil, false, err
	}
	load := func(id string) (*provenancev1.Item, error) {
		bz, err := get(api.ProvenanceItemKey(id))
		if err != nil {
			return nil, err
		}
		if bz == nil {
			return nil, ErrUnknownItem.Wrapf("no item with id %s at this height", id)
		}
		it := &provenancev1.Item{}
		return it, proto.Unmarshal(bz, it)
	}
	next := func(it *provenancev1.Item) []string {
		if dir == provenancev1.LineageDirection_LINEAGE_DIRECTION_UP {
			return it.Parents
		}
		return it.Children
	}
	root, err := load(id)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{id: true} // membership only; the walk order comes from the records
	queue := append([]string(nil), next(root)...)
	var pos uint64
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if seen[cur] {
			continue
		}
		seen[cur] = true
		if pos >= offset {
			if len(ids) == limit {
				return ids, true, nil
			}
			ids = append(ids, cur)
		}
		pos++
		it, err := load(cur)
		if err != nil {
			return nil, false, err
		}
		queue = append(queue, next(it)...)
	}
	return ids, false, nil
}
