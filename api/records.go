package api

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// recordKind is one kind of record in state: every key that starts with
// prefix (or equals it, when exact) holds a protobuf message of one type.
type recordKind struct {
	prefix []byte
	exact  bool
	kind   string
	new    func() proto.Message
}

func rk(prefix []byte, kind string, m func() proto.Message) recordKind {
	return recordKind{prefix: prefix, kind: kind, new: m}
}

func rkExact(k []byte, kind string, m func() proto.Message) recordKind {
	return recordKind{prefix: k, exact: true, kind: kind, new: m}
}

// recordKinds lists every record type in state by its key prefix. Index
// entries (value 0x01), sequences and counters are not records and are not
// here. Prefixes all end in '/' (or are whole keys), so no two overlap.
var recordKinds = []recordKind{
	rkExact(keyParams, "app_params", func() proto.Message { return &appv1.Params{} }),

	rk(prefixAgency, "agency", func() proto.Message { return &agencyv1.Agency{} }),
	rk(prefixAccount, "account", func() proto.Message { return &agencyv1.Account{} }),

	rkExact(keyFundsParams, "funds_params", func() proto.Message { return &fundsv1.Params{} }),
	rkExact(keyFundsTotals, "totals", func() proto.Message { return &fundsv1.Totals{} }),
	rk(prefixFundsYear, "year_total", func() proto.Message { return &fundsv1.YearTotal{} }),
	rk(prefixFundsBalance, "balance", func() proto.Message { return &fundsv1.Balance{} }),
	rk(prefixFundsHolder, "holder", func() proto.Message { return &fundsv1.Holder{} }),
	rk(prefixFundsMovement, "movement", func() proto.Message { return &fundsv1.Movement{} }),
	rk(prefixFundsTranche, "tranche", func() proto.Message { return &fundsv1.Tranche{} }),
	rk(prefixFundsRootLeg, "leg", func() proto.Message { return &fundsv1.Leg{} }),
	rk(prefixFundsApprop, "appropriation", func() proto.Message { return &fundsv1.Appropriation{} }),
	rk(prefixFundsRootTotals, "root_totals", func() proto.Message { return &fundsv1.RootTotals{} }),
	rk(prefixFundsSettlement, "settlement", func() proto.Message { return &fundsv1.Settlement{} }),

	rkExact(keyBenefitsParams, "benefits_params", func() proto.Message { return &benefitsv1.Params{} }),
	rk(prefixBenefitsProgramme, "programme", func() proto.Message { return &benefitsv1.Programme{} }),
	rk(prefixBenefitsEnrolment, "enrolment", func() proto.Message { return &benefitsv1.Enrolment{} }),
	rk(prefixBenefitsPayment, "payment", func() proto.Message { return &benefitsv1.Payment{} }),
	rk(prefixBenefitsRecovery, "recovery", func() proto.Message { return &benefitsv1.Recovery{} }),
	rk(prefixBenefitsRecovStep, "recovery_step", func() proto.Message { return &benefitsv1.RecoveryStep{} }),

	rk(prefixTaxType, "tax_type", func() proto.Message { return &taxv1.TaxType{} }),
	rk(prefixTaxAuth, "authorisation", func() proto.Message { return &taxv1.Authorisation{} }),
	rk(prefixTaxCollector, "collector", func() proto.Message { return &taxv1.Collector{} }),
	rk(prefixTaxReceipt, "receipt", func() proto.Message { return &taxv1.Receipt{} }),
	rk(prefixTaxState, "receipt_state", func() proto.Message { return &taxv1.ReceiptState{} }),
	rk(prefixTaxAmendment, "amendment", func() proto.Message { return &taxv1.Amendment{} }),
	rk(prefixTaxConfirmed, "confirmed", func() proto.Message { return &taxv1.Confirmed{} }),
	rk(prefixTaxConfirmation, "confirmation", func() proto.Message { return &taxv1.Confirmation{} }),
	rk(prefixTaxPayerTotal, "payer_total", func() proto.Message { return &taxv1.Total{} }),
	rk(prefixTaxTypeTotal, "tax_total", func() proto.Message { return &taxv1.Total{} }),
	rk(prefixTaxCollTotal, "collector_total", func() proto.Message { return &taxv1.Total{} }),

	rkExact(keyProvParams, "provenance_params", func() proto.Message { return &provenancev1.Params{} }),
	rk(prefixProvItem, "item", func() proto.Message { return &provenancev1.Item{} }),
	rk(prefixProvHistory, "event", func() proto.Message { return &provenancev1.Event{} }),
	rk(prefixProvAttestation, "attestation", func() proto.Message { return &provenancev1.Attestation{} }),
	rk(prefixProvOffer, "offer", func() proto.Message { return &provenancev1.Offer{} }),
	rk(prefixProvAccreditation, "accreditation", func() proto.Message { return &provenancev1.Accreditation{} }),
	rk(prefixProvRecallOrder, "recall_order", func() proto.Message { return &provenancev1.RecallOrder{} }),
	rk(prefixProvQueue, "recall_task", func() proto.Message { return &provenancev1.RecallTask{} }),
	rk(prefixProvLocation, "location", func() proto.Message { return &provenancev1.Location{} }),

	rkExact(keyGovParams, "gov_params", func() proto.Message { return &govv1.Params{} }),
	rkExact(keyGovUpgrade, "upgrade_plan", func() proto.Message { return &govv1.UpgradePlan{} }),
	rk(prefixGovProposal, "proposal", func() proto.Message { return &govv1.Proposal{} }),
	rk(prefixGovVote, "vote", func() proto.Message { return &govv1.Vote{} }),
	rk(prefixGovMandate, "mandate", func() proto.Message { return &govv1.MandateGrant{} }),
	rk(prefixGovGrant, "mandate_grant", func() proto.Message { return &govv1.MandateGrant{} }),
	rk(prefixGovValidator, "validator", func() proto.Message { return &govv1.Validator{} }),
	rk(prefixGovMisb, "misbehaviour", func() proto.Message { return &govv1.Misbehaviour{} }),
}

// RecordOf names the record type a state key holds and returns a new,
// empty message of that type to decode its value into: "movement" and a
// *fundsv1.Movement for a key under fu/m/. Index entries, counters and keys
// of no known layout give ("", nil). Trace and list answers mix record
// types; a reader tells them apart with this, never with prefixes of its own.
func RecordOf(k []byte) (string, proto.Message) {
	for _, r := range recordKinds {
		if r.exact && bytes.Equal(k, r.prefix) || !r.exact && bytes.HasPrefix(k, r.prefix) {
			return r.kind, r.new()
		}
	}
	return "", nil
}

// DecodeRecord decodes the value at state key k by the record type its
// layout holds (RecordOf). A value of 0x01 (IndexValue) is the record
// with every field zero. An empty value (absent) gives the kind and a nil
// message; a key of no known record type gives ("", nil, nil).
func DecodeRecord(k, value []byte) (string, proto.Message, error) {
	kind, m := RecordOf(k)
	if m == nil || len(value) == 0 {
		return kind, nil, nil
	}
	if bytes.Equal(value, IndexValue) {
		// An empty record (all fields zero, such as the funds totals
		// before any money moves) is stored as 0x01, as an index entry is:
		// no stored value may be empty.
		return kind, m, nil
	}
	if err := proto.Unmarshal(value, m); err != nil {
		return kind, nil, fmt.Errorf("the %s at key %x does not decode as %T: %w", kind, k, m, err)
	}
	return kind, m, nil
}
