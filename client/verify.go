package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// Verified says what an answer was checked against.
type Verified struct {
	ChainID string
	// StateHeight is the state version read. Its app hash is in the header
	// of the next block, HeaderHeight.
	StateHeight  int64
	HeaderHeight int64
	HeaderHash   []byte
	HeaderTime   time.Time
	AppHash      []byte
	// Primary answered; Witnesses are those the light client compares
	// every newly verified header with.
	Primary   string
	Witnesses []string
}

// Answer is one record read with its proof checked: Value is the record
// at Key, or nil when the proof showed the key absent.
type Answer struct {
	Path       string
	Key        []byte
	Value      []byte
	ProofBytes int // size of the proof the primary sent
	Verified
}

// ListAnswer is a list query's answer: every entry's proof checked.
type ListAnswer struct {
	Path    string
	Prefix  []byte
	Entries []Entry
	// Complete is false when the node stopped at its page size; the
	// entries given are proven, the rest were not asked for.
	Complete bool
	// NextKey continues a listing: the after of its next page.
	NextKey []byte
	// RangeProven is true when the page's range proofs showed that it
	// leaves no record out (VerifyPage), for listings the client knows the
	// layout of (ListingOf): then Complete is proven too.
	RangeProven bool
	ProofBytes  int
	Verified
}

// Entry is one proven record of a list; Value nil means proven absent.
type Entry struct{ Key, Value []byte }

// pin chooses the verified header a read is checked against: for height
// 0 the newest verified header (synced if older than MaxAge), reading the
// state it commits to; for height > 0 the header of height+1.
func (c *LightClient) pin(ctx context.Context, height int64) (*types.LightBlock, int64, error) {
	if height > 0 {
		lb, err := c.Header(ctx, height+1)
		return lb, height, err
	}
	lb, err := c.fresh(ctx)
	if err != nil {
		return nil, 0, err
	}
	if lb.Height < 2 { // header 1 commits to genesis, which has no committed state to query
		if lb, err = c.Header(ctx, 2); err != nil {
			return nil, 0, err
		}
	}
	return lb, lb.Height - 1, nil
}

func (c *LightClient) verifiedBy(lb *types.LightBlock, primary *node) Verified {
	var hash []byte // header hashing is a share of a warm read's CPU: once per header
	if last := c.lastHash.Load(); last != nil && last.lb == lb {
		hash = last.hash
	} else {
		hash = lb.Hash()
		c.lastHash.Store(&headerHash{lb, hash})
	}
	return Verified{
		ChainID: c.chainID, StateHeight: lb.Height - 1, HeaderHeight: lb.Height, HeaderHash: hash,
		HeaderTime: lb.Time, AppHash: lb.AppHash, Primary: primary.addr, Witnesses: c.Witnesses(),
	}
}

type headerHash struct {
	lb   *types.LightBlock
	hash []byte
}

// Get reads one record by query path and checks the answer: the node must
// prove key — the state key the request implies — present with the value
// it returned, or absent, against the app hash of a header the light
// client verified. height 0 reads the newest verified state. A proven
// absence returns the Answer with ErrNotFound.
func (c *LightClient) Get(ctx context.Context, path string, data, key []byte, height int64) (*Answer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, err
	}
	return c.getAt(ctx, lb, h, path, data, key)
}

