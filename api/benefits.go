package api

import (
	"bytes"
	"encoding/binary"

	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
)

// Benefits query paths. Ids are decimal text; listings take a ListRequest
// (ListData) with the argument shown.
const (
	PathBenefitsParams     = "/benefits/params"        // data: none
	PathBenefitsProgramme  = "/benefits/programme"     // data: programme id
	PathBenefitsProgrammes = "/benefits/programmes"    // ListRequest, no arg
	PathBenefitsEnrolment  = "/benefits/enrolment"     // data: <programme>/<recipient>
	PathBenefitsEnrolments = "/benefits/enrolments"    // ListRequest arg: programme id
	PathBenefitsPayment    = "/benefits/payment"       // data: payment id
	PathBenefitsHistory    = "/benefits/history"       // ListRequest arg: <programme>/<recipient>
	PathBenefitsRecovery   = "/benefits/recovery"      // data: recovery id
	PathBenefitsTrace      = "/benefits/payment-trace" // data: payment id → payment, recoveries, funds path, settlement
)

// Benefits state. Ids and times are 8-byte big-endian, so key order is
// creation (or due) order. Programme ids and recipient references never
// contain 0x00.
//
//	bf/params                                       → tally.benefits.v1.Params
//	bf/g/<programme>                                → Programme
//	bf/e/<programme> 0x00 <recipient>               → Enrolment
//	bf/d/<due unix 8B><programme>                   → index: the schedule, earliest due first
//	bf/p/<payment id>                               → Payment (append-only)
//	bf/h/<programme> 0x00 <recipient> 0x00 <payment id> → index: a recipient's payment history
//	bf/v/<recovery id>                              → Recovery
//	bf/vp/<payment id><recovery id>                 → index: recoveries of a payment
//	bf/vo/<programme> 0x00 <recipient> 0x00 <recovery id> → index: open recoveries, oldest first
//	bf/vs/<recovery id><step 4B>                    → RecoveryStep
//	bf/seq/p, bf/seq/v                              → last payment id, last recovery id (8 bytes)
var (
	keyBenefitsParams         = []byte("bf/params")
	prefixBenefitsProgramme   = []byte("bf/g/")
	prefixBenefitsEnrolment   = []byte("bf/e/")
	prefixBenefitsDue         = []byte("bf/d/")
	prefixBenefitsPayment     = []byte("bf/p/")
	prefixBenefitsHistory     = []byte("bf/h/")
	prefixBenefitsRecovery    = []byte("bf/v/")
	prefixBenefitsPayRecovery = []byte("bf/vp/")
	prefixBenefitsOpenRecov   = []byte("bf/vo/")
	prefixBenefitsRecovStep   = []byte("bf/vs/")
	keyBenefitsSeqPayment     = []byte("bf/seq/p")
	keyBenefitsSeqRecovery    = []byte("bf/seq/v")
)

// BenefitsStatePrefix starts every key the benefits module keeps.
func BenefitsStatePrefix() []byte { return []byte("bf/") }

// BenefitsParamsKey is the state key of the benefits params.
func BenefitsParamsKey() []byte { return clone(keyBenefitsParams) }

// BenefitsProgrammeKey is the state key of a programme.
func BenefitsProgrammeKey(id string) []byte { return Key(prefixBenefitsProgramme, []byte(id)) }

// BenefitsProgrammesPrefix is the prefix of every programme.
func BenefitsProgrammesPrefix() []byte { return clone(prefixBenefitsProgramme) }

// BenefitsEnrolmentsPrefix is the prefix of a programme's enrolments.
func BenefitsEnrolmentsPrefix(programme string) []byte {
	return Key(prefixBenefitsEnrolment, []byte(programme), zero)
}

// BenefitsAllEnrolmentsPrefix covers the enrolments of every programme.
func BenefitsAllEnrolmentsPrefix() []byte { return clone(prefixBenefitsEnrolment) }

// BenefitsEnrolmentKey is the state key of one enrolment.
func BenefitsEnrolmentKey(programme, recipient string) []byte {
	return Key(BenefitsEnrolmentsPrefix(programme), []byte(recipient))
}

// BenefitsDuePrefix covers the payment schedule, earliest due first.
func BenefitsDuePrefix() []byte { return clone(prefixBenefitsDue) }

// BenefitsDueKey is the schedule entry of a programme due at unix time due.
func BenefitsDueKey(due int64, programme string) []byte {
	return Key(prefixBenefitsDue, Uint64(uint64(due)), []byte(programme))
}

// BenefitsPaymentKey is the state key of a payment.
func BenefitsPaymentKey(id uint64) []byte { return Key(prefixBenefitsPayment, Uint64(id)) }

// BenefitsPaymentsPrefix covers every payment, in id order.
func BenefitsPaymentsPrefix() []byte { return clone(prefixBenefitsPayment) }

