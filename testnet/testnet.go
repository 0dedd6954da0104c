// Package testnet builds and runs local Tally networks: several real
// tallyd validators, each owned by a different agency, agreeing over real
// p2p connections on loopback. It serves council demonstrations
// (`make localnet`), network tests and benchmarks.
package testnet

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
)

// ManifestFile is the file in a network directory that describes it.
const ManifestFile = "testnet.json"

// MaxValidators is the largest local network init builds.
const MaxValidators = 10

// Manifest describes a local network: where each node lives and listens.
type Manifest struct {
	ChainID    string `json:"chain_id"`
	KeyringDir string `json:"keyring_dir"` // test backend: UNENCRYPTED demo keys
	Nodes      []Node `json:"nodes"`
}

// Node is one validator of a local network.
type Node struct {
	Name    string `json:"name"` // the agency id, also the node's folder name
	Agency  string `json:"agency"`
	Home    string `json:"home"`
	NodeID  string `json:"node_id"`
	RPC     string `json:"rpc"`      // tcp://127.0.0.1:port
	P2P     string `json:"p2p"`      // 127.0.0.1:port
	Pprof   string `json:"pprof"`    // 127.0.0.1:port, for CPU profiles under load
	Metrics string `json:"metrics"`  // 127.0.0.1:port, Prometheus metrics (CometBFT's and Tally's)
	LogFile string `json:"log_file"` // where `testnet start` writes the node's output
	// Signer, when set, is the remote signer holding this validator's
	// consensus key in a process of its own (testnet init --remote-signer).
	Signer *Signer `json:"signer,omitempty"`
	// Candidate marks a node that starts as a full node and validates only
	// once the agencies vote its consensus key in (the demo's council).
	Candidate bool `json:"candidate,omitempty"`
}

// Validators are the nodes that validate from genesis: every node but a
// candidate, which follows the chain (and may still be catching up) until
// the agencies vote it in.
func (m *Manifest) Validators() []Node {
	var out []Node
	for _, n := range m.Nodes {
		if !n.Candidate {
			out = append(out, n)
		}
	}
	return out
}

// MetricsTargets are the Prometheus scrape targets of the network: the
// metrics address (host:port) of every node that serves one, validators
// and candidates alike, in manifest order.
func (m *Manifest) MetricsTargets() []string {
	var out []string
	for _, n := range m.Nodes {
		if n.Metrics != "" {
			out = append(out, n.Metrics)
		}
	}
	return out
}

// Signer is a validator's remote signer: `tallyd signer` with the key and
// its last-signed state in a folder outside the node's home, connecting to
// the node's priv_validator_laddr.
type Signer struct {
	Key     string `json:"key"`
	State   string `json:"state"`
	Addr    string `json:"addr"` // the node's priv_validator_laddr
	LogFile string `json:"log_file"`
}

// seat is an agency that may run a validator, in the order seats are filled.
type seat struct {
	id, name string
	kind     agencyv1.Kind
	roles    map[string]agencyv1.Role // demo account suffix → role
}

