package api

import (
	"encoding/hex"
	"strings"
)

// Listing says where a key-range listing lies in state: the index keys a
// page of it walks, the records it answers before them and after each,
// and what kind of record each is. The app pages through it (a page's
// records and its range proofs), and a client checks a page against it
// (client.VerifyPage), never against what the node says of itself. A
// listing's Route gives it for each ListRequest arg (Route.Listing).
type Listing struct {
	// Prefix covers the listing's index keys, and nothing else.
	Prefix []byte
	// Head are the keys of the records every page answers first, before
	// the listing's own: the item whose history it is, a root's totals.
	Head [][]byte
	// RecordKey maps an index key to the key of the record it points at;
	// nil means the index keys are the records. It returns nil for a key
	// that is no entry of the listing.
	RecordKey func(indexKey []byte) []byte
	// Entry is the kind of record (RecordOf) each listed record is.
	Entry string
}

// Record is the key of the record index key k points at (k itself when
// the index keys are the records).
func (l Listing) Record(k []byte) []byte {
	if l.RecordKey == nil {
		return k
	}
	return l.RecordKey(k)
}

// The listings of the Page routes that are key ranges. Each takes the
// ListRequest arg and returns false for an arg that names no listing (the
// app refuses it with a coded error).

// under is a listing of the records under one prefix.
func under(prefix func() []byte, entry string) func([]byte) (Listing, bool) {
	return func([]byte) (Listing, bool) { return Listing{Prefix: prefix(), Entry: entry}, true }
}

// named is a listing whose arg is an id, as text, that names its prefix.
func named(prefix func(string) []byte, entry string) func([]byte) (Listing, bool) {
	return func(arg []byte) (Listing, bool) { return Listing{Prefix: prefix(string(arg)), Entry: entry}, true }
}

// itemIDOK is whether id may be an item or recall order id in a key (a
// length-prefixed part holds at most 255 bytes).
func itemIDOK(id []byte) bool { return len(id) > 0 && len(id) <= 255 }

// suffixed is the record key of an index entry whose key ends in the
// record's 8-byte id: nil when k is too short to hold one after prefix.
func suffixed(prefix []byte, of func([]byte) []byte) func([]byte) []byte {
	return func(k []byte) []byte {
		if len(k) < len(prefix)+8 {
			return nil
		}
		return of(k)
	}
}

func membersListing(arg []byte) (Listing, bool) {
	prefix := MembersPrefix(string(arg))
	return Listing{Prefix: prefix, Entry: "account", RecordKey: func(k []byte) []byte {
		if len(k) <= len(prefix) {
			return nil
		}
		return AccountKey(k[len(prefix):])
	}}, true
}

func fundsTraceDownListing(arg []byte) (Listing, bool) {
	id, ok := ParseDecimal(arg)
	if !ok {
		return Listing{}, false
	}
	return Listing{Prefix: FundsRootLegsPrefix(id), Head: [][]byte{FundsRootTotalsKey(id)}, Entry: "leg"}, true
}

func benefitsHistoryListing(arg []byte) (Listing, bool) {
	prog, rcpt, found := strings.Cut(string(arg), "/")
	if !found {
		return Listing{}, false
	}
	prefix := BenefitsHistoryPrefix(prog, rcpt)
	return Listing{Prefix: prefix, Entry: "payment", RecordKey: suffixed(prefix, BenefitsPaymentOfHistoryKey)}, true
}

func taxReceiptsListing(arg []byte) (Listing, bool) {
	taxType, period, found := strings.Cut(string(arg), "/")
	if !found {
		return Listing{}, false
	}
	return Listing{Prefix: TaxTypePeriodPrefix(taxType, period), Entry: "receipt", RecordKey: TaxReceiptKeyOfIndex}, true
}

func govVotesListing(arg []byte) (Listing, bool) {
	id, ok := ParseDecimal(arg)
	if !ok {
		return Listing{}, false
	}
	return Listing{Prefix: GovVotesPrefix(id), Entry: "vote"}, true
}

func govValidatorMisbehavioursListing(arg []byte) (Listing, bool) {
	addr, err := hex.DecodeString(string(arg))
	if err != nil {
		return Listing{}, false
	}
	prefix := GovValidatorMisbehavioursPrefix(addr)
	return Listing{Prefix: prefix, Entry: "misbehaviour", RecordKey: suffixed(prefix, GovMisbehaviourOfIndexKey)}, true
}

// provenanceItemListing is an item's history (entry "event") or its
// attestations: the item record heads every page.
func provenanceItemListing(prefix func(string) []byte, entry string) func([]byte) (Listing, bool) {
	return func(arg []byte) (Listing, bool) {
		if !itemIDOK(arg) {
			return Listing{}, false
		}
		id := string(arg)
		return Listing{Prefix: prefix(id), Head: [][]byte{ProvenanceItemKey(id)}, Entry: entry}, true
	}
}

func provenanceHeldListing(arg []byte) (Listing, bool) {
	return Listing{Prefix: ProvenanceHeldPrefix(arg), Entry: "item", RecordKey: ProvenanceItemOfHeldKey}, true
}

func provenanceOffersListing(arg []byte) (Listing, bool) {
	return Listing{Prefix: ProvenanceOffersToPrefix(arg), Entry: "offer", RecordKey: ProvenanceOfferOfOfferToKey}, true
}

// provenanceUnacknowledgedListing is a recall order's items not yet
// acknowledged; an index key is the prefix, the custodian, the item id.
func provenanceUnacknowledgedListing(arg []byte) (Listing, bool) {
	if !itemIDOK(arg) {
		return Listing{}, false
	}
	order := string(arg)
	prefix := ProvenanceAwaitingAckPrefix(order)
	return Listing{Prefix: prefix, Entry: "item", RecordKey: func(k []byte) []byte {
		if len(k) <= len(prefix)+AddressSize {
			return nil
		}
		return ProvenanceItemKey(ProvenanceAwaitingAckItem(order, k))
	}}, true
}

func govOpenListing([]byte) (Listing, bool) {
	return Listing{Prefix: GovOpenPrefix(), Entry: "proposal", RecordKey: GovProposalOfOpenKey}, true
}
