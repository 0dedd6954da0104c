package api

// Answer is how a query path's answer is encoded.
type Answer int

// The answer encodings.
const (
	// Record: one state key. Key is the key, Value the record, ProofOps
	// (when asked) one ProofOpType op proving it; an absent record answers
	// code not_found in codespace tx with a proof of absence.
	Record Answer = iota + 1
	// List: Value is a tally.app.v1.ProvedList whose entries each carry
	// their own key, value (empty when proven absent) and proof.
	List
	// Computed: the node computes the answer from the whole state; it
	// carries no proof, so a client cannot verify it.
	Computed
)

// Route is one query path of the contract.
type Route struct {
	Path   string
	Answer Answer
}

// Routes lists every query path a node serves, in module order. The
// contract test (app/contract_test.go) walks it: every path must be
// answered, and answered at the keys this package builds.
func Routes() []Route {
	return []Route{
		{PathKey, Record}, {PathParams, Record}, {PathInvariants, Computed},

		{PathAgency, Record}, {PathAccount, Record}, {PathMembers, List},

		{PathFundsParams, Record}, {PathFundsTotals, Record}, {PathFundsBalance, Record},
		{PathFundsBalances, List}, {PathFundsMovement, Record}, {PathFundsTranche, Record},
		{PathFundsAppropriation, Record}, {PathFundsRoot, Record}, {PathFundsSettlement, Record},
		{PathFundsTraceUp, List}, {PathFundsTraceDown, List}, {PathFundsInvariants, Computed},

		{PathBenefitsParams, Record}, {PathBenefitsProgramme, Record}, {PathBenefitsProgrammes, List},
		{PathBenefitsEnrolment, Record}, {PathBenefitsEnrolments, List}, {PathBenefitsPayment, Record},
		{PathBenefitsHistory, List}, {PathBenefitsRecovery, Record}, {PathBenefitsTrace, List},

		{PathTaxReceipt, List}, {PathTaxClearance, List}, {PathTaxType, Record}, {PathTaxTypes, List},
		{PathTaxAuthorisation, Record}, {PathTaxTotal, Record}, {PathTaxTotals, List}, {PathTaxReceipts, List},

		{PathProvenanceItem, Record}, {PathProvenanceOffer, Record}, {PathProvenanceAccreditation, Record},
		{PathProvenanceRecall, Record}, {PathProvenanceParams, Record}, {PathProvenanceLocation, Record}, {PathProvenanceHistory, List},
		{PathProvenanceAttestations, List}, {PathProvenanceLineage, List}, {PathProvenanceHeld, List},
		{PathProvenanceOffers, List}, {PathProvenanceUnacknowledged, List},

		{PathGovProposal, Record}, {PathGovProposals, List}, {PathGovOpenProposals, List},
		{PathGovVotes, List}, {PathGovMandates, List}, {PathGovMandate, Record},
		{PathGovValidators, List}, {PathGovParams, Record}, {PathGovParam, Record},
		{PathGovRegistry, Computed}, {PathGovUpgrade, Record}, {PathGovMisbehaviour, Record},
		{PathGovMisbehaviours, List}, {PathGovValidatorMisbehaviours, List},
	}
}
