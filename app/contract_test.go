package app_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
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

// contractCase is one query of the contract test: a route's data, and for
// a record route the type of record the app stores at the key the data
// names, as the module writes it (so the client's decoding is checked
// against what the test knows, not against api.RecordOf itself).
type contractCase struct {
	data   []byte
	record proto.Message
}

// contractData is query data for every route of the contract over the
// record world (newRecordWorld), each naming a record or listing the
// world holds: every case must be answered present.
func contractData(t *testing.T, c *chain) map[string][]contractCase {
	t.Helper()
	pb := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		require.NoError(t, err)
		return b
	}
	payment := &benefitsv1.Payment{}
	res := c.query(api.PathBenefitsPayment, []byte(strconv.Itoa(wdPayment)))
	require.Zero(t, res.Code, res.Log)
	require.NoError(t, proto.Unmarshal(res.Value, payment))
	paid := []byte(strconv.FormatUint(payment.Movement, 10)) // the funds movement that paid it, settled
	enrolment := wdProgramme + "/" + pseud("r2")
	rec := func(d []byte, m proto.Message) []contractCase { return []contractCase{{d, m}} }
	data := func(ds ...[]byte) []contractCase {
		var out []contractCase
		for _, d := range ds {
			out = append(out, contractCase{data: d})
		}
		return out
	}
	return map[string][]contractCase{
		api.PathKey: rec(api.ProvenanceItemKey(wdHanded), &provenancev1.Item{}), api.PathParams: rec(nil, &appv1.Params{}), api.PathInvariants: data(nil),

		api.PathAgency: rec([]byte(mBenefits), &agencyv1.Agency{}), api.PathAccount: rec(keyFor(wdAuditor).addr, &agencyv1.Account{}),
		api.PathMembers: data(listData(mBenefits)),

		api.PathFundsParams: rec(nil, &fundsv1.Params{}), api.PathFundsTotals: rec(nil, &fundsv1.Totals{}),
		api.PathFundsBalance: rec([]byte(api.AgencyHolder(mBenefits)), &fundsv1.Balance{}), api.PathFundsBalances: data(listData("")),
		api.PathFundsMovement: rec(paid, &fundsv1.Movement{}), api.PathFundsTranche: rec([]byte("1"), &fundsv1.Tranche{}),
		api.PathFundsAppropriation: rec([]byte("FZ/1"), &fundsv1.Appropriation{}), api.PathFundsRoot: rec([]byte("1"), &fundsv1.RootTotals{}),
		api.PathFundsSettlement: rec(paid, &fundsv1.Settlement{}),
		api.PathFundsTraceUp:    data(paid), api.PathFundsTraceDown: data(listData("1")), api.PathFundsInvariants: data(nil),

		api.PathBenefitsParams: rec(nil, &benefitsv1.Params{}), api.PathBenefitsProgramme: rec([]byte(wdProgramme), &benefitsv1.Programme{}),
		api.PathBenefitsProgrammes: data(listData("")), api.PathBenefitsEnrolment: rec([]byte(enrolment), &benefitsv1.Enrolment{}),
		api.PathBenefitsEnrolments: data(listData(wdProgramme)), api.PathBenefitsPayment: rec([]byte(strconv.Itoa(wdPayment)), &benefitsv1.Payment{}),
		api.PathBenefitsHistory: data(listData(enrolment)), api.PathBenefitsRecovery: rec([]byte(strconv.Itoa(wdRecovery)), &benefitsv1.Recovery{}),
		api.PathBenefitsTrace: data([]byte(strconv.Itoa(wdPayment))),

		api.PathTaxReceipt:   data(listData(wdAmended)),
		api.PathTaxClearance: data(pb(taxClearanceRequest(t, fzPayer, "VAT", wdPeriod, "2030-Q2"))),
		api.PathTaxType:      rec([]byte("PAYE"), &taxv1.TaxType{}), api.PathTaxTypes: data(listData("")),
		api.PathTaxAuthorisation: rec(append(append([]byte(nil), mCollector.addr...), "VAT"...), &taxv1.Authorisation{}),
		api.PathTaxTotal: {
			{pb(&taxv1.TotalRequest{TaxType: "VAT", Period: wdPeriod}), &taxv1.Total{}},
			{pb(&taxv1.TotalRequest{TaxType: "VAT", Period: wdPeriod, Collector: mCollector.addr}), &taxv1.Total{}},
		},
		api.PathTaxTotals: data(listData("VAT")), api.PathTaxReceipts: data(listData("VAT/" + wdPeriod)),

		api.PathProvenanceItem: rec([]byte(wdHanded), &provenancev1.Item{}), api.PathProvenanceOffer: rec([]byte(wdPart0), &provenancev1.Offer{}),
		api.PathProvenanceAccreditation: rec(mInspector.addr, &provenancev1.Accreditation{}), api.PathProvenanceRecall: rec([]byte(wdRecall), &provenancev1.RecallOrder{}),
		api.PathProvenanceParams: rec(nil, &provenancev1.Params{}), api.PathProvenanceLocation: rec([]byte(wdLocation), &provenancev1.Location{}),
		api.PathProvenanceHistory: data(listData(wdHanded)), api.PathProvenanceAttestations: data(listData(wdPart0)),
		api.PathProvenanceLineage: data(api.ListData(api.LineageArg(provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, fzItem), nil, 0), api.ListData(api.LineageArg(provenancev1.LineageDirection_LINEAGE_DIRECTION_UP, wdPart0), nil, 0)),
		api.PathProvenanceHeld:    data(api.ListData(mCollector.addr, nil, 0)), api.PathProvenanceOffers: data(api.ListData(mCollector.addr, nil, 0)),
		api.PathProvenanceUnacknowledged: data(listData(wdRecall)),

		api.PathGovProposal: rec([]byte(strconv.Itoa(wdUpgradeID)), &govv1.Proposal{}), api.PathGovProposals: data(listData("")),
		api.PathGovOpenProposals: data(listData("")), api.PathGovVotes: data(listData("1"), listData(strconv.Itoa(wdUpgradeID))),
		api.PathGovMandates: data(listData("")), api.PathGovMandate: rec([]byte("1"), &govv1.MandateGrant{}),
		api.PathGovValidators: data(listData("")), api.PathGovParams: rec(nil, &govv1.Params{}),
		api.PathGovParam:    nil, // every parameter of the registry, added by the test
		api.PathGovRegistry: data(nil), api.PathGovUpgrade: rec(nil, &govv1.UpgradePlan{}),
		api.PathGovMisbehaviour: rec([]byte("1"), &govv1.Misbehaviour{}), api.PathGovMisbehaviours: data(listData("")),
		api.PathGovValidatorMisbehaviours: data(listData(hexAddr(genesisVals[1]))),
	}
}

