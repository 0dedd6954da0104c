package api

import (
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
	// Listing, on a Page route that lists the keys under a prefix, gives
	// the listing a ListRequest arg names: where its index keys lie, the
	// records they point at and what kind each is (false for an arg that
	// names none). It is nil on other routes, including the two Page
	// routes that are not key ranges: /provenance/lineage (a walk) and
	// /tax/receipt (a receipt's amendments), checked by their links.
	Listing func(arg []byte) (Listing, bool)
}

// The rows of Routes, one constructor per answer kind.

func record(path string, k func([]byte) []byte) Route {
	return Route{Path: path, Answer: Record, Key: k}
}

func page(path string, l func([]byte) (Listing, bool)) Route {
	return Route{Path: path, Answer: Page, Listing: l}
}

func list(path string) Route     { return Route{Path: path, Answer: List} }
func computed(path string) Route { return Route{Path: path, Answer: Computed} }

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
		id, ok := ParseDecimal(d)
		if !ok || id == 0 {
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
		record(PathKey, func(d []byte) []byte { return d }), record(PathParams, fixed(ParamsKey)), computed(PathInvariants),

		record(PathAgency, text(AgencyKey)), record(PathAccount, address(AccountKey)), page(PathMembers, membersListing),

		record(PathFundsParams, fixed(FundsParamsKey)), record(PathFundsTotals, fixed(FundsTotalsKey)), record(PathFundsBalance, text(FundsBalanceKey)),
		page(PathFundsBalances, under(FundsBalancesPrefix, "balance")), record(PathFundsMovement, decimal(FundsMovementKey)), record(PathFundsTranche, decimal(FundsTrancheKey)),
		record(PathFundsAppropriation, text(FundsAppropriationKey)), record(PathFundsRoot, decimal(FundsRootTotalsKey)), record(PathFundsSettlement, decimal(FundsSettlementKey)),
		list(PathFundsTraceUp), page(PathFundsTraceDown, fundsTraceDownListing), computed(PathFundsInvariants),

		record(PathBenefitsParams, fixed(BenefitsParamsKey)), record(PathBenefitsProgramme, text(BenefitsProgrammeKey)), page(PathBenefitsProgrammes, under(BenefitsProgrammesPrefix, "programme")),
		record(PathBenefitsEnrolment, enrolmentKey), page(PathBenefitsEnrolments, named(BenefitsEnrolmentsPrefix, "enrolment")), record(PathBenefitsPayment, decimal(BenefitsPaymentKey)),
		page(PathBenefitsHistory, benefitsHistoryListing), record(PathBenefitsRecovery, decimal(BenefitsRecoveryKey)), list(PathBenefitsTrace),

		page(PathTaxReceipt, nil), list(PathTaxClearance), record(PathTaxType, text(TaxTypeKey)), page(PathTaxTypes, under(TaxTypesPrefix, "tax_type")),
		record(PathTaxAuthorisation, taxAuthorisationKey), record(PathTaxTotal, taxTotalKey), page(PathTaxTotals, named(TaxTypeTotalsPrefix, "tax_total")), page(PathTaxReceipts, taxReceiptsListing),

		record(PathProvenanceItem, text(ProvenanceItemKey)), record(PathProvenanceOffer, text(ProvenanceOfferKey)), record(PathProvenanceAccreditation, address(ProvenanceAccreditationKey)),
		record(PathProvenanceRecall, text(ProvenanceRecallOrderKey)), record(PathProvenanceParams, fixed(ProvenanceParamsKey)), record(PathProvenanceLocation, text(ProvenanceLocationKey)),
		page(PathProvenanceHistory, provenanceItemListing(ProvenanceHistoryPrefix, "event")), page(PathProvenanceAttestations, provenanceItemListing(ProvenanceAttestationPrefix, "attestation")),
		page(PathProvenanceLineage, nil), page(PathProvenanceHeld, provenanceHeldListing), page(PathProvenanceOffers, provenanceOffersListing), page(PathProvenanceUnacknowledged, provenanceUnacknowledgedListing),

		record(PathGovProposal, decimal(GovProposalKey)), page(PathGovProposals, under(GovProposalsPrefix, "proposal")), page(PathGovOpenProposals, govOpenListing),
		page(PathGovVotes, govVotesListing), page(PathGovMandates, under(GovMandatesPrefix, "mandate")), record(PathGovMandate, decimal(GovGrantKey)),
		page(PathGovValidators, under(GovValidatorsPrefix, "validator")), record(PathGovParams, fixed(GovParamsKey)), record(PathGovParam, text(ParamKey)),
		computed(PathGovRegistry), record(PathGovUpgrade, fixed(GovUpgradeKey)), record(PathGovMisbehaviour, decimal(GovMisbehaviourKey)),
		page(PathGovMisbehaviours, under(GovMisbehavioursPrefix, "misbehaviour")), page(PathGovValidatorMisbehaviours, govValidatorMisbehavioursListing),
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
