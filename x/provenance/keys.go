package provenance

import (
	"github.com/tallyledger/tally/store"
)

// State layout. Every record and index lives in the one IAVL tree, so each
// is provable against the app hash. <lp id> is an identifier preceded by
// its length in one byte (ids are at most 128 bytes), so one id's prefix
// never covers another's; addresses are a fixed 20 bytes.
//
//	pv/params                               → Params
//	pv/i/<item id>                          → Item
//	pv/h/<lp item id><seq 8 bytes BE>       → Event: the item's append-only history, in order
//	pv/a/<lp item id><seq 8 bytes BE>       → Attestation, in order
//	pv/c/<custodian 20 bytes><item id>      → empty: items an account holds
//	pv/o/<lp item id>                       → Offer: the item's latest custody offer
//	pv/r/<receiver 20 bytes><item id>       → empty: open offers made to an account
//	pv/x/<expiry unix s 8 bytes BE><item id>→ empty: open offers by expiry time
//	pv/acc/<inspector 20 bytes>             → Accreditation
//	pv/ro/<order id>                        → RecallOrder
//	pv/ru/<lp order id><custodian><item id> → empty: recalled items whose custodian has not acknowledged
//	pv/q/<seq 8 bytes BE>                   → RecallTask: recall propagation queue, oldest first
//	pv/qn                                   → next queue sequence number (8 bytes BE)
//	pv/loc/<location code>                  → Location: the code's registered name
var (
	keyParams           = []byte("pv/params")
	prefixItem          = []byte("pv/i/")
	prefixHistory       = []byte("pv/h/")
	prefixAttestation   = []byte("pv/a/")
	prefixHeld          = []byte("pv/c/")
	prefixOffer         = []byte("pv/o/")
	prefixOfferTo       = []byte("pv/r/")
	prefixOfferExpiry   = []byte("pv/x/")
	prefixAccreditation = []byte("pv/acc/")
	prefixRecallOrder   = []byte("pv/ro/")
	prefixAwaitingAck   = []byte("pv/ru/")
	prefixQueue         = []byte("pv/q/")
	keyQueueNext        = []byte("pv/qn")
	prefixLocation      = []byte("pv/loc/")
)

// lp is s preceded by its length. Callers pass validated ids (≤ 128 bytes).
func lp(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// LocationKey is the state key of a location code's registered name.
func LocationKey(code string) []byte { return store.Key(prefixLocation, []byte(code)) }

// ParamsKey is the state key of the module's parameters.
func ParamsKey() []byte { return keyParams }

// ItemKey is the state key of an item record.
func ItemKey(id string) []byte { return store.Key(prefixItem, []byte(id)) }

// HistoryPrefix is the prefix of an item's history log.
func HistoryPrefix(id string) []byte { return store.Key(prefixHistory, lp(id)) }

// HistoryKey is the state key of one history entry.
func HistoryKey(id string, seq uint64) []byte { return store.Key(HistoryPrefix(id), store.Uint64(seq)) }

// AttestationPrefix is the prefix of an item's attestations.
func AttestationPrefix(id string) []byte { return store.Key(prefixAttestation, lp(id)) }

// AttestationKey is the state key of one attestation.
func AttestationKey(id string, seq uint64) []byte {
	return store.Key(AttestationPrefix(id), store.Uint64(seq))
}

// HeldPrefix is the prefix of the index of items an account holds.
func HeldPrefix(addr []byte) []byte { return store.Key(prefixHeld, addr) }

// HeldKey is one entry of the held-items index.
func HeldKey(addr []byte, id string) []byte { return store.Key(prefixHeld, addr, []byte(id)) }

// OfferKey is the state key of an item's latest offer.
func OfferKey(id string) []byte { return store.Key(prefixOffer, lp(id)) }

// OffersToPrefix is the prefix of the index of open offers made to an account.
func OffersToPrefix(addr []byte) []byte { return store.Key(prefixOfferTo, addr) }

// OfferToKey is one entry of the open-offers index.
func OfferToKey(addr []byte, id string) []byte { return store.Key(prefixOfferTo, addr, []byte(id)) }

// offerExpiryKey is one entry of the expiry index. Block times before 1970
// do not occur; a negative time sorts as zero.
func offerExpiryKey(expires int64, id string) []byte {
	if expires < 0 {
		expires = 0
	}
	return store.Key(prefixOfferExpiry, store.Uint64(uint64(expires)), []byte(id))
}

// AccreditationKey is the state key of an inspector's accreditation.
func AccreditationKey(inspector []byte) []byte { return store.Key(prefixAccreditation, inspector) }

// RecallOrderKey is the state key of a recall order.
func RecallOrderKey(id string) []byte { return store.Key(prefixRecallOrder, []byte(id)) }

// AwaitingAckPrefix is the prefix of a recall order's unacknowledged items,
// ordered by custodian.
func AwaitingAckPrefix(orderID string) []byte { return store.Key(prefixAwaitingAck, lp(orderID)) }

// AwaitingAckKey is one entry of the unacknowledged index.
func AwaitingAckKey(orderID string, custodian []byte, itemID string) []byte {
	return store.Key(AwaitingAckPrefix(orderID), custodian, []byte(itemID))
}

// AwaitingAckItem returns the item id of an entry under AwaitingAckPrefix(orderID).
func AwaitingAckItem(orderID string, key []byte) string {
	return string(key[len(AwaitingAckPrefix(orderID))+addressSize:])
}

func queueKey(seq uint64) []byte { return store.Key(prefixQueue, store.Uint64(seq)) }
