package app

import (
	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/x/funds"
)

var fundsRoutes = moduleRoutes{
	name:  "funds",
	query: queryFunds,
}

func queryFunds(a *App, q Query) (*abci.ResponseQuery, error) {
	arg := string(q.Data) // a listing's arg (the app decoded its ListRequest)
	switch q.Path {
	case api.PathFundsParams:
		return a.single(api.FundsParamsKey(), q.Height, q.Prove)
	case api.PathFundsTotals:
		return a.single(api.FundsTotalsKey(), q.Height, q.Prove)
	case api.PathFundsBalance:
		if err := funds.ValidateHolder(string(q.Data)); err != nil {
			return nil, err
		}
		return a.single(api.FundsBalanceKey(string(q.Data)), q.Height, q.Prove)
	case api.PathFundsBalances:
		return a.list(q)
	case api.PathFundsMovement, api.PathFundsTranche, api.PathFundsRoot, api.PathFundsSettlement, api.PathFundsTraceUp, api.PathFundsTraceDown:
		id, err := parseQueryID(arg)
		if err != nil {
			return nil, err
		}
		switch q.Path {
		case api.PathFundsMovement:
			return a.single(api.FundsMovementKey(id), q.Height, q.Prove)
		case api.PathFundsTranche:
			return a.single(api.FundsTrancheKey(id), q.Height, q.Prove)
		case api.PathFundsRoot:
			return a.single(api.FundsRootTotalsKey(id), q.Height, q.Prove)
		case api.PathFundsSettlement:
			return a.single(api.FundsSettlementKey(id), q.Height, q.Prove)
		case api.PathFundsTraceUp:
			view := &stateAt{s: a.store, height: q.Height}
			keys, complete, err := a.funds.TraceUp(view, id)
			if err == nil {
				err = view.err
			}
			if err != nil {
				return nil, err
			}
			return a.walk(keys, complete, q.Height, q.Prove)
		default: // trace down
			return a.list(q)
		}
	case api.PathFundsAppropriation:
		if len(q.Data) == 0 {
			return nil, ErrInvalidQuery.Wrapf("give the appropriation reference")
		}
		return a.single(api.FundsAppropriationKey(string(q.Data)), q.Height, q.Prove)
	case api.PathFundsInvariants:
		release, err := a.operatorOnly(q.Path)
		if err != nil {
			return nil, err
		}
		defer release()
		view := &stateAt{s: a.store, height: q.Height}
		r, err := a.funds.Invariants(view)
		if err == nil {
			err = view.err
		}
		if err != nil {
			return nil, err
		}
		bz, err := proto.Marshal(r)
		if err != nil {
			return nil, err
		}
		return &abci.ResponseQuery{Value: bz, Height: q.Height}, nil
	}
	return nil, ErrUnknownQuery.Wrapf("no funds query %s; see `tallyd query funds --help`", api.Quote(q.Path))
}

func parseQueryID(s string) (uint64, error) {
	id, ok := api.ParseDecimal(s)
	if !ok || id == 0 {
		return 0, ErrInvalidQuery.Wrapf("%s is not an id; ids are positive whole numbers", api.Quote(s))
	}
	return id, nil
}
