package app

import (
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
)

// sharedRecords holds signers' accounts and agencies decoded from state,
// keyed by the bytes they are stored as, for the readers that change
// nothing they get: CheckTx and its rechecks, the gossip batch
// (PreverifySignatures), the proposal screens and the block's signature
// batch (preverify). Each of them reads the signer's account (and
// authenticate its agency) for every transaction, so one transaction's
// account was decoded five to eight times a node, and a signer's every
// transaction decoded the same bytes again (README, "Measuring": with the
// route lookups authenticate made, 4.4-5.6% of the validators' CPU at
// 2,400-4,800 tx/s offered). Decoding is a function of the bytes alone,
// so a record found here is exactly what decoding would give, whatever
// state or height the bytes were read from.
//
// The records handed out are shared between goroutines and transactions:
// nothing may change them. FinalizeBlock's deliver, whose signer reaches
// the message handlers, decodes its own (agency.Keeper.Account).
type sharedRecords struct {
	accounts *decodedRecords[*agencyv1.Account]
	agencies *decodedRecords[*agencyv1.Agency]
}

// sharedAccountRecords and sharedAgencyRecords bound sharedRecords: each
// generation holds at most this many (see decodedRecords). An account as
// decoded, with its map entry and key, measured 381 bytes (two roles, a
// 24-byte display name; 4,096 of them in a throwaway test), so the
// accounts take about 3 MiB; a miss only decodes.
const (
	sharedAccountRecords = 4096
	sharedAgencyRecords  = 256
)

func newSharedRecords() *sharedRecords {
	return &sharedRecords{
		accounts: newDecodedRecords[*agencyv1.Account](sharedAccountRecords),
		agencies: newDecodedRecords[*agencyv1.Agency](sharedAgencyRecords),
	}
}

// decodedRecords maps stored bytes to the record decoded from them, in two
// generations of at most limit entries each: when the newer is full it
// becomes the older and the older is dropped, and a record found in the
// older is moved to the newer. So it holds at most 2·limit records, and
// those read again keep being found. A lookup does not copy the bytes.
type decodedRecords[T any] struct {
	mu       sync.Mutex
	cur, old map[string]T
	limit    int
}

func newDecodedRecords[T any](limit int) *decodedRecords[T] {
	return &decodedRecords[T]{cur: make(map[string]T), limit: limit}
}

func (c *decodedRecords[T]) get(bz []byte) (T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.cur[string(bz)]; ok {
		return v, true
	}
	if v, ok := c.old[string(bz)]; ok {
		delete(c.old, string(bz))
		c.putLocked(bz, v)
		return v, true
	}
	var zero T
	return zero, false
}

func (c *decodedRecords[T]) put(bz []byte, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.putLocked(bz, v)
}

func (c *decodedRecords[T]) putLocked(bz []byte, v T) {
	if len(c.cur) >= c.limit {
		c.old, c.cur = c.cur, make(map[string]T, len(c.cur))
	}
	c.cur[string(bz)] = v
}

// len is how many records it holds.
func (c *decodedRecords[T]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

// sharedAccount is agency.Keeper.Account for a reader that changes nothing
// it gets (sharedRecords): the account at addr in kv, decoded once for
// the bytes it is stored as. Errors are the keeper's.
func (a *App) sharedAccount(kv store.KV, addr []byte) (*agencyv1.Account, error) {
	if acc, ok := sharedRecord(a.shared.accounts, kv.Get(api.AccountKey(addr))); ok {
		return acc, nil
	}
	return a.agency.Account(kv, addr) // none, or bytes that do not decode: the keeper's error
}

// sharedAgency is agency.Keeper.Agency for a reader that changes nothing it
// gets, as sharedAccount.
func (a *App) sharedAgency(kv store.KV, id string) (*agencyv1.Agency, error) {
	if ag, ok := sharedRecord(a.shared.agencies, kv.Get(api.AgencyKey(id))); ok {
		return ag, nil
	}
	return a.agency.Agency(kv, id)
}

// sharedRecord is the record c holds for stored bytes bz, decoded (and
// kept) now if it holds none; false for no bytes, or bytes that do not
// decode (the caller's keeper gives the error).
func sharedRecord[T proto.Message](c *decodedRecords[T], bz []byte) (T, bool) {
	var zero T
	if bz == nil {
		return zero, false
	}
	if v, ok := c.get(bz); ok {
		return v, true
	}
	v := zero.ProtoReflect().New().Interface().(T)
	if store.DecodeProto(bz, v) != nil {
		return zero, false
	}
	c.put(bz, v)
	return v, true
}
