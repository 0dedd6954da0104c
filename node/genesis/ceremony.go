package genesis

// The multi-agency genesis ceremony. Agencies that do not trust each other
// each publish a signed declaration of what they bring to the chain (their
// agency, their admin account key, their validator and node), a coordinator
// collects the declarations into genesis.json, and every agency re-checks
// that genesis against the declarations before installing it.
//
// A declaration's body is serialised once, to canonical JSON, and kept in
// the file as a string; the signatures cover exactly those bytes behind a
// domain-separating prefix, so no re-encoding can change what was signed.
// Three keys sign the same bytes:
//
//   - the agency's admin account key: the agency's admin holds it;
//   - the validator's consensus key (priv_validator_key.json): the node
//     operator holds it, so nobody can declare someone else's validator;
//   - the node's p2p key (node_key.json): the node id is really that node's.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
)

const (
	// DeclarationFormat names the file format and version of a declaration.
	DeclarationFormat = "tally/genesis-declaration/v1"
	// declarationSignPrefix is prepended to the body bytes before signing,
	// so a declaration signature can never be mistaken for a transaction,
	// vote or any other message signed by the same keys.
	declarationSignPrefix = DeclarationFormat + "\n"
	// MaxDeclarationPower bounds a validator's declared voting power.
	MaxDeclarationPower = 1_000_000
	// maxAgencyNameBytes bounds an agency's human name.
	maxAgencyNameBytes = 128
	// maxDeclarationFileBytes bounds declaration files we parse.
	maxDeclarationFileBytes = 64 << 10
)

// DeclarationBody is what an agency declares. It is signed as the exact
// bytes of its canonical JSON encoding (encoding/json of this struct).
type DeclarationBody struct {
	ChainID    string `json:"chain_id"`
	AgencyID   string `json:"agency_id"`
	AgencyName string `json:"agency_name"`
	// AgencyKind is the short kind name ("tax_authority").
	AgencyKind string `json:"agency_kind"`
	// ValidatorPubKey is the base64 ed25519 consensus public key.
	ValidatorPubKey string `json:"validator_pub_key"`
	Power           int64  `json:"power"`
	// NodeID is the node's p2p id (hex address of NodePubKey).
	NodeID string `json:"node_id"`
	// NodePubKey is the base64 ed25519 p2p public key.
	NodePubKey string `json:"node_pub_key"`
	// P2PAddress is host:port where other validators reach this node.
	P2PAddress string `json:"p2p_address"`
	// AdminPubKey is the base64 ed25519 public key of the agency's first
	// admin account; AdminAddress its address (lowercase hex).
	AdminPubKey  string `json:"admin_pub_key"`
	AdminAddress string `json:"admin_address"`
}

// Declaration is the file an agency sends to the coordinator and to every
// other agency. Body is the signed JSON, kept as a string so the bytes
// verified are the bytes signed.
type Declaration struct {
	Format             string `json:"format"`
	Body               string `json:"body"`
	AdminSignature     string `json:"admin_signature"`
	ValidatorSignature string `json:"validator_signature"`
	NodeSignature      string `json:"node_signature"`
	// AdminKeyProof is the admin key's proof of possession for genesis
	// (keyproof.Statement with purpose genesis-account), base64; the chain
	// checks it at InitChain.
	AdminKeyProof string `json:"admin_key_proof"`
}

// Declared is a verified declaration with its keys decoded.
type Declared struct {
	// Source names where the declaration came from (its file) in messages.
	Source       string
	Body         DeclarationBody
	Kind         agencyv1.Kind
	ValidatorPK  crypto.PubKey
	NodePK       ed25519.PublicKey
	AdminPub     ed25519.PublicKey
	AdminAddress []byte
	// AdminKeyProof is the verified proof of possession of AdminPub.
	AdminKeyProof []byte
}

// PeerAddress is the node's persistent-peer entry: nodeid@host:port.
func (d *Declared) PeerAddress() string { return d.Body.NodeID + "@" + d.Body.P2PAddress }

// Signer signs msg with a key the caller holds (for example a keyring key).
type Signer func(msg []byte) ([]byte, error)

func declarationSignBytes(body []byte) []byte {
	return append([]byte(declarationSignPrefix), body...)
}

