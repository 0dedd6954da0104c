package app

import (
	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
)

var benefitsRoutes = moduleRoutes{
	name:  "benefits",
	query: queryBenefits,
}

func queryBenefits(a *App, q Query) (*abci.ResponseQuery, error) {
	arg := string(q.Data) // a listing's arg (the app decoded its ListRequest)
	switch q.Path {
	case api.PathBenefitsParams:
		return a.single(api.BenefitsParamsKey(), q.Height, q.Prove)
	case api.PathBenefitsProgramme:
		if err := funds.ValidateToken("programme id", arg); err != nil {
			return nil, err
		}
		return a.single(api.BenefitsProgrammeKey(arg), q.Height, q.Prove)
	case api.PathBenefitsProgrammes:
		return a.list(q)
	case api.PathBenefitsEnrolments:
		if err := funds.ValidateToken("programme id", arg); err != nil {
			return nil, err
		}
		return a.list(q)
	case api.PathBenefitsEnrolment, api.PathBenefitsHistory:
		prog, rcpt, err := benefits.SplitEnrolmentArg(arg)
		if err != nil {
			return nil, err
		}
		if q.Path == api.PathBenefitsEnrolment {
			return a.single(api.BenefitsEnrolmentKey(prog, rcpt), q.Height, q.Prove)
		}
		return a.list(q)
	case api.PathBenefitsPayment, api.PathBenefitsRecovery, api.PathBenefitsTrace:
		id, err := parseQueryID(arg)
		if err != nil {
			return nil, err
		}
		switch q.Path {
		case api.PathBenefitsPayment:
			return a.single(api.BenefitsPaymentKey(id), q.Height, q.Prove)
		case api.PathBenefitsRecovery:
			return a.single(api.BenefitsRecoveryKey(id), q.Height, q.Prove)
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
	return nil, ErrUnknownQuery.Wrapf("no benefits query %s; see `tallyd query benefits --help`", api.Quote(q.Path))
}
