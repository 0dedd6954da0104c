package app

import (
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
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
	name:  "benefits",
	query: queryBenefits,
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
		return a.list(benefits.ProgrammesPrefix(), after, q.Height, q.Prove, identity)
	case PathBenefitsEnrolments:
		if err := funds.ValidateToken("programme id", arg); err != nil {
			return nil, err
		}
		return a.list(benefits.EnrolmentsPrefix(arg), after, q.Height, q.Prove, identity)
	case PathBenefitsEnrolment, PathBenefitsHistory:
		prog, rcpt, err := benefits.SplitEnrolmentArg(arg)
		if err != nil {
			return nil, err
		}
		if q.Path == PathBenefitsEnrolment {
			return a.single(benefits.EnrolmentKey(prog, rcpt), q.Height, q.Prove)
		}
		return a.list(benefits.HistoryPrefix(prog, rcpt), after, q.Height, q.Prove, benefits.PaymentOfHistoryKey)
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
