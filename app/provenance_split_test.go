package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/provenance"
)

// registerFull registers an item carrying the most metadata an item may:
// every attribute and document at its largest.
func registerFull(id string, qty uint64) *txv1.Msg {
	m := &pv.MsgRegisterItem{Id: id, Product: "milk", Quantity: qty, Unit: "l", Origin: pvLoc}
	for i := range provenance.MaxAttributes {
		key := fmt.Sprintf("k%02d", i) + strings.Repeat("k", provenance.MaxAttributeKeyBytes-3)
		m.Attributes = append(m.Attributes, &pv.Attribute{Key: key, Value: strings.Repeat("v", provenance.MaxAttributeValueBytes)})
	}
	for range provenance.MaxDocuments {
		m.Documents = append(m.Documents, &pv.Document{Kind: "certificate", Sha256: pvEvidence[:], Uri: "https://lab.example/" + strings.Repeat("d", 200)})
	}
	return pvMsg(m)
}

// stateBytes is the bytes of keys and values in the committed state.
func stateBytes(c *chain) (entries, bytes int) {
	for k, v := range c.dump() {
		entries++
		bytes += len(k) + len(v)
	}
	return entries, bytes
}

// A split's children reference the metadata of the item they came from
// instead of copying it, so splitting an item with the most metadata into
// 100 parts writes about what the parts' own records need, and every
// descendant still shows its origin's attributes and documents.
func TestSplitChildrenReferenceTheirOriginsMetadata(t *testing.T) {
	c := newProvChain(t)
	const id = "lgtin:05012345678900.FULL"
	c.ok(c.tx(pvFarmer, registerFull(id, 200)))
	parent := c.item(id)
	require.Len(t, parent.Attributes, provenance.MaxAttributes)
	_, before := stateBytes(c)

	parts := make([]uint64, 100)
	for i := range parts {
		parts[i] = 2
	}
	res := c.ok(c.tx(pvFarmer, split(id, parts...)))
	_, after := stateBytes(c)
	perChild := (after - before) / len(parts)
	require.Less(t, perChild, 1_500, "each child wrote %d bytes of state; its parent's metadata alone is %d", perChild, len(parent.String()))
	require.GreaterOrEqual(t, res.TxResults[0].GasUsed, int64(len(parts))*int64(store.Cost(store.Child)), "each child made is charged")

	child := c.item(id + "-7")
	require.Empty(t, child.Attributes)
	require.Empty(t, child.Documents)
	require.Equal(t, id, child.MetadataFrom)
	// A grandchild points straight at the origin: one hop, whatever the depth.
	c.ok(c.tx(pvFarmer, split(id+"-7", 1, 1)), c.tx(pvFarmer, split(id+"-8", 1, 1)))
	require.Equal(t, id, c.item(id+"-7-0").MetadataFrom)

	r, _ := c.invariantsAt(0)
	m := moduleOf(r, "provenance")
	require.True(t, m.Ok, "%v", m.Checks)
}

// Recall propagation runs within the block's end-of-block budget and
// carries over: with a small budget, a recall of 110 descendants takes
// several blocks although recall_budget (1,000) would allow them all in
// one, and still reaches every one.
func TestRecallPropagationCarriesOverTheEndOfBlockBudget(t *testing.T) {
	g := provGenesis()
	g.Params.EndBlockUnits = 300_000 // 100,000 units a module
	c := openChain(t, store.NewMemory(), app.Options{})
	c.initChain(g)
	c.block()
	const root = "lot:r"
	c.ok(c.tx(pvFarmer, register(root, 100, "milk")))
	tens := make([]uint64, 10)
	ones := make([]uint64, 10)
	for i := range tens {
		tens[i], ones[i] = 10, 1
	}
	c.ok(c.tx(pvFarmer, split(root, tens...)))
	var txs [][]byte
	for i := range tens {
		txs = append(txs, c.tx(pvFarmer, split(fmt.Sprintf("%s-%d", root, i), ones...)))
	}
	c.ok(txs...)
	const descendants = 10 + 10*10
	res := c.ok(c.tx(pvRegulator, recall("R-1", root)))
	marked, blocks := countEvents(res.Events, provenance.EventRecalled), 1
	require.Less(t, marked, descendants, "the block that ordered the recall did not reach every descendant")
	for !c.order("R-1").Complete {
		marked += countEvents(c.block().Events, provenance.EventRecalled)
		blocks++
		require.Less(t, blocks, 100)
	}
	require.Equal(t, descendants, marked)
	require.Greater(t, blocks, 2)
}