// SignDeclaration validates body, encodes it once and signs those bytes with
// the admin account key (adminSign), the validator's consensus key and the
// node's p2p key. The public keys in body must match the signing keys.
func SignDeclaration(body DeclarationBody, adminSign Signer, validatorKey, nodeKey crypto.PrivKey) (*Declaration, error) {
	if _, err := checkBody(body); err != nil {
		return nil, err
	}
	if got := base64.StdEncoding.EncodeToString(validatorKey.PubKey().Bytes()); got != body.ValidatorPubKey {
		return nil, errors.New("validator_pub_key does not match the validator key used to sign")
	}
	if got := base64.StdEncoding.EncodeToString(nodeKey.PubKey().Bytes()); got != body.NodePubKey {
		return nil, errors.New("node_pub_key does not match the node key used to sign")
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	msg := declarationSignBytes(raw)
	adminSig, err := adminSign(msg)
	if err != nil {
		return nil, fmt.Errorf("signing with the admin key: %w", err)
	}
	valSig, err := validatorKey.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("signing with the validator key: %w", err)
	}
	nodeSig, err := nodeKey.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("signing with the node key: %w", err)
	}
	adminPub, _ := base64.StdEncoding.DecodeString(body.AdminPubKey) // checkBody decoded it
	proof, err := KeyProof(body.ChainID, body.AgencyID, adminPub, adminSign)
	if err != nil {
		return nil, err
	}
	d := &Declaration{
		Format:             DeclarationFormat,
		Body:               string(raw),
		AdminSignature:     base64.StdEncoding.EncodeToString(adminSig),
		ValidatorSignature: base64.StdEncoding.EncodeToString(valSig),
		NodeSignature:      base64.StdEncoding.EncodeToString(nodeSig),
		AdminKeyProof:      base64.StdEncoding.EncodeToString(proof.Signature),
	}
	// Never hand out a declaration that would not verify (for example an
	// admin signer holding a different key than admin_pub_key).
	if _, err := d.Verify(); err != nil {
		return nil, err
	}
	return d, nil
}

// WriteDeclaration saves d as indented JSON.
func WriteDeclaration(path string, d *Declaration) error {
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(out, '\n'), 0o644)
}

// ReadDeclaration reads a declaration file without verifying it.
func ReadDeclaration(path string) (*Declaration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > maxDeclarationFileBytes {
		return nil, fmt.Errorf("%s: %d bytes is too large for a declaration", path, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	d := &Declaration{}
	if err := dec.Decode(d); err != nil {
		return nil, fmt.Errorf("%s is not a genesis declaration (invalid JSON): %w", path, err)
	}
	return d, nil
}

// Verify checks the format, every field of the body and all three
// signatures, and returns the decoded declaration.
func (d *Declaration) Verify() (*Declared, error) {
	if d.Format != DeclarationFormat {
		return nil, fmt.Errorf("format is %q, want %q (not a declaration written by `tallyd genesis declare` of this release)", d.Format, DeclarationFormat)
	}
	raw := []byte(d.Body)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var body DeclarationBody
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("body is not valid declaration JSON: %w", err)
	}
	if canon, _ := json.Marshal(body); !bytes.Equal(canon, raw) {
		return nil, errors.New("body is not in canonical form (it was edited after signing)")
	}
	out, err := checkBody(body)
	if err != nil {
		return nil, err
	}
	msg := declarationSignBytes(raw)
	sigs := []struct {
		name, sig string
		ok        func([]byte) bool
	}{
		{"admin", d.AdminSignature, func(s []byte) bool { return ed25519.Verify(out.AdminPub, msg, s) }},
		{"validator", d.ValidatorSignature, func(s []byte) bool { return out.ValidatorPK.VerifySignature(msg, s) }},
		{"node", d.NodeSignature, func(s []byte) bool { return ed25519.Verify(out.NodePK, msg, s) }},
	}
	for _, s := range sigs {
		sig, err := base64.StdEncoding.DecodeString(s.sig)
		if err != nil || len(sig) != ed25519.SignatureSize {
			return nil, fmt.Errorf("%s_signature must be base64 of a %d-byte ed25519 signature", s.name, ed25519.SignatureSize)
		}
		if !s.ok(sig) {
			return nil, fmt.Errorf("%s signature does not verify: the body was changed after signing, or the signature belongs to another declaration", s.name)
		}
	}
	proof, err := base64.StdEncoding.DecodeString(d.AdminKeyProof)
	if err != nil {
		return nil, fmt.Errorf("admin_key_proof must be base64: %w", err)
	}
	if err := agency.CheckKeyProof("admin_pub_key", out.AdminPub, proof, body.ChainID, body.AgencyID, out.AdminAddress, keyproof.GenesisAccount); err != nil {
		return nil, err
	}
	out.AdminKeyProof = proof
	return out, nil
}

func decodeKey(field, s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s must be base64 of a %d-byte ed25519 public key", field, ed25519.PublicKeySize)
	}
	return b, nil
}

