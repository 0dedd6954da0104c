package app_test

import (
	"encoding/binary"
	"fmt"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	"github.com/tallyledger/tally/store"
)

// A listing longer than one page is read to its end: each page holds at
// most a thousand records and the next_key of the last, and asking again
// with the argument and after = that key gives the rest, each record proven,
// the last page marked complete. (Before, /agency/members and the other
// a.list paths took no continuation, so entries past the first thousand
// could never be read.)
func TestListPastOnePageIsReadableToTheEnd(t *testing.T) {
	const extra = 1_005
	g := testGenesis()
	for i := range extra {
		k := keyFor(fmt.Sprintf("bulk/%d", i))
		g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: k.pub, AgencyId: agRegulator,
			Roles: []agencyv1.Role{agencyv1.Role_ROLE_INSPECTOR}, Status: agencyv1.Status_STATUS_ACTIVE})
	}
	c := openChain(t, store.NewMemory(), app.Options{})
	c.initChain(g)
	c.block()
	want := extra + 2 // the regulator's admin and inspector

	seen := map[string]bool{}
	data := listData(agRegulator)
	pages := 0
	for {
		res := c.query(api.PathMembers, data)
		require.Zero(t, res.Code, res.Log)
		page := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, page))
		require.LessOrEqual(t, len(page.Entries), 1000, "a page is capped")
		for _, e := range page.Entries {
			require.False(t, seen[string(e.Key)], "page %d repeats %x", pages, e.Key)
			seen[string(e.Key)] = true
		}
		pages++
		if len(page.NextKey) == 0 {
			require.True(t, page.Complete, "the last page says the list is complete")
			break
		}
		require.False(t, page.Complete)
		data = api.ListData([]byte(agRegulator), page.NextKey, 0)
	}
	require.Equal(t, 2, pages)
	require.Len(t, seen, want, "every member was listed once")

	// Proven pages: the second page's records verify against the app hash.
	res, err := c.app.Query(t.Context(), &abci.RequestQuery{Path: api.PathMembers, Data: data, Prove: true})
	require.NoError(t, err)
	page := &appv1.ProvedList{}
	require.NoError(t, proto.Unmarshal(res.Value, page))
	require.Len(t, page.Entries, want-1000)
	for _, e := range page.Entries {
		p := &ics23.CommitmentProof{}
		require.NoError(t, p.Unmarshal(e.Proof))
		require.NoError(t, client.VerifyProof(c.hashes[res.Height], e.Key, e.Value, p))
	}

	bad := c.query(api.PathMembers, api.ListData([]byte(agRegulator), []byte("ag/m/treasury/"), 0))
	requireCode(t, app.ErrInvalidQuery, bad.Codespace, bad.Code, bad.Log, "continuation key is not from this listing")
}

// A lineage page walks the lineage from its start, so where it starts is
// bounded: a huge position is refused with a coded error, not walked.
func TestLineageOffsetIsBounded(t *testing.T) {
	c := newChain(t)
	c.block()
	arg := api.LineageArg(provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, "lgtin:1.A")
	res := c.query(api.PathProvenanceLineage, api.ListData(arg, binary.BigEndian.AppendUint64(nil, 1<<40), 0))
	requireCode(t, app.ErrInvalidQuery, res.Codespace, res.Code, res.Log, "past the deepest lineage page")
}

// The client's copy of every listing's key layout (client.ListingOf) is the
// app's: a page of each, read with proofs, passes client.VerifyPage, and
// one with a record taken out does not. The listing helpers of the other
// tests check members, gov proposals and votes, tax receipts, payment
// histories and item histories the same way; this covers the rest.
func TestRangeProofsOfBalancesAndTaxTypes(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block(c.tx(mOfficer, msgAppropriate("SA/L", 1_000_000), msgAllocate(mBenefits, 1_000)))
	list := c.requireListingProven(api.PathFundsBalances, listData(""))
	require.NotEmpty(t, list.Entries)
	l, _, ok := client.ListingOf(api.PathFundsBalances, listData(""))
	require.True(t, ok)
	list.Entries = list.Entries[1:]
	_, err := client.VerifyPage(c.hashes[c.height], "the app hash", l, nil, list)
	require.ErrorContains(t, err, "left out")

	tc := newTaxChain(t)
	require.NotEmpty(t, tc.requireListingProven(api.PathTaxTypes, listData("")).Entries)
}

