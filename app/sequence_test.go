package app_test

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	pv "github.com/tallyledger/tally/proto/tally/provenance/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// payingProgramme is a programme of newPayingWorld that has started, so a
// one-off payment to its recipient r1 succeeds.
const payingProgramme = "seq"

// newPayingWorld is the fuzz world plus payingProgramme, funded, with r1
// enrolled: every module has a message that succeeds in it.
func newPayingWorld(t *testing.T) *chain {
	c := newFuzzWorld(t)
	now := blockTime(c.height + 1).Unix()
	for _, r := range c.block(
		c.tx(mManager, msgCreateProgramme(payingProgramme, 1_000, 30*24*3600, now, now+365*24*3600, 0)),
		c.tx(mFinance, msgFund(payingProgramme, 10_000)),
		c.tx(mCaseworker, msgEnrol(payingProgramme, "r1", 0)),
	).TxResults {
		requireOK(t, r)
	}
	return c
}

// A sequence at its last number (2^64-1) refuses the message that needs
// another number with tx/80, and the state is as it was: no record numbered
// 0 or 1 is written over, the counter is not wrapped. With the counter put
// back, the same message succeeds, so the refusal was the counter's. One
// case for each counter behaviour that differed before module.NextSeq:
// funds and benefits wrapped round to 0, tax refused with its own code,
// gov wrapped and deleted its counter, provenance's queue counted from 0
// and wrapped, and counters inside records (an item's history) and keys
// (a recovery's 32-bit step numbers) wrapped.
func TestASequenceAtItsLastNumberRefusesWhatNeedsAnother(t *testing.T) {
	c := newPayingWorld(t)
	counter := func(key []byte) func() func() {
		return func() func() {
			prev := c.st.Get(key)
			c.st.Set(key, api.Uint64(math.MaxUint64))
			return func() {
				if prev == nil {
					c.st.Delete(key)
				} else {
					c.st.Set(key, prev)
				}
			}
		}
	}
	itemEvents := func() func() {
		it := &pv.Item{}
		found, err := store.GetProto(c.st, api.ProvenanceItemKey(fzItem), it)
		require.True(t, found)
		require.NoError(t, err)
		prev := it.Events
		it.Events = math.MaxUint64
		require.NoError(t, store.SetProto(c.st, api.ProvenanceItemKey(fzItem), it))
		return func() {
			it.Events = prev
			require.NoError(t, store.SetProto(c.st, api.ProvenanceItemKey(fzItem), it))
		}
	}
	recoveryStep := func() func() { // the last step a recovery can number: its next refuses
		recovery := binary.BigEndian.Uint64(c.st.Get(api.BenefitsRecoverySeqKey()))
		key := api.BenefitsRecoveryStepKey(recovery, math.MaxUint32)
		c.st.Set(key, store.Present)
		return func() { c.st.Delete(key) }
	}
	cases := []struct {
		name   string
		max    func() (restore func())
		msg    *txv1.Msg
		after  []*txv1.Msg // run after the message succeeds, to set up the next case
		reason string
	}{
		{"funds movement", counter(api.FundsMovementSeqKey()), msgAppropriate("FZ/SEQ-1", 1_000), nil, "every movement number"},
		{"funds tranche", counter(api.FundsTrancheSeqKey()), msgAppropriate("FZ/SEQ-2", 1_000), nil, "every tranche number"},
		{"benefits payment", counter(api.BenefitsPaymentSeqKey()), msgPay(payingProgramme, "r1", 100), nil, "every payment number"},
		{"benefits recovery", counter(api.BenefitsRecoverySeqKey()), msgOpenRecovery(1, 50), nil, "every recovery number"},
		{"recovery step", recoveryStep, msgRepay(1, 10), nil, "every step of recovery 1 number"},
		{"tax receipt", counter(api.TaxSeqKey(mTax)), taxIssue("VAT", fzPayer, "2030-Q1", 500, "BANK-FZ-SEQ"), nil, "every " + mTax + " receipt number"},
		{"gov proposal", counter(api.GovProposalSeqKey()), msgPropose(changeParam("app.max_memo_bytes", "300")), nil, "every proposal number"},
		{"item history", itemEvents, offer(fzItem, mCouncilAdmin, 3600), []*txv1.Msg{withdraw(fzItem), split(fzItem, 40, 60)}, "every history entry of item " + fzItem + " number"},
		{"recall queue", counter(api.ProvenanceQueueNextKey()), recall("RC-SEQ", fzItem), nil, "every recall task number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			restore := tc.max()
			c.block()
			before := withoutReplay(c.dump())
			res := c.block(c.tx(signerFor(tc.msg), tc.msg)).TxResults[0]
			after := withoutReplay(c.dump())
			restore()
			c.block()
			requireCode(t, module.ErrSequenceExhausted, res.Codespace, res.Code, res.Log, tc.reason)
			require.Equal(t, before, after, "the refused message changed state")

			requireOK(t, c.block(c.tx(signerFor(tc.msg), tc.msg)).TxResults[0])
			for _, m := range tc.after {
				requireOK(t, c.block(c.tx(signerFor(m), m)).TxResults[0])
			}
		})
	}
}
