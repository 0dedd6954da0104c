package genesis_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	statev1 "github.com/tallyledger/tally/proto/tally/state/v1"
	"github.com/tallyledger/tally/x/agency"
)

const testChain = "tally-ceremony"

// party holds one agency's private keys, as its own machine would.
type party struct {
	admin     ed25519.PrivateKey
	validator cmted25519.PrivKey
	node      cmted25519.PrivKey
	body      genesis.DeclarationBody
}

func newParty(t *testing.T, id, kind, addr string) *party {
	t.Helper()
	_, admin, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	p := &party{admin: admin, validator: cmted25519.GenPrivKey(), node: cmted25519.GenPrivKey()}
	p.rebuild(id, kind, addr)
	return p
}

// rebuild recomputes the body from the party's keys.
func (p *party) rebuild(id, kind, addr string) {
	adminPub := p.admin.Public().(ed25519.PublicKey)
	p.body = genesis.DeclarationBody{
		ChainID:         testChain,
		AgencyID:        id,
		AgencyName:      "Agency " + id,
		AgencyKind:      kind,
		ValidatorPubKey: base64.StdEncoding.EncodeToString(p.validator.PubKey().Bytes()),
		Power:           10,
		NodeID:          string(p2p.PubKeyToID(p.node.PubKey())),
		NodePubKey:      base64.StdEncoding.EncodeToString(p.node.PubKey().Bytes()),
		P2PAddress:      addr,
		AdminPubKey:     base64.StdEncoding.EncodeToString(adminPub),
		AdminAddress:    hex.EncodeToString(agency.AddressOf(adminPub)),
	}
}

func (p *party) sign(t *testing.T) *genesis.Declaration {
	t.Helper()
	d, err := genesis.SignDeclaration(p.body, func(m []byte) ([]byte, error) { return ed25519.Sign(p.admin, m), nil }, p.validator, p.node)
	require.NoError(t, err)
	return d
}

func (p *party) write(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, p.body.AgencyID+".declaration.json")
	require.NoError(t, genesis.WriteDeclaration(path, p.sign(t)))
	return path
}

func writeDecl(t *testing.T, dir, name string, d *genesis.Declaration) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, genesis.WriteDeclaration(path, d))
	return path
}

func threeParties(t *testing.T) []*party {
	return []*party{
		newParty(t, "treasury", "treasury", "10.0.0.1:26656"),
		newParty(t, "tax", "tax_authority", "10.0.0.2:26656"),
		newParty(t, "fsa", "regulator", "fsa.example.org:26656"),
	}
}

func writeAll(t *testing.T, dir string, ps []*party) []string {
	var paths []string
	for _, p := range ps {
		paths = append(paths, p.write(t, dir))
	}
	return paths
}

func TestDeclarationSignVerify(t *testing.T) {
	p := newParty(t, "tax", "tax_authority", "10.0.0.2:26656")
	path := p.write(t, t.TempDir())
	d, err := genesis.ReadDeclaration(path)
	require.NoError(t, err)
	v, err := d.Verify()
	require.NoError(t, err)
	require.Equal(t, p.body, v.Body)
	require.Equal(t, agencyv1.Kind_KIND_TAX_AUTHORITY, v.Kind)
	require.Equal(t, p.body.NodeID+"@10.0.0.2:26656", v.PeerAddress())
	require.True(t, strings.HasPrefix(d.Body, `{"chain_id":"tally-ceremony",`), d.Body)
}

func TestSignDeclarationRefusesBadBodies(t *testing.T) {
	cases := map[string]func(b *genesis.DeclarationBody){
		"agency id":    func(b *genesis.DeclarationBody) { b.AgencyID = "Tax Office" },
		"kind":         func(b *genesis.DeclarationBody) { b.AgencyKind = "ministry" },
		"empty name":   func(b *genesis.DeclarationBody) { b.AgencyName = "" },
		"power":        func(b *genesis.DeclarationBody) { b.Power = 0 },
		"p2p address":  func(b *genesis.DeclarationBody) { b.P2PAddress = "10.0.0.2" },
		"wildcard":     func(b *genesis.DeclarationBody) { b.P2PAddress = "0.0.0.0:26656" },
		"node id":      func(b *genesis.DeclarationBody) { b.NodeID = strings.Repeat("ab", 20) },
		"admin addr":   func(b *genesis.DeclarationBody) { b.AdminAddress = strings.Repeat("00", 20) },
		"short key":    func(b *genesis.DeclarationBody) { b.AdminPubKey = base64.StdEncoding.EncodeToString(make([]byte, 31)) },
		"no chain id":  func(b *genesis.DeclarationBody) { b.ChainID = "" },
		"other valkey": func(b *genesis.DeclarationBody) { b.ValidatorPubKey = b.NodePubKey },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			p := newParty(t, "tax", "tax_authority", "10.0.0.2:26656")
			mutate(&p.body)
			_, err := genesis.SignDeclaration(p.body, func(m []byte) ([]byte, error) { return ed25519.Sign(p.admin, m), nil }, p.validator, p.node)
			require.Error(t, err)
		})
	}
	// An admin signer holding another key than admin_pub_key.
	p := newParty(t, "tax", "tax_authority", "10.0.0.2:26656")
	_, other, _ := ed25519.GenerateKey(nil)
	_, err := genesis.SignDeclaration(p.body, func(m []byte) ([]byte, error) { return ed25519.Sign(other, m), nil }, p.validator, p.node)
	require.ErrorContains(t, err, "admin signature does not verify")
}

