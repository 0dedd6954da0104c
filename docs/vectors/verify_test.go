package vectors_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/client"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// load reads a committed vector file.
func load(t *testing.T, name string, v any) {
	t.Helper()
	bz, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bz, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// flip returns a copy of b with byte i changed.
func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

// The committed transactions are what client.BuildTx makes from their
// keys and fields, their signatures verify, and a node admits them while
// refusing a copy with a changed signature or body.
func TestVectorTransactionsSignAndAreRefusedTampered(t *testing.T) {
	var f txFile
	load(t, "transactions.json", &f)
	keys := map[string]ed25519.PrivateKey{}
	for _, k := range f.Keys {
		priv := ed25519.NewKeyFromSeed(unhex(t, k.Seed))
		if !bytes.Equal(priv.Public().(ed25519.PublicKey), unhex(t, k.PublicKey)) {
			t.Fatalf("key %s: public key is not the seed's", k.Name)
		}
		if sum := sha256.Sum256(unhex(t, k.PublicKey)); !bytes.Equal(sum[:20], unhex(t, k.Address)) {
			t.Fatalf("key %s: address is not the first 20 bytes of SHA-256 of the public key", k.Name)
		}
		keys[k.Name] = priv
	}
	c := newChain(t)
	c.block(nil) // CheckTx reads committed state
	for _, v := range f.Transactions {
		priv := keys[v.Signer]
		var msgs []*txv1.Msg
		for _, m := range v.Messages {
			msg := &txv1.Msg{}
			if err := proto.Unmarshal(unhex(t, m.Bytes), msg); err != nil {
				t.Fatalf("%s: %v", v.Name, err)
			}
			msgs = append(msgs, msg)
		}
		opts := client.TxOptions{ChainID: v.ChainID, Signer: unhex(t, f.Keys[indexOf(f.Keys, v.Signer)].Address), Nonce: v.Nonce, TimeoutHeight: v.TimeoutHeight}
		if v.Memo != nil {
			opts.Memo = v.Memo.Commitment
		}
		raw, err := client.BuildTx(opts, func(b []byte) ([]byte, error) { return ed25519.Sign(priv, b), nil }, msgs...)
		if err != nil {
			t.Fatal(err)
		}
		txBytes, body, sig := unhex(t, v.TxBytes), unhex(t, v.BodyBytes), unhex(t, v.Signature)
		hash := sha256.Sum256(txBytes)
		switch {
		case !bytes.Equal(raw, txBytes):
			t.Errorf("%s: client.BuildTx makes other bytes than tx_bytes", v.Name)
		case !bytes.Equal(body, unhex(t, v.SignBytes)):
			t.Errorf("%s: sign_bytes are not body_bytes", v.Name)
		case !ed25519.Verify(priv.Public().(ed25519.PublicKey), body, sig):
			t.Errorf("%s: the signature does not verify", v.Name)
		case !bytes.Equal(hash[:], unhex(t, v.Hash)):
			t.Errorf("%s: hash is not SHA-256 of tx_bytes", v.Name)
		}
		if r := c.checkTx(txBytes); r.Code != 0 {
			t.Errorf("%s: a node refuses the genuine transaction: %s/%d %s", v.Name, r.Codespace, r.Code, r.Log)
		}
		badSig := encodeTx(t, body, flip(sig, 10))
		if r := c.checkTx(badSig); r.Codespace != "tx" || r.Code != 12 {
			t.Errorf("%s: a changed signature got %s/%d %s, want tx/12", v.Name, r.Codespace, r.Code, r.Log)
		}
		if ed25519.Verify(priv.Public().(ed25519.PublicKey), flip(body, len(body)-1), sig) {
			t.Errorf("%s: the signature verifies a changed body", v.Name)
		}
		if r := c.checkTx(encodeTx(t, flip(body, len(body)-1), sig)); r.Code == 0 {
			t.Errorf("%s: a node admits the transaction with a changed body", v.Name)
		}
	}
}

func indexOf(keys []keyJSON, name string) int {
	for i, k := range keys {
		if k.Name == name {
			return i
		}
	}
	return -1
}

func encodeTx(t *testing.T, body, sig []byte) []byte {
	t.Helper()
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(&txv1.Tx{BodyBytes: body, Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (c *chain) checkTx(tx []byte) *abci.ResponseCheckTx {
	c.tb.Helper()
	r, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_New})
	if err != nil {
		c.tb.Fatal(err)
	}
	return r
}

// The committed query answers verify with the client's verifier against
// the app hash of the committed header, and every tampered copy is
// refused: a changed value, proof, key or root, an absence claimed for a
// present record, a list page with an entry or range proof left out.
func TestVectorProofsVerifyAndTamperedAreRefused(t *testing.T) {
	var f queryFile
	load(t, "queries.json", &f)
	var hf headerFile
	load(t, "header.json", &hf)
	var sh types.SignedHeader
	if err := cmtjson.Unmarshal(hf.SignedHeader, &sh); err != nil {
		t.Fatal(err)
	}
	root := unhex(t, f.AppHash)
	if !bytes.Equal(root, sh.AppHash) || sh.Height != f.HeaderHeight || f.HeaderHeight != f.StateHeight+1 {
		t.Fatalf("queries.json reads state %d with app hash %X; header.json has header %d with app hash %X", f.StateHeight, root, sh.Height, sh.AppHash)
	}
	refused := func(name, what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: %s was accepted", name, what)
		}
	}
	for _, q := range f.Queries {
		r := q.Response
		key, value := unhex(t, q.ExpectedKey), unhex(t, r.Value)
		if !bytes.Equal(unhex(t, r.Key), key) || r.Height != f.StateHeight {
			t.Errorf("%s: answered for key %s at height %d, the request implies %s at %d", q.Name, r.Key, r.Height, q.ExpectedKey, f.StateHeight)
		}
		if len(r.ProofOps) == 0 { // a list: proofs inside the ProvedList
			checkList(t, q, root)
			continue
		}
		if len(r.ProofOps) != 1 || r.ProofOps[0].Type != client.ProofOpType || !bytes.Equal(unhex(t, r.ProofOps[0].Key), key) {
			t.Fatalf("%s: want one %s proof op at the key", q.Name, client.ProofOpType)
		}
		proof := unhex(t, r.ProofOps[0].Data)
		if r.Code == 18 && r.Codespace == "tx" {
			value = nil
		} else if r.Code != 0 {
			t.Fatalf("%s: code %s/%d", q.Name, r.Codespace, r.Code)
		}
		if err := client.ProvenValue(root, key, value, proof); err != nil {
			t.Errorf("%s: the genuine answer is refused: %v", q.Name, err)
		}
		refused(q.Name, "the answer against another app hash", client.ProvenValue(flip(root, 0), key, value, proof))
		refused(q.Name, "the proof for another key", client.ProvenValue(root, flip(key, len(key)-1), value, proof))
		for _, i := range []int{0, len(proof) / 3, len(proof) / 2, len(proof) - 1} {
			refused(q.Name, "a proof with a changed byte", client.ProvenValue(root, key, value, flip(proof, i)))
		}
		if value != nil {
			refused(q.Name, "a changed value", client.ProvenValue(root, key, flip(value, len(value)/2), proof))
			refused(q.Name, "an absence claimed for a present record", client.ProvenValue(root, key, nil, proof))
		} else {
			refused(q.Name, "a value for an absent record", client.ProvenValue(root, key, []byte{0x01}, proof))
		}
	}
}

// checkList checks a list page: every entry's proof, and with
// client.VerifyPage that its range proofs leave no record out.
func checkList(t *testing.T, q queryVector, root []byte) {
	t.Helper()
	page := &appv1.ProvedList{}
	if err := proto.Unmarshal(unhex(t, q.Response.Value), page); err != nil {
		t.Fatalf("%s: %v", q.Name, err)
	}
	l, after, ok := client.ListingOf(q.Request.Path, unhex(t, q.Request.Data))
	if !ok {
		t.Fatalf("%s: the client does not know %s as a listing", q.Name, q.Request.Path)
	}
	verify := func(p *appv1.ProvedList) error {
		for _, e := range p.Entries {
			if err := client.ProvenValue(root, e.Key, e.Value, e.Proof); err != nil {
				return err
			}
		}
		_, err := client.VerifyPage(root, "the vector app hash", l, after, p)
		return err
	}
	if len(page.Entries) < 1 || len(page.RangeProofs) < 2 || !page.Complete {
		t.Fatalf("%s: want a complete page of entries with range proofs, got %d entries, %d range proofs", q.Name, len(page.Entries), len(page.RangeProofs))
	}
	if err := verify(page); err != nil {
		t.Fatalf("%s: the genuine page is refused: %v", q.Name, err)
	}
	tampered := map[string]func(p *appv1.ProvedList){
		"a page with an entry left out":        func(p *appv1.ProvedList) { p.Entries = p.Entries[1:] },
		"a page with its last range proof cut": func(p *appv1.ProvedList) { p.RangeProofs = p.RangeProofs[:len(p.RangeProofs)-1] },
		"a page with a changed entry value":    func(p *appv1.ProvedList) { p.Entries[0].Value = flip(p.Entries[0].Value, 3) },
		"a page with a changed range proof":    func(p *appv1.ProvedList) { p.RangeProofs[1] = flip(p.RangeProofs[1], len(p.RangeProofs[1])/2) },
		"a page marked incomplete":             func(p *appv1.ProvedList) { p.Complete = false },
	}
	for what, change := range tampered {
		p := clone(page)
		change(p)
		if verify(p) == nil {
			t.Errorf("%s: %s was accepted", q.Name, what)
		}
	}
	// The page answers one request: checked as the answer to another
	// (the first page for a later one, or the other way round), it fails.
	other := []byte(nil)
	if after == nil {
		other = append(bytes.Clone(l.Prefix), 0xff)
	}
	if _, err := client.VerifyPage(root, "the vector app hash", l, other, page); err == nil {
		t.Errorf("%s: accepted as the answer to a page continuing after %x", q.Name, other)
	}
}

// The committed header verifies as a light client checks it: its
// validator set hashes to validators_hash, its hash is the block id the
// commit signs, and more than two thirds of the voting power signed
// CometBFT's canonical vote bytes; a changed header, a changed signature
// or too few signatures are refused.
func TestVectorHeaderVerifiesAndTamperedIsRefused(t *testing.T) {
	var hf headerFile
	load(t, "header.json", &hf)
	var sh types.SignedHeader
	if err := cmtjson.Unmarshal(hf.SignedHeader, &sh); err != nil {
		t.Fatal(err)
	}
	var vals []*types.Validator
	if err := cmtjson.Unmarshal(hf.Validators, &vals); err != nil {
		t.Fatal(err)
	}
	set := types.NewValidatorSet(vals)
	check := func(sh *types.SignedHeader) error {
		if err := sh.ValidateBasic(hf.ChainID); err != nil {
			return err
		}
		if !bytes.Equal(set.Hash(), sh.ValidatorsHash) {
			return errString("validator set does not hash to the header's validators_hash")
		}
		return set.VerifyCommitLight(hf.ChainID, sh.Commit.BlockID, sh.Height, sh.Commit)
	}
	if err := check(&sh); err != nil {
		t.Fatalf("the genuine header is refused: %v", err)
	}
	if got := hex.EncodeToString(set.Hash()); got != hf.ValidatorsHash {
		t.Errorf("validators_hash %s, the set hashes to %s", hf.ValidatorsHash, got)
	}
	if got := hex.EncodeToString(sh.Hash()); got != hf.HeaderHash {
		t.Errorf("header_hash %s, the header hashes to %s", hf.HeaderHash, got)
	}
	for i, want := range hf.VoteSignBytes {
		if want != "" && hex.EncodeToString(sh.Commit.VoteSignBytes(hf.ChainID, int32(i))) != want {
			t.Errorf("vote_sign_bytes[%d] is not CometBFT's", i)
		}
	}
	tampered := map[string]func(sh *types.SignedHeader){
		"a header with another app hash": func(sh *types.SignedHeader) { sh.Header.AppHash = flip(sh.Header.AppHash, 0) },
		"a changed signature": func(sh *types.SignedHeader) {
			sh.Commit.Signatures[0].Signature = flip(sh.Commit.Signatures[0].Signature, 5)
		},
		"a commit one signature short of two thirds": func(sh *types.SignedHeader) {
			sh.Commit.Signatures[1] = types.NewCommitSigAbsent()
		},
		"a commit for another chain": func(sh *types.SignedHeader) {
			sh.Header.ChainID = "tally-other-1"
			sh.Commit.BlockID.Hash = sh.Header.Hash()
		},
	}
	for what, change := range tampered {
		var cp types.SignedHeader
		if err := cmtjson.Unmarshal(hf.SignedHeader, &cp); err != nil {
			t.Fatal(err)
		}
		change(&cp)
		if check(&cp) == nil {
			t.Errorf("%s was accepted", what)
		}
	}
}

type errString string

func (e errString) Error() string { return string(e) }
