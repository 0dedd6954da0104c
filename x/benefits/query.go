package benefits

import (
	"strings"

	"github.com/tallyledger/tally/api"
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
	keys = append(keys, api.BenefitsPaymentKey(id))
	var recoveries []uint64
	store.IteratePrefix(kv, api.BenefitsPaymentRecoveriesPrefix(id), func(key, _ []byte) bool {
		recoveries = append(recoveries, api.IDOfKey(key))
		return false
	})
	for _, d := range pay.Deductions {
		recoveries = append(recoveries, d.Recovery)
	}
	for _, rid := range recoveries {
		keys = append(keys, api.BenefitsRecoveryKey(rid))
		store.IteratePrefix(kv, api.BenefitsRecoveryStepsPrefix(rid), func(key, _ []byte) bool {
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
	keys = append(keys, api.FundsSettlementKey(pay.Movement))
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
