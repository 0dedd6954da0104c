package app_test

import (
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
// with the argument, 0x00 and that key gives the rest, each record proven,
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
	data := []byte(agRegulator)
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
		data = append(append([]byte(agRegulator), 0), page.NextKey...)
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

	bad := c.query(api.PathMembers, append([]byte(agRegulator+"\x00"), []byte("ag/m/treasury/")...))
	requireCode(t, app.ErrInvalidQuery, bad.Codespace, bad.Code, bad.Log, "continuation key is not from this listing")
}

// A lineage page walks the lineage from its start, so its offset is
// bounded: a huge offset is refused with a coded error, not walked.
func TestLineageOffsetIsBounded(t *testing.T) {
	c := newChain(t)
	c.block()
	data, err := proto.Marshal(&provenancev1.LineageQuery{ItemId: "lgtin:1.A", Direction: provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, Offset: 1 << 40})
	require.NoError(t, err)
	res := c.query(api.PathProvenanceLineage, data)
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
	list := c.requireListingProven(api.PathFundsBalances, nil)
	require.NotEmpty(t, list.Entries)
	l, _, ok := client.ListingOf(api.PathFundsBalances, nil)
	require.True(t, ok)
	list.Entries = list.Entries[1:]
	_, err := client.VerifyPage(c.hashes[c.height], "the app hash", l, nil, list)
	require.ErrorContains(t, err, "left out")

	tc := newTaxChain(t)
	require.NotEmpty(t, tc.requireListingProven(api.PathTaxTypes, nil).Entries)
}
