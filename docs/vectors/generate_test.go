package vectors_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// The vector files, as JSON with every byte string in lower-case hex
// (header.json keeps CometBFT's RPC encoding, see headerFile).

// txFile is transactions.json.
type txFile struct {
	About        string     `json:"about"`
	ChainID      string     `json:"chain_id"`
	Keys         []keyJSON  `json:"keys"`
	Transactions []txVector `json:"transactions"`
}

type keyJSON struct {
	Name string `json:"name"`
	// Seed is the 32-byte ed25519 seed (RFC 8032 private key).
	Seed      string `json:"seed"`
	PublicKey string `json:"public_key"`
	Address   string `json:"address"`
}

type txVector struct {
	Name          string    `json:"name"`
	Signer        string    `json:"signer"`
	ChainID       string    `json:"chain_id"`
	Nonce         uint64    `json:"nonce"`
	TimeoutHeight uint64    `json:"timeout_height"`
	Memo          *memoJSON `json:"memo,omitempty"`
	Messages      []msgJSON `json:"messages"`
	BodyBytes     string    `json:"body_bytes"`
	// SignBytes are what the signer signs: body_bytes itself.
	SignBytes string `json:"sign_bytes"`
	Signature string `json:"signature"`
	TxBytes   string `json:"tx_bytes"`
	// Hash is SHA-256 of tx_bytes, the name CometBFT gives the transaction.
	Hash string `json:"hash"`
	// Height, Code and Codespace are the block that included it and its
	// result there (0 and "": applied).
	Height    int64  `json:"height"`
	Code      uint32 `json:"code"`
	Codespace string `json:"codespace"`
}

type memoJSON struct {
	Note       string `json:"note"`
	Salt       string `json:"salt"`
	Commitment string `json:"commitment"`
}

type msgJSON struct {
	// Message is the tally.tx.v1.Msg in protobuf's JSON form, to read.
	Message json.RawMessage `json:"message"`
	Bytes   string          `json:"bytes"`
}

// queryFile is queries.json.
type queryFile struct {
	About string `json:"about"`
	// StateHeight is the state the answers read; its app hash is in the
	// header of HeaderHeight (header.json).
	StateHeight  int64         `json:"state_height"`
	HeaderHeight int64         `json:"header_height"`
	AppHash      string        `json:"app_hash"`
	Queries      []queryVector `json:"queries"`
}

type queryVector struct {
	Name string `json:"name"`
	// Request is the abci_query request; Response its answer.
	Request  queryRequest  `json:"request"`
	Response queryResponse `json:"response"`
	// ExpectedKey is the key the client computes from the request.
	ExpectedKey string `json:"expected_key"`
	// Decoded is the answer's value in protobuf's JSON form, to read.
	Decoded json.RawMessage `json:"decoded,omitempty"`
}

type queryRequest struct {
	Path   string `json:"path"`
	Data   string `json:"data"`
	Height int64  `json:"height"`
	Prove  bool   `json:"prove"`
}

type queryResponse struct {
	Code      uint32    `json:"code"`
	Codespace string    `json:"codespace"`
	Key       string    `json:"key"`
	Value     string    `json:"value"`
	Height    int64     `json:"height"`
	ProofOps  []proofOp `json:"proof_ops"`
}

type proofOp struct {
	Type string `json:"type"`
	Key  string `json:"key"`
	Data string `json:"data"`
}

// headerFile is header.json: the signed header of block HeaderHeight and
// the validator set that signed it, in the JSON CometBFT's RPC answers
// with (result.signed_header of /commit, result.validators of
// /validators), plus the hashes and sign bytes a client recomputes.
type headerFile struct {
	About          string          `json:"about"`
	ChainID        string          `json:"chain_id"`
	SignedHeader   json.RawMessage `json:"signed_header"`
	Validators     json.RawMessage `json:"validators"`
	ValidatorsHash string          `json:"validators_hash"`
	HeaderHash     string          `json:"header_hash"`
	// VoteSignBytes[i] is what validator i signed (empty: absent).
	VoteSignBytes []string `json:"vote_sign_bytes"`
}

// Heights of the vector chain: the transactions go in blocks 1 and 2, the
// queries read the state after block 2, whose app hash block 3's header
// carries.
const (
	stateHeight  = 2
	headerHeight = 3
)

