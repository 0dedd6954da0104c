package funds

import (
	"fmt"

	"github.com/tallyledger/tally/api"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/store"
)

// Invariants checks conservation over the whole ledger:
//
//	appropriated + revenue credited − revenue debited − settled = Σ balances
//
// and that each holder's balance equals the sum of its open tranches, so
// no money exists outside a traceable tranche. It reads every balance and
// every open tranche: it is for tests, audits and the invariants query,
// never for the block's hot path.
func (k Keeper) Invariants(kv store.KV) (*fundsv1.InvariantReport, error) {
	t, err := k.Totals(kv)
	if err != nil {
		return nil, err
	}
	r := &fundsv1.InvariantReport{Totals: t}
	in, ok1 := addOK(t.Appropriated, t.RevenueCredited)
	out, ok2 := addOK(t.RevenueDebited, t.Settled)
	if !ok1 || !ok2 || out > in {
		r.Problems = append(r.Problems, fmt.Sprintf("totals are impossible: in %d, out %d", in, out))
	} else {
		r.ExpectedBalances = in - out
	}
	var ierr error
	store.IteratePrefix(kv, api.FundsBalancesPrefix(), func(key, v []byte) bool {
		b := &fundsv1.Balance{}
		if ierr = unmarshal(v, b); ierr != nil {
			return true
		}
		r.Holders++
		var ok bool
		if r.SumOfBalances, ok = addOK(r.SumOfBalances, b.Amount); !ok {
			r.Problems = append(r.Problems, "sum of balances overflows")
		}
		var open, first uint64
		store.IteratePrefix(kv, api.FundsOpenPrefix(b.Holder), func(key, _ []byte) bool {
			if first == 0 {
				first = idFromKey(key)
			}
			tr := &fundsv1.Tranche{}
			if _, ierr = store.GetProto(kv, api.FundsTrancheKey(idFromKey(key)), tr); ierr != nil {
				return true
			}
			open += tr.Remaining
			return false
		})
		var head uint64
		if h := kv.Get(api.FundsHeadKey(b.Holder)); len(h) == 8 {
			head = idFromKey(h)
		}
		if head != first {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: oldest open tranche is %d but the head says %d", b.Holder, first, head))
		}
		if open != b.Amount {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: balance %d but open tranches hold %d", b.Holder, b.Amount, open))
		}
		r.SumOfOpenTranches += open
		return ierr != nil
	})
	if ierr != nil {
		return nil, ierr
	}
	if r.SumOfBalances != r.ExpectedBalances {
		r.Problems = append(r.Problems, fmt.Sprintf("appropriated + revenue credited - revenue debited - settled = %d, but balances sum to %d", r.ExpectedBalances, r.SumOfBalances))
	}
	r.Ok = len(r.Problems) == 0
	return r, nil
}

func addOK(a, b uint64) (uint64, bool) {
	s, err := add(a, b)
	return s, err == nil
}
