package funds

import (
	"encoding/binary"
	"strings"

	"github.com/tallyledger/tally/store"
)

// State layout. Every record and index lives in the one IAVL tree, so each
// is provable against the app hash. Ids are 8-byte big-endian, so key order
// is creation order.
//
//	fu/params                                  → Params
//	fu/totals                                  → Totals (ledger-wide running totals)
//	fu/y/<year 4B>                             → YearTotal (appropriated per calendar year)
//	fu/b/<holder>                              → Balance
//	fu/h/<holder>                              → Holder (registered programme funds)
//	fu/m/<movement id>                         → Movement (append-only)
//	fu/t/<tranche id>                          → Tranche
//	fu/o/<holder> 0x00 <tranche id>            → empty: open tranches of a holder, oldest first
//	fu/f/<holder>                              → id of the holder's oldest open tranche (absent: none)
//	fu/u/<holder> 0x00 <from> 0x00 <tranche id> → empty: open tranches of a holder by the holder they came from
//	fu/r/<root id><movement id><leg 2B>        → Leg: every leg of every movement under its root (trace down)
//	fu/a/<appropriation reference>             → Appropriation
//	fu/rt/<root id>                            → RootTotals
//	fu/s/<payment movement id>                 → Settlement
//	fu/seq/m, fu/seq/t                         → last movement id, last tranche id
//
// Holder ids never contain 0x00, so one holder's prefix never covers another's.
var (
	keyParams        = []byte("fu/params")
	keyTotals        = []byte("fu/totals")
	prefixYear       = []byte("fu/y/")
	prefixBalance    = []byte("fu/b/")
	prefixHolder     = []byte("fu/h/")
	prefixMovement   = []byte("fu/m/")
	prefixTranche    = []byte("fu/t/")
	prefixOpen       = []byte("fu/o/")
	prefixOpenFrom   = []byte("fu/u/")
	prefixHead       = []byte("fu/f/")
	prefixRootLeg    = []byte("fu/r/")
	prefixApprop     = []byte("fu/a/")
	prefixRootTotals = []byte("fu/rt/")
	prefixSettlement = []byte("fu/s/")
	keySeqMovement   = []byte("fu/seq/m")
	keySeqTranche    = []byte("fu/seq/t")
)

// Holder id prefixes.
const (
	holderAgency    = "agency:"
	holderProgramme = "programme:"
	holderPayee     = "payee:"
)

// ParamsKey is the state key of the funds params.
func ParamsKey() []byte { return keyParams }

// TotalsKey is the state key of the ledger-wide totals.
func TotalsKey() []byte { return keyTotals }

// YearKey is the state key of one year's appropriation total.
func YearKey(year int32) []byte {
	return store.Key(prefixYear, binary.BigEndian.AppendUint32(nil, uint32(year)))
}

// BalanceKey is the state key of a holder's balance.
func BalanceKey(holder string) []byte { return store.Key(prefixBalance, []byte(holder)) }

// BalancesPrefix is the prefix of every balance.
func BalancesPrefix() []byte { return prefixBalance }

// HolderKey is the state key of a registered holder.
func HolderKey(holder string) []byte { return store.Key(prefixHolder, []byte(holder)) }

// MovementKey is the state key of a movement.
func MovementKey(id uint64) []byte { return store.Key(prefixMovement, store.Uint64(id)) }

// TrancheKey is the state key of a tranche.
func TrancheKey(id uint64) []byte { return store.Key(prefixTranche, store.Uint64(id)) }

func openPrefix(holder string) []byte { return store.Key(prefixOpen, []byte(holder), []byte{0}) }

func openKey(holder string, id uint64) []byte { return store.Key(openPrefix(holder), store.Uint64(id)) }

// headKey holds a holder's oldest open tranche, so the common move — one
// that the oldest tranche covers — reads two records and iterates nothing.
func headKey(holder string) []byte { return store.Key(prefixHead, []byte(holder)) }

func openFromPrefix(holder, from string) []byte {
	return store.Key(prefixOpenFrom, []byte(holder), []byte{0}, []byte(from), []byte{0})
}

func openFromKey(holder, from string, id uint64) []byte {
	return store.Key(openFromPrefix(holder, from), store.Uint64(id))
}

// RootLegsPrefix is the prefix under which every leg descended from root
// is indexed, in movement order: the trace down.
func RootLegsPrefix(root uint64) []byte { return store.Key(prefixRootLeg, store.Uint64(root)) }

func rootLegKey(root, movement uint64, leg int) []byte {
	return store.Key(RootLegsPrefix(root), store.Uint64(movement), binary.BigEndian.AppendUint16(nil, uint16(leg)))
}

// AppropriationKey is the state key of an appropriation by its reference.
func AppropriationKey(ref string) []byte { return store.Key(prefixApprop, []byte(ref)) }

// RootTotalsKey is the state key of one trace root's totals.
func RootTotalsKey(root uint64) []byte { return store.Key(prefixRootTotals, store.Uint64(root)) }

// SettlementKey is the state key of a payment's settlement.
func SettlementKey(payment uint64) []byte { return store.Key(prefixSettlement, store.Uint64(payment)) }

// IsTrancheKey and IsMovementKey tell records in a trace answer apart.
func IsTrancheKey(key []byte) bool { return strings.HasPrefix(string(key), string(prefixTranche)) }

// IsMovementKey reports whether key is a movement's state key.
func IsMovementKey(key []byte) bool { return strings.HasPrefix(string(key), string(prefixMovement)) }

// IsSettlementKey reports whether key is a settlement's state key.
func IsSettlementKey(key []byte) bool {
	return strings.HasPrefix(string(key), string(prefixSettlement))
}
