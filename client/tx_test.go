package client_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// BuildTx declares the unit limit asked for: Units as it is, or with
// MessageUnits the transaction's own base and bytes (the declaration's
// bytes included) plus MessageUnits, and nothing when neither is set.
func TestBuildTxDeclaresTheUnitLimit(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil }
	msg := client.AddMember("tally-test", "treasury", ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)), agencyv1.Role_ROLE_AUDITOR)
	body := func(raw []byte) *txv1.TxBody {
		var tx txv1.Tx
		var b txv1.TxBody
		require.NoError(t, proto.Unmarshal(raw, &tx))
		require.NoError(t, proto.Unmarshal(tx.BodyBytes, &b))
		return &b
	}
	opts := client.TxOptions{ChainID: "tally-test", Signer: make([]byte, 20), Nonce: 1, TimeoutHeight: 10}

	raw, err := client.BuildTx(opts, sign, msg)
	require.NoError(t, err)
	require.Zero(t, body(raw).MaxUnits, "no limit declared")

	opts.Units = 12_345
	raw, err = client.BuildTx(opts, sign, msg)
	require.NoError(t, err)
	require.Equal(t, uint64(12_345), body(raw).MaxUnits)

	// A message cost whose total crosses a varint boundary (2^14 and 2^21)
	// still ends exactly at the transaction's own cost plus it.
	for _, m := range []uint64{1, 8_000, 16_383 - 3_000, 2_000_000, 2_097_151 - 3_000} {
		opts.Units, opts.MessageUnits = 0, m
		raw, err = client.BuildTx(opts, sign, msg)
		require.NoError(t, err)
		require.Equal(t, api.TxOwnUnits(len(raw))+m, body(raw).MaxUnits, "message units %d", m)
	}
}
