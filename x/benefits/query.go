package benefits

import (
	"bytes"
	"strings"

	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/funds"
)

// PaymentTrace lists the state keys that show a payment whole: the payment
// record; the recoveries opened against it and each step that recovered
// them; the recoveries its own deductions went to; the funds movement that
// paid it and that movement's path back to its appropriation(s) or revenue
// (see funds.Keeper.TraceUp); and its settlement — proven present, or
// proven absent while it waits for the bank. complete is false if the funds
// path was cut at funds.MaxTraceRecords.
func (k Keeper) PaymentTrace(kv store.KV, id uint64) (keys [][]byte, complete bool, err error) {
	pay, err := k.Payment(kv, id)
	if err != nil {
		return nil, false, err
	}
	keys = append(keys, PaymentKey(id))
	var recoveries []uint64
	store.IteratePrefix(kv, payRecoveryPrefix(id), func(key, _ []byte) bool {
		recoveries = append(recoveries, idOf(key))
		return false
	})
	for _, d := range pay.Deductions {
		recoveries = append(recoveries, d.Recovery)
	}
	for _, rid := range recoveries {
		keys = append(keys, RecoveryKey(rid))
		store.IteratePrefix(kv, RecoveryStepsPrefix(rid), func(key, _ []byte) bool {
			keys = append(keys, append([]byte(nil), key...))
			return len(keys) > funds.MaxTraceRecords
		})
	}
	if pay.Movement == 0 {
		return keys, true, nil // failed, or withheld in full: no money moved
	}
	up, complete, err := k.Funds.TraceUp(kv, pay.Movement)
	if err != nil {
		return nil, false, err
	}
	keys = append(keys, up...)
	keys = append(keys, funds.SettlementKey(pay.Movement))
	return keys, complete, nil
}

// SplitEnrolmentArg reads "<programme>/<recipient>", the argument of the
// enrolment and history queries.
func SplitEnrolmentArg(s string) (programme, recipient string, err error) {
	programme, recipient, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", ErrInvalidRecipient.Wrapf("give <programme>/<recipient>")
	}
	if err := validateIDs(programme, recipient); err != nil {
		return "", "", err
	}
	return programme, recipient, nil
}

// Kinds of record in a payment trace, told apart by state key.

// IsPaymentKey reports whether key is a payment's state key.
func IsPaymentKey(key []byte) bool { return isIDKey(key, prefixPayment, 8) }

// IsRecoveryKey reports whether key is a recovery's state key.
func IsRecoveryKey(key []byte) bool { return isIDKey(key, prefixRecovery, 8) }

// IsRecoveryStepKey reports whether key is a recovery step's state key.
func IsRecoveryStepKey(key []byte) bool { return isIDKey(key, prefixRecovStep, 12) }

func isIDKey(key, prefix []byte, idLen int) bool {
	return len(key) == len(prefix)+idLen && bytes.HasPrefix(key, prefix)
}
