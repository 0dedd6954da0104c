package api

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// Funds query paths. Ids are decimal text. Listings take a ListRequest
// (ListData) with the argument shown.
const (
	PathFundsParams        = "/funds/params"        // data: none
	PathFundsTotals        = "/funds/totals"        // data: none
	PathFundsBalance       = "/funds/balance"       // data: holder id
	PathFundsBalances      = "/funds/balances"      // ListRequest, no arg; every balance, each proven
	PathFundsMovement      = "/funds/movement"      // data: movement id
	PathFundsTranche       = "/funds/tranche"       // data: tranche id
	PathFundsAppropriation = "/funds/appropriation" // data: appropriation reference
	PathFundsRoot          = "/funds/root"          // data: root (inflow movement) id → RootTotals
	PathFundsSettlement    = "/funds/settlement"    // data: payment movement id
	PathFundsTraceUp       = "/funds/trace-up"      // data: movement id → the path back to its roots
	PathFundsTraceDown     = "/funds/trace-down"    // ListRequest arg: root id → its RootTotals, then every leg descended from it
	PathFundsInvariants    = "/funds/invariants"    // data: none → InvariantReport, computed by the node
)

// Funds state. Ids are 8-byte big-endian, so key order is creation order.
// Holder ids ("agency:<id>", "programme:<id>", "payee:<ref>") never hold
// 0x00, so one holder's prefix never covers another's.
//
//	fu/params                                  → tally.funds.v1.Params
//	fu/totals                                  → Totals (ledger-wide running totals)
//	fu/y/<year 4B>                             → YearTotal (appropriated per calendar year)
//	fu/b/<holder>                              → Balance
//	fu/h/<holder>                              → Holder (registered programme funds)
//	fu/m/<movement id>                         → Movement (append-only)
//	fu/t/<tranche id>                          → Tranche
//	fu/o/<holder> 0x00 <tranche id>            → index: open tranches of a holder, oldest first
//	fu/f/<holder>                              → id of the holder's oldest open tranche (absent: none)
//	fu/u/<holder> 0x00 <from> 0x00 <tranche id> → index: open tranches of a holder by the holder they came from
//	fu/r/<root id><movement id><leg 2B>        → Leg: every leg of every movement under its root (trace down)
//	fu/a/<appropriation reference>             → Appropriation
//	fu/rt/<root id>                            → RootTotals
//	fu/s/<payment movement id>                 → Settlement
//	fu/seq/m, fu/seq/t                         → last movement id, last tranche id (8 bytes)
var (
	keyFundsParams        = []byte("fu/params")
	keyFundsTotals        = []byte("fu/totals")
	prefixFundsYear       = []byte("fu/y/")
	prefixFundsBalance    = []byte("fu/b/")
	prefixFundsHolder     = []byte("fu/h/")
	prefixFundsMovement   = []byte("fu/m/")
	prefixFundsTranche    = []byte("fu/t/")
	prefixFundsOpen       = []byte("fu/o/")
	prefixFundsOpenFrom   = []byte("fu/u/")
	prefixFundsHead       = []byte("fu/f/")
	prefixFundsRootLeg    = []byte("fu/r/")
	prefixFundsApprop     = []byte("fu/a/")
	prefixFundsRootTotals = []byte("fu/rt/")
	prefixFundsSettlement = []byte("fu/s/")
	keyFundsSeqMovement   = []byte("fu/seq/m")
	keyFundsSeqTranche    = []byte("fu/seq/t")
)

// FundsParamsKey is the state key of the funds params.
func FundsParamsKey() []byte { return clone(keyFundsParams) }

// FundsTotalsKey is the state key of the ledger-wide totals.
func FundsTotalsKey() []byte { return clone(keyFundsTotals) }

// FundsYearKey is the state key of one year's appropriation total.
func FundsYearKey(year int32) []byte { return Key(prefixFundsYear, u32(uint32(year))) }

// FundsBalanceKey is the state key of a holder's balance.
func FundsBalanceKey(holder string) []byte { return Key(prefixFundsBalance, []byte(holder)) }

// FundsBalancesPrefix is the prefix of every balance.
func FundsBalancesPrefix() []byte { return clone(prefixFundsBalance) }

// FundsHolderKey is the state key of a registered holder.
func FundsHolderKey(holder string) []byte { return Key(prefixFundsHolder, []byte(holder)) }

// FundsMovementKey is the state key of a movement.
func FundsMovementKey(id uint64) []byte { return Key(prefixFundsMovement, Uint64(id)) }

// FundsMovementSeqKey holds the last movement id (8 bytes big-endian).
func FundsMovementSeqKey() []byte { return clone(keyFundsSeqMovement) }

// FundsTrancheKey is the state key of a tranche.
func FundsTrancheKey(id uint64) []byte { return Key(prefixFundsTranche, Uint64(id)) }

// FundsTrancheSeqKey holds the last tranche id (8 bytes big-endian).
func FundsTrancheSeqKey() []byte { return clone(keyFundsSeqTranche) }

