package tax

import (
	"bytes"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
)

// BackfillTypePeriodIndex writes the (tax type, period) index entry of
// every receipt in state, by its current period, and returns how many it
// wrote. The index is written when a receipt is issued and moved when its
// period is corrected; a chain that issued receipts before the index
// existed runs this once, from an upgrade handler (app.Options.Upgrades),
// so that every node's state — and app hash — stays the same. It reads
// every receipt: it is a migration, never a query path. Idempotent.
func BackfillTypePeriodIndex(kv store.KV) (int, error) {
	type entry struct{ receiptKey, state []byte }
	var states []entry
	store.IteratePrefix(kv, api.TaxReceiptStatesPrefix(), func(key, value []byte) bool {
		states = append(states, entry{append([]byte(nil), key...), append([]byte(nil), value...)})
		return false
	})
	n := 0
	for _, e := range states {
		s := &taxv1.ReceiptState{}
		if err := proto.Unmarshal(e.state, s); err != nil {
			return n, err
		}
		ref, err := ParseReceiptID(s.ReceiptId)
		if err != nil {
			return n, err
		}
		if !bytes.Equal(api.TaxReceiptStateKey(ref), e.receiptKey) {
			return n, ErrInvalidReceiptID.Wrapf("state at %x names receipt %s", e.receiptKey, s.ReceiptId)
		}
		r := &taxv1.Receipt{}
		if found, err := store.GetProto(kv, api.TaxReceiptKey(ref), r); err != nil || !found {
			return n, ErrInvalidReceiptID.Wrapf("receipt %s has a state but no record (%v)", s.ReceiptId, err)
		}
		key := api.TaxTypePeriodIndexKey(r.TaxType, s.Period, ref)
		if !kv.Has(key) {
			kv.Set(key, []byte{})
			n++
		}
	}
	return n, nil
}