func TestTamperedDeclarationRefused(t *testing.T) {
	p := newParty(t, "tax", "tax_authority", "10.0.0.2:26656")
	orig := p.sign(t)
	edit := func(f func(b *genesis.DeclarationBody)) *genesis.Declaration {
		var b genesis.DeclarationBody
		require.NoError(t, json.Unmarshal([]byte(orig.Body), &b))
		f(&b)
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		d := *orig
		d.Body = string(raw)
		return &d
	}
	for name, d := range map[string]*genesis.Declaration{
		"power":   edit(func(b *genesis.DeclarationBody) { b.Power = 1000 }),
		"name":    edit(func(b *genesis.DeclarationBody) { b.AgencyName = "Evil Tax" }),
		"address": edit(func(b *genesis.DeclarationBody) { b.P2PAddress = "10.6.6.6:26656" }),
	} {
		_, err := d.Verify()
		require.ErrorContains(t, err, "admin signature does not verify", name)
	}

	// Same content, re-encoded: not the signed bytes.
	d := *orig
	d.Body = strings.Replace(orig.Body, `,"power":10,`, `, "power":10,`, 1)
	_, err := d.Verify()
	require.ErrorContains(t, err, "canonical")

	// Swapped signatures: the validator's signature in the admin slot, and
	// another agency's validator signature.
	d = *orig
	d.AdminSignature = orig.ValidatorSignature
	_, err = d.Verify()
	require.ErrorContains(t, err, "admin signature does not verify")
	other := newParty(t, "tax", "tax_authority", "10.0.0.2:26656")
	other.validator = p.validator // same validator key, different body (other admin and node)
	other.rebuild("tax", "tax_authority", "10.0.0.2:26656")
	d = *orig
	d.ValidatorSignature = other.sign(t).ValidatorSignature
	_, err = d.Verify()
	require.ErrorContains(t, err, "validator signature does not verify")
	d = *orig
	d.NodeSignature = other.sign(t).NodeSignature
	_, err = d.Verify()
	require.ErrorContains(t, err, "node signature does not verify")

	// The admin key's proof of possession: missing, or another party's.
	d = *orig
	d.AdminKeyProof = ""
	_, err = d.Verify()
	require.ErrorContains(t, err, "no proof of possession")
	d = *orig
	d.AdminKeyProof = other.sign(t).AdminKeyProof
	_, err = d.Verify()
	require.ErrorContains(t, err, "proof of possession does not verify")

	d = *orig
	d.Format = "tally/genesis-declaration/v0"
	_, err = d.Verify()
	require.ErrorContains(t, err, "format")

	// LoadDeclarations names the file.
	dir := t.TempDir()
	path := writeDecl(t, dir, "tax.json", edit(func(b *genesis.DeclarationBody) { b.Power = 1000 }))
	_, err = genesis.LoadDeclarations(testChain, []string{path})
	require.ErrorContains(t, err, path+": refused: admin signature does not verify")
}