// generate runs the vector chain and returns the vector files by name.
func generate(t *testing.T) map[string][]byte {
	c := newChain(t)
	memoSalt := sha256.Sum256([]byte("tally-vectors/memo-salt"))
	memoNote := "Budget 2030, vote 4"
	memoHash := sha256.Sum256(append(append([]byte("tally/memo/v1"), memoSalt[:]...), memoNote...))
	memo := &memoJSON{Note: memoNote, Salt: hex.EncodeToString(memoSalt[:]), Commitment: hex.EncodeToString(memoHash[:])}

	type planned struct {
		name   string
		signer key
		memo   *memoJSON
		msgs   []*txv1.Msg
	}
	blocks := [][]planned{{
		{"agency.add_member", treasuryAdmin, nil, []*txv1.Msg{addMember("treasury", treasuryClerk, agencyv1.Role_ROLE_TREASURY)}},
		{"funds.appropriate (with a memo commitment)", treasuryAdmin, memo, []*txv1.Msg{{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{
			Reference: "APPROP-2030-001", Amount: 250_000_000_00, Currency: "GBP"}}}}},
		{"benefits.create_programme", welfareAdmin, nil, []*txv1.Msg{{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
			Id: "winter-fuel", Name: "Winter fuel payment", Amount: 300_00, Currency: "GBP", PeriodSeconds: 30 * 86400,
			StartUnix: genesisTime.Unix() + 86400, EndUnix: genesisTime.Unix() + 86400 + 180*86400, RecipientCap: 1800_00}}}}},
		{"tax.register_tax_type", revenueAdmin, nil, []*txv1.Msg{{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{
			Code: "VAT", Name: "Value added tax", RevenueAgency: "treasury", PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}}}}},
		{"provenance.register_item", dairyAdmin, nil, []*txv1.Msg{{Sum: &txv1.Msg_RegisterItem{RegisterItem: &provenancev1.MsgRegisterItem{
			Id: "lot:milk-0001", Product: "milk", Quantity: 1000, Unit: "l", Origin: "urn:gln:5012345000001"}}}}},
		{"gov.submit_proposal", treasuryAdmin, nil, []*txv1.Msg{{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{
			Title: "Longer timeout window", Content: &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: "app.timeout_window", Value: "900"}}}}}}}},
	}, {
		{"gov.vote", revenueAdmin, nil, []*txv1.Msg{{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: 1, Option: govv1.VoteOption_VOTE_OPTION_YES}}}}},
	}}

	txs := txFile{
		About: "Signed Tally transactions (docs/protocol.md §1). Keys are ed25519 from the given seeds; every byte string is hex. " +
			"Regenerate with: go test ./docs/vectors -run TestVectors -update",
		ChainID: chainID,
	}
	for _, k := range accountKeys {
		txs.Keys = append(txs.Keys, keyJSON{Name: k.name, Seed: hex.EncodeToString(k.seed), PublicKey: hex.EncodeToString(k.pub), Address: hex.EncodeToString(k.addr)})
	}
	for _, block := range blocks {
		var raws [][]byte
		var vs []txVector
		for _, p := range block {
			c.nonce++
			opts := client.TxOptions{ChainID: chainID, Signer: p.signer.addr, Nonce: c.nonce, TimeoutHeight: uint64(c.height) + 20}
			if p.memo != nil {
				opts.Memo = p.memo.Commitment
			}
			raw, err := client.BuildTx(opts, p.signer.sign, p.msgs...)
			if err != nil {
				t.Fatal(err)
			}
			tx := &txv1.Tx{}
			if err := proto.Unmarshal(raw, tx); err != nil {
				t.Fatal(err)
			}
			hash := sha256.Sum256(raw)
			v := txVector{Name: p.name, Signer: p.signer.name, ChainID: opts.ChainID, Nonce: opts.Nonce, TimeoutHeight: opts.TimeoutHeight, Memo: p.memo,
				BodyBytes: hex.EncodeToString(tx.BodyBytes), SignBytes: hex.EncodeToString(tx.BodyBytes), Signature: hex.EncodeToString(tx.Signature),
				TxBytes: hex.EncodeToString(raw), Hash: hex.EncodeToString(hash[:]), Height: c.height + 1}
			for _, m := range p.msgs {
				bz, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				v.Messages = append(v.Messages, msgJSON{Message: protoJSON(t, m), Bytes: hex.EncodeToString(bz)})
			}
			raws = append(raws, raw)
			vs = append(vs, v)
		}
		res := c.block(raws, 3)
		for i, r := range res.TxResults {
			vs[i].Code, vs[i].Codespace = r.Code, r.Codespace
			if r.Code != 0 {
				t.Errorf("vector transaction %q failed in its block: %s/%d %s", vs[i].Name, r.Codespace, r.Code, r.Log)
			}
		}
		txs.Transactions = append(txs.Transactions, vs...)
	}
	if c.height != stateHeight {
		t.Fatalf("the transactions filled %d blocks, the vectors say %d", c.height, stateHeight)
	}
	stateHash := c.appHash
	c.block(nil, 3) // block 3: its header commits to the state after block 2

	qs := queryFile{
		About: "abci_query answers with proofs (docs/protocol.md §2-§5), read at state_height and verified against app_hash, " +
			"the app_hash of the header of header_height in header.json. Every byte string is hex.",
		StateHeight: stateHeight, HeaderHeight: headerHeight, AppHash: hex.EncodeToString(stateHash),
	}
	addQuery := func(name, path string, data, expected []byte, decode proto.Message) {
		res := c.query(path, data, stateHeight)
		q := queryVector{Name: name, Request: queryRequest{Path: path, Data: hex.EncodeToString(data), Height: stateHeight, Prove: true},
			Response: responseJSON(res), ExpectedKey: hex.EncodeToString(expected)}
		if decode != nil && len(res.Value) > 0 {
			if err := proto.Unmarshal(res.Value, decode); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			q.Decoded = protoJSON(t, decode)
		}
		qs.Queries = append(qs.Queries, q)
	}
	addQuery("present record: the clerk's account", api.PathAccount, treasuryClerk.addr, api.AccountKey(treasuryClerk.addr), &agencyv1.Account{})
	addQuery("absent record: an address with no account", api.PathAccount, stranger.addr, api.AccountKey(stranger.addr), nil)
	addQuery("present record: the VAT tax type", api.PathTaxType, []byte("VAT"), api.TaxTypeKey("VAT"), &taxv1.TaxType{})
	addQuery("list page: the treasury's members, complete, with range proofs", api.PathMembers, api.ListData([]byte("treasury"), nil, 0), api.MembersPrefix("treasury"), nil)
	// A later page: the same argument, after = the index key the page
	// continues after (here the first member's, as if a page had ended there).
	first := firstIndexKey(t, c.query(api.PathMembers, api.ListData([]byte("treasury"), nil, 0), stateHeight))
	addQuery("list page: the treasury's members continuing after the first", api.PathMembers,
		api.ListData([]byte("treasury"), first, 0), api.MembersPrefix("treasury"), nil)

	sh := c.headers[headerHeight]
	hf := headerFile{
		About: "The signed header of block header_height and its validator set, as CometBFT's RPC returns them " +
			"(/commit result.signed_header, /validators result.validators): HexBytes in upper-case hex, signatures and keys in base64, " +
			"int64 as strings, times RFC 3339. validators_hash, header_hash and vote_sign_bytes (lower-case hex) are what a client recomputes. " +
			"Validator 3 did not sign.",
		ChainID:        chainID,
		SignedHeader:   cmtJSON(t, sh),
		Validators:     cmtJSON(t, c.vals.Validators),
		ValidatorsHash: hex.EncodeToString(c.vals.Hash()),
		HeaderHash:     hex.EncodeToString(sh.Header.Hash()),
	}
	for i := range sh.Commit.Signatures {
		if sh.Commit.Signatures[i].BlockIDFlag != types.BlockIDFlagCommit {
			hf.VoteSignBytes = append(hf.VoteSignBytes, "")
			continue
		}
		hf.VoteSignBytes = append(hf.VoteSignBytes, hex.EncodeToString(sh.Commit.VoteSignBytes(chainID, int32(i))))
	}
	return map[string][]byte{
		"transactions.json": indent(t, txs),
		"queries.json":      indent(t, qs),
		"header.json":       indent(t, hf),
	}
}

