package client

import "encoding/binary"

// Query paths and the state keys their answers must be proven at.
//
// The client never imports the node's packages, so it mirrors here the few
// facts it needs to tell that a node proved the RIGHT key: a proof of some
// other record is a valid proof, and only the key the request implies makes
// it an answer to the question asked. Keep these in step with the files
// named beside each; a mismatch makes every verified read of that record
// fail loudly ("proved key … but the request implies …"), never pass wrongly.

// Query paths (app/query.go, app/route_agency.go).
const (
	PathKey      = "/store/key"      // data: raw state key
	PathParams   = "/app/params"     // no data
	PathAgency   = "/agency/agency"  // data: agency id
	PathAccount  = "/agency/account" // data: 20-byte address
	PathMembers  = "/agency/members" // data: agency id; a ProvedList of accounts
	addressBytes = 20
)

// ParamsKey is the state key of the chain's parameters (app/query.go keyParams).
func ParamsKey() []byte { return []byte("app/params") }

// AgencyKey is the state key of an agency record (x/agency/keys.go AgencyKey).
func AgencyKey(id string) []byte { return append([]byte("ag/a/"), id...) }

// AccountKey is the state key of an account record (x/agency/keys.go AccountKey).
func AccountKey(addr []byte) []byte { return append([]byte("ag/c/"), addr...) }

// MembersPrefix is the prefix of an agency's membership index
// (x/agency/keys.go MembersPrefix); a members answer carries it as its Key.
func MembersPrefix(id string) []byte { return append(append([]byte("ag/m/"), id...), '/') }

// Composite records (client/verify_records.go). Each answer is checked
// entry by entry against keys computed here, never taken from the node.
const (
	PathTaxReceipt        = "/tax/receipt"            // app/route_tax.go; data: receipt id
	PathTaxClearance      = "/tax/clearance"          // app/route_tax.go; data: ClearanceRequest
	PathTaxType           = "/tax/tax_type"           // app/route_tax.go; data: tax type code
	PathBenefitsPayment   = "/benefits/payment"       // app/route_benefits.go; data: decimal id
	PathBenefitsTrace     = "/benefits/payment-trace" // app/route_benefits.go; data: decimal id
	PathProvenanceHistory = "/provenance/history"     // app/route_provenance.go; data: ListQuery
	PathGovProposal       = "/gov/proposal"           // app/route_gov.go; data: decimal id
	PathGovVotes          = "/gov/votes"              // app/route_gov.go; data: decimal id
)

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// taxReceiptSuffix is <authority>/<seq 8 bytes> (x/tax/keys.go ReceiptRef.suffix).
func taxReceiptSuffix(authority string, seq uint64) []byte {
	return cat([]byte(authority), []byte("/"), be64(seq))
}

// TaxReceiptKey is the state key of a receipt (x/tax/keys.go ReceiptKey).
func TaxReceiptKey(authority string, seq uint64) []byte {
	return cat([]byte("tax/r/"), taxReceiptSuffix(authority, seq))
}

// TaxReceiptStateKey is the state key of a receipt's derived state (x/tax/keys.go StateKey).
func TaxReceiptStateKey(authority string, seq uint64) []byte {
	return cat([]byte("tax/s/"), taxReceiptSuffix(authority, seq))
}

// TaxAmendmentKey is the state key of amendment n of a receipt (x/tax/keys.go AmendmentKey).
func TaxAmendmentKey(authority string, seq uint64, n uint32) []byte {
	return binary.BigEndian.AppendUint32(cat([]byte("tax/m/"), taxReceiptSuffix(authority, seq), []byte("/")), n)
}

// TaxTypeKey is the state key of a tax type (x/tax/keys.go TaxTypeKey).
func TaxTypeKey(code string) []byte { return cat([]byte("tax/t/"), []byte(code)) }

// TaxPayerTotalKey is the state key of a payer commitment's total for one
// tax type and period (x/tax/keys.go PayerTotalKey).
func TaxPayerTotalKey(taxType, period string, payer []byte) []byte {
	return cat([]byte("tax/p/"), []byte(taxType), []byte("/"), []byte(period), []byte("/"), payer)
}

// BenefitsPaymentKey is the state key of a payment (x/benefits/keys.go PaymentKey).
func BenefitsPaymentKey(id uint64) []byte { return cat([]byte("bf/p/"), be64(id)) }

// BenefitsRecoveryKey is the state key of a recovery (x/benefits/keys.go RecoveryKey).
func BenefitsRecoveryKey(id uint64) []byte { return cat([]byte("bf/v/"), be64(id)) }

// FundsMovementKey is the state key of a movement (x/funds/keys.go MovementKey).
func FundsMovementKey(id uint64) []byte { return cat([]byte("fu/m/"), be64(id)) }

// FundsTrancheKey is the state key of a tranche (x/funds/keys.go TrancheKey).
func FundsTrancheKey(id uint64) []byte { return cat([]byte("fu/t/"), be64(id)) }

// FundsSettlementKey is the state key of a payment movement's settlement (x/funds/keys.go SettlementKey).
func FundsSettlementKey(movement uint64) []byte { return cat([]byte("fu/s/"), be64(movement)) }

// ProvenanceItemKey is the state key of an item (x/provenance/keys.go ItemKey).
func ProvenanceItemKey(id string) []byte { return cat([]byte("pv/i/"), []byte(id)) }

// ProvenanceHistoryKey is the state key of event seq (from 1) of an item's
// history (x/provenance/keys.go HistoryKey: the id length-prefixed).
func ProvenanceHistoryKey(id string, seq uint64) []byte {
	return cat([]byte("pv/h/"), []byte{byte(len(id))}, []byte(id), be64(seq))
}

// GovProposalKey is the state key of a proposal (x/gov/keys.go ProposalKey).
func GovProposalKey(id uint64) []byte { return cat([]byte("gov/p/"), be64(id)) }

// GovVotesPrefix covers the votes on a proposal (x/gov/keys.go VotesPrefix).
func GovVotesPrefix(id uint64) []byte { return cat([]byte("gov/v/"), be64(id), []byte("/")) }

// GovVoteKey is the state key of an agency's vote (x/gov/keys.go VoteKey).
func GovVoteKey(id uint64, agencyID string) []byte { return cat(GovVotesPrefix(id), []byte(agencyID)) }
