package vectors_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmtversion "github.com/cometbft/cometbft/proto/tendermint/version"
	"github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
)

// The vector chain: fixed keys, fixed times, so every run builds the same
// bytes. Block 1 has the genesis time (as CometBFT gives it); block h is
// h-1 seconds later.
const chainID = "tally-vectors-1"

var genesisTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func blockTime(h int64) time.Time { return genesisTime.Add(time.Duration(h-1) * time.Second) }

// key is an ed25519 key derived from a fixed seed: SHA-256 of
// "tally-vectors/" and its name.
type key struct {
	name string
	seed []byte
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	addr []byte
}

func keyFor(name string) key {
	seed := sha256.Sum256([]byte("tally-vectors/" + name))
	priv := ed25519.NewKeyFromSeed(seed[:])
	pub := priv.Public().(ed25519.PublicKey)
	return key{name: name, seed: seed[:], priv: priv, pub: pub, addr: agency.AddressOf(pub)}
}

func (k key) sign(b []byte) ([]byte, error) { return ed25519.Sign(k.priv, b), nil }

// The accounts: one admin per agency kind the common messages need, and
// keys that join (clerk) or never join (stranger).
var (
	treasuryAdmin = keyFor("treasury/admin")
	revenueAdmin  = keyFor("revenue/admin")
	welfareAdmin  = keyFor("welfare/admin")
	dairyAdmin    = keyFor("dairy/admin")
	treasuryClerk = keyFor("treasury/clerk")
	stranger      = keyFor("stranger")
	accountKeys   = []key{treasuryAdmin, revenueAdmin, welfareAdmin, dairyAdmin, treasuryClerk, stranger}
)

// validatorKeys are the four genesis validators' consensus keys, each of
// power 10.
var validatorKeys = func() []cmted25519.PrivKey {
	out := make([]cmted25519.PrivKey, 4)
	for i := range out {
		seed := sha256.Sum256([]byte(fmt.Sprintf("tally-vectors/validator/%d", i)))
		out[i] = cmted25519.PrivKey(ed25519.NewKeyFromSeed(seed[:]))
	}
	return out
}()

const validatorPower = 10

func genesisState(tb testing.TB) *appv1.GenesisState {
	tb.Helper()
	g := genesis.NewState()
	g.Agency.Agencies = []*agencyv1.Agency{
		{Id: "treasury", Name: "National Treasury", Kind: agencyv1.Kind_KIND_TREASURY},
		{Id: "revenue", Name: "Revenue Service", Kind: agencyv1.Kind_KIND_TAX_AUTHORITY},
		{Id: "welfare", Name: "Welfare Department", Kind: agencyv1.Kind_KIND_BENEFITS},
		{Id: "dairy", Name: "Valley Dairy", Kind: agencyv1.Kind_KIND_BUSINESS},
	}
	acc := func(k key, ag string, roles ...agencyv1.Role) *agencyv1.Account {
		return &agencyv1.Account{PubKey: k.pub, AgencyId: ag, Roles: roles}
	}
	g.Agency.Accounts = []*agencyv1.Account{
		acc(treasuryAdmin, "treasury", agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_TREASURY),
		acc(revenueAdmin, "revenue", agencyv1.Role_ROLE_ADMIN),
		acc(welfareAdmin, "welfare", agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_PROGRAMME_MANAGER),
		acc(dairyAdmin, "dairy", agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_PRODUCER),
	}
	if err := genesis.ProveAccounts(chainID, g.Agency, treasuryAdmin.priv, revenueAdmin.priv, welfareAdmin.priv, dairyAdmin.priv); err != nil {
		tb.Fatal(err)
	}
	g.Gov.Mandates = genesis.FoundingMandates(g.Agency.Agencies)
	return g
}

// chain is a Tally app driven through ABCI, with the CometBFT headers and
// commits a network of the four validators would have made for its blocks.
type chain struct {
	tb      testing.TB
	app     *app.App
	vals    *types.ValidatorSet
	height  int64
	appHash []byte // after the last block
	// results of the last block, for the next header's last_results_hash.
	lastResults []*abci.ExecTxResult
	lastBlockID types.BlockID
	lastCommit  *types.Commit
	headers     map[int64]*types.SignedHeader
	nonce       uint64
}