func (c *LightClient) getAt(ctx context.Context, lb *types.LightBlock, h int64, path string, data, key []byte) (*Answer, error) {
	n := c.primaryNode()
	r, err := n.proveQuery(ctx, path, data, h)
	if err != nil {
		return nil, fmt.Errorf("query %s to %s: %w", path, n.addr, err)
	}
	absent := r.Codespace == notFoundCodespace && r.Code == notFoundCode
	if r.Code != 0 && !absent {
		return nil, fmt.Errorf("query %s: the node refused: %s (code %s/%d)", path, r.Log, r.Codespace, r.Code)
	}
	ans := &Answer{Path: path, Key: key, Verified: c.verifiedBy(lb, n)}
	if int64(r.Height) != h {
		return nil, &Refusal{Check: CheckHeight, Reason: fmt.Sprintf("asked for state at height %d, the primary answered for %d", h, r.Height)}
	}
	if !bytes.Equal(r.Key, key) {
		return nil, &Refusal{Check: CheckKey, Reason: fmt.Sprintf("the primary answered for key %s but the request implies key %s", fmtKey(r.Key), fmtKey(key))}
	}
	if r.ProofOps == nil || len(r.ProofOps.Ops) != 1 || r.ProofOps.Ops[0].Type != ProofOpType {
		return nil, &Refusal{Check: CheckProof, Reason: fmt.Sprintf("the primary sent no %s proof", ProofOpType)}
	}
	var value []byte
	switch {
	case absent && len(r.Value) > 0:
		return nil, &Refusal{Check: CheckProof, Reason: "the primary said the record is absent yet returned a value"}
	case !absent:
		value = r.Value
		if value == nil {
			value = []byte{}
		}
	}
	proofBytes := r.ProofOps.Ops[0].Data
	if err := verifyProof(lb, key, value, proofBytes); err != nil {
		return nil, err
	}
	ans.Value, ans.ProofBytes = value, len(proofBytes)
	if absent {
		return ans, ErrNotFound
	}
	return ans, nil
}

// List reads a list answer (an appv1.ProvedList; for a listing, one page:
// data is api.ListData) and checks each entry's proof against the same
// verified header. Every entry key must start with entryPrefix (the kind
// of record the list is of; nil allows any). For the listings ListingOf
// knows, the page's range proofs must show that no record was left out
// (RangeProven), and each record must be the one its index key points at,
// as the route table lays the listing out: prefix and entryPrefix may then
// be nil, the answer's prefix being checked against the table's.
func (c *LightClient) List(ctx context.Context, path string, data, prefix, entryPrefix []byte, height int64) (*ListAnswer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, err
	}
	return c.listAt(ctx, lb, h, path, data, prefix, entryPrefix)
}

func (c *LightClient) listAt(ctx context.Context, lb *types.LightBlock, h int64, path string, data, prefix, entryPrefix []byte) (*ListAnswer, error) {
	n := c.primaryNode()
	r, err := n.proveQuery(ctx, path, data, h)
	if err != nil {
		return nil, fmt.Errorf("query %s to %s: %w", path, n.addr, err)
	}
	if r.Code != 0 {
		return nil, fmt.Errorf("query %s: the node refused: %s (code %s/%d)", path, r.Log, r.Codespace, r.Code)
	}
	if int64(r.Height) != h {
		return nil, &Refusal{Check: CheckHeight, Reason: fmt.Sprintf("asked for state at height %d, the primary answered for %d", h, r.Height)}
	}
	l, after, described := ListingOf(path, data)
	if prefix == nil && described {
		prefix = l.Prefix
	}
	if prefix != nil && !bytes.Equal(r.Key, prefix) {
		return nil, &Refusal{Check: CheckKey, Reason: fmt.Sprintf("the primary answered for prefix %s but the request implies %s", fmtKey(r.Key), fmtKey(prefix))}
	}
	list := &appv1.ProvedList{}
	if err := proto.Unmarshal(r.Value, list); err != nil {
		return nil, &Refusal{Check: CheckProof, Reason: "the list answer does not decode: " + err.Error()}
	}
	ans := &ListAnswer{Path: path, Prefix: prefix, Complete: list.Complete, NextKey: list.NextKey, Verified: c.verifiedBy(lb, n)}
	seen := map[string]bool{}
	for i, e := range list.Entries {
		if !bytes.HasPrefix(e.Key, entryPrefix) {
			return nil, &Refusal{Check: CheckKey, Reason: fmt.Sprintf("list entry %d is key %s, not a record under %s", i, fmtKey(e.Key), fmtKey(entryPrefix))}
		}
		if seen[string(e.Key)] {
			return nil, &Refusal{Check: CheckList, Reason: fmt.Sprintf("list entry %d repeats key %s", i, fmtKey(e.Key))}
		}
		seen[string(e.Key)] = true
		if len(e.Proof) == 0 {
			return nil, &Refusal{Check: CheckProof, Reason: fmt.Sprintf("list entry %s has no proof", fmtKey(e.Key))}
		}
		if err := verifyProof(lb, e.Key, e.Value, e.Proof); err != nil {
			var r *Refusal
			if errors.As(err, &r) {
				r.Reason = fmt.Sprintf("list entry %d: %s", i, r.Reason)
			}
			return nil, err
		}
		ans.Entries = append(ans.Entries, Entry{Key: e.Key, Value: e.Value})
		ans.ProofBytes += len(e.Proof)
	}
	if described {
		if _, err := VerifyPage(lb.AppHash, fmt.Sprintf("app hash %X of verified header %d", []byte(lb.AppHash), lb.Height), l, after, list); err != nil {
			return nil, err
		}
		ans.RangeProven = true
		for _, p := range list.RangeProofs {
			ans.ProofBytes += len(p)
		}
	}
	return ans, nil
}

