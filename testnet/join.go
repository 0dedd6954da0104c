package testnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tallyledger/tally/node"
)

// Join adds a fresh node named name to the network: a new home in the
// network's folder with its own node and consensus keys, the network's
// genesis, and every existing node as a persistent peer. It listens on
// basePort (p2p), basePort+1 (RPC) and basePort+2 (pprof). The node starts
// as a full node; it validates once the agencies vote its consensus key in
// (see x/gov). The manifest is updated and saved. It returns the node and
// its consensus public key (32 bytes).
func Join(m *Manifest, dir, name, agencyID string, basePort int) (Node, []byte, error) {
	if len(m.Nodes) == 0 {
		return Node{}, nil, fmt.Errorf("the network has no node to join")
	}
	if _, err := (&Network{Manifest: m}).Node(name); err == nil {
		return Node{}, nil, fmt.Errorf("the network already has a node %q", name)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return Node{}, nil, err
	}
	n := Node{
		Name:    name,
		Agency:  agencyID,
		Home:    filepath.Join(dir, name),
		RPC:     fmt.Sprintf("tcp://127.0.0.1:%d", basePort+1),
		P2P:     fmt.Sprintf("127.0.0.1:%d", basePort),
		Pprof:   fmt.Sprintf("127.0.0.1:%d", basePort+2),
		LogFile: filepath.Join(dir, name, "tallyd.log"),
	}
	id, err := node.InitNode(n.Home, name)
	if err != nil {
		return Node{}, nil, err
	}
	n.NodeID = id.NodeID

	// Consensus timing and p2p policy follow the first node, so the new
	// node behaves like the rest of the network.
	first, _, err := node.LoadConfigs(m.Nodes[0].Home)
	if err != nil {
		return Node{}, nil, err
	}
	comet, appCfg, err := node.LoadConfigs(n.Home)
	if err != nil {
		return Node{}, nil, err
	}
	comet.RPC.ListenAddress = n.RPC
	comet.RPC.PprofListenAddress = n.Pprof
	comet.P2P.ListenAddress = "tcp://" + n.P2P
	comet.P2P.ExternalAddress = n.P2P
	comet.P2P.AddrBookStrict = false
	comet.P2P.AllowDuplicateIP = true
	comet.P2P.PexReactor = false
	var peers []string
	for _, p := range m.Nodes {
		peers = append(peers, p.NodeID+"@"+p.P2P)
	}
	comet.P2P.PersistentPeers = strings.Join(peers, ",")
	comet.Consensus.TimeoutCommit = first.Consensus.TimeoutCommit
	comet.Consensus.SkipTimeoutCommit = first.Consensus.SkipTimeoutCommit
	appCfg.OperatorQueries = true   // a local network's RPC is its operator's: the fault suite checks /invariants
	appCfg.QueryBudgetPercent = 100 // and its readers are the operator's tests and tools: not paced
	if err := node.WriteConfigs(n.Home, comet, appCfg); err != nil {
		return Node{}, nil, err
	}
	genesis, err := os.ReadFile(first.GenesisFile())
	if err != nil {
		return Node{}, nil, fmt.Errorf("reading the network's genesis: %w", err)
	}
	if err := os.WriteFile(comet.GenesisFile(), genesis, 0o644); err != nil {
		return Node{}, nil, err
	}
	m.Nodes = append(m.Nodes, n)
	if err := m.save(dir); err != nil {
		return Node{}, nil, err
	}
	return n, id.ConsensusPK.Bytes(), nil
}

// StateSync makes the named node (one added by Join, not yet started) join
// by state sync: its light client trusts the latest block of the network's
// first node, reading headers from the first two nodes' RPC, and the node
// restores a peer's snapshot instead of replaying every block. The
// network's nodes must be taking snapshots (Options.SnapshotInterval).
func StateSync(ctx context.Context, m *Manifest, name string) error {
	nd, err := (&Network{Manifest: m}).Node(name)
	if err != nil {
		return err
	}
	var servers []string
	for _, p := range m.Nodes {
		if p.Name != name && len(servers) < 2 {
			servers = append(servers, p.RPC)
		}
	}
	if len(servers) == 0 {
		return fmt.Errorf("the network has no other node to state-sync from")
	}
	trust, err := node.StateSyncTrust(ctx, servers[0])
	if err != nil {
		return err
	}
	return node.EnableStateSync(nd.Home, servers, trust)
}
