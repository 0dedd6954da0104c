package agency_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"math/big"
	"testing"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api/keyproof"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// fieldP is 2^255 - 19, the field ed25519's coordinates live in.
var fieldP = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// encodeY writes y (which may be p or more: a non-canonical encoding) as a
// 32-byte little-endian point encoding with the given x sign bit.
func encodeY(y *big.Int, sign bool) []byte {
	be := y.FillBytes(make([]byte, 32))
	out := make([]byte, 32)
	for i := range be {
		out[i] = be[31-i]
	}
	if sign {
		out[31] |= 0x80
	}
	return out
}

// The eight points of small order, canonically encoded: with any of them
// as a key, R = identity and S = 0 "signs" every message under lax rules.
var smallOrder = []struct {
	name string
	pub  []byte
}{
	{"identity (order 1)", encodeY(big.NewInt(1), false)},
	{"order 2 (y = -1)", encodeY(new(big.Int).Sub(fieldP, big.NewInt(1)), false)},
	{"order 4 (y = 0)", encodeY(big.NewInt(0), false)},
	{"order 4 (y = 0, x negative)", encodeY(big.NewInt(0), true)},
	{"order 8 a", mustHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")},
	{"order 8 b", mustHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa")},
	{"order 8 c", mustHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")},
	{"order 8 d", mustHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85")},
}

// nonCanonical are second encodings of points: y at or above p, or the
// sign bit set where x = 0.
func nonCanonical(t *testing.T) []struct {
	name string
	pub  []byte
} {
	out := []struct {
		name string
		pub  []byte
	}{
		{"y = p + 1 (the identity again)", encodeY(new(big.Int).Add(fieldP, big.NewInt(1)), false)},
		{"y = p (the order-4 point again)", encodeY(fieldP, false)},
		{"identity with the sign bit set", encodeY(big.NewInt(1), true)},
		{"order-2 point with the sign bit set", encodeY(new(big.Int).Sub(fieldP, big.NewInt(1)), true)},
	}
	// A point of large order whose y is below 19 has a second encoding
	// y + p; find one, so the refusal is not only about small order.
	for y := int64(2); y < 19; y++ {
		if agency.ValidatePubKey("k", encodeY(big.NewInt(y), false)) == nil {
			out = append(out, struct {
				name string
				pub  []byte
			}{"y = p + small y of a large-order point", encodeY(new(big.Int).Add(fieldP, big.NewInt(y)), false)})
			return out
		}
	}
	t.Fatal("no large-order point with y below 19")
	return nil
}

func TestValidatePubKeyRefusesSmallOrderAndNonCanonicalKeys(t *testing.T) {
	for _, tt := range smallOrder {
		t.Run(tt.name, func(t *testing.T) {
			requireCoded(t, agency.ErrSmallOrderKey, agency.ValidatePubKey("pub_key", tt.pub), "small order")
		})
	}
	for _, tt := range nonCanonical(t) {
		t.Run(tt.name, func(t *testing.T) {
			requireCoded(t, agency.ErrNonCanonicalKey, agency.ValidatePubKey("pub_key", tt.pub), "non-canonical")
		})
	}
	t.Run("not a point", func(t *testing.T) {
		requireCoded(t, agency.ErrInvalidKey, agency.ValidatePubKey("pub_key", encodeY(big.NewInt(2), false)), "not a point")
	})
	t.Run("short", func(t *testing.T) {
		requireCoded(t, agency.ErrInvalidKey, agency.ValidatePubKey("pub_key", member.pub[:31]), "31 bytes")
	})
	require.NoError(t, agency.ValidatePubKey("pub_key", member.pub), "a real key")
}

// forgedSignature is R = identity, S = 0: no private key involved.
func forgedSignature() []byte {
	sig := make([]byte, 64)
	sig[0] = 1 // the identity point encodes as y = 1
	return sig
}

// The attack of issue 14: under the identity key, R = identity and S = 0
// verified for any message with CometBFT's ZIP-215 rules, which the app used.
// The strict verifier refuses it, and every other malleable form.
func TestStrictVerificationRefusesForgeries(t *testing.T) {
	msg := []byte("grant myself the treasury role")
	identity := smallOrder[0].pub
	require.True(t, cmted25519.PubKey(identity).VerifySignature(msg, forgedSignature()), "ZIP-215 (the old rule) accepts the forgery")
	require.False(t, agency.VerifySignature(identity, msg, forgedSignature()))
	for _, so := range smallOrder {
		require.False(t, agency.VerifySignature(so.pub, msg, forgedSignature()), so.name)
	}

	good := ed25519.Sign(member.priv, msg)
	require.True(t, agency.VerifySignature(member.pub, msg, good))

	// S + L, the same signature with a non-canonical scalar.
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := new(big.Int).SetBytes(reverse(good[32:]))
	malleated := append(append([]byte(nil), good[:32]...), reverse(new(big.Int).Add(s, l).FillBytes(make([]byte, 32)))...)
	require.False(t, agency.VerifySignature(member.pub, msg, malleated), "S not below the group order")

	// R replaced by a small-order point, for a key that is itself fine.
	smallR := append(append([]byte(nil), smallOrder[0].pub...), make([]byte, 32)...)
	require.False(t, agency.VerifySignature(member.pub, msg, smallR))

	// The batch verifier gives the same verdicts.
	bv := agency.NewBatchVerifier()
	cases := []struct {
		pub, sig []byte
		want     bool
	}{
		{member.pub, good, true}, {identity, forgedSignature(), false}, {member.pub, malleated, false},
		{member.pub, smallR, false}, {member.pub[:31], good, false}, {admin.pub, good, false},
	}
	for _, c := range cases {
		bv.Add(c.pub, msg, c.sig)
	}
	for i, ok := range bv.Verify(nil) {
		require.Equal(t, cases[i].want, ok, "batch case %d", i)
	}
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[i] = b[len(b)-1-i]
	}
	return out
}

// Every message that puts a key into state refuses small-order and
// non-canonical keys, and a key proof that is missing or names another
// chain, agency, account or purpose.
func TestKeysEnteringStateAreCheckedAndProven(t *testing.T) {
	kv := store.NewMemory()
	require.NoError(t, k.InitGenesis(kv, validGenesis(), 0))
	bad := append(append([]struct {
		name string
		pub  []byte
	}{}, smallOrder...), nonCanonical(t)...)
	for _, b := range bad {
		require.Error(t, agency.ValidateBasic(&agencyv1.MsgAddMember{PubKey: b.pub, KeyProof: make([]byte, 64)}), b.name)
		require.Error(t, agency.ValidateBasic(&agencyv1.MsgRotateKey{NewPubKey: b.pub, NewKeySignature: make([]byte, 64)}), b.name)
		g := validGenesis()
		g.Accounts[1].PubKey = b.pub
		require.Error(t, k.InitGenesis(store.NewMemory(), g, 0), b.name)
		require.Error(t, k.AdmitAgency(kv, "port", "Port", agencyv1.Kind_KIND_DEPARTMENT, b.pub, 3), b.name)
	}
	requireCoded(t, agency.ErrSmallOrderKey, agency.ValidateBasic(&agencyv1.MsgAddMember{PubKey: smallOrder[0].pub, KeyProof: make([]byte, 64)}), "")
	requireCoded(t, agency.ErrNonCanonicalKey, agency.ValidateBasic(&agencyv1.MsgRotateKey{NewPubKey: nonCanonical(t)[0].pub, NewKeySignature: make([]byte, 64)}), "")

	newbie := keyFor("pop/newbie")
	for _, tt := range []struct {
		name  string
		proof []byte
	}{
		{"missing", nil},
		{"other chain", ed25519.Sign(newbie.priv, keyproof.Statement("other-chain", "treasury", newbie.addr, newbie.pub, keyproof.AddMember))},
		{"other agency", ed25519.Sign(newbie.priv, keyproof.Statement(chainID, "tax", newbie.addr, newbie.pub, keyproof.AddMember))},
		{"other account", ed25519.Sign(newbie.priv, keyproof.Statement(chainID, "treasury", member.addr, newbie.pub, keyproof.AddMember))},
		{"other purpose", ed25519.Sign(newbie.priv, keyproof.Statement(chainID, "treasury", newbie.addr, newbie.pub, keyproof.RotateKey))},
		{"signed by another key", ed25519.Sign(admin.priv, keyproof.Statement(chainID, "treasury", newbie.addr, newbie.pub, keyproof.AddMember))},
	} {
		t.Run("add member, proof "+tt.name, func(t *testing.T) {
			_, err := apply(t, kv, admin.addr, func(ctx module.Context, s *agencyv1.Account) error {
				return k.AddMember(ctx, s, &agencyv1.MsgAddMember{PubKey: newbie.pub, KeyProof: tt.proof})
			})
			requireCoded(t, agency.ErrBadKeyProof, err, "")
			_, err = k.Account(kv, newbie.addr)
			require.Error(t, err, "no account was created")
		})
	}
	_, err := apply(t, kv, admin.addr, func(ctx module.Context, s *agencyv1.Account) error {
		return k.AddMember(ctx, s, &agencyv1.MsgAddMember{PubKey: newbie.pub, KeyProof: proofFor(newbie, "treasury", newbie.addr, keyproof.AddMember)})
	})
	require.NoError(t, err, "the right proof")
}

func TestGenesisKeyProofs(t *testing.T) {
	withProofs := func(g *agencyv1.Genesis, keys ...key) *agencyv1.Genesis {
		for i, a := range g.Accounts {
			g.KeyProofs = append(g.KeyProofs, &agencyv1.KeyProof{Address: keys[i].addr, Signature: proofFor(keys[i], a.AgencyId, keys[i].addr, keyproof.GenesisAccount)})
		}
		return g
	}
	good := func() *agencyv1.Genesis { return withProofs(validGenesis(), admin, member, other) }
	require.NoError(t, agency.CheckGenesisKeyProofs(good(), chainID))
	for _, tt := range []struct {
		name string
		edit func(g *agencyv1.Genesis)
		want *module.Error
	}{
		{"missing", func(g *agencyv1.Genesis) { g.KeyProofs = g.KeyProofs[1:] }, agency.ErrBadKeyProof},
		{"for another agency", func(g *agencyv1.Genesis) {
			g.KeyProofs[1].Signature = proofFor(member, "tax", member.addr, keyproof.GenesisAccount)
		}, agency.ErrBadKeyProof},
		{"for another purpose", func(g *agencyv1.Genesis) {
			g.KeyProofs[1].Signature = proofFor(member, "treasury", member.addr, keyproof.AddMember)
		}, agency.ErrBadKeyProof},
		{"twice", func(g *agencyv1.Genesis) { g.KeyProofs = append(g.KeyProofs, g.KeyProofs[0]) }, agency.ErrInvalidGenesis},
		{"for no account", func(g *agencyv1.Genesis) {
			n := keyFor("nobody")
			g.KeyProofs = append(g.KeyProofs, &agencyv1.KeyProof{Address: n.addr, Signature: make([]byte, 64)})
		}, agency.ErrInvalidGenesis},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := good()
			tt.edit(g)
			requireCoded(t, tt.want, agency.CheckGenesisKeyProofs(g, chainID), "")
		})
	}
	require.Error(t, agency.CheckGenesisKeyProofs(good(), "other-chain"), "proofs name the chain")
}

// An expanded key gives VerifySignature's verdict on every signature the
// strict rules refuse or accept: honest ones, forgeries under small-order
// and non-canonical keys, a malleated S, a small-order R, another key's
// signature, and wrong sizes.
func TestExpandedKeysGiveVerifySignaturesVerdicts(t *testing.T) {
	msg := []byte("pay the bursary")
	good := ed25519.Sign(member.priv, msg)
	l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)
	s := new(big.Int).SetBytes(reverse(good[32:]))
	malleated := append(append([]byte(nil), good[:32]...), reverse(new(big.Int).Add(s, l).FillBytes(make([]byte, 32)))...)
	smallR := append(append([]byte(nil), smallOrder[0].pub...), make([]byte, 32)...)
	sigs := [][]byte{good, forgedSignature(), malleated, smallR, ed25519.Sign(admin.priv, msg), good[:63], nil}
	keys := [][]byte{member.pub, admin.pub}
	for _, so := range smallOrder {
		keys = append(keys, so.pub)
	}
	for _, nc := range nonCanonical(t) {
		keys = append(keys, nc.pub)
	}
	accepted := 0
	bv := agency.NewBatchVerifier()
	var wants []bool
	for ki, pub := range keys {
		k, ok := agency.ExpandKey(pub)
		require.True(t, ok, "key %d is a point", ki)
		for si, sig := range sigs {
			want := agency.VerifySignature(pub, msg, sig)
			require.Equal(t, want, k.Verify(msg, sig), "key %d, signature %d", ki, si)
			require.False(t, k.Verify([]byte("another message"), sig), "key %d, signature %d, other message", ki, si)
			if want {
				accepted++
			}
			bv.AddExpanded(k, msg, sig)
			wants = append(wants, want)
		}
	}
	require.Equal(t, 2, accepted, "only each real key's own signature verifies")
	require.Equal(t, wants, bv.Verify(nil), "a batch of expanded keys gives the same verdicts")
	good2 := agency.NewBatchVerifier() // and one of only good signatures passes as a whole
	for range 10 {
		k, _ := agency.ExpandKey(member.pub)
		good2.AddExpanded(k, msg, good)
	}
	for i, ok := range good2.Verify(nil) {
		require.True(t, ok, "good signature %d in a batch", i)
	}
	_, ok := agency.ExpandKey(member.pub[:31])
	require.False(t, ok, "31 bytes")
	_, ok = agency.ExpandKey(encodeY(big.NewInt(2), false))
	require.False(t, ok, "not a point")
}
