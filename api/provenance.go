package api

import "bytes"

// Provenance query paths. Single-record paths answer with a.single; the
// others answer a ProvedList whose every entry carries its own proof.
// The listings take a ListRequest (ListData) whose arg is the item id, the
// account address or the recall order id, and lineage LineageArg.
const (
	PathProvenanceItem          = "/provenance/item"          // data: item id → Item
	PathProvenanceOffer         = "/provenance/offer"         // data: item id → its latest Offer
	PathProvenanceAccreditation = "/provenance/accreditation" // data: 20-byte inspector address → Accreditation
	PathProvenanceRecall        = "/provenance/recall"        // data: recall order id → RecallOrder
	PathProvenanceParams        = "/provenance/params"        // data: none → Params
	PathProvenanceLocation      = "/provenance/location"      // data: location code → Location (its registered name)
	// History answers the Item first, then its Events in order: the item's
	// event count lets a client check that none is missing.
	PathProvenanceHistory = "/provenance/history" // ListRequest arg: item id
	// Attestations answers the Item first, then its Attestations in order.
	PathProvenanceAttestations = "/provenance/attestations" // ListRequest arg: item id
	// Lineage answers the Items of a breadth-first walk up or down the
	// lineage graph; each record names its parents and children, so a
	// client can check the walk.
	PathProvenanceLineage = "/provenance/lineage" // ListRequest arg: LineageArg
	// Held answers the Items whose custodian is the address.
	PathProvenanceHeld = "/provenance/held" // ListRequest arg: 20-byte address
	// Offers answers the open Offers made to the address.
	PathProvenanceOffers = "/provenance/offers" // ListRequest arg: 20-byte address
	// Unacknowledged answers the recalled Items of an order whose custodian
	// has not acknowledged, ordered by custodian.
	PathProvenanceUnacknowledged = "/provenance/unacknowledged" // ListRequest arg: recall order id
)

// Provenance state. <lp id> is an identifier preceded by its length in one
// byte (ids are at most 128 bytes), so one id's prefix never covers
// another's; addresses are a fixed 20 bytes.
//
//	pv/params                               → tally.provenance.v1.Params
//	pv/i/<item id>                          → Item
//	pv/h/<lp item id><seq 8 bytes BE>       → Event: the item's append-only history, in order from 1
//	pv/a/<lp item id><seq 8 bytes BE>       → Attestation, in order from 1
//	pv/c/<custodian 20 bytes><item id>      → index: items an account holds
//	pv/o/<lp item id>                       → Offer: the item's latest custody offer
//	pv/r/<receiver 20 bytes><item id>       → index: open offers made to an account
//	pv/x/<expiry unix s 8 bytes BE><item id>→ index: open offers by expiry time
//	pv/acc/<inspector 20 bytes>             → Accreditation
//	pv/ro/<order id>                        → RecallOrder
//	pv/ru/<lp order id><custodian><item id> → index: recalled items whose custodian has not acknowledged
//	pv/q/<seq 8 bytes BE>                   → RecallTask: recall propagation queue, oldest first
//	pv/qn                                   → next queue sequence number (8 bytes BE)
//	pv/loc/<location code>                  → Location: the code's registered name
var (
	keyProvParams           = []byte("pv/params")
	prefixProvItem          = []byte("pv/i/")
	prefixProvHistory       = []byte("pv/h/")
	prefixProvAttestation   = []byte("pv/a/")
	prefixProvHeld          = []byte("pv/c/")
	prefixProvOffer         = []byte("pv/o/")
	prefixProvOfferTo       = []byte("pv/r/")
	prefixProvOfferExpiry   = []byte("pv/x/")
	prefixProvAccreditation = []byte("pv/acc/")
	prefixProvRecallOrder   = []byte("pv/ro/")
	prefixProvAwaitingAck   = []byte("pv/ru/")
	prefixProvQueue         = []byte("pv/q/")
	keyProvQueueNext        = []byte("pv/qn")
	prefixProvLocation      = []byte("pv/loc/")
)

