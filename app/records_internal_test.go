package app

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
)

// The readers that change nothing they get (CheckTx, the gossip batch, the
// screens, the block's signature batch) decode a signer's account and
// agency once for the bytes they are stored as: the second read of the
// same bytes hands out the record decoded the first time, not a new one.
// Bytes that differ (the account changed, in the block or a later
// version) are decoded anew, and missing or broken records give the
// keeper's errors.
func TestSharedAccountsAreDecodedOnceForTheirBytes(t *testing.T) {
	a, err := New(store.NewMemory(), Options{})
	require.NoError(t, err)
	defer a.Close()
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	addr := agency.AddressOf(pub)
	acc := &agencyv1.Account{Address: addr, PubKey: pub, AgencyId: "treasury", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}, Status: agencyv1.Status_STATUS_ACTIVE}
	require.NoError(t, store.SetProto(a.store, api.AccountKey(addr), acc))
	ag := &agencyv1.Agency{Id: "treasury", Name: "Treasury", Status: agencyv1.Status_STATUS_ACTIVE}
	require.NoError(t, store.SetProto(a.store, api.AgencyKey("treasury"), ag))

	first, err := a.sharedAccount(a.store, addr)
	require.NoError(t, err)
	require.True(t, proto.Equal(acc, first), "decoded as the keeper decodes: %v", first)
	again, err := a.sharedAccount(a.store, addr)
	require.NoError(t, err)
	require.Same(t, first, again, "the same bytes are not decoded again")

	// The account changed in a view (a block's writes): its new bytes are
	// decoded; the old bytes still give the record held.
	view := store.NewCache(a.store)
	changed := proto.Clone(acc).(*agencyv1.Account)
	changed.Status = agencyv1.Status_STATUS_SUSPENDED
	require.NoError(t, store.SetProto(view, api.AccountKey(addr), changed))
	got, err := a.sharedAccount(view, addr)
	require.NoError(t, err)
	require.True(t, proto.Equal(changed, got), "the view's account: %v", got)
	back, err := a.sharedAccount(a.store, addr)
	require.NoError(t, err)
	require.Same(t, first, back)

	agFirst, err := a.sharedAgency(a.store, "treasury")
	require.NoError(t, err)
	require.True(t, proto.Equal(ag, agFirst))
	agAgain, err := a.sharedAgency(a.store, "treasury")
	require.NoError(t, err)
	require.Same(t, agFirst, agAgain)

	// No record, or one that does not decode: the keeper's errors.
	missing := make([]byte, agency.AddressSize)
	_, err = a.sharedAccount(a.store, missing)
	require.True(t, errors.Is(err, agency.ErrUnknownAccount), "%v", err)
	_, err = a.sharedAgency(a.store, "nowhere")
	require.True(t, errors.Is(err, agency.ErrUnknownAgency), "%v", err)
	broken := append([]byte(nil), missing...)
	broken[0] = 1
	a.store.Set(api.AccountKey(broken), []byte{0xff})
	_, keeperErr := a.agency.Account(a.store, broken)
	require.Error(t, keeperErr)
	_, err = a.sharedAccount(a.store, broken)
	require.EqualError(t, err, keeperErr.Error())
	require.Equal(t, 2, a.shared.accounts.len(), "the two accounts' bytes, nothing for the missing or broken ones")
}

// decodedRecords holds at most two generations of limit records, and a
// record read again moves to the newer generation, so what is read keeps
// being found while the rest ages out.
func TestDecodedRecordsKeepAtMostTwoGenerations(t *testing.T) {
	const limit = 8
	c := newDecodedRecords[int](limit)
	key := func(i int) []byte { return []byte(fmt.Sprintf("record %d", i)) }
	for i := range 10 * limit {
		c.put(key(i), i)
		_, ok := c.get(key(0)) // read again and again: kept
		require.True(t, ok, "record 0 dropped after %d", i)
		require.LessOrEqual(t, c.len(), 2*limit)
	}
	_, ok := c.get(key(1))
	require.False(t, ok, "a record not read again ages out")
	v, ok := c.get(key(10*limit - 1))
	require.True(t, ok)
	require.Equal(t, 10*limit-1, v)
}

// decode finds each message's route once; authenticate reads each
// message's required role from it, which must be the permission table's.
func TestDecodeKeepsEachMessagesRoute(t *testing.T) {
	a, err := New(store.NewMemory(), Options{})
	require.NoError(t, err)
	defer a.Close()
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	member := agency.AddressOf(pub)
	msgs := []*txv1.Msg{
		{Sum: &txv1.Msg_GrantRole{GrantRole: &agencyv1.MsgGrantRole{Address: member, Role: agencyv1.Role_ROLE_AUDITOR}}},
		{Sum: &txv1.Msg_SuspendAccount{SuspendAccount: &agencyv1.MsgSuspendAccount{Address: member, ReasonCode: agencyv1.SuspensionReason_SUSPENSION_REASON_ABSENT}}},
		{Sum: &txv1.Msg_ReinstateAccount{ReinstateAccount: &agencyv1.MsgReinstateAccount{Address: member}}},
		{Sum: &txv1.Msg_RevokeRole{RevokeRole: &agencyv1.MsgRevokeRole{Address: member, Role: agencyv1.Role_ROLE_AUDITOR}}},
		{Sum: &txv1.Msg_RemoveMember{RemoveMember: &agencyv1.MsgRemoveMember{Address: member}}}, // past the four held inline
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(&txv1.TxBody{ChainId: "c", Signer: member, Nonce: 1, TimeoutHeight: 10, Messages: msgs})
	require.NoError(t, err)
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(&txv1.Tx{BodyBytes: body, Signature: make([]byte, signatureSize)})
	require.NoError(t, err)
	d, err := a.decode(a.params, raw)
	require.NoError(t, err)
	require.Len(t, d.routes, len(msgs))
	for i, m := range d.body.Messages {
		want, ok := RequiredRole(m)
		require.True(t, ok)
		got, ok := d.role(a.table, i)
		require.True(t, ok)
		require.Equal(t, want, got, "message %d", i)
	}
}