func TestLoadDeclarationsRefusesDuplicates(t *testing.T) {
	cases := map[string]struct {
		mutate func(a, b *party)
		want   string
	}{
		"agency": {func(a, b *party) { b.rebuild(a.body.AgencyID, "tax_authority", b.body.P2PAddress) }, `same agency id "treasury"`},
		"validator": {func(a, b *party) {
			b.validator = a.validator
			b.rebuild(b.body.AgencyID, b.body.AgencyKind, b.body.P2PAddress)
		}, "same validator key"},
		"node": {func(a, b *party) {
			b.node = a.node
			b.rebuild(b.body.AgencyID, b.body.AgencyKind, b.body.P2PAddress)
		}, "same node id"},
		"admin": {func(a, b *party) {
			b.admin = a.admin
			b.rebuild(b.body.AgencyID, b.body.AgencyKind, b.body.P2PAddress)
		}, "same admin key"},
		"address": {func(a, b *party) { b.rebuild(b.body.AgencyID, b.body.AgencyKind, a.body.P2PAddress) }, "same p2p address 10.0.0.1:26656"},
		"key reuse": {func(a, b *party) {
			b.validator = a.node
			b.rebuild(b.body.AgencyID, b.body.AgencyKind, b.body.P2PAddress)
		}, "same validator key (the node key there)"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			ps := threeParties(t)
			c.mutate(ps[0], ps[1])
			paths := []string{ps[0].write(t, dir), writeDecl(t, dir, "second.json", ps[1].sign(t)), ps[2].write(t, dir)}
			_, err := genesis.LoadDeclarations(testChain, paths)
			require.ErrorContains(t, err, filepath.Join(dir, "second.json")+": refused: duplicate of "+filepath.Join(dir, "treasury.declaration.json")+": "+c.want)
		})
	}
	// The same file twice.
	dir := t.TempDir()
	p := threeParties(t)[0]
	path := p.write(t, dir)
	_, err := genesis.LoadDeclarations(testChain, []string{path, path})
	require.ErrorContains(t, err, path+": refused: duplicate of "+path+`: same agency id "treasury", node id`)
}

func TestLoadDeclarationsRefusesWrongChain(t *testing.T) {
	dir := t.TempDir()
	ps := threeParties(t)
	ps[2].body.ChainID = "tally-other"
	paths := writeAll(t, dir, ps)
	_, err := genesis.LoadDeclarations(testChain, paths)
	require.ErrorContains(t, err, paths[2]+`: refused: declared for chain id "tally-other", but this genesis is for "tally-ceremony"`)
}

func TestCollectAndVerifyGenesis(t *testing.T) {
	dir := t.TempDir()
	ps := threeParties(t)
	paths := writeAll(t, dir, ps)
	gt := time.Date(2030, 1, 15, 9, 0, 0, 0, time.UTC)

	ds, err := genesis.LoadDeclarations(testChain, paths)
	require.NoError(t, err)
	require.Equal(t, []string{"fsa", "tax", "treasury"}, []string{ds[0].Body.AgencyID, ds[1].Body.AgencyID, ds[2].Body.AgencyID})
	g1 := filepath.Join(dir, "g1.json")
	doc, hash1, err := genesis.CollectGenesis(g1, testChain, gt, ds)
	require.NoError(t, err)
	require.Len(t, doc.Validators, 3)
	require.Equal(t, "fsa", doc.Validators[0].Name)

	// Another coordinator, declarations in another order: the same file.
	ds2, err := genesis.LoadDeclarations(testChain, []string{paths[2], paths[0], paths[1]})
	require.NoError(t, err)
	_, hash2, err := genesis.CollectGenesis(filepath.Join(dir, "g2.json"), testChain, gt, ds2)
	require.NoError(t, err)
	require.Equal(t, hash1, hash2)

	v, err := genesis.VerifyGenesis(g1, paths)
	require.NoError(t, err)
	require.Equal(t, hash1, v.Hash)
	require.Equal(t, ds[0].PeerAddress()+","+ds[2].PeerAddress(), genesis.PersistentPeers(v.Declarations, ds[1].Body.NodeID))

	// The genesis also passes the app's own genesis checks.
	state, err := app.ParseGenesis(doc.AppState)
	require.NoError(t, err)
	require.Len(t, state.Agency.Agencies, 3)
	require.Len(t, state.Agency.Accounts, 3)

	// A declaration left out: its validator and agency are undeclared.
	_, err = genesis.VerifyGenesis(g1, paths[:2])
	require.ErrorContains(t, err, "is not declared by any agency")
	require.ErrorContains(t, err, `agency "fsa" is not declared by anyone`)
}

// tamperGenesis rewrites a copy of the genesis at src.
func tamperGenesis(t *testing.T, src string, f func(doc *types.GenesisDoc, state *appv1.GenesisState)) string {
	t.Helper()
	doc, err := types.GenesisDocFromFile(src)
	require.NoError(t, err)
	state, err := app.ParseGenesis(doc.AppState)
	require.NoError(t, err)
	f(doc, state)
	raw, err := app.MarshalGenesis(state)
	require.NoError(t, err)
	doc.AppState = raw
	out := filepath.Join(t.TempDir(), "genesis.json")
	require.NoError(t, doc.SaveAs(out))
	return out
}