// FundsOpenPrefix is the prefix of a holder's open tranches, oldest first.
func FundsOpenPrefix(holder string) []byte { return Key(prefixFundsOpen, []byte(holder), zero) }

// FundsOpenKey is the index entry of an open tranche of holder.
func FundsOpenKey(holder string, id uint64) []byte { return Key(FundsOpenPrefix(holder), Uint64(id)) }

// FundsHeadKey holds the id of a holder's oldest open tranche, so the
// common move, one the oldest tranche covers, reads two records and
// iterates nothing.
func FundsHeadKey(holder string) []byte { return Key(prefixFundsHead, []byte(holder)) }

// FundsOpenFromPrefix is the prefix of a holder's open tranches that came from holder from.
func FundsOpenFromPrefix(holder, from string) []byte {
	return Key(prefixFundsOpenFrom, []byte(holder), zero, []byte(from), zero)
}

// FundsOpenFromKey is the index entry of an open tranche of holder that came from from.
func FundsOpenFromKey(holder, from string, id uint64) []byte {
	return Key(FundsOpenFromPrefix(holder, from), Uint64(id))
}

// FundsRootLegsPrefix is the prefix under which every leg descended from
// root is indexed, in movement order: the trace down.
func FundsRootLegsPrefix(root uint64) []byte { return Key(prefixFundsRootLeg, Uint64(root)) }

// FundsRootLegKey is the state key of leg leg of a movement under root.
func FundsRootLegKey(root, movement uint64, leg int) []byte {
	return Key(FundsRootLegsPrefix(root), Uint64(movement), binary.BigEndian.AppendUint16(nil, uint16(leg)))
}

// FundsAppropriationKey is the state key of an appropriation by its reference.
func FundsAppropriationKey(ref string) []byte { return Key(prefixFundsApprop, []byte(ref)) }

// FundsRootTotalsKey is the state key of one trace root's totals.
func FundsRootTotalsKey(root uint64) []byte { return Key(prefixFundsRootTotals, Uint64(root)) }

// FundsSettlementKey is the state key of a payment movement's settlement.
func FundsSettlementKey(payment uint64) []byte { return Key(prefixFundsSettlement, Uint64(payment)) }

// IsFundsTrancheKey reports whether key is a tranche's state key.
func IsFundsTrancheKey(k []byte) bool { return bytes.HasPrefix(k, prefixFundsTranche) }

// IsFundsMovementKey reports whether key is a movement's state key.
func IsFundsMovementKey(k []byte) bool { return bytes.HasPrefix(k, prefixFundsMovement) }

// IsFundsSettlementKey reports whether key is a settlement's state key.
func IsFundsSettlementKey(k []byte) bool { return bytes.HasPrefix(k, prefixFundsSettlement) }

// Funds holder ids: who holds public money, as the funds paths name them.
const (
	HolderAgencyPrefix    = "agency:"    // an agency's own funds: agency:<agency id>
	HolderProgrammePrefix = "programme:" // a benefit programme's fund: programme:<programme id>
	HolderPayeePrefix     = "payee:"     // a recipient's bank account awaiting settlement: payee:<64 hex pseudonym>
)

// AgencyHolder is the funds holder id of an agency's own funds.
func AgencyHolder(agencyID string) string { return HolderAgencyPrefix + agencyID }

// ProgrammeHolder is the funds holder id of a programme's fund.
func ProgrammeHolder(programmeID string) string { return HolderProgrammePrefix + programmeID }

// PayeeHolder is the funds holder id of a recipient's bank account, where
// payments wait for settlement.
func PayeeHolder(token string) string { return HolderPayeePrefix + token }

// FundsStatePrefix starts every key the funds module keeps (an export's
// funds section holds exactly the keys under it).
func FundsStatePrefix() []byte { return []byte("fu/") }

// PseudonymSize is the size of a pseudonym or commitment standing for a
// person (a recipient, a bank account, a payment reference): written as 64
// lower-case hex characters.
const PseudonymSize = 32

// ErrPseudonym is the kind of CheckPseudonym's refusals.
var ErrPseudonym = errors.New("not a pseudonym")

// CheckPseudonym checks that s is what may stand for a person on chain: a
// 32-byte pseudonym or salted commitment as 64 lower-case hex characters
// (client/personal Store.Pseudonym, or an HMAC under the agency's key).
// The chain cannot tell a commitment from random bytes, but it refuses
// every form a name, an identifier or a note could take. what names the
// field in the refusal.
func CheckPseudonym(what, s string) error {
	if len(s) != 2*PseudonymSize {
		return refuse(ErrPseudonym, "%s is %d characters; it must be a %d-byte pseudonym or commitment as %d lower-case hex characters (an HMAC under your agency's key, e.g. tallyd personal pseudonym), never a name, an identifier or free text", what, len(s), PseudonymSize, 2*PseudonymSize)
	}
	for _, c := range []byte(s) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return refuse(ErrPseudonym, "%s %q must be %d lower-case hex characters (a pseudonym or commitment), never a name, an identifier or free text", what, s, 2*PseudonymSize)
		}
	}
	return nil
}
