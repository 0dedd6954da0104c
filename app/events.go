package app

import (
	"strconv"

	abci "github.com/cometbft/cometbft/abci/types"
)

// EventBytesPerUnit bounds a transaction's events: they weigh
// (EventsWeight) at most this many bytes a unit of work the transaction
// used, so a block's transactions' events weigh at most max_block_units
// bytes, whatever its transactions are (docs/protocol.md, "block_results").
// Every message of this release stays far under it: the most any of the
// app's tests' transactions reached is a quarter of a byte a unit (a
// withdrawal of an accreditation with its reason: 1,207 for 4,856 units),
// and the tests' blocks (runBlock, chain.finalize) fail on any cut; a
// transaction's own event ("tx": signer and nonce) weighs at most 473, a
// quarter of the 1,940 units the smallest transaction uses. A module's
// end-of-block events are bounded alike by what its end-of-block work
// used (endBlock).
const EventBytesPerUnit = 1

// EventsCut is the event that stands, last, for the events cut from a
// transaction whose events weighed more than its units allow
// (EventBytesPerUnit): "events" says how many were cut and "weight" what
// all of them weighed. No message of this release emits that much; the
// cut bounds what a block's results hold even if one did.
const EventsCut = "events_cut"

// Event JSON frames as CometBFT's RPC writes block_results' events.
const (
	eventFrame     = len(`{"type":"","attributes":[]},`)
	attributeFrame = len(`{"key":"","value":"","index":false},`)
)

// EventsWeight is the most bytes events take in block_results' JSON
// (and in tx and tx_search answers): each event's and attribute's frame,
// its type and keys as written (names in code: no character JSON escapes),
// and each value at six bytes a byte, as JSON writes <, >, &, control
// characters and broken UTF-8 (\u003c, \ufffd).
func EventsWeight(events []abci.Event) uint64 {
	var n uint64
	for _, e := range events {
		n += eventWeight(e)
	}
	return n
}

func eventWeight(e abci.Event) uint64 {
	n := uint64(eventFrame + len(e.Type))
	for _, a := range e.Attributes {
		n += uint64(attributeFrame+len(a.Key)) + 6*uint64(len(a.Value))
	}
	return n
}

// maxCutWeight is the most the EventsCut event weighs: two attributes of
// at most 20 digits.
var maxCutWeight = eventWeight(eventsCut(1<<64-1, 1<<64-1))

func eventsCut(events, weight uint64) abci.Event {
	return abci.Event{Type: EventsCut, Attributes: []abci.EventAttribute{
		{Key: "events", Value: strconv.FormatUint(events, 10)},
		{Key: "weight", Value: strconv.FormatUint(weight, 10)},
	}}
}

// capEvents returns events if they weigh at most limit; otherwise the
// longest run of them from the first that weighs at most limit with
// EventsCut, then EventsCut for the rest. It depends on the events and
// the limit only, so every node cuts alike (events are outside the results
// hash, but clients and indexers read them).
func capEvents(events []abci.Event, limit uint64) []abci.Event {
	total := EventsWeight(events)
	if total <= limit {
		return events
	}
	var kept, w uint64
	for _, e := range events {
		ew := eventWeight(e)
		if w+ew+maxCutWeight > limit {
			break
		}
		w += ew
		kept++
	}
	return append(events[:kept:kept], eventsCut(uint64(len(events))-kept, total))
}