// listAllAt reads every page of a listing (arg its ListRequest arg) at
// height h against the verified header lb, as listAt checks each page, and
// returns the pages' entries in one answer.
func (c *LightClient) listAllAt(ctx context.Context, lb *types.LightBlock, h int64, path string, arg, prefix, entryPrefix []byte) (*ListAnswer, error) {
	var all *ListAnswer
	var after []byte
	for {
		page, err := c.listAt(ctx, lb, h, path, api.ListData(arg, after, 0), prefix, entryPrefix)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = page
		} else {
			all.Entries = append(all.Entries, page.Entries...)
			all.ProofBytes += page.ProofBytes
			all.RangeProven = all.RangeProven && page.RangeProven
			all.Complete, all.NextKey = page.Complete, page.NextKey
		}
		if len(page.NextKey) == 0 {
			return all, nil
		}
		if len(all.Entries) > maxListAll {
			return nil, fmt.Errorf("query %s: more than %d entries", path, maxListAll)
		}
		after = page.NextKey
	}
}

// verifyProof checks an ICS23 proof of key (with value, or absent when
// value is nil) against the app hash in lb, saying in plain words which
// part failed (checkProof).
func verifyProof(lb *types.LightBlock, key, value, proofBytes []byte) error {
	return checkProof(lb.AppHash, fmt.Sprintf("app hash %X of verified header %d", []byte(lb.AppHash), lb.Height), key, value, proofBytes)
}

// iavlPrehashedSpec is ics23's IAVL spec with the value hashed by the
// caller (prehashLeaf) rather than by the leaf operation. IAVL hashes every
// value into its leaf, the empty value too, but ics23 refuses to hash an
// empty value, which would make index entries (stored with empty values)
// and every absence proof next to one unverifiable. Hashing the value first
// and checking with PrehashValue NO_HASH computes exactly the same leaf
// hash, so the check is as strict as ics23's own.
var iavlPrehashedSpec = func() *ics23.ProofSpec {
	spec := *ics23.IavlSpec
	leaf := *spec.LeafSpec
	leaf.PrehashValue = ics23.HashOp_NO_HASH
	spec.LeafSpec = &leaf
	return &spec
}()

// prehashLeaf rewrites an IAVL existence proof (nil is allowed: no
// neighbour on that side) for iavlPrehashedSpec.
func prehashLeaf(ep *ics23.ExistenceProof) error {
	if ep == nil {
		return nil
	}
	// The IAVL-specific shape checks (heights, sizes and versions in each
	// step's prefix) run only against ics23's own IavlSpec.
	if err := ep.CheckAgainstSpec(ics23.IavlSpec); err != nil {
		return fmt.Errorf("it does not have the shape of an IAVL proof: %w", err)
	}
	h := sha256.Sum256(ep.Value)
	leaf := *ep.Leaf
	leaf.PrehashValue = ics23.HashOp_NO_HASH
	ep.Leaf, ep.Value = &leaf, h[:]
	return nil
}

// fmtKey prints a state key as refusals name it (api.FormatKey).
func fmtKey(k []byte) string { return api.FormatKey(k) }

// GetProto reads one record with Get and decodes it into m.
func (c *LightClient) GetProto(ctx context.Context, path string, data, key []byte, height int64, m proto.Message) (*Answer, error) {
	ans, err := c.Get(ctx, path, data, key, height)
	if err != nil {
		return ans, err
	}
	if err := proto.Unmarshal(ans.Value, m); err != nil {
		return ans, &Refusal{Check: CheckRecord, Reason: fmt.Sprintf("the proven record at %s does not decode as %T: %v", fmtKey(key), m, err)}
	}
	return ans, nil
}

