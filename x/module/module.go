// Package module holds what the application hands every module's message
// handlers: the state they may touch, the block they run in, an event sink,
// and coded errors that a client can tell apart (tax/7 is not funds/7).
//
// A handler is a function of (Context, signer, message) → (state changes,
// events, error). It never touches the disk, the network, the clock or
// goroutines; the block time and height come in through the Context.
package module

import (
	"time"

	"github.com/tallyledger/tally/store"
)

// Context is the world a message handler sees: the transaction's branch of
// state, the block it is in, and where its events go.
type Context struct {
	// Store is the transaction's own cache: writes land only if every
	// message of the transaction succeeds.
	Store   store.KV
	Height  int64
	Time    time.Time
	ChainID string

	events *[]Event
	meter  *store.Meter
}

// NewContext returns a Context whose events are appended to sink.
func NewContext(kv store.KV, height int64, t time.Time, chainID string, sink *[]Event) Context {
	return Context{Store: kv, Height: height, Time: t, ChainID: chainID, events: sink}
}

// WithMeter returns c charging its scheduled work to m. The application
// meters every context it hands a handler; Store is then already a
// store.Metered over the same meter.
func (c Context) WithMeter(m *store.Meter) Context {
	c.meter = m
	return c
}

// Branch returns a context like c (block, chain, meter) over kv whose
// events go to sink: work that may be dropped as a whole (a governance
// proposal's content, executed on a cache) still charges c's meter.
func (c Context) Branch(kv store.KV, sink *[]Event) Context {
	c.Store, c.events = kv, sink
	return c
}

// Charge charges n units of work of kind k that is not state access (a
// period run, a payment, a child item made, ...). In a transaction, a
// charge that passes the limit ends the transaction (see store.Meter); at
// the end of a block it only counts, and the work checks Exhausted.
func (c Context) Charge(k store.Kind, n uint64) { c.meter.Charge(k, n) }

// Exhausted reports whether the context's budget is used up. End-of-block
// work checks it before each step and leaves the rest for the next block.
// A context without a meter is never exhausted.
func (c Context) Exhausted() bool { return c.meter.Exhausted() }

// Emit records an event. Events of a failed transaction are dropped with it.
func (c Context) Emit(typ string, attrs ...Attribute) {
	if c.events == nil {
		return
	}
	*c.events = append(*c.events, Event{Type: typ, Attributes: attrs})
}

// Event is a typed record of a state change, delivered to CometBFT as an
// ABCI event.
type Event struct {
	Type       string
	Attributes []Attribute
}

// Attribute is one key/value of an event. Index asks CometBFT's indexer to
// make it searchable; only attributes clients search by should set it,
// because indexing costs a third of a node's CPU at saturation.
type Attribute struct {
	Key   string
	Value string
	Index bool
}

// Attr is an attribute that is reported but not indexed.
func Attr(key, value string) Attribute { return Attribute{Key: key, Value: value} }

// Indexed is an attribute that CometBFT indexes for search.
func Indexed(key, value string) Attribute { return Attribute{Key: key, Value: value, Index: true} }
