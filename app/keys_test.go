package app_test

import (
	"context"
	"crypto/ed25519"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// identityKey is the identity point, y = 1: a key of order 1.
var identityKey = append([]byte{1}, make([]byte, 31)...)

// forgedSig is R = identity, S = 0: under the identity key it verified
// for every message with the verifier the app used (ZIP-215).
func forgedSig() []byte { return append([]byte{1}, make([]byte, 63)...) }

// forgedTx is a transaction from the account of the identity key, "signed"
// with no private key at all.
func forgedTx(c *chain, msgs ...*txv1.Msg) []byte {
	return encodeTxWithSig(c.tb, &txv1.TxBody{ChainId: testChainID, Signer: agency.AddressOf(identityKey), Nonce: 7, TimeoutHeight: uint64(c.height) + 5, Messages: msgs}, forgedSig())
}

// The attack of issue 14: an admin adds a member whose key is the identity
// point (its "proof" forged too), then a transaction signed R = identity,
// S = 0 runs as that member. Now the key is refused at the door (CheckTx
// and in a block), so the forged transaction has no account to speak for.
func TestIdentityKeyCannotBeAddedAndForgedTransactionIsRefused(t *testing.T) {
	c := newChain(t)
	c.block()
	add := c.tx(treasuryAdmin, addMemberWithProof(identityKey, forgedSig(), roleTreasury))
	res := c.checkTx(add)
	requireCode(t, agency.ErrSmallOrderKey, res.Codespace, res.Code, res.Log, "small order")
	hash := c.lastHash()
	out := c.block(add).TxResults[0]
	requireCode(t, agency.ErrSmallOrderKey, out.Codespace, out.Code, out.Log)
	require.Nil(t, c.account(agency.AddressOf(identityKey)), "no account holds the identity key")

	forged := forgedTx(c, grantRole(treasuryClerk.addr, roleAuditor))
	res = c.checkTx(forged)
	requireCode(t, app.ErrUnknownSigner, res.Codespace, res.Code, res.Log)
	out = c.block(forged).TxResults[0]
	requireCode(t, app.ErrUnknownSigner, out.Codespace, out.Code, out.Log)
	require.NotContains(t, c.account(treasuryClerk.addr).Roles, roleAuditor)
	require.Equal(t, hash, c.lastHash(), "refused before any handler: state and app hash unchanged")

	// Rotating one's own key to the identity point, with a forged proof.
	rot := c.tx(treasuryClerk, rotateKeyWithProof(identityKey, forgedSig()))
	res = c.checkTx(rot)
	requireCode(t, agency.ErrSmallOrderKey, res.Codespace, res.Code, res.Log)
}

// Even an account that held the identity key (state written before these
// rules) cannot be signed for without a private key: verification is
// strict, in CheckTx, in ProcessProposal and in the block.
func TestForgedSignatureIsRefusedByStrictVerification(t *testing.T) {
	c := newChain(t)
	c.block()
	addr := agency.AddressOf(identityKey)
	legacy := &agencyv1.Account{Address: addr, PubKey: identityKey, AgencyId: agTreasury, Roles: []agencyv1.Role{roleTreasury}, Status: agencyv1.Status_STATUS_ACTIVE}
	require.NoError(t, store.SetProto(c.st, api.AccountKey(addr), legacy))
	c.st.Set(api.PubKeyKey(identityKey), addr)
	c.block() // commits the legacy record with the next block
	require.NotNil(t, c.account(addr))

	forged := forgedTx(c, grantRole(treasuryClerk.addr, roleAuditor))
	res := c.checkTx(forged)
	requireCode(t, app.ErrBadSignature, res.Codespace, res.Code, res.Log)
	pp, err := c.app.ProcessProposal(context.Background(), &abci.RequestProcessProposal{Txs: [][]byte{forged}, Height: c.height + 1, Time: blockTime(c.height + 1)})
	require.NoError(t, err)
	require.Equal(t, abci.ResponseProcessProposal_REJECT, pp.Status)
	out := c.block(forged).TxResults[0]
	requireCode(t, app.ErrBadSignature, out.Codespace, out.Code, out.Log)
}

// A member is added only with the new key's proof of possession for this
// chain, this agency and this account.
func TestAddMemberNeedsProofOfPossession(t *testing.T) {
	c := newChain(t)
	c.block()
	n := keyFor("pop/n")
	sign := func(chain, ag string, account []byte, purpose keyproof.Purpose) []byte {
		return ed25519.Sign(n.priv, keyproof.Statement(chain, ag, account, n.pub, purpose))
	}
	for _, tt := range []struct {
		name  string
		proof []byte
	}{
		{"missing", nil},
		{"for another chain", sign("other-chain", agTreasury, n.addr, keyproof.AddMember)},
		{"for another agency", sign(testChainID, agTax, n.addr, keyproof.AddMember)},
		{"for another account", sign(testChainID, agTreasury, treasuryClerk.addr, keyproof.AddMember)},
		{"for another purpose", sign(testChainID, agTreasury, n.addr, keyproof.GenesisAccount)},
		{"by another key", ed25519.Sign(stranger.priv, keyproof.Statement(testChainID, agTreasury, n.addr, n.pub, keyproof.AddMember))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hash := c.lastHash()
			tx := c.tx(treasuryAdmin, addMemberWithProof(n.pub, tt.proof, roleAuditor))
			if tt.proof == nil {
				res := c.checkTx(tx)
				requireCode(t, agency.ErrBadKeyProof, res.Codespace, res.Code, res.Log, "0 bytes")
			}
			out := c.block(tx).TxResults[0]
			requireCode(t, agency.ErrBadKeyProof, out.Codespace, out.Code, out.Log)
			require.Nil(t, c.account(n.addr))
			if tt.proof == nil {
				require.Equal(t, hash, c.lastHash(), "refused before any handler")
			}
		})
	}
	requireOK(t, c.block(c.tx(treasuryAdmin, addMember(n, roleAuditor))).TxResults[0])
	require.NotNil(t, c.account(n.addr))
}

