package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