// checkBody validates every field of a declaration body.
func checkBody(b DeclarationBody) (*Declared, error) {
	if b.ChainID == "" || len(b.ChainID) > types.MaxChainIDLen {
		return nil, fmt.Errorf("chain_id must be 1 to %d characters", types.MaxChainIDLen)
	}
	if err := agency.ValidateAgencyID(b.AgencyID); err != nil {
		return nil, err
	}
	if err := validateAgencyName(b.AgencyName); err != nil {
		return nil, err
	}
	kind, err := agency.ParseKind(b.AgencyKind)
	if err != nil || agency.KindName(kind) != b.AgencyKind {
		return nil, fmt.Errorf("agency_kind %q is not an agency kind", b.AgencyKind)
	}
	if b.Power < 1 || b.Power > MaxDeclarationPower {
		return nil, fmt.Errorf("power %d must be between 1 and %d", b.Power, MaxDeclarationPower)
	}
	valPub, err := decodeKey("validator_pub_key", b.ValidatorPubKey)
	if err != nil {
		return nil, err
	}
	nodePub, err := decodeKey("node_pub_key", b.NodePubKey)
	if err != nil {
		return nil, err
	}
	if want := string(p2p.PubKeyToID(cmted25519.PubKey(nodePub))); b.NodeID != want {
		return nil, fmt.Errorf("node_id %q is not the id of node_pub_key (%s)", b.NodeID, want)
	}
	if err := validateP2PAddress(b.P2PAddress); err != nil {
		return nil, err
	}
	adminPub, err := decodeKey("admin_pub_key", b.AdminPubKey)
	if err != nil {
		return nil, err
	}
	if err := agency.ValidatePubKey("admin_pub_key", adminPub); err != nil {
		return nil, err
	}
	adminAddr := agency.AddressOf(adminPub)
	if b.AdminAddress != hex.EncodeToString(adminAddr) {
		return nil, fmt.Errorf("admin_address %q is not the address of admin_pub_key (%x)", b.AdminAddress, adminAddr)
	}
	return &Declared{
		Body:         b,
		Kind:         kind,
		ValidatorPK:  cmted25519.PubKey(valPub),
		NodePK:       nodePub,
		AdminPub:     adminPub,
		AdminAddress: adminAddr,
	}, nil
}

func validateAgencyName(name string) error {
	if name == "" || len(name) > maxAgencyNameBytes || !utf8.ValidString(name) || strings.TrimSpace(name) != name {
		return fmt.Errorf("agency_name %q must be 1 to %d bytes of UTF-8 without leading or trailing spaces", name, maxAgencyNameBytes)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("agency_name %q must not contain control characters", name)
		}
	}
	return nil
}

// validateP2PAddress checks a host:port that other nodes dial. It does not
// resolve host names.
func validateP2PAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("p2p_address %q must be host:port: %v", addr, err)
	}
	if host == "" || strings.ContainsAny(host, "@,/ \t") {
		return fmt.Errorf("p2p_address %q has an invalid host", addr)
	}
	if host == "0.0.0.0" || host == "::" {
		return fmt.Errorf("p2p_address %q must be an address other nodes can dial, not a wildcard", addr)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 || strconv.FormatUint(p, 10) != port {
		return fmt.Errorf("p2p_address %q has an invalid port", addr)
	}
	return nil
}

// ValidateP2PAddress is validateP2PAddress for the CLI's early checks.
func ValidateP2PAddress(addr string) error { return validateP2PAddress(addr) }