// answerDecoders are the client's readers of the answers made of several
// records that link up (docs/protocol.md §4): each must accept the record
// world's answer and read what the world's transactions made.
var answerDecoders = map[string]func(t *testing.T, what string, data []byte, height int64, list *appv1.ProvedList){
	api.PathTaxReceipt: func(t *testing.T, what string, data []byte, _ int64, list *appv1.ProvedList) {
		req, err := api.ParseList(data)
		require.NoError(t, err, what)
		ans, err := api.DecodeReceipt(string(req.Arg), list)
		require.NoError(t, err, what)
		require.True(t, ans.Found, what)
		require.Len(t, ans.Amendments, 2, "%s: the world corrected it twice", what)
		require.EqualValues(t, 2, ans.State.Amendments, what)
	},
	api.PathTaxClearance: func(t *testing.T, what string, data []byte, height int64, list *appv1.ProvedList) {
		req := &taxv1.ClearanceRequest{}
		require.NoError(t, proto.Unmarshal(data, req), what)
		st, err := api.DecodeClearance(req, height, list)
		require.NoError(t, err, what)
		require.True(t, st.Covered, "%s: the world issued receipts in both periods: %s", what, st)
		require.EqualValues(t, 3, st.Receipts, "%s: %s", what, st)
	},
}

// paramsRecord is the type of params record that holds a chain parameter
// ("funds.max_transfer" is in the funds params), as each module stores it.
func paramsRecord(t *testing.T, name string) proto.Message {
	module, _, _ := strings.Cut(name, ".")
	switch module {
	case "app":
		return &appv1.Params{}
	case "funds":
		return &fundsv1.Params{}
	case "benefits":
		return &benefitsv1.Params{}
	case "provenance":
		return &provenancev1.Params{}
	case "gov":
		return &govv1.Params{}
	}
	t.Fatalf("parameter %s is of no module the test knows", name)
	return nil
}

