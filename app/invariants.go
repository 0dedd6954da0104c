package app

import (
	"fmt"
	"strings"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/store"
)

// CheckFundsConservation is the name under which the funds module's own
// report (x/funds Keeper.Invariants) appears among its checks.
const CheckFundsConservation = "conservation"

// maxFundsProblemsShown bounds the funds problems spelled out in the
// check's detail; the funds report in the answer carries them all.
const maxFundsProblemsShown = 10

// moduleInvariants are the invariant checks of each module, by the name it
// has in routes. A module without an entry is reported with no checks.
var moduleInvariants = map[string]func(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error){
	"agency": func(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error) {
		r, err := a.agency.Invariants(kv)
		return r, nil, err
	},
	"funds": fundsInvariants,
	"benefits": func(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error) {
		r, err := a.benefits.Invariants(kv)
		return r, nil, err
	},
	"tax": func(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error) {
		r, err := a.tax.Invariants(kv, a.funds)
		return r, nil, err
	},
	"provenance": func(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error) {
		r, err := a.provenance.Invariants(kv)
		return r, nil, err
	},
	"gov": func(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error) {
		r, err := a.gov.Invariants(kv)
		return r, nil, err
	},
}

// fundsInvariants folds the funds module's conservation report into one
// named check.
func fundsInvariants(a *App, kv store.KV) (*appv1.ModuleInvariants, *fundsv1.InvariantReport, error) {
	fr, err := a.funds.Invariants(kv)
	if err != nil {
		return nil, nil, err
	}
	c := &appv1.InvariantCheck{
		Name:     CheckFundsConservation,
		Rule:     "appropriated + revenue credited - revenue debited - settled = the sum of all balances, and each holder's balance is the sum of its open tranches, the oldest of which its head names",
		Ok:       fr.Ok,
		Problems: uint64(len(fr.Problems)),
	}
	shown := fr.Problems[:min(len(fr.Problems), maxFundsProblemsShown)]
	c.Detail = strings.Join(shown, "; ")
	return &appv1.ModuleInvariants{Module: "funds", Checks: []*appv1.InvariantCheck{c}, Ok: c.Ok}, fr, nil
}

// invariants runs every module's checks over kv, in the order modules are
// wired.
func (a *App) invariants(kv store.KV) (*appv1.InvariantsReport, error) {
	report := &appv1.InvariantsReport{Ok: true}
	for _, r := range routes {
		run, ok := moduleInvariants[r.name]
		if !ok {
			report.Modules = append(report.Modules, &appv1.ModuleInvariants{Module: r.name, Ok: true})
			continue
		}
		m, fr, err := run(a, kv)
		if err != nil {
			return nil, fmt.Errorf("%s invariants: %w", r.name, err)
		}
		if fr != nil {
			report.Funds = fr
		}
		report.Modules = append(report.Modules, m)
		report.Ok = report.Ok && m.Ok
	}
	return report, nil
}

// queryInvariants answers PathInvariants at the query's height.
func (a *App) queryInvariants(q Query) (*abci.ResponseQuery, error) {
	release, err := a.operatorOnly(q.Path)
	if err != nil {
		return nil, err
	}
	defer release()
	if len(q.Data) > 0 {
		return nil, ErrInvalidQuery.Wrapf("%s takes no data; ask at a height with the query's height", api.PathInvariants)
	}
	view := &stateAt{s: a.store, height: q.Height}
	r, err := a.invariants(view)
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

// operatorOnly refuses a whole-state walk unless this node's operator
// turned operator_queries on (app.toml). The walk reads every record, so
// it is bounded by who may ask, not by a page size. For the operator it
// then takes the one walk a node runs at a time (startWalk).
func (a *App) operatorOnly(path string) (release func(), err error) {
	if !a.operatorQueries {
		return nil, ErrOperatorOnly.Wrapf("%s walks all of state, so this node serves it only to its operator: set operator_queries = true in app.toml on a node whose RPC only the operator can reach, and ask that node", path)
	}
	return a.startWalk(path)
}

// The retry a busy walk refusal names: what is left of the running walk,
// judged by how long the last one took, within these bounds (and
// walkRetryUnknown before any walk has finished).
const (
	walkRetryMin     = 100 * time.Millisecond
	walkRetryMax     = 10 * time.Second
	walkRetryUnknown = time.Second
)

// startWalk takes the one whole-state walk this node runs at a time: a
// walk reads every record, and several at once would take the CPU the
// consensus connection needs. While one runs (an operator's query or the
// node's own periodic check) another is refused as busy (ErrBusy, with
// when to try again): not a refusal of who asks. release ends the walk.
func (a *App) startWalk(what string) (release func(), err error) {
	select {
	case a.walking <- struct{}{}:
		start := time.Now()
		a.walkStarted.Store(start.UnixNano())
		return func() {
			a.lastWalk.Store(int64(time.Since(start)))
			<-a.walking
		}, nil
	default:
	}
	retry := walkRetryUnknown
	if last := time.Duration(a.lastWalk.Load()); last > 0 {
		left := last - time.Since(time.Unix(0, a.walkStarted.Load()))
		retry = min(max(left, walkRetryMin), walkRetryMax)
	}
	return nil, ErrBusy.Wrapf("%s: another whole-state walk is running on this node; try again in %d ms, when it has answered", what, (retry+time.Millisecond-1)/time.Millisecond)
}