// LoadDeclarations reads and verifies declaration files for chainID and
// checks that no two of them clash. Every problem is reported, each naming
// its file. The result is sorted by agency id.
func LoadDeclarations(chainID string, paths []string) ([]*Declared, error) {
	if len(paths) == 0 {
		return nil, errors.New("no declarations given")
	}
	var errs []error
	var out []*Declared
	for _, p := range paths {
		d, err := ReadDeclaration(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		v, err := d.Verify()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: refused: %w", p, err))
			continue
		}
		if v.Body.ChainID != chainID {
			errs = append(errs, fmt.Errorf("%s: refused: declared for chain id %q, but this genesis is for %q", p, v.Body.ChainID, chainID))
			continue
		}
		v.Source = p
		out = append(out, v)
	}
	errs = append(errs, checkClashes(out)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Body.AgencyID < out[j].Body.AgencyID })
	return out, nil
}

// checkClashes refuses two declarations that share an agency id, a node id,
// a p2p address or any public key (a key may serve only one purpose in one
// declaration). Each clashing declaration gets one error naming the earlier
// file and everything the two share.
func checkClashes(ds []*Declared) []error {
	type owner struct{ src, what string }
	seen := map[string]owner{}
	var errs []error
	for _, d := range ds {
		var others []string
		shared := map[string][]string{}
		claim := func(key, what string) {
			o, ok := seen[key]
			if !ok {
				seen[key] = owner{d.Source, what}
				return
			}
			if _, known := shared[o.src]; !known {
				others = append(others, o.src)
			}
			if o.what != what {
				what += " (the " + o.what + " there)"
			}
			shared[o.src] = append(shared[o.src], what)
		}
		claim("agency:"+d.Body.AgencyID, "agency id "+strconv.Quote(d.Body.AgencyID))
		claim("node:"+d.Body.NodeID, "node id "+d.Body.NodeID)
		claim("addr:"+strings.ToLower(d.Body.P2PAddress), "p2p address "+d.Body.P2PAddress)
		claim("key:"+string(d.ValidatorPK.Bytes()), "validator key")
		claim("key:"+string(d.NodePK), "node key")
		claim("key:"+string(d.AdminPub), "admin key")
		for _, o := range others {
			errs = append(errs, fmt.Errorf("%s: refused: duplicate of %s: same %s", d.Source, o, strings.Join(shared[o], ", ")))
		}
	}
	return errs
}

// Validators is the genesis validator set of the declarations: one
// validator per agency, named after it, in the order given.
func Validators(ds []*Declared) []Validator {
	vals := make([]Validator, 0, len(ds))
	for _, d := range ds {
		vals = append(vals, Validator{Name: d.Body.AgencyID, PubKey: d.ValidatorPK, Power: d.Body.Power})
	}
	return vals
}

// AppState is the app state of the declarations: default params,
// every agency and its admin account, in the order given, the agency
// operating each validator with its node address (for governance and peer
// admission), and the founding mandates each agency's kind carries
// (gov.FoundingMandates) — so every agency that checks the genesis sees
// exactly which agency may appropriate, tax, pay, settle and regulate from
// the first block.
func AppState(ds []*Declared) *appv1.GenesisState {
	g, ops := &agencyv1.Genesis{}, &govv1.Genesis{}
	for _, d := range ds {
		g.Agencies = append(g.Agencies, expectedAgency(d))
		g.Accounts = append(g.Accounts, expectedAccount(d))
		g.KeyProofs = append(g.KeyProofs, &agencyv1.KeyProof{Address: slices.Clone(d.AdminAddress), Signature: slices.Clone(d.AdminKeyProof)})
		// The node address is the declared node id (proven by the node
		// key's signature on the declaration): with filter_peers on,
		// nodes admit it.
		ops.Operators = append(ops.Operators, &govv1.ValidatorOperator{PubKey: d.ValidatorPK.Bytes(), AgencyId: d.Body.AgencyID, NodeAddress: d.PeerAddress()})
	}
	ops.Mandates = gov.FoundingMandates(g.Agencies)
	return &appv1.GenesisState{Params: app.DefaultParams(), Agency: g, Gov: ops}
}

func expectedAgency(d *Declared) *agencyv1.Agency {
	return &agencyv1.Agency{Id: d.Body.AgencyID, Name: d.Body.AgencyName, Kind: d.Kind}
}

