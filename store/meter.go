package store

import (
	"fmt"
	"math/bits"

	"github.com/tallyledger/tally/api"
)

// Kind is one kind of work the resource meter charges for.
type Kind int

// The kinds of work charged, and what one of each costs (see Cost). State
// access is charged by Metered, automatically, for every handler; the
// other kinds are charged by the module that does or schedules the work
// (module.Context.Charge).
const (
	ReadEntry       Kind = iota // a key looked up (Get, Has)
	ReadByte                    // a byte of key or value read (Get, iteration)
	WriteEntry                  // a key set
	WriteByte                   // a byte of key or value written
	DeleteEntry                 // a key deleted
	IterStep                    // an entry visited by an iteration
	TxByte                      // a byte of the transaction as sent
	TxBase                      // a transaction, whatever it does
	PeriodScheduled             // a programme period scheduled by the transaction creating the programme
	PeriodRun                   // a scheduled programme period run at the end of a block
	Payment                     // a payment attempted at the end of a block
	RecallStep                  // an item reached by a recall at the end of a block
	OfferExpiry                 // a custody offer closed at the end of a block
	Child                       // an item made by a split, merge or transformation
	Proposal                    // an open governance proposal tallied at the end of a block
	numKinds
)

// costs is the price list, in units. One unit is about the work of
// writing one byte of state: a write is dearer than a read (it lands in
// every node's tree and disk for ever), an entry costs more than its bytes
// (an IAVL node, a hash, a disk seek), and scheduled work is charged on top
// of the state it touches for the fixed cost of each step. Changing a cost
// changes which transactions fit, so it is a protocol change.
var costs = [numKinds]uint64{
	ReadEntry:       100,
	ReadByte:        1,
	WriteEntry:      1_000,
	WriteByte:       api.WriteByteUnits,
	DeleteEntry:     500,
	IterStep:        50,
	TxByte:          api.TxByteUnits,
	TxBase:          api.TxBaseUnits,
	PeriodScheduled: 100,
	PeriodRun:       1_000,
	Payment:         2_000,
	RecallStep:      1_000,
	OfferExpiry:     500,
	Child:           1_000,
	Proposal:        1_000,
}

var kindNames = [numKinds]string{
	ReadEntry: "read entry", ReadByte: "read byte", WriteEntry: "write entry", WriteByte: "write byte",
	DeleteEntry: "delete entry", IterStep: "iteration step", TxByte: "transaction byte", TxBase: "transaction",
	PeriodScheduled: "period scheduled", PeriodRun: "period run", Payment: "payment", RecallStep: "recall step", OfferExpiry: "offer expiry",
	Child: "child item", Proposal: "proposal tallied",
}

