package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
)

// ListAll reads a listing (a path whose api.Route answer is api.Page) to
// its end at one height, a page at a time: each page asks with the same
// ListRequest, arg and the previous page's next_key (api.ListData). height
// 0 reads the latest state, and every later page is read at the height of
// the first. The entries of all pages are returned in one ProvedList (a
// listing's head records, such as the item of a history, once), with the
// height read; each page's proofs are against that height's app hash,
// checked here when prove is set: every record's proof, and for the
// listings the client knows (ListingOf) the range proofs that no record
// was left out of any page, so a complete answer is proven complete.
// Answers that are not paged (a trace, a clearance statement) come back as
// they are, arg being the query data.
func (c *Client) ListAll(ctx context.Context, path string, arg []byte, height int64, prove bool) (*appv1.ProvedList, int64, error) {
	if r, ok := api.RouteOf(path); !ok || r.Answer != api.Page {
		return c.listPage(ctx, path, arg, height, prove)
	}
	all := &appv1.ProvedList{}
	data := api.ListData(arg, nil, 0)
	for first := true; ; first = false {
		page, h, err := c.listPage(ctx, path, data, height, prove)
		if err != nil {
			return nil, 0, err
		}
		height = h
		if !first { // its head records came with the first page
			if l, _, ok := ListingOf(path, data); ok && len(page.Entries) >= len(l.Head) {
				page.Entries = page.Entries[len(l.Head):]
			}
		}
		all.Entries = append(all.Entries, page.Entries...)
		if len(page.NextKey) == 0 {
			all.Complete = page.Complete
			return all, height, nil
		}
		if len(all.Entries) > maxListAll {
			return nil, 0, fmt.Errorf("query %s: more than %d entries; read it a page at a time", path, maxListAll)
		}
		data = api.ListData(arg, page.NextKey, 0)
	}
}

// listPage reads one page of a listing, checked as QueryRecords checks it
// when prove is set, and the height it was read at.
func (c *Client) listPage(ctx context.Context, path string, data []byte, height int64, prove bool) (*appv1.ProvedList, int64, error) {
	if prove {
		page, proven, err := c.QueryRecords(ctx, path, data, height, true)
		if err != nil {
			return nil, 0, err
		}
		return page, proven.Height, nil
	}
	res, _, err := c.Query(ctx, path, data, height, false)
	if err != nil {
		return nil, 0, err
	}
	page := &appv1.ProvedList{}
	if err := proto.Unmarshal(res.Value, page); err != nil {
		return nil, 0, fmt.Errorf("query %s: the answer is not a list: %w", path, err)
	}
	return page, res.Height, nil
}

// maxListAll bounds what ListAll gathers in memory.
const maxListAll = 1_000_000

// QueryRecords reads a path whose answer is a list of records (a listing,
// a funds trace, a payment trace). With prove, every entry's proof — of
// presence, or of absence for an empty value — is checked against the app
// hash in the header of the block after the answer's height, whose commit
// is checked against the validator set the node reports, and for a listing
// the client knows (ListingOf), that the page leaves no record out
// (VerifyPage). The caller then checks that the records link up as the
// path promises.
func (c *Client) QueryRecords(ctx context.Context, path string, data []byte, height int64, prove bool) (*appv1.ProvedList, *Proven, error) {
	res, _, err := c.Query(ctx, path, data, height, prove)
	if err != nil {
		return nil, nil, err
	}
	list := &appv1.ProvedList{}
	if err := proto.Unmarshal(res.Value, list); err != nil {
		return nil, nil, fmt.Errorf("query %s: answer is not a record list: %w", path, err)
	}
	if !prove {
		return list, nil, nil
	}
	root, checked, err := c.appHashAfter(ctx, res.Height)
	if err != nil {
		return nil, nil, err
	}
	if l, after, ok := ListingOf(path, data); ok {
		if _, err := VerifyPage(root, fmt.Sprintf("app hash %X", root), l, after, list); err != nil {
			return nil, nil, fmt.Errorf("query %s: %w", path, err)
		}
	}
	for _, e := range list.Entries {
		if len(e.Proof) == 0 {
			return nil, nil, fmt.Errorf("query %s: record %x has no proof", path, e.Key)
		}
		value := e.Value
		if len(value) == 0 {
			value = nil // a proof of absence
		}
		if err := ProvenValue(root, e.Key, value, e.Proof); err != nil {
			return nil, nil, fmt.Errorf("query %s: %w", path, err)
		}
	}
	return list, &Proven{Height: res.Height, AppHash: root, HeaderChecked: checked}, nil
}

// ProvenInvariants checks the funds conservation invariant from proven
// records only: the ledger's totals and every balance at one height, each
// with its Merkle proof, summed here — no node's arithmetic is trusted.
func (c *Client) ProvenInvariants(ctx context.Context, height int64) (*fundsv1.InvariantReport, *Proven, error) {
	res, proven, err := c.Query(ctx, api.PathFundsTotals, nil, height, true)
	if err != nil {
		return nil, nil, err
	}
	if proven == nil {
		return nil, nil, fmt.Errorf("node returned no proof of the funds totals")
	}
	t := &fundsv1.Totals{}
	if err := proto.Unmarshal(res.Value, t); err != nil {
		return nil, nil, err
	}
	r := &fundsv1.InvariantReport{Totals: t}
	in, out := t.Appropriated+t.RevenueCredited, t.RevenueDebited+t.Settled
	if in < t.Appropriated || out < t.Settled || out > in {
		r.Problems = append(r.Problems, fmt.Sprintf("totals are impossible: in %d, out %d", in, out))
	} else {
		r.ExpectedBalances = in - out
	}
	var after []byte
	for {
		list, _, err := c.QueryRecords(ctx, api.PathFundsBalances, api.ListData(nil, after, 0), proven.Height, true)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range list.Entries {
			b := &fundsv1.Balance{}
			if err := proto.Unmarshal(e.Value, b); err != nil {
				return nil, nil, err
			}
			r.Holders++
			r.SumOfBalances += b.Amount
		}
		if len(list.NextKey) == 0 {
			break
		}
		after = list.NextKey
	}
	if r.SumOfBalances != r.ExpectedBalances {
		r.Problems = append(r.Problems, fmt.Sprintf("appropriated + revenue credited - revenue debited - settled = %d, but balances sum to %d", r.ExpectedBalances, r.SumOfBalances))
	}
	r.Ok = len(r.Problems) == 0
	return r, proven, nil
}
