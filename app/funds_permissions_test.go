package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/agency"
)

// Every funds and benefits message is allowed to the one role the
// permission table names, and refused to every other role with tx/14 —
// in CheckTx and in a block — leaving every module's state as it was (the
// refused transaction spends no nonce; only old nonces expire meanwhile).
func TestFundsAndBenefitsPermissionsForEveryMessage(t *testing.T) {
	c := newMoneyChain(t, 0)
	c.block()
	start := blockTime(1).Unix()
	const prog = "pip"
	var payment, movement, recovery uint64

	steps := []struct {
		name string
		role agencyv1.Role
		msg  func() *txv1.Msg
	}{
		{"appropriate", agencyv1.Role_ROLE_TREASURY, func() *txv1.Msg { return msgAppropriate("SA2030/1", 1_000_000) }},
		{"allocate", agencyv1.Role_ROLE_TREASURY, func() *txv1.Msg { return msgAllocate(mBenefits, 500_000) }},
		{"create programme", agencyv1.Role_ROLE_PROGRAMME_MANAGER, func() *txv1.Msg {
			return msgCreateProgramme(prog, 1_000, 30*24*3600, start, start+365*24*3600, 0)
		}},
		{"fund", agencyv1.Role_ROLE_FINANCE, func() *txv1.Msg { return msgFund(prog, 100_000) }},
		{"transfer", agencyv1.Role_ROLE_FINANCE, func() *txv1.Msg {
			return msgTransfer(api.AgencyHolder(mBenefits), api.AgencyHolder(mCouncil), 5_000)
		}},
		{"return", agencyv1.Role_ROLE_FINANCE, func() *txv1.Msg {
			return msgReturn(api.ProgrammeHolder(prog), api.AgencyHolder(mBenefits), 1_000)
		}},
		{"enrol", agencyv1.Role_ROLE_CASEWORKER, func() *txv1.Msg { return msgEnrol(prog, "r1", 0) }},
		{"pay", agencyv1.Role_ROLE_PAYER, func() *txv1.Msg { return msgPay(prog, "r1", 700) }},
		{"settle", agencyv1.Role_ROLE_SETTLEMENT_BANK, func() *txv1.Msg { return msgSettle(movement) }},
		{"open recovery", agencyv1.Role_ROLE_PAYER, func() *txv1.Msg { return msgOpenRecovery(payment, 200) }},
		{"record repayment", agencyv1.Role_ROLE_SETTLEMENT_BANK, func() *txv1.Msg { return msgRepay(recovery, 50) }},
		{"suspend", agencyv1.Role_ROLE_CASEWORKER, func() *txv1.Msg { return msgSuspend(prog, "r1") }},
		{"resume", agencyv1.Role_ROLE_CASEWORKER, func() *txv1.Msg { return msgResume(prog, "r1") }},
		{"end", agencyv1.Role_ROLE_CASEWORKER, func() *txv1.Msg { return msgEnd(prog, "r1") }},
	}
	covered := map[string]bool{}
	for _, s := range steps {
		msg := s.msg()
		need, ok := app.RequiredRole(msg)
		require.True(t, ok, s.name)
		require.Equal(t, s.role, need, "%s: permission table", s.name)
		covered[msgTypeName(msg)] = true

		for role, key := range roleHolders {
			if role == s.role {
				continue
			}
			tx := c.tx(key, msg)
			chk := c.checkTx(tx)
			requireCode(t, app.ErrUnauthorized, chk.Codespace, chk.Code, chk.Log, "needs role "+agency.RoleName(s.role))
			before := c.moduleState()
			res := c.block(tx)
			requireCode(t, app.ErrUnauthorized, res.TxResults[0].Codespace, res.TxResults[0].Code, res.TxResults[0].Log)
			require.Empty(t, res.TxResults[0].Events, "%s by %s emitted events", s.name, agency.RoleName(role))
			require.Equal(t, before, c.moduleState(), "%s by %s changed state", s.name, agency.RoleName(role))
		}
		res := c.block(c.tx(roleHolders[s.role], msg))
		requireOK(t, res.TxResults[0])
		switch s.name {
		case "pay":
			movement = mID(t, mEventAttr(t, res.TxResults[0].Events, "benefits.paid", "movement"))
			payment = mID(t, mEventAttr(t, res.TxResults[0].Events, "benefits.paid", "payment"))
		case "open recovery":
			recovery = mID(t, mEventAttr(t, res.TxResults[0].Events, "benefits.recovery_opened", "recovery"))
		}
		c.requireConserved()
	}
	// Every message type of the two modules was covered.
	for _, name := range []string{"Appropriate", "Allocate", "Fund", "Transfer", "Return", "Settle",
		"CreateProgramme", "Enrol", "SuspendEnrolment", "ResumeEnrolment", "EndEnrolment", "Pay", "OpenRecovery", "RecordRepayment"} {
		require.True(t, covered[name], "message %s has no permission case", name)
	}
	// The benefits payment, once paid, could be opened for recovery, and
	// the settled payment is in its trace.
	p := &benefitsv1.Payment{}
	require.True(t, c.mRecord(api.PathBenefitsPayment, "1", p))
	require.Equal(t, benefitsv1.PaymentStatus_PAYMENT_STATUS_PAID, p.Status)
}

func msgTypeName(m *txv1.Msg) string {
	name := string(m.ProtoReflect().WhichOneof(m.ProtoReflect().Descriptor().Oneofs().ByName("sum")).Message().Name())
	return name[len("Msg"):]
}