func expectedAccount(d *Declared) *agencyv1.Account {
	return &agencyv1.Account{PubKey: slices.Clone(d.AdminPub), AgencyId: d.Body.AgencyID, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}}
}

// CollectGenesis writes the genesis of verified declarations (as
// LoadDeclarations returns them, sorted by agency id) to path and returns it
// with the sha256 of the file. Same declarations and genesis time give the
// same file.
func CollectGenesis(path, chainID string, genesisTime time.Time, ds []*Declared) (*types.GenesisDoc, string, error) {
	if len(ds) == 0 {
		return nil, "", errors.New("no declarations given")
	}
	for _, d := range ds {
		if d.Body.ChainID != chainID {
			return nil, "", fmt.Errorf("%s: declared for chain id %q, not %q", d.Source, d.Body.ChainID, chainID)
		}
	}
	if errs := checkClashes(ds); len(errs) > 0 {
		return nil, "", errors.Join(errs...)
	}
	sorted := slices.Clone(ds)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Body.AgencyID < sorted[j].Body.AgencyID })
	doc, err := WriteGenesis(path, chainID, genesisTime.UTC(), Validators(sorted), AppState(sorted))
	if err != nil {
		return nil, "", err
	}
	hash, err := FileHash(path)
	return doc, hash, err
}

// FileHash is the hex sha256 of a file's bytes: the value agencies compare
// out of band to know they hold the same genesis.
func FileHash(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:]), nil
}

// PersistentPeers is the p2p.persistent_peers value for the declarations,
// leaving out the node with id exclude (a node does not dial itself).
func PersistentPeers(ds []*Declared, exclude string) string {
	var peers []string
	for _, d := range ds {
		if d.Body.NodeID != exclude {
			peers = append(peers, d.PeerAddress())
		}
	}
	return strings.Join(peers, ",")
}

// VerifiedGenesis is a genesis that matches its declarations.
type VerifiedGenesis struct {
	Doc          *types.GenesisDoc
	Hash         string
	Declarations []*Declared
}

// VerifyGenesis reads the genesis at path, verifies every declaration file
// against its chain id, and checks that the genesis holds exactly the
// declared validators (key, power, name) and exactly the declared agencies
// with their admin accounts, default params and consensus params, and no
// other state. Every difference found is reported.
func VerifyGenesis(path string, declPaths []string) (*VerifiedGenesis, error) {
	hash, err := FileHash(path)
	if err != nil {
		return nil, err
	}
	doc, err := types.GenesisDocFromFile(path)
	if err != nil {
		return nil, err
	}
	ds, err := LoadDeclarations(doc.ChainID, declPaths)
	if err != nil {
		return nil, err
	}
	if err := CheckGenesis(doc, ds); err != nil {
		return nil, fmt.Errorf("%s does not match the declarations:\n%w", path, err)
	}
	return &VerifiedGenesis{Doc: doc, Hash: hash, Declarations: ds}, nil
}

