package app_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// splitTx returns the body bytes and signature of a transaction BuildTx made.
func splitTx(tb testing.TB, raw []byte) ([]byte, []byte) {
	tb.Helper()
	tx := &txv1.Tx{}
	require.NoError(tb, proto.Unmarshal(raw, tx))
	return tx.BodyBytes, tx.Signature
}

// rawTx writes a Tx by hand: body_bytes then signature, then extra bytes.
func rawTx(body, sig []byte, extra ...byte) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, body)
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	b = protowire.AppendBytes(b, sig)
	return append(b, extra...)
}

// The attack of issue 14: a relay appends two bytes (an unknown field 3 = 1)
// to a victim's transaction. The signature covers only body_bytes, so the
// altered copy used to verify, execute first under another hash, and leave
// the victim's own transaction failing as a replay (tx/13). Now the altered
// copy is refused everywhere, and the victim's transaction, under its own
// hash, is the one that executes.
func TestAlteredCopyOfTransactionIsRefusedAndVictimsOwnSucceeds(t *testing.T) {
	c := newChain(t)
	c.block()
	victim := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor))
	altered := append(append([]byte(nil), victim...), 0x18, 0x01)

	res := c.checkTx(altered)
	requireCode(t, app.ErrTxNotCanonical, res.Codespace, res.Code, res.Log, "tx carries fields")
	pp, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: [][]byte{altered, victim}, Height: c.height + 1, Time: blockTime(c.height + 1)})
	require.NoError(t, err)
	require.Equal(t, abci.ResponseProcessProposal_REJECT, pp.Status, "a block carrying the altered copy must be rejected")

	// A byzantine proposer's block is decided anyway: the copy fails there too.
	before := c.lastHash()
	out := c.block(altered, victim).TxResults
	requireCode(t, app.ErrTxNotCanonical, out[0].Codespace, out[0].Code, out[0].Log)
	requireOK(t, out[1])
	require.NotEqual(t, before, c.lastHash())
	require.Contains(t, c.account(treasuryClerk.addr).Roles, roleAuditor, "the victim's own transaction applied")
}

// Every encoding other than the deterministic one is refused with tx/19,
// though each carries a valid signature over its body bytes.
func TestNonCanonicalEncodingsAreRefused(t *testing.T) {
	c := newChain(t)
	c.block()
	good := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor))
	body, sig := splitTx(t, good)
	require.Equal(t, good, rawTx(body, sig), "BuildTx writes the canonical form")

	// resign wraps new body bytes with a valid signature.
	resign := func(b []byte) []byte { return rawTx(b, ed25519.Sign(treasuryAdmin.priv, b)) }
	fields := func(b []byte) [][]byte { // the top-level fields of an encoding, each whole
		var out [][]byte
		for len(b) > 0 {
			_, _, n := protowire.ConsumeField(b)
			require.Positive(t, n)
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
	join := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	bf := fields(body) // chain_id, signer, nonce, timeout_height, messages
	require.Len(t, bf, 5)

	// An unknown field deep inside a message: Msg.grant_role gets field 9.
	msg := &txv1.Msg{}
	_, _, n := protowire.ConsumeField(bf[4])
	mb, _ := protowire.ConsumeBytes(bf[4][protowire.SizeTag(6):n])
	require.NoError(t, proto.Unmarshal(mb, msg))
	inner, err := proto.Marshal(msg.GetGrantRole())
	require.NoError(t, err)
	inner = protowire.AppendVarint(protowire.AppendTag(inner, 9, protowire.VarintType), 1)
	var grant []byte
	grant = protowire.AppendBytes(protowire.AppendTag(grant, 3, protowire.BytesType), inner)
	nestedUnknown := join(bf[0], bf[1], bf[2], bf[3], protowire.AppendBytes(protowire.AppendTag(nil, 6, protowire.BytesType), grant))

	overlong := protowire.AppendTag(nil, 3, protowire.VarintType)
	nonce, _ := protowire.ConsumeVarint(bf[2][1:])
	overlong = append(overlong, byte(nonce&0x7f|0x80), byte(nonce>>7|0x80), 0x00) // same value, one byte too many
	require.Less(t, nonce, uint64(1)<<14)

	for _, tt := range []struct {
		name string
		tx   []byte
	}{
		{"two bytes appended to the Tx", rawTx(body, sig, 0x18, 0x01)},
		{"signature before body_bytes", join(fields(good)[1], fields(good)[0])},
		{"body_bytes twice", rawTx(body, sig, fields(good)[0]...)},
		{"an empty unknown field appended to the Tx", rawTx(body, sig, protowire.AppendBytes(protowire.AppendTag(nil, 3, protowire.BytesType), nil)...)},
		{"unknown field in the body", resign(join(body, []byte{0x38, 0x01}))},
		{"chain_id twice in the body", resign(join(bf[0], body))},
		{"body fields out of order", resign(join(bf[1], bf[0], bf[2], bf[3], bf[4]))},
		{"zero memo written out in the body", resign(join(body, protowire.AppendBytes(protowire.AppendTag(nil, 5, protowire.BytesType), nil)))},
		{"over-long varint nonce", resign(join(bf[0], bf[1], overlong, bf[3], bf[4]))},
		{"unknown field inside a message", resign(nestedUnknown)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := c.checkTx(tt.tx)
			requireCode(t, app.ErrTxNotCanonical, res.Codespace, res.Code, res.Log)
			pp, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: [][]byte{tt.tx}, Height: c.height + 1, Time: blockTime(c.height + 1)})
			require.NoError(t, err)
			require.Equal(t, abci.ResponseProcessProposal_REJECT, pp.Status)
		})
	}
	hash := c.lastHash()
	require.Zero(t, c.checkTx(good).Code, "the canonical form still passes")
	require.Equal(t, hash, c.lastHash())
}

// The canonical form is the bytes google.golang.org/protobuf writes today
// with deterministic marshaling. Nodes replaying old blocks must refuse and
// accept exactly what they did, so a library upgrade that changed these
// bytes must be caught here, not on a live chain.
func TestCanonicalEncodingIsPinned(t *testing.T) {
	body := &txv1.TxBody{
		ChainId: "c", Signer: make([]byte, 20), Nonce: 300, TimeoutHeight: 2, Memo: "m",
		Messages: []*txv1.Msg{
			{Sum: &txv1.Msg_GrantRole{GrantRole: &agencyv1.MsgGrantRole{Address: []byte{1}, Role: agencyv1.Role_ROLE_AUDITOR}}},
			{Sum: &txv1.Msg_AddMember{AddMember: &agencyv1.MsgAddMember{PubKey: []byte{2}, Roles: []agencyv1.Role{1, 10}}}},
		},
	}
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	require.NoError(t, err)
	require.Equal(t, ""+
		"0a0163"+ // chain_id "c"
		"1214"+"0000000000000000000000000000000000000000"+ // signer
		"18ac02"+ // nonce 300
		"2002"+ // timeout_height 2
		"2a016d"+ // memo "m"
		"3207"+"1a05"+"0a0101"+"100a"+ // grant_role{address, role 10}
		"3209"+"0a07"+"0a0102"+"1202010a", hex.EncodeToString(bz))
}
