package app_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// TestEveryContractRouteIsServed walks api.Routes, the client contract's
// list of query paths: the app answers each one (never "no query path"),
// so a path a client builds is a path the node serves.
func TestEveryContractRouteIsServed(t *testing.T) {
	c := newChain(t)
	c.block()
	for _, r := range api.Routes() {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: r.Path})
		require.NoError(t, err)
		require.False(t, isCode(res.Codespace, res.Code, app.ErrUnknownQuery), "%s: %s", r.Path, res.Log)
	}
}

// TestRecordAnswersAreProvenAtTheContractKeys: a record answer is proven at
// exactly the key the client builds from the request with api/, and its
// value decodes as the record type api.RecordOf names for that key.
func TestRecordAnswersAreProvenAtTheContractKeys(t *testing.T) {
	c := newChain(t)
	c.block()
	for _, tt := range []struct {
		path string
		data []byte
		key  []byte
		want proto.Message
	}{
		{api.PathParams, nil, api.ParamsKey(), &appv1.Params{}},
		{api.PathAgency, []byte(agTreasury), api.AgencyKey(agTreasury), &agencyv1.Agency{}},
		{api.PathAccount, treasuryAdmin.addr, api.AccountKey(treasuryAdmin.addr), &agencyv1.Account{}},
		{api.PathKey, api.AgencyKey(agTax), api.AgencyKey(agTax), &agencyv1.Agency{}},
	} {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: tt.path, Data: tt.data, Prove: true})
		require.NoError(t, err)
		require.Zero(t, res.Code, "%s: %s", tt.path, res.Log)
		require.Equal(t, tt.key, res.Key, tt.path)
		require.Len(t, res.ProofOps.Ops, 1, tt.path)
		require.Equal(t, api.ProofOpType, res.ProofOps.Ops[0].Type, tt.path)
		require.Equal(t, tt.key, res.ProofOps.Ops[0].Key, tt.path)
		_, m, err := api.DecodeRecord(res.Key, res.Value)
		require.NoError(t, err, tt.path)
		require.IsType(t, tt.want, m, tt.path)
	}
}

// TestListEntriesDecodeByTheirKeys: every entry of a members answer is a
// record whose type api.RecordOf names by its key.
func TestListEntriesDecodeByTheirKeys(t *testing.T) {
	c := newChain(t)
	c.block()
	res := c.query(api.PathMembers, listData(agTreasury))
	require.Zero(t, res.Code, res.Log)
	list := &appv1.ProvedList{}
	require.NoError(t, proto.Unmarshal(res.Value, list))
	require.NotEmpty(t, list.Entries)
	for _, e := range list.Entries {
		kind, m, err := api.DecodeRecord(e.Key, e.Value)
		require.NoError(t, err)
		require.Equal(t, "account", kind)
		require.Equal(t, agTreasury, m.(*agencyv1.Account).AgencyId)
	}
}

// contractData is query data for every route of the contract: for a
// record route it names a record (present in the test genesis or not), for
// a list route a listing or walk.
func contractData(t *testing.T) map[string][][]byte {
	t.Helper()
	pb := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return b
	}
	addr := treasuryAdmin.addr
	one := []byte("1")
	enrolment := []byte("prog/" + strings.Repeat("ab", 32))
	return map[string][][]byte{
		api.PathKey: {api.AgencyKey(agTax), api.TaxTypeKey("VAT")}, api.PathParams: {nil}, api.PathInvariants: {nil},

		api.PathAgency: {[]byte(agTreasury), []byte("nobody")}, api.PathAccount: {addr, make([]byte, api.AddressSize)},
		api.PathMembers: {listData(agTreasury)},

		api.PathFundsParams: {nil}, api.PathFundsTotals: {nil}, api.PathFundsBalance: {[]byte(api.AgencyHolder(agTreasury))},
		api.PathFundsBalances: {listData("")}, api.PathFundsMovement: {one}, api.PathFundsTranche: {one},
		api.PathFundsAppropriation: {[]byte("APPROP-1")}, api.PathFundsRoot: {one}, api.PathFundsSettlement: {one},
		api.PathFundsTraceUp: {one}, api.PathFundsTraceDown: {listData("1")}, api.PathFundsInvariants: {nil},

		api.PathBenefitsParams: {nil}, api.PathBenefitsProgramme: {[]byte("prog")}, api.PathBenefitsProgrammes: {listData("")},
		api.PathBenefitsEnrolment: {enrolment}, api.PathBenefitsEnrolments: {listData("prog")},
		api.PathBenefitsPayment: {one}, api.PathBenefitsHistory: {api.ListData(enrolment, nil, 0)},
		api.PathBenefitsRecovery: {one}, api.PathBenefitsTrace: {one},

		api.PathTaxReceipt:   {listData("TAX-000001")},
		api.PathTaxClearance: {pb(&taxv1.ClearanceRequest{TaxType: "VAT", FromPeriod: "2026-Q1", ToPeriod: "2026-Q1", Payers: [][]byte{make([]byte, 32)}})},
		api.PathTaxType:      {[]byte("VAT")}, api.PathTaxTypes: {listData("")},
		api.PathTaxAuthorisation: {append(append([]byte(nil), addr...), "VAT"...)},
		api.PathTaxTotal:         {pb(&taxv1.TotalRequest{TaxType: "VAT", Period: "2026-Q1"}), pb(&taxv1.TotalRequest{TaxType: "VAT", Period: "2026-Q1", Collector: addr})},
		api.PathTaxTotals:        {listData("VAT")}, api.PathTaxReceipts: {listData("VAT/2026-Q1")},

		api.PathProvenanceItem: {[]byte("lgtin:05012345678900.L42")}, api.PathProvenanceOffer: {[]byte("lgtin:05012345678900.L42")},
		api.PathProvenanceAccreditation: {addr}, api.PathProvenanceRecall: {[]byte("order-1")},
		api.PathProvenanceParams: {nil}, api.PathProvenanceLocation: {[]byte("GB-LON")},
		api.PathProvenanceHistory: {listData("lgtin:05012345678900.L42")}, api.PathProvenanceAttestations: {listData("lgtin:05012345678900.L42")},
		api.PathProvenanceLineage: {api.ListData(api.LineageArg(provenancev1.LineageDirection_LINEAGE_DIRECTION_UP, "lgtin:05012345678900.L42"), nil, 0)},
		api.PathProvenanceHeld:    {api.ListData(addr, nil, 0)}, api.PathProvenanceOffers: {api.ListData(addr, nil, 0)},
		api.PathProvenanceUnacknowledged: {listData("order-1")},

		api.PathGovProposal: {one}, api.PathGovProposals: {listData("")}, api.PathGovOpenProposals: {listData("")}, api.PathGovVotes: {listData("1")},
		api.PathGovMandates: {listData("")}, api.PathGovMandate: {one, []byte("99")}, api.PathGovValidators: {listData("")},
		api.PathGovParams: {nil}, api.PathGovParam: {[]byte("gov.quorum")}, api.PathGovRegistry: {nil},
		api.PathGovUpgrade: {nil}, api.PathGovMisbehaviour: {one}, api.PathGovMisbehaviours: {listData("")},
		api.PathGovValidatorMisbehaviours: {listData(hex.EncodeToString(addr))},
	}
}