// Every listing pages the same way: read with a ListRequest limit of one
// record, so each is longer than a page, every listing (api.Routes' Page
// routes) reaches each of its records exactly once, in the order one
// whole page gives them, ends with complete, and every page is proven: each
// record against the app hash, and for a key-range listing the page's
// range proofs (client.ListingOf, client.VerifyPage), so no record is left
// out. The lineage walk and a receipt's amendments are paged too; they
// are checked by their links (their records name each other) instead.
func TestEveryListingPagesToItsEndWithASmallLimit(t *testing.T) {
	c := newRecordWorld(t)
	args := map[string][]byte{
		api.PathMembers:                   []byte(mBenefits),
		api.PathFundsBalances:             nil,
		api.PathFundsTraceDown:            []byte("1"),
		api.PathBenefitsProgrammes:        nil,
		api.PathBenefitsEnrolments:        []byte(fzProgramme),
		api.PathBenefitsHistory:           []byte(wdProgramme + "/" + pseud("r2")),
		api.PathTaxReceipt:                []byte(wdAmended),
		api.PathTaxTypes:                  nil,
		api.PathTaxTotals:                 []byte("VAT"),
		api.PathTaxReceipts:               []byte("VAT/" + wdPeriod),
		api.PathProvenanceHistory:         []byte(fzItem),
		api.PathProvenanceAttestations:    []byte(wdPart0),
		api.PathProvenanceLineage:         api.LineageArg(provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, fzItem),
		api.PathProvenanceHeld:            mProducer.addr,
		api.PathProvenanceOffers:          mCollector.addr,
		api.PathProvenanceUnacknowledged:  []byte(wdRecall),
		api.PathGovProposals:              nil,
		api.PathGovOpenProposals:          nil,
		api.PathGovVotes:                  []byte("1"),
		api.PathGovMandates:               nil,
		api.PathGovValidators:             nil,
		api.PathGovMisbehaviours:          nil,
		api.PathGovValidatorMisbehaviours: []byte(hexAddr(genesisVals[1])),
	}
	read := func(path string, data []byte) *appv1.ProvedList {
		t.Helper()
		res, err := c.app.Query(t.Context(), &abci.RequestQuery{Path: path, Data: data, Prove: true})
		require.NoError(t, err)
		require.Zero(t, res.Code, "%s: %s", path, res.Log)
		page := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, page))
		root := c.hashes[res.Height]
		for _, e := range page.Entries {
			value := e.Value
			if len(value) == 0 {
				value = nil
			}
			require.NoError(t, client.ProvenValue(root, e.Key, value, e.Proof), "%s: record %q", path, e.Key)
		}
		if l, after, ok := client.ListingOf(path, data); ok {
			_, err := client.VerifyPage(root, "the app hash", l, after, page)
			require.NoError(t, err, "%s: range proofs", path)
		} else {
			require.False(t, isKeyRangeListing(path), "%s is a listing client.ListingOf does not know", path)
		}
		return page
	}
	listings := 0
	for _, r := range api.Routes() {
		if r.Answer != api.Page {
			continue
		}
		listings++
		arg, ok := args[r.Path]
		require.True(t, ok, "%s is a listing this test does not walk: give it an argument here", r.Path)
		t.Run(r.Path, func(t *testing.T) {
			head := 0
			if l, _, ok := client.ListingOf(r.Path, api.ListData(arg, nil, 0)); ok {
				head = len(l.Head)
			}
			whole := read(r.Path, api.ListData(arg, nil, 0))
			require.True(t, whole.Complete, "one page of the default size holds it all")
			require.Greater(t, len(whole.Entries)-head, 1, "the listing is longer than a page of one record")

			var got [][]byte
			seen := map[string]bool{}
			var after []byte
			pages := 0
			for {
				page := read(r.Path, api.ListData(arg, after, 1))
				pages++
				entries := page.Entries
				if pages > 1 && r.Path != api.PathTaxReceipt { // a receipt's later pages hold amendments only
					require.GreaterOrEqual(t, len(entries), head)
					entries = entries[head:]
				}
				for _, e := range entries {
					require.False(t, seen[string(e.Key)], "page %d repeats %q", pages, e.Key)
					seen[string(e.Key)] = true
					got = append(got, e.Key)
				}
				if len(page.NextKey) == 0 {
					require.True(t, page.Complete, "the last page says the listing is complete")
					break
				}
				require.False(t, page.Complete)
				require.Less(t, pages, 100, "the listing does not end")
				after = page.NextKey
			}
			var want [][]byte
			for _, e := range whole.Entries {
				want = append(want, e.Key)
			}
			require.Equal(t, want, got, "paging one record at a time gives every record once, in order")
			require.Greater(t, pages, 1)
		})
	}
	require.Equal(t, len(args), listings, "every listing in the table is a Page route")
}
