package api

import (
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Answer is how a query path's answer is encoded.
type Answer int

// The answer encodings.
const (
	// Record: one state key. Key is the key, Value the record, ProofOps
	// (when asked) one ProofOpType op proving it; an absent record answers
	// code not_found in codespace tx with a proof of absence.
	Record Answer = iota + 1
	// List: Value is a tally.app.v1.ProvedList whose entries each carry
	// their own key, value (empty when proven absent) and proof: a walk
	// through state (a trace) or a set of keys the request names.
	List
	// Page: a listing, read a page at a time. The query data is a
	// tally.app.v1.ListRequest {arg, after, limit} (ListData); Value is a
	// ProvedList as for List, with next_key (the after of the next page)
	// and complete, and with proofs asked, range_proofs that the page
	// leaves no record out.
	Page
	// Computed: the node computes the answer from the whole state; it
	// carries no proof, so a client cannot verify it.
	Computed
)

// Route is one query path of the contract.
type Route struct {
	Path   string
	Answer Answer
	// Key, on a Record route, is the state key the answer to the query
	// data is proven at: a client checks the node proved this key, not
	// merely some key. It is nil for data the node refuses before reading
	// state (not an id, too short), and on List and Computed routes.
	Key func(data []byte) []byte
}

// The shapes of a Record route's query data.

// fixed is a route whose answer is always the one key.
func fixed(k func() []byte) func([]byte) []byte { return func([]byte) []byte { return k() } }

// text is a route whose data is an id or code as text.
func text(k func(string) []byte) func([]byte) []byte {
	return func(d []byte) []byte { return k(string(d)) }
}

// decimal is a route whose data is a decimal id from 1.
func decimal(k func(uint64) []byte) func([]byte) []byte {
	return func(d []byte) []byte {
		id, err := strconv.ParseUint(string(d), 10, 64)
		if err != nil || id == 0 {
			return nil
		}
		return k(id)
	}
}

// address is a route whose data is a 20-byte address.
func address(k func([]byte) []byte) func([]byte) []byte {
	return func(d []byte) []byte {
		if len(d) != AddressSize {
			return nil
		}
		return k(d)
	}
}

// enrolmentKey reads "<programme>/<recipient>".
func enrolmentKey(d []byte) []byte {
	prog, rcpt, ok := strings.Cut(string(d), "/")
	if !ok {
		return nil
	}
	return BenefitsEnrolmentKey(prog, rcpt)
}

// taxAuthorisationKey reads a 20-byte collector address and a tax type code.
func taxAuthorisationKey(d []byte) []byte {
	if len(d) <= AddressSize {
		return nil
	}
	return TaxAuthorisationKey(d[:AddressSize], string(d[AddressSize:]))
}

// taxTotalKey reads a tax.v1.TotalRequest: a tax type's total in a
// period, or with a collector that collector's.
func taxTotalKey(d []byte) []byte {
	r := &taxv1.TotalRequest{}
	if proto.Unmarshal(d, r) != nil {
		return nil
	}
	switch len(r.Collector) {
	case 0:
		return TaxTypeTotalKey(r.TaxType, r.Period)
	case AddressSize:
		return TaxCollectorTotalKey(r.Collector, r.TaxType, r.Period)
	}
	return nil
}

// ParamKey is the state key of the params record that holds the chain
// parameter name ("funds.max_transfer" is in the funds params): the key a
// /gov/param answer is proven at. nil for a name of no module.
func ParamKey(name string) []byte {
	module, _, ok := strings.Cut(name, ".")
	if !ok {
		return nil
	}
	switch module {
	case "app":
		return ParamsKey()
	case "funds":
		return FundsParamsKey()
	case "benefits":
		return BenefitsParamsKey()
	case "provenance":
		return ProvenanceParamsKey()
	case "gov":
		return GovParamsKey()
	}
	return nil
}

// Routes lists every query path a node serves, in module order. The
// contract test (app/contract_test.go) walks it: every path must be
// answered, and answered at the keys this package builds.
func Routes() []Route {
	return []Route{
		{PathKey, Record, func(d []byte) []byte { return d }}, {PathParams, Record, fixed(ParamsKey)}, {PathInvariants, Computed, nil},

		{PathAgency, Record, text(AgencyKey)}, {PathAccount, Record, address(AccountKey)}, {PathMembers, Page, nil},

		{PathFundsParams, Record, fixed(FundsParamsKey)}, {PathFundsTotals, Record, fixed(FundsTotalsKey)}, {PathFundsBalance, Record, text(FundsBalanceKey)},
		{PathFundsBalances, Page, nil}, {PathFundsMovement, Record, decimal(FundsMovementKey)}, {PathFundsTranche, Record, decimal(FundsTrancheKey)},
		{PathFundsAppropriation, Record, text(FundsAppropriationKey)}, {PathFundsRoot, Record, decimal(FundsRootTotalsKey)}, {PathFundsSettlement, Record, decimal(FundsSettlementKey)},
		{PathFundsTraceUp, List, nil}, {PathFundsTraceDown, Page, nil}, {PathFundsInvariants, Computed, nil},

		{PathBenefitsParams, Record, fixed(BenefitsParamsKey)}, {PathBenefitsProgramme, Record, text(BenefitsProgrammeKey)}, {PathBenefitsProgrammes, Page, nil},
		{PathBenefitsEnrolment, Record, enrolmentKey}, {PathBenefitsEnrolments, Page, nil}, {PathBenefitsPayment, Record, decimal(BenefitsPaymentKey)},
		{PathBenefitsHistory, Page, nil}, {PathBenefitsRecovery, Record, decimal(BenefitsRecoveryKey)}, {PathBenefitsTrace, List, nil},

		{PathTaxReceipt, Page, nil}, {PathTaxClearance, List, nil}, {PathTaxType, Record, text(TaxTypeKey)}, {PathTaxTypes, Page, nil},
		{PathTaxAuthorisation, Record, taxAuthorisationKey}, {PathTaxTotal, Record, taxTotalKey}, {PathTaxTotals, Page, nil}, {PathTaxReceipts, Page, nil},

		{PathProvenanceItem, Record, text(ProvenanceItemKey)}, {PathProvenanceOffer, Record, text(ProvenanceOfferKey)}, {PathProvenanceAccreditation, Record, address(ProvenanceAccreditationKey)},
		{PathProvenanceRecall, Record, text(ProvenanceRecallOrderKey)}, {PathProvenanceParams, Record, fixed(ProvenanceParamsKey)}, {PathProvenanceLocation, Record, text(ProvenanceLocationKey)}, {PathProvenanceHistory, Page, nil},
		{PathProvenanceAttestations, Page, nil}, {PathProvenanceLineage, Page, nil}, {PathProvenanceHeld, Page, nil},
		{PathProvenanceOffers, Page, nil}, {PathProvenanceUnacknowledged, Page, nil},

		{PathGovProposal, Record, decimal(GovProposalKey)}, {PathGovProposals, Page, nil}, {PathGovOpenProposals, Page, nil},
		{PathGovVotes, Page, nil}, {PathGovMandates, Page, nil}, {PathGovMandate, Record, decimal(GovGrantKey)},
		{PathGovValidators, Page, nil}, {PathGovParams, Record, fixed(GovParamsKey)}, {PathGovParam, Record, text(ParamKey)},
		{PathGovRegistry, Computed, nil}, {PathGovUpgrade, Record, fixed(GovUpgradeKey)}, {PathGovMisbehaviour, Record, decimal(GovMisbehaviourKey)},
		{PathGovMisbehaviours, Page, nil}, {PathGovValidatorMisbehaviours, Page, nil},
	}
}

// RouteOf returns the contract's route for path (a map lookup: the app
// asks it on every query, to read a listing's ListRequest).
func RouteOf(path string) (Route, bool) {
	r, ok := routeByPath[path]
	return r, ok
}

var routeByPath = func() map[string]Route {
	m := map[string]Route{}
	for _, r := range Routes() {
		m[r.Path] = r
	}
	return m
}()
