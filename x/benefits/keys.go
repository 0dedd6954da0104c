package benefits

import (
	"encoding/binary"

	"github.com/tallyledger/tally/store"
)

// State layout. Every record and index lives in the one IAVL tree, so each
// is provable. Ids and times are 8-byte big-endian, so key order is
// creation (or due) order. Programme ids and recipient references never
// contain 0x00.
//
//	bf/params                                       → Params
//	bf/g/<programme>                                → Programme
//	bf/e/<programme> 0x00 <recipient>               → Enrolment
//	bf/d/<due unix 8B><programme>                   → empty: the schedule, earliest due first
//	bf/p/<payment id>                               → Payment (append-only)
//	bf/h/<programme> 0x00 <recipient> 0x00 <payment id> → empty: a recipient's payment history
//	bf/v/<recovery id>                              → Recovery
//	bf/vp/<payment id><recovery id>                 → empty: recoveries of a payment
//	bf/vo/<programme> 0x00 <recipient> 0x00 <recovery id> → empty: open recoveries, oldest first
//	bf/vs/<recovery id><step 4B>                    → RecoveryStep
//	bf/seq/p, bf/seq/v                              → last payment id, last recovery id
var (
	keyParams         = []byte("bf/params")
	prefixProgramme   = []byte("bf/g/")
	prefixEnrolment   = []byte("bf/e/")
	prefixDue         = []byte("bf/d/")
	prefixPayment     = []byte("bf/p/")
	prefixHistory     = []byte("bf/h/")
	prefixRecovery    = []byte("bf/v/")
	prefixPayRecovery = []byte("bf/vp/")
	prefixOpenRecov   = []byte("bf/vo/")
	prefixRecovStep   = []byte("bf/vs/")
	keySeqPayment     = []byte("bf/seq/p")
	keySeqRecovery    = []byte("bf/seq/v")
)

// ParamsKey is the state key of the benefits params.
func ParamsKey() []byte { return keyParams }

// ProgrammeKey is the state key of a programme.
func ProgrammeKey(id string) []byte { return store.Key(prefixProgramme, []byte(id)) }

// ProgrammesPrefix is the prefix of every programme.
func ProgrammesPrefix() []byte { return prefixProgramme }

// EnrolmentsPrefix is the prefix of a programme's enrolments.
func EnrolmentsPrefix(programme string) []byte {
	return store.Key(prefixEnrolment, []byte(programme), []byte{0})
}

// EnrolmentKey is the state key of one enrolment.
func EnrolmentKey(programme, recipient string) []byte {
	return store.Key(EnrolmentsPrefix(programme), []byte(recipient))
}

func dueKey(due int64, programme string) []byte {
	return store.Key(prefixDue, store.Uint64(uint64(due)), []byte(programme))
}

// PaymentKey is the state key of a payment.
func PaymentKey(id uint64) []byte { return store.Key(prefixPayment, store.Uint64(id)) }

// HistoryPrefix is the prefix of a recipient's payment history.
func HistoryPrefix(programme, recipient string) []byte {
	return store.Key(prefixHistory, []byte(programme), []byte{0}, []byte(recipient), []byte{0})
}

// PaymentOfHistoryKey maps a history index key to the payment's state key.
func PaymentOfHistoryKey(indexKey []byte) []byte {
	return store.Key(prefixPayment, indexKey[len(indexKey)-8:])
}

// RecoveryKey is the state key of a recovery.
func RecoveryKey(id uint64) []byte { return store.Key(prefixRecovery, store.Uint64(id)) }

func payRecoveryPrefix(payment uint64) []byte {
	return store.Key(prefixPayRecovery, store.Uint64(payment))
}

func openRecoveryPrefix(programme, recipient string) []byte {
	return store.Key(prefixOpenRecov, []byte(programme), []byte{0}, []byte(recipient), []byte{0})
}

// RecoveryStepsPrefix is the prefix of a recovery's steps.
func RecoveryStepsPrefix(recovery uint64) []byte {
	return store.Key(prefixRecovStep, store.Uint64(recovery))
}

func recoveryStepKey(recovery uint64, step uint32) []byte {
	return store.Key(RecoveryStepsPrefix(recovery), binary.BigEndian.AppendUint32(nil, step))
}

func idOf(key []byte) uint64 { return binary.BigEndian.Uint64(key[len(key)-8:]) }

func nextSeq(kv store.KV, key []byte) uint64 {
	var n uint64
	if b := kv.Get(key); len(b) == 8 {
		n = binary.BigEndian.Uint64(b)
	}
	n++
	kv.Set(key, store.Uint64(n))
	return n
}