// CheckGenesis compares a genesis document with verified declarations.
func CheckGenesis(doc *types.GenesisDoc, ds []*Declared) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if doc.InitialHeight != 1 {
		bad("initial_height is %d, want 1", doc.InitialHeight)
	}
	if len(doc.AppHash) != 0 {
		bad("app_hash is set (%X); a new chain starts with an empty one", doc.AppHash)
	}
	if doc.ConsensusParams == nil || !reflect.DeepEqual(*doc.ConsensusParams, *types.DefaultConsensusParams()) {
		bad("consensus_params differ from this release's defaults")
	}
	for _, d := range ds {
		if d.Body.ChainID != doc.ChainID {
			bad("%s: declared for chain id %q, genesis is for %q", d.Source, d.Body.ChainID, doc.ChainID)
		}
	}

	// Validators: exactly one per declaration, with its key, power and name.
	byKey := map[string]*Declared{}
	for _, d := range ds {
		byKey[string(d.ValidatorPK.Bytes())] = d
	}
	found := map[string]bool{}
	for i, v := range doc.Validators {
		k := string(v.PubKey.Bytes())
		d, ok := byKey[k]
		switch {
		case !ok:
			bad("validator %d (%q, key %s, power %d) is not declared by any agency", i, v.Name, base64.StdEncoding.EncodeToString(v.PubKey.Bytes()), v.Power)
			continue
		case found[k]:
			bad("validator of %s appears more than once", d.Body.AgencyID)
			continue
		}
		found[k] = true
		if v.PubKey.Type() != cmted25519.KeyType {
			bad("validator of %s has key type %s, declared ed25519", d.Body.AgencyID, v.PubKey.Type())
		}
		if v.Power != d.Body.Power {
			bad("validator of %s has power %d, declared %d", d.Body.AgencyID, v.Power, d.Body.Power)
		}
		if v.Name != d.Body.AgencyID {
			bad("validator of %s is named %q, want %q", d.Body.AgencyID, v.Name, d.Body.AgencyID)
		}
	}
	for _, d := range ds {
		if !found[string(d.ValidatorPK.Bytes())] {
			bad("validator of %s (declared in %s) is missing", d.Body.AgencyID, d.Source)
		}
	}

	// App state: default params, exactly the declared agencies and admin
	// accounts, nothing else.
	state, err := app.ParseGenesis(doc.AppState)
	if err != nil {
		bad("%v", err)
		return errors.Join(errs...)
	}
	if len(state.Agency.GetRecords()) > 0 {
		bad("app_state.agency carries exported records (tallyd export); a ceremony genesis holds only the declared agencies and accounts")
	}
	if !proto.Equal(state.Params, app.DefaultParams()) {
		bad("app params %s differ from this release's defaults %s", compact(state.Params), compact(app.DefaultParams()))
	}
	// Every other module's state must be what collect writes for these
	// declarations (today: nothing), read back the way the app reads it.
	rest := proto.Clone(state).(*appv1.GenesisState)
	rest.Params, rest.Agency = nil, nil
	wantRest := &appv1.GenesisState{}
	if raw, err := app.MarshalGenesis(AppState(ds)); err != nil {
		bad("%v", err)
	} else if parsed, err := app.ParseGenesis(raw); err != nil {
		bad("%v", err)
	} else {
		wantRest = parsed
		wantRest.Params, wantRest.Agency = nil, nil
	}
	if !proto.Equal(rest, wantRest) {
		bad("app_state carries module state no declaration asked for: %s", compact(rest))
	}
	g := state.GetAgency()
	if g == nil {
		g = &agencyv1.Genesis{}
	}
	agencies := map[string]*agencyv1.Agency{}
	for _, a := range g.Agencies {
		if _, dup := agencies[a.Id]; dup {
			bad("agency %q appears more than once", a.Id)
		}
		agencies[a.Id] = a
	}
	accounts := map[string][]*agencyv1.Account{}
	for _, a := range g.Accounts {
		accounts[a.AgencyId] = append(accounts[a.AgencyId], a)
	}
	declared := map[string]bool{}
	for _, d := range ds {
		id := d.Body.AgencyID
		declared[id] = true
		if a, ok := agencies[id]; !ok {
			bad("agency %q (declared in %s) is missing", id, d.Source)
		} else if want := expectedAgency(d); !proto.Equal(a, want) {
			bad("agency %q is %s, declared %s", id, compact(a), compact(want))
		}
		want := expectedAccount(d)
		switch accs := accounts[id]; {
		case len(accs) == 0:
			bad("admin account of %q (declared in %s) is missing", id, d.Source)
		case len(accs) > 1:
			bad("agency %q has %d accounts, declared only its admin %x", id, len(accs), d.AdminAddress)
		case !proto.Equal(accs[0], want):
			bad("account of %q is %s, declared %s", id, compact(accs[0]), compact(want))
		}
	}
	for _, a := range g.Agencies {
		if !declared[a.Id] {
			bad("agency %q is not declared by anyone", a.Id)
		}
	}
	if want := AppState(ds).Agency.KeyProofs; !slices.EqualFunc(g.KeyProofs, want, func(a, b *agencyv1.KeyProof) bool { return proto.Equal(a, b) }) {
		bad("agency key_proofs are not the declared admins' proofs, in agency order")
	}
	for id, accs := range accounts {
		if !declared[id] {
			for _, a := range accs {
				bad("account %x of undeclared agency %q", agency.AddressOf(a.PubKey), id)
			}
		}
	}
	return errors.Join(errs...)
}

func compact(m proto.Message) string {
	b, err := protojson.Marshal(m)
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	// protojson may vary spacing between builds; normalise for messages.
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}
