package funds

import (
	"encoding/binary"

	gproto "google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/store"
)

// MaxTraceRecords bounds one trace-up answer. A movement consumes at most
// max_tranches_per_movement tranches and each has one path to its root, so
// a payment five hops from its appropriation needs about 2×5 records per
// tranche; deeper or wider traces are cut and marked incomplete.
const MaxTraceRecords = 2000

func idFromKey(key []byte) uint64 { return binary.BigEndian.Uint64(key[len(key)-8:]) }

func unmarshal(b []byte, m gproto.Message) error { return gproto.Unmarshal(b, m) }

// TraceUp lists the state keys that prove where a movement's money came
// from: the movement, then for each of its legs the tranche it was taken
// from and that tranche's path back to its root — each tranche followed by
// the movement that created it — ending at the inflow (an appropriation or
// revenue credit). A client checks every record's proof and that each
// tranche's parent and movement fields link the path. complete is false if
// the path was longer than MaxTraceRecords.
func (k Keeper) TraceUp(kv store.KV, movement uint64) (keys [][]byte, complete bool, err error) {
	m, err := k.Movement(kv, movement)
	if err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	addKey := func(key []byte) bool {
		if seen[string(key)] {
			return false
		}
		seen[string(key)] = true
		keys = append(keys, key)
		return true
	}
	addKey(api.FundsMovementKey(m.Id))
	for _, leg := range m.Legs {
		id := leg.FromTranche
		if id == 0 {
			id = leg.ToTranche // an inflow: its own tranche is the root
		}
		for id != 0 {
			if len(keys) >= MaxTraceRecords {
				return keys, false, nil
			}
			if !addKey(api.FundsTrancheKey(id)) {
				break // this path joins one already listed
			}
			t, err := k.Tranche(kv, id)
			if err != nil {
				return nil, false, err
			}
			addKey(api.FundsMovementKey(t.Movement))
			id = t.Parent
		}
	}
	return keys, true, nil
}

// AppropriationRoot returns the root movement id of an appropriation.
func (Keeper) AppropriationRoot(kv store.KV, ref string) (uint64, bool, error) {
	a := &fundsv1.Appropriation{}
	found, err := store.GetProto(kv, api.FundsAppropriationKey(ref), a)
	return a.Movement, found, err
}