// Genesis refuses an account with a small-order key and one without its
// proof of possession.
func TestGenesisRefusesUnprovenAndSmallOrderKeys(t *testing.T) {
	initWith := func(g []byte) error {
		a, err := app.New(store.NewMemory(), app.Options{})
		require.NoError(t, err)
		defer a.Close()
		_, err = a.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChainID, AppStateBytes: g, InitialHeight: 1, Time: genesisTime})
		return err
	}
	unproven := withKeyProofs(testGenesis())
	unproven.Agency.KeyProofs = unproven.Agency.KeyProofs[1:]
	require.ErrorContains(t, initWith(mustMarshalGenesis(t, unproven)), "agency/14")

	small := testGenesis()
	small.Agency.Accounts[2].PubKey = identityKey
	g := withKeyProofs(small)
	g.Agency.KeyProofs = append(g.Agency.KeyProofs, &agencyv1.KeyProof{Address: agency.AddressOf(identityKey), Signature: forgedSig()})
	require.ErrorContains(t, initWith(mustMarshalGenesis(t, g)), "agency/")

	otherChain := withKeyProofs(testGenesis())
	a, err := app.New(store.NewMemory(), app.Options{})
	require.NoError(t, err)
	defer a.Close()
	_, err = a.InitChain(context.Background(), &abci.RequestInitChain{ChainId: "other-chain", AppStateBytes: mustMarshalGenesis(t, otherChain), InitialHeight: 1, Time: genesisTime})
	require.ErrorContains(t, err, "agency/14", "proofs name the chain")
}

func mustMarshalGenesis(tb testing.TB, g *appv1.GenesisState) []byte {
	bz, err := app.MarshalGenesis(g)
	require.NoError(tb, err)
	return bz
}

// encodeTxWithSig wraps body in a Tx with the given signature.
func encodeTxWithSig(tb testing.TB, body *txv1.TxBody, sig []byte) []byte {
	tb.Helper()
	bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(body)
	require.NoError(tb, err)
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(&txv1.Tx{BodyBytes: bz, Signature: sig})
	require.NoError(tb, err)
	return raw
}

// Governance refuses a validator or admin key that is small-order or
// unproven when the proposal is submitted.
func TestGovRefusesUnprovenAndSmallOrderKeys(t *testing.T) {
	c := newGovChain(t)
	v := consKey("pop/v")
	noProof := addValidator(v, 5, agTax)
	noProof.GetAddValidator().KeyProof = nil
	wrongAgency := addValidator(v, 5, agTax)
	wrongAgency.GetAddValidator().KeyProof = validatorProof(v, agTreasury, keyproof.AddValidator)
	small := addValidator(identityKey, 5, agTax)
	small.GetAddValidator().KeyProof = forgedSig()
	admitNoProof := admitAgency("port", keyFor("port/admin"))
	admitNoProof.GetAdmitAgency().AdminKeyProof = ed25519.Sign(keyFor("port/admin").priv, []byte("something else"))
	admitSmall := admitAgency("port", keyFor("port/admin"))
	admitSmall.GetAdmitAgency().AdminPubKey = identityKey
	rotateNoProof := rotateValidator(genesisVals[0], consKey("pop/v2"))
	rotateNoProof.GetRotateValidatorKey().KeyProof = validatorProof(consKey("pop/v2"), agTreasury, keyproof.AddValidator)
	for _, tt := range []struct {
		name string
		tx   []byte
		want *module.Error
	}{
		{"add validator without proof", c.tx(treasuryAdmin, msgPropose(noProof)), agency.ErrBadKeyProof},
		{"add validator, proof for another agency", c.tx(treasuryAdmin, msgPropose(wrongAgency)), agency.ErrBadKeyProof},
		{"add small-order validator key", c.tx(treasuryAdmin, msgPropose(small)), gov.ErrInvalidConsensusKey},
		{"admit agency with a bad proof", c.tx(treasuryAdmin, msgPropose(admitNoProof)), agency.ErrBadKeyProof},
		{"admit agency with the identity key", c.tx(treasuryAdmin, msgPropose(admitSmall)), agency.ErrSmallOrderKey},
		{"rotate validator, proof for another purpose", c.tx(treasuryAdmin, msgPropose(rotateNoProof)), agency.ErrBadKeyProof},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := c.block(tt.tx).TxResults[0]
			requireCode(t, tt.want, out.Codespace, out.Code, out.Log)
		})
	}
}
