package gov_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// Misbehaviour records and the removal proposals they open are numbered by
// module.NextSeq: at the last number the evidence is refused with tx/80
// (the app logs it and drops the block's misbehaviour writes) instead of
// being recorded as number 0 with the counter deleted, as the old gov
// counter did.
func TestMisbehaviourAtTheLastNumberIsRefused(t *testing.T) {
	for _, key := range [][]byte{api.GovMisbehaviourSeqKey(), api.GovProposalSeqKey()} {
		kv, k, keys := misbehaviourState(t)
		kv.Set(key, api.Uint64(math.MaxUint64))
		ctx := module.NewContext(store.NewCache(kv), 7, time.Unix(1_900_000_000, 0), "c", nil)
		_, err := k.HandleMisbehaviour(ctx, []gov.Evidence{{Type: govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE,
			Address: gov.ConsensusAddress(keys[0]), Power: 10, TotalVotingPower: 50, Height: 6}})
		require.True(t, errors.Is(err, module.ErrSequenceExhausted), "%q: %v", key, err)
		require.Equal(t, api.Uint64(math.MaxUint64), kv.Get(key))
	}
}