func TestVerifyGenesisRefusesChangedGenesis(t *testing.T) {
	dir := t.TempDir()
	ps := threeParties(t)
	paths := writeAll(t, dir, ps)
	ds, err := genesis.LoadDeclarations(testChain, paths)
	require.NoError(t, err)
	g := filepath.Join(dir, "genesis.json")
	_, _, err = genesis.CollectGenesis(g, testChain, time.Now(), ds)
	require.NoError(t, err)

	intruder := cmted25519.GenPrivKey().PubKey()
	cases := map[string]struct {
		f    func(doc *types.GenesisDoc, s *appv1.GenesisState)
		want string
	}{
		"extra validator": {func(doc *types.GenesisDoc, _ *appv1.GenesisState) {
			doc.Validators = append(doc.Validators, types.GenesisValidator{Address: intruder.Address(), PubKey: intruder, Power: 10, Name: "intruder"})
		}, `validator 3 ("intruder"`},
		"missing validator": {func(doc *types.GenesisDoc, _ *appv1.GenesisState) { doc.Validators = doc.Validators[1:] }, "validator of fsa (declared in"},
		"power":             {func(doc *types.GenesisDoc, _ *appv1.GenesisState) { doc.Validators[2].Power = 100 }, "validator of treasury has power 100, declared 10"},
		"missing agency": {func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			s.Agency.Agencies = s.Agency.Agencies[1:]
			s.Agency.Accounts = s.Agency.Accounts[1:]
		}, `agency "fsa" (declared in`},
		"renamed agency": {func(_ *types.GenesisDoc, s *appv1.GenesisState) { s.Agency.Agencies[1].Name = "Evil" }, `agency "tax" is`},
		"extra agency": {func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			s.Agency.Agencies = append(s.Agency.Agencies, &agencyv1.Agency{Id: "shadow", Name: "Shadow", Kind: agencyv1.Kind_KIND_TREASURY})
		}, `agency "shadow" is not declared by anyone`},
		"extra account": {func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			pub, _, _ := ed25519.GenerateKey(nil)
			s.Agency.Accounts = append(s.Agency.Accounts, &agencyv1.Account{PubKey: pub, AgencyId: "treasury", Roles: []agencyv1.Role{agencyv1.Role_ROLE_TREASURY}})
		}, `agency "treasury" has 2 accounts`},
		"swapped admin": {func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			pub, _, _ := ed25519.GenerateKey(nil)
			s.Agency.Accounts[0].PubKey = pub
		}, `account of "fsa" is`},
		"extra role": {func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			s.Agency.Accounts[2].Roles = append(s.Agency.Accounts[2].Roles, agencyv1.Role_ROLE_TREASURY)
		}, `account of "treasury" is`},
		"agency records": {func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			s.Agency.Records = append(s.Agency.Records, &statev1.Record{Key: []byte("ag/a/x"), Value: []byte{1}})
		}, "app_state.agency carries exported records"},
		"key proof dropped": {func(_ *types.GenesisDoc, s *appv1.GenesisState) { s.Agency.KeyProofs = s.Agency.KeyProofs[1:] }, "key_proofs are not the declared"},
		"params":            {func(_ *types.GenesisDoc, s *appv1.GenesisState) { s.Params.TimeoutWindow = 1 }, "app params"},
		"chain id":          {func(doc *types.GenesisDoc, _ *appv1.GenesisState) { doc.ChainID = "tally-other" }, `declared for chain id "tally-ceremony", but this genesis is for "tally-other"`},
		"consensus params":  {func(doc *types.GenesisDoc, _ *appv1.GenesisState) { doc.ConsensusParams.Evidence.MaxAgeNumBlocks = 1 }, "consensus_params"},
	}
	// Another module's state, whatever modules the app has: any message
	// field of the app state besides params and agency, set.
	fields := (&appv1.GenesisState{}).ProtoReflect().Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if fd.Message() == nil || fd.Name() == "params" || fd.Name() == "agency" {
			continue
		}
		cases["module "+string(fd.Name())] = struct {
			f    func(doc *types.GenesisDoc, s *appv1.GenesisState)
			want string
		}{func(_ *types.GenesisDoc, s *appv1.GenesisState) {
			m := s.ProtoReflect()
			if fd.IsList() { // a repeated section: one (empty) element
				l := m.Mutable(fd).List()
				l.Append(l.NewElement())
				return
			}
			m.Set(fd, m.NewField(fd))
		}, "app_state carries module state no declaration asked for"}
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			bad := tamperGenesis(t, g, c.f)
			_, err := genesis.VerifyGenesis(bad, paths)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.want)
		})
	}
	// The untouched genesis still verifies after a round trip through SaveAs.
	_, err = genesis.VerifyGenesis(tamperGenesis(t, g, func(*types.GenesisDoc, *appv1.GenesisState) {}), paths)
	require.NoError(t, err)
}