// TestEveryRouteAnswersAtTheKeysTheClientBuilds walks every route of the
// contract (api.Routes) with data for it. A record route's answer, present
// or proven absent, is proven at exactly the key the client builds with
// the route's Key, and a present record decodes as the type api.RecordOf
// names for that key; every parameter of the registry is answered at
// api.ParamKey. A list route answers a ProvedList each of whose records
// decodes by its key, and a page of a key-range listing is proven complete
// under the prefix the client computes (client.ListingOf, VerifyPage). A
// route added to the app but not to the contract, or given no data here,
// fails the test.
func TestEveryRouteAnswersAtTheKeysTheClientBuilds(t *testing.T) {
	c := newChain(t)
	c.block()
	data := contractData(t)
	res := c.query(api.PathGovRegistry, nil)
	require.Zero(t, res.Code, res.Log)
	reg := &govv1.ParamList{}
	require.NoError(t, proto.Unmarshal(res.Value, reg))
	require.NotEmpty(t, reg.Params)
	for _, p := range reg.Params {
		data[api.PathGovParam] = append(data[api.PathGovParam], []byte(p.Name))
	}

	present, absent, entries, walks := 0, 0, 0, 0
	for _, r := range api.Routes() {
		cases, ok := data[r.Path]
		require.True(t, ok, "%s: the contract test has no data for this route; add it to contractData", r.Path)
		delete(data, r.Path)
		for _, d := range cases {
			res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: r.Path, Data: d, Prove: true})
			require.NoError(t, err)
			what := fmt.Sprintf("%s %q", r.Path, d)
			switch r.Answer {
			case api.Record:
				require.NotNil(t, r.Key, "%s: a record route builds its key", r.Path)
				want := r.Key(d)
				require.NotNil(t, want, "%s: the client builds no key for this data", what)
				require.True(t, res.Code == 0 || isCode(res.Codespace, res.Code, app.ErrNotFound), "%s: %s", what, res.Log)
				require.Equal(t, want, res.Key, "%s: the answer's key", what)
				require.Len(t, res.ProofOps.GetOps(), 1, what)
				require.Equal(t, api.ProofOpType, res.ProofOps.Ops[0].Type, what)
				require.Equal(t, want, res.ProofOps.Ops[0].Key, "%s: the proven key", what)
				if res.Code != 0 {
					absent++
					continue
				}
				kind, m, err := api.DecodeRecord(res.Key, res.Value)
				require.NoError(t, err, what)
				require.NotNil(t, m, "%s: api.RecordOf names no record type for key %q", what, res.Key)
				require.NotEmpty(t, kind, what)
				present++
			case api.List, api.Page:
				require.Nil(t, r.Key, r.Path)
				if res.Code != 0 { // a walk from a record the genesis does not hold: its module's "unknown" code
					require.False(t, isCode(res.Codespace, res.Code, app.ErrUnknownQuery) || isCode(res.Codespace, res.Code, app.ErrInvalidQuery), "%s: %s", what, res.Log)
					walks++
					continue
				}
				list := &appv1.ProvedList{}
				require.NoError(t, proto.Unmarshal(res.Value, list), what)
				for _, e := range list.Entries {
					require.NotEmpty(t, e.Proof, "%s: entry %q carries its proof", what, e.Key)
					if len(e.Value) == 0 || bytes.Equal(e.Value, api.IndexValue) {
						continue
					}
					_, m, err := api.DecodeRecord(e.Key, e.Value)
					require.NoError(t, err, what)
					require.NotNil(t, m, "%s: api.RecordOf names no record type for entry key %q", what, e.Key)
					entries++
				}
				c.requireListingProven(r.Path, d)
			case api.Computed:
				require.Nil(t, r.Key, r.Path)
				require.Zero(t, res.Code, "%s: %s", what, res.Log)
			}
		}
	}
	require.Empty(t, data, "contractData has data for paths api.Routes does not list")
	t.Logf("%d records present and %d proven absent at the client's keys; %d list entries decoded; %d walks from absent records refused", present, absent, entries, walks)
	require.Greater(t, present, 10)
	require.Greater(t, entries, 5)
}