// BenefitsPaymentSeqKey holds the last payment id (8 bytes big-endian).
func BenefitsPaymentSeqKey() []byte { return clone(keyBenefitsSeqPayment) }

// BenefitsHistoryPrefix is the prefix of a recipient's payment history.
func BenefitsHistoryPrefix(programme, recipient string) []byte {
	return Key(prefixBenefitsHistory, []byte(programme), zero, []byte(recipient), zero)
}

// BenefitsAllHistoryPrefix covers the payment history of every recipient.
func BenefitsAllHistoryPrefix() []byte { return clone(prefixBenefitsHistory) }

// BenefitsHistoryKey is the history entry of payment id to a recipient.
func BenefitsHistoryKey(programme, recipient string, id uint64) []byte {
	return Key(BenefitsHistoryPrefix(programme, recipient), Uint64(id))
}

// BenefitsPaymentOfHistoryKey maps a history index key to the payment's state key.
func BenefitsPaymentOfHistoryKey(indexKey []byte) []byte {
	return Key(prefixBenefitsPayment, indexKey[len(indexKey)-8:])
}

// BenefitsRecoveryKey is the state key of a recovery.
func BenefitsRecoveryKey(id uint64) []byte { return Key(prefixBenefitsRecovery, Uint64(id)) }

// BenefitsRecoveriesPrefix covers every recovery, in id order.
func BenefitsRecoveriesPrefix() []byte { return clone(prefixBenefitsRecovery) }

// BenefitsRecoverySeqKey holds the last recovery id (8 bytes big-endian).
func BenefitsRecoverySeqKey() []byte { return clone(keyBenefitsSeqRecovery) }

// BenefitsPaymentRecoveriesPrefix is the prefix of the recoveries of a payment.
func BenefitsPaymentRecoveriesPrefix(payment uint64) []byte {
	return Key(prefixBenefitsPayRecovery, Uint64(payment))
}

// BenefitsPaymentRecoveryKey is the index entry of recovery id of a payment.
func BenefitsPaymentRecoveryKey(payment, id uint64) []byte {
	return Key(BenefitsPaymentRecoveriesPrefix(payment), Uint64(id))
}

// BenefitsOpenRecoveriesPrefix is the prefix of a recipient's open recoveries, oldest first.
func BenefitsOpenRecoveriesPrefix(programme, recipient string) []byte {
	return Key(prefixBenefitsOpenRecov, []byte(programme), zero, []byte(recipient), zero)
}

// BenefitsAllOpenRecoveriesPrefix covers the open recoveries of every recipient.
func BenefitsAllOpenRecoveriesPrefix() []byte { return clone(prefixBenefitsOpenRecov) }

// BenefitsOpenRecoveryKey is the index entry of an open recovery.
func BenefitsOpenRecoveryKey(programme, recipient string, id uint64) []byte {
	return Key(BenefitsOpenRecoveriesPrefix(programme, recipient), Uint64(id))
}

// BenefitsRecoveryStepsPrefix is the prefix of a recovery's steps.
func BenefitsRecoveryStepsPrefix(recovery uint64) []byte {
	return Key(prefixBenefitsRecovStep, Uint64(recovery))
}

// BenefitsRecoveryStepKey is the state key of step n of a recovery.
func BenefitsRecoveryStepKey(recovery uint64, step uint32) []byte {
	return Key(BenefitsRecoveryStepsPrefix(recovery), u32(step))
}

// IsBenefitsPaymentKey reports whether key is a payment's state key.
func IsBenefitsPaymentKey(k []byte) bool { return isIDKey(k, prefixBenefitsPayment, 8) }

// IsBenefitsRecoveryKey reports whether key is a recovery's state key.
func IsBenefitsRecoveryKey(k []byte) bool { return isIDKey(k, prefixBenefitsRecovery, 8) }

// IsBenefitsRecoveryStepKey reports whether key is a recovery step's state key.
func IsBenefitsRecoveryStepKey(k []byte) bool { return isIDKey(k, prefixBenefitsRecovStep, 12) }

func isIDKey(k, prefix []byte, idLen int) bool {
	return len(k) == len(prefix)+idLen && bytes.HasPrefix(k, prefix)
}

// IDOfKey is the 8-byte big-endian id that ends key (a record or index
// entry whose layout ends in an id); 0 when key is shorter.
func IDOfKey(k []byte) uint64 {
	if len(k) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(k)-8:])
}

// BenefitsPeriodStart is when period k of programme p starts (Unix
// seconds).
func BenefitsPeriodStart(p *benefitsv1.Programme, k uint64) int64 {
	return p.StartUnix + int64(k)*p.PeriodSeconds
}

// BenefitsNextRun is when programme p's next scheduled run falls due
// (Unix seconds), or 0 once every period has been run.
func BenefitsNextRun(p *benefitsv1.Programme) int64 {
	if p.Finished {
		return 0
	}
	return BenefitsPeriodStart(p, p.NextPeriod)
}