// ProvenanceStatePrefix starts every key the provenance module keeps.
func ProvenanceStatePrefix() []byte { return []byte("pv/") }

// lp is s preceded by its length. Callers pass validated ids (≤ 128 bytes).
func lp(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// ProvenanceParamsKey is the state key of the module's parameters.
func ProvenanceParamsKey() []byte { return clone(keyProvParams) }

// ProvenanceItemKey is the state key of an item record.
func ProvenanceItemKey(id string) []byte { return Key(prefixProvItem, []byte(id)) }

// ProvenanceItemsPrefix covers every item record.
func ProvenanceItemsPrefix() []byte { return clone(prefixProvItem) }

// ProvenanceHistoryPrefix is the prefix of an item's history log.
func ProvenanceHistoryPrefix(id string) []byte { return Key(prefixProvHistory, lp(id)) }

// ProvenanceAllHistoryPrefix covers the history of every item.
func ProvenanceAllHistoryPrefix() []byte { return clone(prefixProvHistory) }

// ProvenanceHistoryKey is the state key of event seq (from 1) of an item's history.
func ProvenanceHistoryKey(id string, seq uint64) []byte {
	return Key(ProvenanceHistoryPrefix(id), Uint64(seq))
}

// ProvenanceAttestationPrefix is the prefix of an item's attestations.
func ProvenanceAttestationPrefix(id string) []byte { return Key(prefixProvAttestation, lp(id)) }

// ProvenanceAllAttestationsPrefix covers the attestations of every item.
func ProvenanceAllAttestationsPrefix() []byte { return clone(prefixProvAttestation) }

// ProvenanceAttestationKey is the state key of attestation seq (from 1) of an item.
func ProvenanceAttestationKey(id string, seq uint64) []byte {
	return Key(ProvenanceAttestationPrefix(id), Uint64(seq))
}

// ProvenanceHeldPrefix is the prefix of the index of items an account
// holds; with a nil address, of every account's.
func ProvenanceHeldPrefix(addr []byte) []byte { return Key(prefixProvHeld, addr) }

// ProvenanceHeldKey is one entry of the held-items index.
func ProvenanceHeldKey(addr []byte, id string) []byte { return Key(prefixProvHeld, addr, []byte(id)) }

// ProvenanceItemOfHeldKey maps an entry of the held-items index to the
// item record it lists (nil when it is no such entry).
func ProvenanceItemOfHeldKey(indexKey []byte) []byte {
	if !bytes.HasPrefix(indexKey, prefixProvHeld) || len(indexKey) <= len(prefixProvHeld)+AddressSize {
		return nil
	}
	return ProvenanceItemKey(string(indexKey[len(prefixProvHeld)+AddressSize:]))
}

// ProvenanceOfferKey is the state key of an item's latest offer.
func ProvenanceOfferKey(id string) []byte { return Key(prefixProvOffer, lp(id)) }

// ProvenanceOffersPrefix covers every item's latest offer.
func ProvenanceOffersPrefix() []byte { return clone(prefixProvOffer) }

// ProvenanceOffersToPrefix is the prefix of the index of open offers made
// to an account; with a nil address, to every account.
func ProvenanceOffersToPrefix(addr []byte) []byte { return Key(prefixProvOfferTo, addr) }

// ProvenanceOfferToKey is one entry of the open-offers index.
func ProvenanceOfferToKey(addr []byte, id string) []byte {
	return Key(prefixProvOfferTo, addr, []byte(id))
}

// ProvenanceOfferOfOfferToKey maps an entry of the open-offers index to
// the offer record it lists (nil when it is no such entry).
func ProvenanceOfferOfOfferToKey(indexKey []byte) []byte {
	if !bytes.HasPrefix(indexKey, prefixProvOfferTo) || len(indexKey) <= len(prefixProvOfferTo)+AddressSize {
		return nil
	}
	return ProvenanceOfferKey(string(indexKey[len(prefixProvOfferTo)+AddressSize:]))
}

// ProvenanceOfferExpiryPrefix covers the open offers by expiry time.
func ProvenanceOfferExpiryPrefix() []byte { return clone(prefixProvOfferExpiry) }

// ProvenanceOfferExpiryKey is one entry of the expiry index. Block times
// before 1970 do not occur; a negative time sorts as zero.
func ProvenanceOfferExpiryKey(expires int64, id string) []byte {
	if expires < 0 {
		expires = 0
	}
	return Key(prefixProvOfferExpiry, Uint64(uint64(expires)), []byte(id))
}

// ProvenanceOfferExpiryDueEnd is the end (exclusive) of the expiry index
// entries due at block time now: iterating from
// ProvenanceOfferExpiryPrefix to it visits every offer expiring at or
// before now. now+1 cannot wrap: the largest time, math.MaxInt64, gives
// 2^63, which 8 unsigned bytes hold. A negative now gives the prefix
// itself, so nothing is due (offer expiries sort as 0 at the earliest).
func ProvenanceOfferExpiryDueEnd(now int64) []byte {
	if now < 0 {
		return Key(prefixProvOfferExpiry)
	}
	return Key(prefixProvOfferExpiry, Uint64(uint64(now)+1))
}

// ProvenanceAccreditationKey is the state key of an inspector's accreditation.
func ProvenanceAccreditationKey(inspector []byte) []byte {
	return Key(prefixProvAccreditation, inspector)
}

// ProvenanceAccreditationsPrefix covers every accreditation.
func ProvenanceAccreditationsPrefix() []byte { return clone(prefixProvAccreditation) }

// ProvenanceRecallOrderKey is the state key of a recall order.
func ProvenanceRecallOrderKey(id string) []byte { return Key(prefixProvRecallOrder, []byte(id)) }

// ProvenanceRecallOrdersPrefix covers every recall order.
func ProvenanceRecallOrdersPrefix() []byte { return clone(prefixProvRecallOrder) }

// ProvenanceAwaitingAckPrefix is the prefix of a recall order's
// unacknowledged items, ordered by custodian.
func ProvenanceAwaitingAckPrefix(orderID string) []byte {
	return Key(prefixProvAwaitingAck, lp(orderID))
}

// ProvenanceAllAwaitingAckPrefix covers the unacknowledged items of every order.
func ProvenanceAllAwaitingAckPrefix() []byte { return clone(prefixProvAwaitingAck) }

// ProvenanceAwaitingAckKey is one entry of the unacknowledged index.
func ProvenanceAwaitingAckKey(orderID string, custodian []byte, itemID string) []byte {
	return Key(ProvenanceAwaitingAckPrefix(orderID), custodian, []byte(itemID))
}

// ProvenanceAwaitingAckItem returns the item id of an entry under
// ProvenanceAwaitingAckPrefix(orderID).
func ProvenanceAwaitingAckItem(orderID string, k []byte) string {
	return string(k[len(ProvenanceAwaitingAckPrefix(orderID))+AddressSize:])
}

// ProvenanceQueuePrefix covers the recall propagation queue, oldest first.
func ProvenanceQueuePrefix() []byte { return clone(prefixProvQueue) }

// ProvenanceQueueKey is the state key of recall task seq.
func ProvenanceQueueKey(seq uint64) []byte { return Key(prefixProvQueue, Uint64(seq)) }

// ProvenanceQueueNextKey holds the next queue sequence number (8 bytes).
func ProvenanceQueueNextKey() []byte { return clone(keyProvQueueNext) }

// ProvenanceLocationKey is the state key of a location code's registered name.
func ProvenanceLocationKey(code string) []byte { return Key(prefixProvLocation, []byte(code)) }

// ProvenanceLocationsPrefix covers every registered location name.
func ProvenanceLocationsPrefix() []byte { return clone(prefixProvLocation) }
