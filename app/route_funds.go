package app

import (
	"bytes"
	"strconv"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/x/funds"
)

// Funds query paths. Ids are decimal text. Paths that list take an
// optional continuation: the argument, a 0x00 byte, then the next_key of
// the previous page.
const (
	PathFundsParams        = "/funds/params"        // data: none
	PathFundsTotals        = "/funds/totals"        // data: none
	PathFundsBalance       = "/funds/balance"       // data: holder id
	PathFundsBalances      = "/funds/balances"      // data: [0x00 next_key]; every balance, each proven
	PathFundsMovement      = "/funds/movement"      // data: movement id
	PathFundsTranche       = "/funds/tranche"       // data: tranche id
	PathFundsAppropriation = "/funds/appropriation" // data: appropriation reference
	PathFundsRoot          = "/funds/root"          // data: root (inflow movement) id → RootTotals
	PathFundsSettlement    = "/funds/settlement"    // data: payment movement id
	PathFundsTraceUp       = "/funds/trace-up"      // data: movement id → the path back to its roots
	PathFundsTraceDown     = "/funds/trace-down"    // data: root id [0x00 next_key] → every leg descended from it
	PathFundsInvariants    = "/funds/invariants"    // data: none → InvariantReport, computed by the node
)

var fundsRoutes = moduleRoutes{
	name:  "funds",
	query: queryFunds,
}

func queryFunds(a *App, q Query) (*abci.ResponseQuery, error) {
	arg, after := splitPage(q.Data)
	switch q.Path {
	case PathFundsParams:
		return a.single(funds.ParamsKey(), q.Height, q.Prove)
	case PathFundsTotals:
		return a.single(funds.TotalsKey(), q.Height, q.Prove)
	case PathFundsBalance:
		if err := funds.ValidateHolder(string(q.Data)); err != nil {
			return nil, err
		}
		return a.single(funds.BalanceKey(string(q.Data)), q.Height, q.Prove)
	case PathFundsBalances:
		return a.list(funds.BalancesPrefix(), after, q.Height, q.Prove, func(k []byte) []byte { return k })
	case PathFundsMovement, PathFundsTranche, PathFundsRoot, PathFundsSettlement, PathFundsTraceUp, PathFundsTraceDown:
		id, err := parseQueryID(arg)
		if err != nil {
			return nil, err
		}
		switch q.Path {
		case PathFundsMovement:
			return a.single(funds.MovementKey(id), q.Height, q.Prove)
		case PathFundsTranche:
			return a.single(funds.TrancheKey(id), q.Height, q.Prove)
		case PathFundsRoot:
			return a.single(funds.RootTotalsKey(id), q.Height, q.Prove)
		case PathFundsSettlement:
			return a.single(funds.SettlementKey(id), q.Height, q.Prove)
		case PathFundsTraceUp:
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
			return a.list(funds.RootLegsPrefix(id), after, q.Height, q.Prove, func(k []byte) []byte { return k }, funds.RootTotalsKey(id))
		}
	case PathFundsAppropriation:
		if len(q.Data) == 0 {
			return nil, ErrInvalidQuery.Wrapf("give the appropriation reference")
		}
		return a.single(funds.AppropriationKey(string(q.Data)), q.Height, q.Prove)
	case PathFundsInvariants:
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
	return nil, ErrUnknownQuery.Wrapf("no funds query %q; see `tallyd query funds --help`", q.Path)
}

// splitPage splits query data into its argument and the continuation key
// after a 0x00 byte.
func splitPage(data []byte) (arg string, after []byte) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return string(data[:i]), data[i+1:]
	}
	return string(data), nil
}

func parseQueryID(s string) (uint64, error) {
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil || id == 0 {
		return 0, ErrInvalidQuery.Wrapf("%q is not an id; ids are positive whole numbers", s)
	}
	return id, nil
}
