package app_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// Many blocks of mixed funds and benefits operations from several agencies,
// chosen by a fixed seed (some of them wrong on purpose): after every block
// appropriated + revenue credited − revenue debited − settled equals the
// sum of all balances, every holder's balance equals its open tranches, no
// transaction fails with an internal error, and every payment to a bank
// account traces back to an appropriation or revenue credit.
func TestRandomisedFundsAndBenefitsConserveAndTrace(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2030))
	c := newMoneyChain(t, 25)
	c.block()
	start := blockTime(2).Unix()
	type prog struct {
		id                  string
		manager, fin, cw, p testKey
		agency              string
		recipients          []string
	}
	progs := []*prog{
		{id: "pa", manager: mManager, fin: mFinance, cw: mCaseworker, p: mPayer, agency: mBenefits},
		{id: "pc", manager: mCouncilMgr, fin: mCouncilFin, cw: mCouncilCase, p: mCouncilPayer, agency: mCouncil},
	}
	var setup [][]byte
	setup = append(setup, c.tx(mOfficer, msgAppropriate("SA/0", 2_000_000), msgAllocate(mBenefits, 800_000), msgAllocate(mCouncil, 600_000)))
	for _, p := range progs {
		setup = append(setup, c.tx(p.manager, msgCreateProgramme(p.id, 250, 7, start, start+100_000, 40_000)))
	}
	for _, r := range c.block(setup...).TxResults {
		requireOK(t, r)
	}

	var payments []uint64     // funds movements to bank accounts, unsettled or not
	var paid []uint64         // benefits payments
	var recoveries []uint64   // recoveries opened
	seen := map[uint64]bool{} // settled already (the test expects a refusal then)
	collect := func(events []abci.Event) {
		for _, e := range events {
			at := map[string]string{}
			for _, a := range e.Attributes {
				at[a.Key] = a.Value
			}
			switch e.Type {
			case funds.EventMoved:
				if strings.HasPrefix(at["to"], "payee:") {
					payments = append(payments, mID(t, at["movement"]))
				}
			case "benefits.paid":
				paid = append(paid, mID(t, at["payment"]))
			case "benefits.recovery_opened":
				recoveries = append(recoveries, mID(t, at["recovery"]))
			}
		}
	}
	pick := func(ids []uint64) uint64 {
		if len(ids) == 0 {
			return 1 + rng.Uint64N(50) // probably unknown: a refusal to check
		}
		return ids[rng.IntN(len(ids))]
	}
	codes := map[string]int{}
	nextRef, nextRecipient := 1, 0
	const blocks = 150
	for b := 0; b < blocks; b++ {
		var txs [][]byte
		for range 1 + rng.IntN(4) {
			p := progs[rng.IntN(len(progs))]
			amount := 1 + rng.Uint64N(20_000)
			var signer testKey
			var msg *txv1.Msg
			switch op := rng.IntN(12); op {
			case 0:
				nextRef++
				signer, msg = mOfficer, msgAppropriate(fmt.Sprintf("SA/%d", nextRef), amount*10)
			case 1:
				signer, msg = mOfficer, msgAllocate(p.agency, amount*5)
			case 2:
				signer, msg = p.fin, msgFund(p.id, amount*3)
			case 3:
				signer, msg = p.fin, msgTransfer(api.AgencyHolder(p.agency), api.AgencyHolder(mRegulate), amount)
			case 4:
				signer, msg = p.fin, msgReturn(api.ProgrammeHolder(p.id), api.AgencyHolder(p.agency), amount)
			case 5:
				signer, msg = p.fin, msgReturn(api.AgencyHolder(p.agency), api.AgencyHolder(mTreasury), amount)
			case 6, 7:
				nextRecipient++
				r := fmt.Sprintf("x%d", nextRecipient)
				p.recipients = append(p.recipients, r)
				signer, msg = p.cw, msgEnrol(p.id, r, 0)
			case 8:
				if len(p.recipients) == 0 {
					continue
				}
				signer, msg = p.p, msgPay(p.id, p.recipients[rng.IntN(len(p.recipients))], amount/10+1)
			case 9:
				id := pick(payments)
				seen[id] = true
				signer, msg = mSettler, msgSettle(id)
			case 10:
				signer, msg = p.p, msgOpenRecovery(pick(paid), 1+rng.Uint64N(300))
			case 11:
				signer, msg = mSettler, msgRepay(pick(recoveries), 1+rng.Uint64N(100))
			}
			txs = append(txs, c.tx(signer, msg))
		}
		res := c.block(txs...)
		for _, r := range res.TxResults {
			require.NotEqual(t, module.ErrInternal.Codespace, r.Codespace, r.Log)
			codes[fmt.Sprintf("%s/%d", r.Codespace, r.Code)]++
			if r.Code == 0 {
				collect(r.Events)
			}
		}
		collect(res.Events)
		c.requireConserved()
	}
	t.Logf("results by code: %v; %d payments to bank accounts, %d benefit payments, %d recoveries", codes, len(payments), len(paid), len(recoveries))
	require.Greater(t, codes["/0"], blocks, "most operations should succeed")
	require.Greater(t, len(paid), 100, "scheduled and one-off payments should have run")
	for _, id := range payments {
		c.requireTracesToRoot(id)
	}
	r := c.mInvariants()
	require.NotZero(t, r.Totals.Settled)
	require.NotZero(t, r.Totals.RevenueCredited, "repayments enter as revenue")
}