func newChain(tb testing.TB) *chain {
	tb.Helper()
	a, err := app.New(store.NewMemory(), app.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	var vals []*types.Validator
	var updates []abci.ValidatorUpdate
	for _, k := range validatorKeys {
		vals = append(vals, types.NewValidator(k.PubKey(), validatorPower))
		updates = append(updates, abci.Ed25519ValidatorUpdate(k.PubKey().Bytes(), validatorPower))
	}
	bz, err := app.MarshalGenesis(genesisState(tb))
	if err != nil {
		tb.Fatal(err)
	}
	res, err := a.InitChain(context.Background(), &abci.RequestInitChain{
		Time: genesisTime, ChainId: chainID, AppStateBytes: bz, InitialHeight: 1, Validators: updates,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return &chain{tb: tb, app: a, vals: types.NewValidatorSet(vals), appHash: res.AppHash,
		headers: map[int64]*types.SignedHeader{}, nonce: 7000}
}

// block runs the next block through FinalizeBlock and Commit, and makes
// its header (app hash: the state after the previous block) and the
// commit the validators sign for it. absent validators do not sign.
func (c *chain) block(txs [][]byte, absent ...int) *abci.ResponseFinalizeBlock {
	c.tb.Helper()
	h := c.height + 1
	header := c.header(h, txs)
	res, err := c.app.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{
		Txs: txs, Height: h, Time: blockTime(h), Hash: header.Hash(), ProposerAddress: header.ProposerAddress,
	})
	if err != nil {
		c.tb.Fatal(err)
	}
	if _, err := c.app.Commit(context.Background(), &abci.RequestCommit{}); err != nil {
		c.tb.Fatal(err)
	}
	commit := c.commit(header, absent)
	c.headers[h] = &types.SignedHeader{Header: header, Commit: commit}
	c.height, c.appHash, c.lastResults = h, res.AppHash, res.TxResults
	c.lastBlockID, c.lastCommit = commit.BlockID, commit
	return res
}

// header is block h's header as CometBFT makes it.
func (c *chain) header(h int64, txs [][]byte) *types.Header {
	ctxs := make(types.Txs, len(txs))
	for i, tx := range txs {
		ctxs[i] = tx
	}
	hd := &types.Header{
		Version:            cmtversion.Consensus{Block: version.BlockProtocol, App: app.ProtocolVersion},
		ChainID:            chainID,
		Height:             h,
		Time:               blockTime(h),
		LastBlockID:        c.lastBlockID,
		DataHash:           ctxs.Hash(),
		ValidatorsHash:     c.vals.Hash(),
		NextValidatorsHash: c.vals.Hash(),
		ConsensusHash:      types.DefaultConsensusParams().Hash(),
		AppHash:            c.appHash,
		LastResultsHash:    types.NewResults(c.lastResults).Hash(),
		EvidenceHash:       types.EvidenceList{}.Hash(),
		ProposerAddress:    c.vals.Validators[int(h)%c.vals.Size()].Address,
	}
	if c.lastCommit != nil {
		hd.LastCommitHash = c.lastCommit.Hash()
	}
	return hd
}

// commit is every validator's precommit for header, but those absent,
// signed with its consensus key over CometBFT's canonical vote bytes. The
// part set header is one part with a hash derived from the header's: the
// vectors hold no block parts, and a light client checks only that the
// validators signed this block id.
func (c *chain) commit(header *types.Header, absent []int) *types.Commit {
	c.tb.Helper()
	hash := header.Hash()
	parts := sha256.Sum256(append([]byte("parts/"), hash...))
	blockID := types.BlockID{Hash: hash, PartSetHeader: types.PartSetHeader{Total: 1, Hash: parts[:]}}
	commit := &types.Commit{Height: header.Height, Round: 0, BlockID: blockID}
	for i, v := range c.vals.Validators {
		if contains(absent, i) {
			commit.Signatures = append(commit.Signatures, types.NewCommitSigAbsent())
			continue
		}
		priv := privFor(v.Address)
		vote := &types.Vote{
			Type: cmtproto.PrecommitType, Height: header.Height, Round: 0, BlockID: blockID,
			Timestamp: header.Time.Add(time.Duration(500+i) * time.Millisecond), ValidatorAddress: v.Address, ValidatorIndex: int32(i),
		}
		sig, err := priv.Sign(types.VoteSignBytes(chainID, vote.ToProto()))
		if err != nil {
			c.tb.Fatal(err)
		}
		vote.Signature = sig
		commit.Signatures = append(commit.Signatures, vote.CommitSig())
	}
	return commit
}

func privFor(addr []byte) cmted25519.PrivKey {
	for _, k := range validatorKeys {
		if string(k.PubKey().Address()) == string(addr) {
			return k
		}
	}
	panic(fmt.Sprintf("no validator key for address %X", addr))
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// query asks the app at the state after block height, with proofs.
func (c *chain) query(path string, data []byte, height int64) *abci.ResponseQuery {
	c.tb.Helper()
	res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Height: height, Prove: true})
	if err != nil {
		c.tb.Fatal(err)
	}
	return res
}

// addMember is an admin's MsgAddMember for k, with k's proof of
// possession for the admin's agency.
func addMember(agencyID string, k key, roles ...agencyv1.Role) *txv1.Msg {
	pop := ed25519.Sign(k.priv, keyproof.Statement(chainID, agencyID, k.addr, k.pub, keyproof.AddMember))
	return &txv1.Msg{Sum: &txv1.Msg_AddMember{AddMember: &agencyv1.MsgAddMember{PubKey: k.pub, Roles: roles, KeyProof: pop}}}
}

// clone copies a message (so tampering never touches the original).
func clone[M proto.Message](m M) M { return proto.Clone(m).(M) }