// firstIndexKey is the first index key a page's range proofs show: the
// right neighbour of its start key (the listing's prefix, never itself a key).
func firstIndexKey(t *testing.T, res *abci.ResponseQuery) []byte {
	t.Helper()
	page := &appv1.ProvedList{}
	if err := proto.Unmarshal(res.Value, page); err != nil || len(page.RangeProofs) == 0 {
		t.Fatalf("members page: %v", err)
	}
	p := &ics23.CommitmentProof{}
	if err := p.Unmarshal(page.RangeProofs[0]); err != nil || p.GetNonexist() == nil || p.GetNonexist().Right == nil {
		t.Fatalf("members page: the first range proof is not an absence with a right neighbour (%v)", err)
	}
	return p.GetNonexist().Right.Key
}

func responseJSON(res *abci.ResponseQuery) queryResponse {
	r := queryResponse{Code: res.Code, Codespace: res.Codespace, Key: hex.EncodeToString(res.Key), Value: hex.EncodeToString(res.Value), Height: res.Height}
	if res.ProofOps != nil {
		for _, op := range res.ProofOps.Ops {
			r.ProofOps = append(r.ProofOps, proofOp{Type: op.Type, Key: hex.EncodeToString(op.Key), Data: hex.EncodeToString(op.Data)})
		}
	}
	return r
}

// protoJSON is m in protobuf's JSON form, with its whitespace normalised
// (protojson varies it on purpose).
func protoJSON(t *testing.T, m proto.Message) json.RawMessage {
	t.Helper()
	bz, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, bz); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// cmtJSON is v in CometBFT's RPC JSON.
func cmtJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	bz, err := cmtjson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return bz
}

func indent(t *testing.T, v any) []byte {
	t.Helper()
	bz, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(bz, '\n')
}
