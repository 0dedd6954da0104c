package gov_test

import (
	stded25519 "crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/stretchr/testify/require"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// testPub is a real ed25519 public key named by n: the keeper refuses
// small-order and malformed keys, so tests cannot use arbitrary bytes.
func testPub(n byte) []byte {
	seed := make([]byte, 32)
	seed[0] = n
	return []byte(stded25519.NewKeyFromSeed(seed).Public().(stded25519.PublicKey))
}

// misbehaviourState is one agency and five validators of power 10, so
// one can be removed within gov.min_validators (4).
func misbehaviourState(t testing.TB) (*store.Store, gov.Keeper, [][]byte) {
	kv := store.NewMemory()
	ak := agency.Keeper{}
	admin := testPub(1)
	require.NoError(t, ak.InitGenesis(kv, &agencyv1.Genesis{
		Agencies: []*agencyv1.Agency{{Id: "a", Name: "A", Kind: agencyv1.Kind_KIND_TREASURY}},
		Accounts: []*agencyv1.Account{{PubKey: admin, AgencyId: "a", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}}},
	}, 0))
	k := gov.NewKeeper(ak, gov.NewRegistry(gov.OwnParams()...))
	var keys [][]byte
	var vals []gov.ValidatorUpdate
	for i := range 5 {
		pk := testPub(byte(10 + i))
		keys = append(keys, pk)
		vals = append(vals, gov.ValidatorUpdate{PubKey: pk, Power: 10})
	}
	require.NoError(t, k.InitGenesis(kv, nil, vals))
	return kv, k, keys
}

func TestConsensusAddressIsCometBFTs(t *testing.T) {
	pk := ed25519.GenPrivKeyFromSecret([]byte("tally")).PubKey()
	require.Equal(t, []byte(pk.Address()), gov.ConsensusAddress(pk.Bytes()))
}

func TestMisbehaviourActionParam(t *testing.T) {
	kv := store.NewMemory()
	reg := gov.NewRegistry(gov.OwnParams()...)
	v, err := reg.Get(kv, "gov.misbehaviour_action")
	require.NoError(t, err)
	require.Equal(t, gov.MisbehaviourPropose, v)
	require.NoError(t, reg.Set(kv, "gov.misbehaviour_action", gov.MisbehaviourRemove))
	err = reg.Set(kv, "gov.misbehaviour_action", "Remove")
	require.True(t, errors.Is(err, gov.ErrInvalidParamValue), "%v", err)
	require.Contains(t, err.Error(), `"propose" (open a removal proposal) or "remove"`)
	p := gov.DefaultParams()
	p.MisbehaviourAction = ""
	require.NoError(t, gov.ValidateParams(p), "params written before the field existed stay valid")
}

// Evidence with an address of the wrong size is recorded, not indexed and
// not acted on; an unknown record is its own error.
func TestMisbehaviourMalformedAddressIsRecordedOnly(t *testing.T) {
	kv, k, _ := misbehaviourState(t)
	var events []module.Event
	ctx := module.NewContext(kv, 7, time.Unix(1_900_000_000, 0), "c", &events)
	ups, err := k.HandleMisbehaviour(ctx, []gov.Evidence{{Type: govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE, Address: []byte{1, 2, 3}, Height: 6}})
	require.NoError(t, err)
	require.Empty(t, ups)
	m, err := k.Misbehaviour(kv, 1)
	require.NoError(t, err)
	require.Equal(t, govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_NONE, m.Action)
	require.EqualValues(t, 7, m.Height)
	require.Len(t, events, 1)
	require.Equal(t, gov.EventMisbehaviour, events[0].Type)
	_, err = k.Misbehaviour(kv, 2)
	require.True(t, errors.Is(err, gov.ErrUnknownMisbehaviour), "%v", err)
}

// Any evidence, about any address, is recorded without panicking or
// failing, and the validator updates never name a key twice.
func FuzzHandleMisbehaviour(f *testing.F) {
	f.Add([]byte{}, int32(1), int64(3), int64(10), true, uint8(0))
	f.Add(make([]byte, 20), int32(2), int64(-1), int64(-5), false, uint8(3))
	f.Add([]byte{0xff}, int32(99), int64(1<<62), int64(0), true, uint8(1))
	f.Fuzz(func(t *testing.T, addr []byte, typ int32, height, power int64, remove bool, pick uint8) {
		kv, k, keys := misbehaviourState(t)
		if remove {
			require.NoError(t, k.Registry().Set(kv, "gov.misbehaviour_action", gov.MisbehaviourRemove))
		}
		known := gov.ConsensusAddress(keys[int(pick)%len(keys)])
		ev := []gov.Evidence{
			{Type: govv1.MisbehaviourType(typ), Address: addr, Power: power, Height: height, Time: time.Unix(height, 0)},
			{Type: govv1.MisbehaviourType(typ), Address: known, Power: power, Height: height},
			{Type: govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE, Address: known, Height: height},
		}
		ctx := module.NewContext(store.NewCache(kv), 5, time.Unix(1_900_000_000, 0), "c", nil)
		ups, err := k.HandleMisbehaviour(ctx, ev)
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, u := range ups {
			require.False(t, seen[string(u.PubKey)])
			seen[string(u.PubKey)] = true
		}
		for seq := uint64(1); seq <= uint64(len(ev)); seq++ {
			_, err := k.Misbehaviour(ctx.Store, seq)
			require.NoError(t, err)
		}
		_, err = k.EndBlock(ctx)
		require.NoError(t, err)
	})
}
