package client

import (
	"bytes"
	"fmt"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// Listing says where a key-range listing lies in state, so a client can
// check that a page of it leaves no record out (VerifyPage): the node's
// answer is checked against these facts, never against what it says of
// itself. It is the contract's description (api.Route.Listing).
type Listing = api.Listing

// ListingOf returns the layout of the listing a query asks for and the
// key the page continues after (nil for a first page), from the query's
// path and data (an api.ListData ListRequest), as the contract's route
// table gives it (api.Route.Listing). ok is false for a path that is not
// a key-range listing (a walk such as a trace or a lineage, a receipt's
// amendments) or data that does not name one.
func ListingOf(path string, data []byte) (l Listing, after []byte, ok bool) {
	r, found := api.RouteOf(path)
	if !found || r.Listing == nil {
		return l, nil, false
	}
	req, err := api.ParseList(data)
	if err != nil {
		return l, nil, false
	}
	if l, ok = r.Listing(req.Arg); !ok {
		return l, nil, false
	}
	return l, req.After, true
}

// VerifyPage checks that a page of listing l, continuing after the key
// after (nil for the first page), leaves no record out: its range proofs,
// checked against root (an app hash, named rootName in refusals), chain
// from the page's start through every index key in the range to its end
// (next_key, or past the prefix on the last page), and the page's records,
// after the head, are exactly the records those index keys point at, in
// order. Each record's own proof is checked separately (checkProof). It
// returns the proven index keys.
func VerifyPage(root []byte, rootName string, l Listing, after []byte, page *appv1.ProvedList) ([][]byte, error) {
	refuse := func(format string, args ...any) ([][]byte, error) {
		return nil, &Refusal{Check: CheckList, Reason: fmt.Sprintf(format, args...)}
	}
	if len(page.RangeProofs) == 0 {
		return refuse("the page of %s has no range proofs, so nothing shows that no entry was left out", fmtKey(l.Prefix))
	}
	if len(after) > 0 && !bytes.HasPrefix(after, l.Prefix) {
		return refuse("the page continues after %s, which is not under the listing's prefix %s", fmtKey(after), fmtKey(l.Prefix))
	}
	cursor := l.Prefix
	if len(after) > 0 {
		cursor = successorKey(after)
	}
	var index [][]byte
	ended := false
	for i, p := range page.RangeProofs {
		if ended {
			return refuse("range proof %d comes after one that reached the end of the listing", i)
		}
		next, err := nextKeyFrom(root, rootName, cursor, p)
		if err != nil {
			return nil, err
		}
		if next == nil || !bytes.HasPrefix(next, l.Prefix) {
			ended = true
			continue
		}
		index = append(index, next)
		cursor = successorKey(next)
	}
	switch {
	case len(page.NextKey) > 0 && ended:
		return refuse("the page has a next_key but its range proofs reach the end of the listing")
	case len(page.NextKey) > 0 && (len(index) == 0 || !bytes.Equal(index[len(index)-1], page.NextKey)):
		return refuse("the page's next_key %s is not the last index key its range proofs show", fmtKey(page.NextKey))
	case len(page.NextKey) == 0 && !ended:
		return refuse("the page stops at %s without a next_key before the end of the listing: entries after it were left out", fmtKey(cursor))
	case len(page.NextKey) == 0 && !page.Complete:
		return refuse("the page's range proofs reach the end of the listing but it is not marked complete")
	}
	head := len(l.Head)
	if got, want := len(page.Entries), head+len(index); got != want {
		return refuse("the page has %d records but the range proofs show %d index keys under %s (and %d head records): records were left out or added", got, len(index), fmtKey(l.Prefix), head)
	}
	for i, k := range l.Head {
		if e := page.Entries[i]; !bytes.Equal(e.Key, k) {
			return refuse("head record %d of the page is %s; the listing's head is %s", i, fmtKey(e.Key), fmtKey(k))
		}
	}
	for i, k := range index {
		want := l.Record(k)
		if e := page.Entries[head+i]; !bytes.Equal(e.Key, want) {
			return refuse("record %d of the page is %s but index key %s points at %s", head+i, fmtKey(e.Key), fmtKey(k), fmtKey(want))
		}
	}
	return index, nil
}

// successorKey is the smallest key above k: k followed by one 0x00 byte.
func successorKey(k []byte) []byte { return append(append(make([]byte, 0, len(k)+1), k...), 0) }