// String names the kind as the README's cost table does.
func (k Kind) String() string {
	if k < 0 || k >= numKinds {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return kindNames[k]
}

// Cost returns the units charged for one unit of work of kind k.
func Cost(k Kind) uint64 {
	if k < 0 || k >= numKinds {
		return 0
	}
	return costs[k]
}

// Kinds lists every kind of work, in table order.
func Kinds() []Kind {
	out := make([]Kind, numKinds)
	for i := range out {
		out[i] = Kind(i)
	}
	return out
}

// Meter counts the units of work done against a limit. A hard meter (a
// transaction's) stops the work the moment the limit is passed, by
// panicking with OutOfUnits, which the application recovers into a failed
// transaction whose writes are dropped. A soft meter (a block's end-of-
// block budget) only counts: the scheduled work checks Exhausted before
// each step and leaves the rest for the next block.
//
// A nil *Meter charges nothing, so code run outside a block (genesis,
// module unit tests) needs no meter. Arithmetic saturates, so no count of
// work can wrap a meter round.
type Meter struct {
	limit uint64
	used  uint64
	hard  bool
}

// NewMeter returns a hard meter with the given limit.
func NewMeter(limit uint64) *Meter { return &Meter{limit: limit, hard: true} }

// NewBudget returns a soft meter with the given limit.
func NewBudget(limit uint64) *Meter { return &Meter{limit: limit} }

// OutOfUnits is the panic value of a hard meter whose limit was passed.
type OutOfUnits struct {
	Used, Limit uint64
	Kind        Kind // the work that passed the limit
}

func (o OutOfUnits) String() string {
	return fmt.Sprintf("used %d units (passing the limit on %s); the limit is %d", o.Used, o.Kind, o.Limit)
}

// Charge adds n units of work of kind k; on a hard meter it panics with
// OutOfUnits once the limit is passed.
func (m *Meter) Charge(k Kind, n uint64) {
	if m.add(k, n) {
		panic(OutOfUnits{Used: m.used, Limit: m.limit, Kind: k})
	}
}

// add charges like Charge and reports whether a hard limit was passed.
func (m *Meter) add(k Kind, n uint64) (over bool) {
	if m == nil || n == 0 {
		return false
	}
	hi, units := bits.Mul64(Cost(k), n)
	sum, carry := bits.Add64(m.used, units, 0)
	if hi != 0 || carry != 0 {
		sum = ^uint64(0)
	}
	m.used = sum
	return m.hard && m.used > m.limit
}

// Used returns the units charged so far.
func (m *Meter) Used() uint64 {
	if m == nil {
		return 0
	}
	return m.used
}

// Limit returns the meter's limit.
func (m *Meter) Limit() uint64 {
	if m == nil {
		return ^uint64(0)
	}
	return m.limit
}

// Exhausted reports whether the limit is used up; scheduled work stops
// when it is.
func (m *Meter) Exhausted() bool { return m != nil && m.used >= m.limit }

// Metered is a KV that charges a Meter for every read, write and
// iteration step before passing it on to the KV under it. Every handler
// sees its transaction's state through one, so every handler is charged
// without code of its own.
type Metered struct {
	parent KV
	meter  *Meter
}

var _ KV = Metered{}

// NewMetered returns parent seen through meter.
func NewMetered(parent KV, meter *Meter) Metered { return Metered{parent: parent, meter: meter} }

// Get charges a read entry and the bytes of key and value.
func (m Metered) Get(key []byte) []byte {
	m.meter.Charge(ReadEntry, 1)
	v := m.parent.Get(key)
	m.meter.Charge(ReadByte, uint64(len(key)+len(v)))
	return v
}

// Has charges a read entry and the bytes of key.
func (m Metered) Has(key []byte) bool {
	m.meter.Charge(ReadEntry, 1)
	m.meter.Charge(ReadByte, uint64(len(key)))
	return m.parent.Has(key)
}

// Set charges a write entry and the bytes of key and value.
func (m Metered) Set(key, value []byte) {
	m.chargeSet(key, value)
	m.parent.Set(key, value)
}

// setEncoded is Set of a value the caller gives up (see encodedSetter).
func (m Metered) setEncoded(key, value []byte) {
	m.chargeSet(key, value)
	setEncoded(m.parent, key, value)
}

func (m Metered) chargeSet(key, value []byte) {
	m.meter.Charge(WriteEntry, 1)
	m.meter.Charge(WriteByte, uint64(len(key)+len(value)))
}

// Delete charges a delete entry and the bytes of key.
func (m Metered) Delete(key []byte) {
	m.meter.Charge(DeleteEntry, 1)
	m.meter.Charge(WriteByte, uint64(len(key)))
	m.parent.Delete(key)
}

// Iterate charges an iteration step and the bytes read for every entry
// visited. A hard meter's limit passed inside the iteration stops it
// first, so the panic never unwinds through the KV under it.
func (m Metered) Iterate(start, end []byte, ascending bool, fn func(key, value []byte) (stop bool)) {
	var over *OutOfUnits
	m.parent.Iterate(start, end, ascending, func(key, value []byte) bool {
		for _, c := range [2]struct {
			k Kind
			n uint64
		}{{IterStep, 1}, {ReadByte, uint64(len(key) + len(value))}} {
			if m.meter.add(c.k, c.n) {
				over = &OutOfUnits{Used: m.meter.used, Limit: m.meter.limit, Kind: c.k}
				return true
			}
		}
		return fn(key, value)
	})
	if over != nil {
		panic(*over)
	}
}