var validatorSeats = []seat{
	{"treasury", "HM Treasury", agencyv1.Kind_KIND_TREASURY, map[string]agencyv1.Role{"officer": agencyv1.Role_ROLE_TREASURY}},
	{"revenue", "Revenue and Customs", agencyv1.Kind_KIND_TAX_AUTHORITY, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
	{"benefits", "Benefits Agency", agencyv1.Kind_KIND_BENEFITS, map[string]agencyv1.Role{"caseworker": agencyv1.Role_ROLE_CASEWORKER, "payer": agencyv1.Role_ROLE_PAYER}},
	{"fsa", "Food Standards Agency", agencyv1.Kind_KIND_REGULATOR, map[string]agencyv1.Role{"inspector": agencyv1.Role_ROLE_INSPECTOR, "regulator": agencyv1.Role_ROLE_REGULATOR}},
	{"northshire", "Northshire Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
	{"riverside", "Riverside Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
	{"eastmoor", "Eastmoor Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
	{"westvale", "Westvale Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
	{"southfen", "Southfen Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
	{"highdale", "Highdale Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}},
}

// coreAgencies is how many of validatorSeats (the national agencies, before
// the councils) every network has, whether or not they run a validator.
const coreAgencies = 4

// councilSeat is the council whose node the demo has the agencies vote
// in as a validator (Options.Council).
var councilSeat = seat{"harbour", "Harbourside Council", agencyv1.Kind_KIND_COUNCIL, map[string]agencyv1.Role{"collector": agencyv1.Role_ROLE_TAX_COLLECTOR}}

// otherAgencies hold accounts but run no validator.
var otherAgencies = []seat{
	{"bank", "Clearing Bank", agencyv1.Kind_KIND_BANK, map[string]agencyv1.Role{"settlement": agencyv1.Role_ROLE_SETTLEMENT_BANK}},
	{"dalefarm", "Dale Farm", agencyv1.Kind_KIND_BUSINESS, map[string]agencyv1.Role{"producer": agencyv1.Role_ROLE_PRODUCER}},
	{"dairy", "Vale Creamery", agencyv1.Kind_KIND_BUSINESS, map[string]agencyv1.Role{"producer": agencyv1.Role_ROLE_PRODUCER}},
	{"school", "Northshire Primary School", agencyv1.Kind_KIND_DEPARTMENT, map[string]agencyv1.Role{"kitchen": agencyv1.Role_ROLE_AUDITOR}},
}

// desks are the display names the demo's agencies give their accounts, by
// the demo key's suffix: a desk or team, never a person.
var desks = map[string]string{
	"admin": "administrators", "officer": "supply estimates desk", "collector": "collections desk",
	"caseworker": "casework team", "payer": "payments desk", "inspector": "inspection team",
	"regulator": "enforcement desk", "settlement": "settlement desk", "producer": "dispatch",
	"kitchen": "kitchen", "auditor": "internal audit", "finance": "finance and programmes desk",
}

// deskName is the display name of an agency's demo account.
func deskName(agencyName, suffix string) string {
	if d, ok := desks[suffix]; ok {
		return agencyName + " " + d
	}
	return agencyName + " " + suffix
}

// Options shape a new local network.
type Options struct {
	Validators int
	ChainID    string
	// BasePort is the first port used; node i listens for p2p on
	// BasePort+10i, RPC on BasePort+10i+1, pprof on BasePort+10i+2 and
	// Prometheus metrics on BasePort+10i+3.
	BasePort int
	// TimeoutCommit overrides CometBFT's consensus timeout_commit when non-zero.
	TimeoutCommit time.Duration
	// SkipTimeoutCommit sets CometBFT's skip_timeout_commit.
	SkipTimeoutCommit bool
	// Hosts, when set, gives node i the address Hosts[i] for p2p (and for
	// pprof) instead of 127.0.0.1: the fault suite puts each node in its
	// own network namespace.
	Hosts []string
	// RemoteSigner keeps each validator's consensus key out of its node:
	// a `tallyd signer` process per validator signs for it.
	RemoteSigner bool
	// UnixRPC serves each node's RPC on a unix socket in its home
	// (unix://<home>/rpc.sock), reachable from any network namespace.
	UnixRPC bool
	// Council adds Harbourside Council with a node of its own that starts
	// as a full node; the demo (SeedDemo) has the agencies vote it in as a
	// validator. `tallyd testnet init` turns it on.
	Council bool
	// FilterPeers turns on CometBFT's filter_peers: each node admits only
	// the validators' node ids (written into genesis) and its app.toml
	// allowed_peers. Off in the zero value, because tests join extra nodes
	// (Join) to a running network; `tallyd testnet init` turns it on.
	FilterPeers bool
	// SnapshotInterval is each node's app.toml snapshot_interval: a
	// state-sync snapshot every that many blocks; 0 takes none.
	// DefaultOptions sets 100.
	SnapshotInterval uint64
	// SnapshotKeepRecent is each node's app.toml snapshot_keep_recent
	// when non-zero (0 keeps app.toml's default, 2).
	SnapshotKeepRecent uint32
	// PeerSilentAfter is each node's app.toml peer_silent_after when
	// non-zero (0 keeps app.toml's default, 10 s).
	PeerSilentAfter time.Duration
	// StateEngines sets the nodes' app.toml state_engine in turn: node i
	// runs StateEngines[i % len(StateEngines)]. Empty keeps app.toml's
	// default (iavl).
	StateEngines []string
}

// DefaultOptions is a 4-validator network on ports 27000 and up.
func DefaultOptions() Options {
	return Options{Validators: 4, ChainID: "tally-localnet", BasePort: 27000, SnapshotInterval: 100}
}

// Init writes a new local network into dir: one home per validator, a
// shared genesis with every agency, its admin and role accounts, and demo
// keys in an unencrypted test keyring. It refuses a dir that already holds
// a network.
func Init(dir string, opts Options) (*Manifest, error) {
	if opts.Validators < 1 || opts.Validators > MaxValidators {
		return nil, fmt.Errorf("--validators %d: choose 1 to %d", opts.Validators, MaxValidators)
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a network; start it with `tallyd testnet start %s`, or remove the folder to make a new one", dir, dir)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{ChainID: opts.ChainID, KeyringDir: filepath.Join(dir, "keyring-test")}
	kr, err := keys.Open(m.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		return nil, err
	}

	state := genesis.NewState()
	addAgency := func(s seat) error {
		state.Agency.Agencies = append(state.Agency.Agencies, &agencyv1.Agency{Id: s.id, Name: s.name, Kind: s.kind})
		add := func(keyName string, role agencyv1.Role) error {
			info, err := kr.Add(keyName)
			if err != nil {
				return err
			}
			pub, err := base64.StdEncoding.DecodeString(info.PubKey)
			if err != nil {
				return err
			}
			state.Agency.Accounts = append(state.Agency.Accounts, &agencyv1.Account{PubKey: pub, AgencyId: s.id, Roles: []agencyv1.Role{role},
				DisplayName: deskName(s.name, strings.TrimPrefix(keyName, s.id+"-"))})
			proof, err := genesis.KeyProof(m.ChainID, s.id, pub, func(msg []byte) ([]byte, error) { return kr.Sign(keyName, msg) })
			if err != nil {
				return err
			}
			state.Agency.KeyProofs = append(state.Agency.KeyProofs, proof)
			return nil
		}
		if err := add(s.id+"-admin", agencyv1.Role_ROLE_ADMIN); err != nil {
			return err
		}
		for _, suffix := range sortedKeys(s.roles) {
			if err := add(s.id+"-"+suffix, s.roles[suffix]); err != nil {
				return err
			}
		}
		return nil
	}

	var vals []genesis.Validator
	for i := 0; i < opts.Validators; i++ {
		s := validatorSeats[i]
		base := opts.BasePort + 10*i
		host := "127.0.0.1"
		if i < len(opts.Hosts) {
			host = opts.Hosts[i]
		}
		n := Node{
			Name:    s.id,
			Agency:  s.id,
			Home:    filepath.Join(dir, s.id),
			RPC:     fmt.Sprintf("tcp://%s:%d", host, base+1),
			P2P:     fmt.Sprintf("%s:%d", host, base),
			Pprof:   fmt.Sprintf("%s:%d", host, base+2),
			Metrics: fmt.Sprintf("%s:%d", host, base+3),
			LogFile: filepath.Join(dir, s.id, "tallyd.log"),
		}
		if opts.UnixRPC {
			n.RPC = "unix://" + filepath.Join(n.Home, "rpc.sock")
		}
		id, err := node.InitNode(n.Home, s.id)
		if err != nil {
			return nil, err
		}
		n.NodeID = id.NodeID
		if opts.RemoteSigner {
			if n.Signer, err = moveKeyToSigner(dir, n); err != nil {
				return nil, err
			}
		}
		m.Nodes = append(m.Nodes, n)
		vals = append(vals, genesis.Validator{Name: s.id, PubKey: id.ConsensusPK, Power: genesis.DefaultPower})
		state.Gov.Operators = append(state.Gov.Operators, &govv1.ValidatorOperator{PubKey: id.ConsensusPK.Bytes(), AgencyId: s.id, NodeAddress: n.NodeID + "@" + n.P2P})
		if err := addAgency(s); err != nil {
			return nil, err
		}
	}
	// The four national agencies exist in every network, with or without a
	// validator of their own, so the demo (money from the Treasury through
	// the Benefits Agency, tax receipts, the FSA's recall) runs with any
	// number of validators.
	for _, s := range slices.Concat(validatorSeats[opts.Validators:max(opts.Validators, coreAgencies)], otherAgencies) {
		if err := addAgency(s); err != nil {
			return nil, err
		}
	}
	if opts.Council {
		if err := addCandidate(dir, m, opts, councilSeat); err != nil {
			return nil, err
		}
		if err := addAgency(councilSeat); err != nil {
			return nil, err
		}
	}
	// The founding mandates by kind: the treasury's supply mandate, the
	// tax authority's, the benefits agency's, the regulator's, the bank's
	// settlement mandate and the councils' revenue mandates.
	state.Gov.Mandates = genesis.FoundingMandates(state.Agency.Agencies)

	genesisTime := time.Now().UTC()
	for i, n := range m.Nodes {
		comet, appCfg, err := node.LoadConfigs(n.Home)
		if err != nil {
			return nil, err
		}
		comet.RPC.ListenAddress = n.RPC
		comet.RPC.PprofListenAddress = n.Pprof
		node.EnableMetrics(comet, n.Metrics)
		comet.P2P.ListenAddress = "tcp://" + n.P2P
		comet.P2P.ExternalAddress = n.P2P
		comet.P2P.AddrBookStrict = false // loopback peers are "non-routable" to CometBFT
		comet.P2P.AllowDuplicateIP = true
		comet.P2P.PersistentPeers = peersExcept(m.Nodes, i)
		// Every peer is known and persistent, so peer exchange adds nothing;
		// and CometBFT does not wait for its address book's last save on
		// Stop, which races a supervisor removing or copying the folder.
		comet.P2P.PexReactor = false
		if opts.TimeoutCommit > 0 {
			comet.Consensus.TimeoutCommit = opts.TimeoutCommit
		}
		comet.Consensus.SkipTimeoutCommit = opts.SkipTimeoutCommit
		if n.Signer != nil {
			comet.PrivValidatorListenAddr = n.Signer.Addr
		}
		// Every validator's node id is in genesis, so nodes can admit
		// exactly the validators' nodes (app/peers.go); a candidate's node
		// is listed in allowed_peers until the vote makes it a validator.
		comet.FilterPeers = opts.FilterPeers
		for _, c := range m.Nodes {
			if c.Candidate && c.Name != n.Name {
				appCfg.AllowedPeers = append(appCfg.AllowedPeers, c.NodeID)
			}
		}
		appCfg.OperatorQueries = true   // a local network's RPC is its operator's: the fault suite checks /invariants
		appCfg.QueryBudgetPercent = 100 // and its readers are the operator's tests and tools: not paced
		appCfg.SnapshotInterval = opts.SnapshotInterval
		if opts.SnapshotKeepRecent > 0 {
			appCfg.SnapshotKeepRecent = opts.SnapshotKeepRecent
		}
		if opts.PeerSilentAfter > 0 {
			appCfg.PeerSilentAfter = opts.PeerSilentAfter
		}
		if len(opts.StateEngines) > 0 {
			appCfg.StateEngine = opts.StateEngines[i%len(opts.StateEngines)]
		}
		if err := node.WriteConfigs(n.Home, comet, appCfg); err != nil {
			return nil, err
		}
		if _, err := genesis.WriteGenesis(comet.GenesisFile(), m.ChainID, genesisTime, vals, state); err != nil {
			return nil, err
		}
	}
	if err := writeClientConfig(dir, m); err != nil {
		return nil, err
	}
	return m, m.save(dir)
}

// addCandidate adds a node for seat s that is not in the genesis
// validator set: it follows the chain as a full node until the agencies
// vote its consensus key in.
func addCandidate(dir string, m *Manifest, opts Options, s seat) error {
	base := opts.BasePort + 10*len(m.Nodes)
	n := Node{
		Name: s.id, Agency: s.id, Home: filepath.Join(dir, s.id), Candidate: true,
		RPC:     fmt.Sprintf("tcp://127.0.0.1:%d", base+1),
		P2P:     fmt.Sprintf("127.0.0.1:%d", base),
		Pprof:   fmt.Sprintf("127.0.0.1:%d", base+2),
		Metrics: fmt.Sprintf("127.0.0.1:%d", base+3),
		LogFile: filepath.Join(dir, s.id, "tallyd.log"),
	}
	if opts.UnixRPC {
		n.RPC = "unix://" + filepath.Join(n.Home, "rpc.sock")
	}
	id, err := node.InitNode(n.Home, s.id)
	if err != nil {
		return err
	}
	n.NodeID = id.NodeID
	m.Nodes = append(m.Nodes, n)
	return nil
}

// writeClientConfig writes the network's client.toml, so that tallyd run
// with --home DIR (or TALLY_HOME=DIR) talks to the first node with the demo
// keys without further flags.
func writeClientConfig(dir string, m *Manifest) error {
	kr, err := filepath.Abs(m.KeyringDir)
	if err != nil {
		return err
	}
	return client.WriteConfig(dir, client.Config{Node: m.Nodes[0].RPC, ChainID: m.ChainID, KeyringBackend: keys.BackendTest, KeyringDir: kr})
}

func peersExcept(nodes []Node, skip int) string {
	var peers []string
	for i, n := range nodes {
		if i != skip {
			peers = append(peers, n.NodeID+"@"+n.P2P)
		}
	}
	return strings.Join(peers, ",")
}

func (m *Manifest) save(dir string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644)
}

// Load reads the manifest of the network in dir.
func Load(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("%s is not a local network (no %s); create one with `tallyd testnet init --output %s`: %w", dir, ManifestFile, dir, err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestFile, err)
	}
	return m, nil
}

func sortedKeys(m map[string]agencyv1.Role) []string { return slices.Sorted(maps.Keys(m)) }

// moveKeyToSigner moves node n's consensus key and signing state out of its
// home into dir/<name>-signer, and returns the signer that will hold them.
func moveKeyToSigner(dir string, n Node) (*Signer, error) {
	sdir := filepath.Join(dir, n.Name+"-signer")
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return nil, err
	}
	sg := &Signer{
		Key:     filepath.Join(sdir, "priv_validator_key.json"),
		State:   filepath.Join(sdir, "priv_validator_state.json"),
		Addr:    "unix://" + filepath.Join(n.Home, "privval.sock"),
		LogFile: filepath.Join(sdir, "signer.log"),
	}
	for from, to := range map[string]string{
		filepath.Join(n.Home, "config", "priv_validator_key.json"): sg.Key,
		filepath.Join(n.Home, "data", "priv_validator_state.json"): sg.State,
	} {
		if err := os.Rename(from, to); err != nil {
			return nil, fmt.Errorf("moving %s to the signer: %w", from, err)
		}
	}
	return sg, nil
}