// TestEveryRouteAnswersAtTheKeysTheClientBuilds walks every route of the
// contract (api.Routes) over a chain that holds records of every module,
// made by signed transactions through the app (newRecordWorld), with data
// naming a record or listing it holds: a route without data here, or whose
// answer is not present, fails the test. For each answer it checks what a
// client does:
//   - a record route answers at exactly the key the client builds with the
//     route's Key, its one proof verifies against the app hash with the
//     client's check, the value is the bytes the app stores at that key,
//     and the client's decoder (api.DecodeRecord) gives the record type the
//     module stores there, equal to the stored record, with nothing it
//     does not understand; every parameter of the registry is answered so
//     at api.ParamKey; a few records the client must not find are proven
//     absent at its keys;
//   - a listing described in the route table (api.Route.Listing) answers
//     its head records and at least one entry, every entry of the kind the
//     description names, proven, stored, decoded as above, and the page
//     proven complete under the described prefix (client.ListingOf,
//     VerifyPage), and refused by that check with its last record
//     dropped, with or without its range proof; a listing not so described (a walk, a receipt's
//     amendments) carries no range proofs;
//   - a walk or key set (api.List) answers entries, each proven (present or
//     absent), each present one stored and decoded as above;
//   - an answer made of linked records (a receipt with its amendments, a
//     clearance statement) is read by the client's own reader of it
//     (api.DecodeReceipt, api.DecodeClearance: answerDecoders);
//   - a computed route answers.
func TestEveryRouteAnswersAtTheKeysTheClientBuilds(t *testing.T) {
	c := newRecordWorld(t)
	data := contractData(t, c)
	res := c.query(api.PathGovRegistry, nil)
	require.Zero(t, res.Code, res.Log)
	reg := &govv1.ParamList{}
	require.NoError(t, proto.Unmarshal(res.Value, reg))
	require.NotEmpty(t, reg.Params)
	for _, p := range reg.Params {
		data[api.PathGovParam] = append(data[api.PathGovParam], contractCase{[]byte(p.Name), paramsRecord(t, p.Name)})
	}

	// checkStored checks that value is what the app stores at key at height
	// and that the client's decoder reads it as a record of want's type
	// (nil: whatever type api.RecordOf names), equal to the stored record;
	// it returns the record's kind.
	checkStored := func(what string, height int64, key, value []byte, want proto.Message) string {
		t.Helper()
		stored, err := c.st.GetAt(height, key)
		require.NoError(t, err, what)
		require.Equal(t, stored, value, "%s: the answer is the value the app stores at %q", what, key)
		kind, m, err := api.DecodeRecord(key, value)
		require.NoError(t, err, what)
		require.NotNil(t, m, "%s: the client's decoder names no record type for key %q", what, key)
		require.NotEmpty(t, kind, what)
		if want == nil {
			_, want = api.RecordOf(key)
		}
		require.IsType(t, want, m, "%s: the client decodes the record at %q as the type the app stores there", what, key)
		fromStore := want.ProtoReflect().Type().New().Interface()
		if !bytes.Equal(stored, api.IndexValue) { // 0x01: a record with every field zero
			require.NoError(t, proto.Unmarshal(stored, fromStore), what)
		}
		require.True(t, proto.Equal(fromStore, m), "%s: decoded %v; the app stores %v", what, m, fromStore)
		require.Empty(t, m.ProtoReflect().GetUnknown(), "%s: the record holds fields its decoded type does not have", what)
		return kind
	}
	// checkEntries checks every entry of a list answer: its proof against
	// the app hash, and a present entry's value as checkStored does.
	checkEntries := func(what string, height int64, list *appv1.ProvedList) (present int) {
		t.Helper()
		root := c.hashes[height]
		for _, e := range list.Entries {
			value := e.Value
			if len(value) == 0 {
				value = nil // proven absent
			}
			require.NoError(t, client.ProvenValue(root, e.Key, value, e.Proof), "%s: entry %q", what, e.Key)
			if kind, _ := api.RecordOf(e.Key); value == nil || kind == "" && bytes.Equal(value, api.IndexValue) {
				continue // proven absent, or an index entry (0x01 at a key of no record)
			}
			checkStored(fmt.Sprintf("%s entry %q", what, e.Key), height, e.Key, value, nil)
			present++
		}
		return present
	}

	records, entries := 0, 0
	for _, r := range api.Routes() {
		cases, ok := data[r.Path]
		require.True(t, ok, "%s: the contract test has no data for this route; add it to contractData", r.Path)
		require.NotEmpty(t, cases, "%s: the contract test has no data for this route", r.Path)
		delete(data, r.Path)
		for _, tc := range cases {
			res, err := c.app.Query(t.Context(), &abci.RequestQuery{Path: r.Path, Data: tc.data, Prove: true})
			require.NoError(t, err)
			what := fmt.Sprintf("%s %q", r.Path, tc.data)
			require.Zero(t, res.Code, "%s: the record world holds this, so it is answered present: %s", what, res.Log)
			switch r.Answer {
			case api.Record:
				require.NotNil(t, tc.record, "%s: the test names the record type stored there", what)
				want := r.Key(tc.data)
				require.NotNil(t, want, "%s: the client builds no key for this data", what)
				require.Equal(t, want, res.Key, "%s: the answer's key", what)
				require.Len(t, res.ProofOps.GetOps(), 1, what)
				require.Equal(t, api.ProofOpType, res.ProofOps.Ops[0].Type, what)
				require.Equal(t, want, res.ProofOps.Ops[0].Key, "%s: the proven key", what)
				require.NoError(t, client.ProvenValue(c.hashes[res.Height], want, res.Value, res.ProofOps.Ops[0].Data), what)
				checkStored(what, res.Height, want, res.Value, tc.record)
				records++
			case api.List, api.Page:
				require.Nil(t, r.Key, r.Path)
				list := &appv1.ProvedList{}
				require.NoError(t, proto.Unmarshal(res.Value, list), what)
				require.NotEmpty(t, list.Entries, what)
				present := checkEntries(what, res.Height, list)
				require.Positive(t, present, "%s: the answer holds a record", what)
				entries += present
				if decode, ok := answerDecoders[r.Path]; ok {
					decode(t, what, tc.data, res.Height, list)
				}
				if r.Answer == api.List {
					break
				}
				if r.Listing == nil {
					require.Empty(t, list.RangeProofs, "%s: a listing with range proofs must describe its layout in its route (api.Route.Listing)", what)
					break
				}
				l, after, ok := client.ListingOf(r.Path, tc.data)
				require.True(t, ok, "%s: the route's listing names this arg", what)
				_, err := client.VerifyPage(c.hashes[res.Height], "the app hash", l, after, list)
				require.NoError(t, err, "%s: the page's range proofs under the described prefix", what)
				require.Greater(t, len(list.Entries), len(l.Head), "%s: the listing has an entry", what)
				for _, e := range list.Entries[len(l.Head):] {
					kind, _ := api.RecordOf(e.Key)
					require.Equal(t, l.Entry, kind, "%s: entry %q is of the kind the route's listing names", what, e.Key)
				}
				// A node that drops a listed record from the page, alone or
				// with the range proof that shows its index key, is caught
				// by the client's check against the described layout.
				dropped := proto.Clone(list).(*appv1.ProvedList)
				dropped.Entries = dropped.Entries[:len(dropped.Entries)-1]
				_, err = client.VerifyPage(c.hashes[res.Height], "the app hash", l, after, dropped)
				require.ErrorContains(t, err, "left out", "%s: a page with its last record dropped", what)
				dropped.RangeProofs = dropped.RangeProofs[:len(dropped.RangeProofs)-1]
				_, err = client.VerifyPage(c.hashes[res.Height], "the app hash", l, after, dropped)
				require.ErrorContains(t, err, "left out", "%s: a page with its last record and its range proof dropped", what)
			case api.Computed:
				require.Nil(t, r.Key, r.Path)
				require.NotEmpty(t, res.Value, what)
			}
		}
	}
	require.Empty(t, data, "contractData has data for paths api.Routes does not list")
	t.Logf("%d records present at the client's keys, equal to what the app stores; %d listed or walked records likewise", records, entries)

	// Records the world does not hold are proven absent at the client's keys.
	for _, tc := range []struct{ path, data string }{
		{api.PathFundsMovement, "999"}, {api.PathBenefitsPayment, "999"}, {api.PathProvenanceItem, "lgtin:05012345678900.NOPE"},
		{api.PathGovProposal, "999"}, {api.PathGovMandate, "999"}, {api.PathTaxType, "NOPE"}, {api.PathAccount, string(make([]byte, api.AddressSize))},
	} {
		r, _ := api.RouteOf(tc.path)
		res, err := c.app.Query(t.Context(), &abci.RequestQuery{Path: tc.path, Data: []byte(tc.data), Prove: true})
		require.NoError(t, err)
		requireCode(t, app.ErrNotFound, res.Codespace, res.Code, res.Log)
		want := r.Key([]byte(tc.data))
		require.Equal(t, want, res.Key, tc.path)
		require.Len(t, res.ProofOps.GetOps(), 1, tc.path)
		require.Equal(t, want, res.ProofOps.Ops[0].Key, tc.path)
		require.NoError(t, client.ProvenValue(c.hashes[res.Height], want, nil, res.ProofOps.Ops[0].Data), "%s: proven absent", tc.path)
	}
}