// Account reads an account record, verified.
func (c *LightClient) Account(ctx context.Context, addr []byte, height int64) (*agencyv1.Account, *Answer, error) {
	if len(addr) != api.AddressSize {
		return nil, nil, fmt.Errorf("an address is %d bytes; got %d", api.AddressSize, len(addr))
	}
	acc := &agencyv1.Account{}
	ans, err := c.GetProto(ctx, api.PathAccount, addr, api.AccountKey(addr), height, acc)
	if err != nil {
		return nil, ans, err
	}
	return acc, ans, nil
}

// Agency reads an agency record, verified.
func (c *LightClient) Agency(ctx context.Context, id string, height int64) (*agencyv1.Agency, *Answer, error) {
	ag := &agencyv1.Agency{}
	ans, err := c.GetProto(ctx, api.PathAgency, []byte(id), api.AgencyKey(id), height, ag)
	if err != nil {
		return nil, ans, err
	}
	return ag, ans, nil
}

// Params reads the chain's transaction parameters, verified.
func (c *LightClient) Params(ctx context.Context, height int64) (*appv1.Params, *Answer, error) {
	p := &appv1.Params{}
	ans, err := c.GetProto(ctx, api.PathParams, nil, api.ParamsKey(), height, p)
	if err != nil {
		return nil, ans, err
	}
	return p, ans, nil
}

// Key reads any raw state key, verified.
func (c *LightClient) Key(ctx context.Context, key []byte, height int64) (*Answer, error) {
	if len(key) == 0 {
		return nil, errors.New("give the state key to read")
	}
	return c.Get(ctx, api.PathKey, key, key, height)
}

// Members lists an agency's member accounts, each proven, reading every
// page of the listing at one height, and checks the list is complete: the
// pages' range proofs show no member left out, and the count must equal the
// member count in the agency's own (proven) record.
func (c *LightClient) Members(ctx context.Context, id string, height int64) ([]*agencyv1.Account, *ListAnswer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	agAns, err := c.getAt(ctx, lb, h, api.PathAgency, []byte(id), api.AgencyKey(id))
	if err != nil {
		return nil, nil, fmt.Errorf("agency %q: %w", id, err)
	}
	ag := &agencyv1.Agency{}
	if err := proto.Unmarshal(agAns.Value, ag); err != nil {
		return nil, nil, &Refusal{Check: CheckRecord, Reason: "the proven agency record does not decode: " + err.Error()}
	}
	list, err := c.listAllAt(ctx, lb, h, api.PathMembers, []byte(id), nil, nil) // laid out by its route (ListingOf)
	if err != nil {
		return nil, nil, err
	}
	var accs []*agencyv1.Account
	for _, e := range list.Entries {
		acc := &agencyv1.Account{}
		if e.Value == nil {
			return nil, nil, &Refusal{Check: CheckList, Reason: fmt.Sprintf("member %s is proven absent", fmtKey(e.Key))}
		}
		if err := proto.Unmarshal(e.Value, acc); err != nil {
			return nil, nil, &Refusal{Check: CheckRecord, Reason: fmt.Sprintf("member %s does not decode: %v", fmtKey(e.Key), err)}
		}
		if acc.AgencyId != id || !bytes.Equal(api.AccountKey(acc.Address), e.Key) {
			return nil, nil, &Refusal{Check: CheckRecord, Reason: fmt.Sprintf("listed account %s belongs to agency %q, not %q", fmtKey(e.Key), acc.AgencyId, id)}
		}
		accs = append(accs, acc)
	}
	if list.Complete && uint64(len(accs)) != ag.MemberCount {
		return nil, nil, &Refusal{Check: CheckList, Reason: fmt.Sprintf(
			"the primary listed %d members of %q but the agency's proven record counts %d: members were left out", len(accs), id, ag.MemberCount)}
	}
	list.ProofBytes += agAns.ProofBytes
	return accs, list, nil
}
