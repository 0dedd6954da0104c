package app

import (
	abci "github.com/cometbft/cometbft/abci/types"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/module"
)

// Benefits query paths. Ids are decimal text; listings take an optional
// continuation after a 0x00 byte, as the funds paths do.
const (
	PathBenefitsParams     = "/benefits/params"        // data: none
	PathBenefitsProgramme  = "/benefits/programme"     // data: programme id
	PathBenefitsProgrammes = "/benefits/programmes"    // data: [0x00 next_key]
	PathBenefitsEnrolment  = "/benefits/enrolment"     // data: <programme>/<recipient>
	PathBenefitsEnrolments = "/benefits/enrolments"    // data: programme id [0x00 next_key]
	PathBenefitsPayment    = "/benefits/payment"       // data: payment id
	PathBenefitsHistory    = "/benefits/history"       // data: <programme>/<recipient> [0x00 next_key]
	PathBenefitsRecovery   = "/benefits/recovery"      // data: recovery id
	PathBenefitsTrace      = "/benefits/payment-trace" // data: payment id → payment, recoveries, funds path, settlement
)

var benefitsRoutes = moduleRoutes{
	name: "benefits",
	owns: func(msg *txv1.Msg) bool {
		switch msg.Sum.(type) {
		case *txv1.Msg_CreateProgramme, *txv1.Msg_Enrol, *txv1.Msg_SuspendEnrolment, *txv1.Msg_ResumeEnrolment,
			*txv1.Msg_EndEnrolment, *txv1.Msg_Pay, *txv1.Msg_OpenRecovery, *txv1.Msg_RecordRepayment:
			return true
		}
		return false
	},
	role: func(msg *txv1.Msg) agencyv1.Role {
		switch msg.Sum.(type) {
		case *txv1.Msg_CreateProgramme:
			return agencyv1.Role_ROLE_PROGRAMME_MANAGER
		case *txv1.Msg_Pay, *txv1.Msg_OpenRecovery:
			return agencyv1.Role_ROLE_PAYER
		case *txv1.Msg_RecordRepayment:
			return agencyv1.Role_ROLE_SETTLEMENT_BANK
		}
		return agencyv1.Role_ROLE_CASEWORKER // enrol, suspend, resume, end
	},
	validate: func(msg *txv1.Msg) error {
		switch m := msg.Sum.(type) {
		case *txv1.Msg_CreateProgramme:
			return benefits.ValidateBasic(m.CreateProgramme)
		case *txv1.Msg_Enrol:
			return benefits.ValidateBasic(m.Enrol)
		case *txv1.Msg_SuspendEnrolment:
			return benefits.ValidateBasic(m.SuspendEnrolment)
		case *txv1.Msg_ResumeEnrolment:
			return benefits.ValidateBasic(m.ResumeEnrolment)
		case *txv1.Msg_EndEnrolment:
			return benefits.ValidateBasic(m.EndEnrolment)
		case *txv1.Msg_Pay:
			return benefits.ValidateBasic(m.Pay)
		case *txv1.Msg_OpenRecovery:
			return benefits.ValidateBasic(m.OpenRecovery)
		case *txv1.Msg_RecordRepayment:
			return benefits.ValidateBasic(m.RecordRepayment)
		}
		return nil
	},
	handle: func(a *App, ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error {
		k := a.benefits
		switch m := msg.Sum.(type) {
		case *txv1.Msg_CreateProgramme:
			return k.CreateProgramme(ctx, signer, m.CreateProgramme)
		case *txv1.Msg_Enrol:
			return k.Enrol(ctx, signer, m.Enrol)
		case *txv1.Msg_SuspendEnrolment:
			return k.SuspendEnrolment(ctx, signer, m.SuspendEnrolment)
		case *txv1.Msg_ResumeEnrolment:
			return k.ResumeEnrolment(ctx, signer, m.ResumeEnrolment)
		case *txv1.Msg_EndEnrolment:
			return k.EndEnrolment(ctx, signer, m.EndEnrolment)
		case *txv1.Msg_Pay:
			return k.Pay(ctx, signer, m.Pay)
		case *txv1.Msg_OpenRecovery:
			return k.OpenRecovery(ctx, signer, m.OpenRecovery)
		case *txv1.Msg_RecordRepayment:
			return k.RecordRepayment(ctx, signer, m.RecordRepayment)
		}
		return ErrInvalidMessage.Wrapf("benefits module cannot handle %T", msg.Sum)
	},
	query:    queryBenefits,
	endBlock: func(a *App, ctx module.Context) error { return a.benefits.EndBlock(ctx) },
}

func queryBenefits(a *App, q Query) (*abci.ResponseQuery, error) {
	arg, after := splitPage(q.Data)
	identity := func(k []byte) []byte { return k }
	switch q.Path {
	case PathBenefitsParams:
		return a.single(benefits.ParamsKey(), q.Height, q.Prove)
	case PathBenefitsProgramme:
		if err := funds.ValidateToken("programme id", arg); err != nil {
			return nil, err
		}
		return a.single(benefits.ProgrammeKey(arg), q.Height, q.Prove)
	case PathBenefitsProgrammes:
		keys, next, err := a.pageKeys(benefits.ProgrammesPrefix(), after, q.Height, identity)
		if err != nil {
			return nil, err
		}
		return a.records(keys, next, q.Height, q.Prove)
	case PathBenefitsEnrolments:
		if err := funds.ValidateToken("programme id", arg); err != nil {
			return nil, err
		}
		keys, next, err := a.pageKeys(benefits.EnrolmentsPrefix(arg), after, q.Height, identity)
		if err != nil {
			return nil, err
		}
		return a.records(keys, next, q.Height, q.Prove)
	case PathBenefitsEnrolment, PathBenefitsHistory:
		prog, rcpt, err := benefits.SplitEnrolmentArg(arg)
		if err != nil {
			return nil, err
		}
		if q.Path == PathBenefitsEnrolment {
			return a.single(benefits.EnrolmentKey(prog, rcpt), q.Height, q.Prove)
		}
		keys, next, err := a.pageKeys(benefits.HistoryPrefix(prog, rcpt), after, q.Height, benefits.PaymentOfHistoryKey)
		if err != nil {
			return nil, err
		}
		return a.records(keys, next, q.Height, q.Prove)
	case PathBenefitsPayment, PathBenefitsRecovery, PathBenefitsTrace:
		id, err := parseQueryID(arg)
		if err != nil {
			return nil, err
		}
		switch q.Path {
		case PathBenefitsPayment:
			return a.single(benefits.PaymentKey(id), q.Height, q.Prove)
		case PathBenefitsRecovery:
			return a.single(benefits.RecoveryKey(id), q.Height, q.Prove)
		}
		view := &stateAt{s: a.store, height: q.Height}
		keys, complete, err := a.benefits.PaymentTrace(view, id)
		if err == nil {
			err = view.err
		}
		if err != nil {
			return nil, err
		}
		return a.walk(keys, complete, q.Height, q.Prove)
	}
	return nil, ErrUnknownQuery.Wrapf("no benefits query %q; see `tallyd query benefits --help`", q.Path)
}
