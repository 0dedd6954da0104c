package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	"github.com/tallyledger/tally/testnet"
)

// tallyd runs the CLI in-process and returns what it printed.
func tallyd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := rootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	p, err := testnet.FreePort() // below the ephemeral range
	require.NoError(t, err)
	return p
}

var hashLine = regexp.MustCompile(`genesis sha256: ([0-9a-f]{64})`)

func genesisHash(t *testing.T, out string) string {
	t.Helper()
	m := hashLine.FindStringSubmatch(out)
	require.NotNil(t, m, "no genesis hash in output:\n%s", out)
	return m[1]
}

// Three agencies, each with its own home, run the whole ceremony through
// the CLI: declare, collect (refusing a tampered declaration), verify and
// install, then start their nodes, which produce the same chain.
func TestGenesisCeremonyEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three nodes")
	}
	const chainID = "tally-ceremony"
	// Not t.TempDir: CometBFT v0.40's address book saves addrbook.json once
	// more after the node has stopped (pex.Reactor.OnStop does not wait for
	// it), which can race with TempDir's removal; retry instead.
	work, err := os.MkdirTemp("", "tally-ceremony-")
	require.NoError(t, err)
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(work) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	agencies := []struct{ id, name, kind string }{
		{"treasury", "HM Treasury", "treasury"},
		{"tax", "Tax Authority", "tax_authority"},
		{"fsa", "Food Standards Agency", "regulator"},
	}
	homes := make([]string, len(agencies))
	rpcs := make([]string, len(agencies))
	decls := make([]string, len(agencies))

	for i, a := range agencies {
		// The operator picks the node's ports before declaring.
		h := filepath.Join(work, a.id)
		homes[i] = h
		_, err := node.InitNode(h, a.id)
		require.NoError(t, err)
		comet, appCfg, err := node.LoadConfigs(h)
		require.NoError(t, err)
		p2pPort := freeLoopbackPort(t)
		rpcs[i] = fmt.Sprintf("tcp://127.0.0.1:%d", freeLoopbackPort(t))
		comet.RPC.ListenAddress = rpcs[i]
		comet.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", p2pPort)
		comet.P2P.AddrBookStrict = false // loopback peers are "non-routable" to CometBFT
		comet.P2P.AllowDuplicateIP = true
		comet.Consensus.TimeoutCommit = 300 * time.Millisecond
		require.NoError(t, node.WriteConfigs(h, comet, appCfg))

		decls[i] = filepath.Join(work, a.id+".declaration.json")
		out, err := tallyd(t, "genesis", "declare", "--home", h, "--chain-id", chainID,
			"--agency", a.id, "--agency-name", a.name, "--agency-kind", a.kind,
			"--admin-key", "admin", "--keyring-backend", "test",
			"--p2p-address", fmt.Sprintf("127.0.0.1:%d", p2pPort), "--output", decls[i])
		require.NoError(t, err, out)
		require.Contains(t, out, "Wrote declaration "+decls[i])
	}

	// An invalid agency id is refused before anything is written.
	_, err = tallyd(t, "genesis", "declare", "--home", homes[0], "--chain-id", chainID, "--agency", "Bad Id",
		"--agency-name", "x", "--agency-kind", "treasury", "--p2p-address", "127.0.0.1:1", "--keyring-backend", "test",
		"--output", filepath.Join(work, "bad.json"))
	require.ErrorContains(t, err, "agency id")

	// Someone raises the tax authority's power in transit.
	raw, err := os.ReadFile(decls[1])
	require.NoError(t, err)
	var d map[string]string
	require.NoError(t, json.Unmarshal(raw, &d))
	require.Contains(t, d["body"], `"power":10`)
	d["body"] = strings.Replace(d["body"], `"power":10`, `"power":99`, 1)
	tampered := filepath.Join(work, "tax-tampered.declaration.json")
	raw, err = json.Marshal(d)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(tampered, raw, 0o644))

	genesisFile := filepath.Join(work, "genesis.json")
	genesisTime := time.Now().UTC().Format(time.RFC3339)
	_, err = tallyd(t, "genesis", "collect", "--chain-id", chainID, "--genesis-time", genesisTime, "--output", genesisFile, decls[0], tampered, decls[2])
	require.ErrorContains(t, err, tampered+": refused: admin signature does not verify")
	require.NoFileExists(t, genesisFile)

	_, err = tallyd(t, append([]string{"genesis", "collect", "--chain-id", "tally-other", "--output", genesisFile}, decls...)...)
	require.ErrorContains(t, err, `declared for chain id "tally-ceremony", but this genesis is for "tally-other"`)

	_, err = tallyd(t, "genesis", "collect", "--chain-id", chainID, "--output", genesisFile, decls[0], decls[1], decls[0])
	require.ErrorContains(t, err, decls[0]+": refused: duplicate of "+decls[0]+`: same agency id "treasury"`)

	out, err := tallyd(t, append([]string{"genesis", "collect", "--chain-id", chainID, "--genesis-time", genesisTime, "--output", genesisFile}, decls...)...)
	require.NoError(t, err, out)
	collected := genesisHash(t, out)
	require.Regexp(t, `persistent_peers: [0-9a-f]{40}@127\.0\.0\.1:\d+,[0-9a-f]{40}@127\.0\.0\.1:\d+,[0-9a-f]{40}@127\.0\.0\.1:\d+`, out)

	// verify refuses a tampered declaration and a genesis missing an agency.
	_, err = tallyd(t, "genesis", "verify", "--genesis", genesisFile, decls[0], tampered, decls[2])
	require.ErrorContains(t, err, "admin signature does not verify")
	_, err = tallyd(t, "genesis", "verify", "--genesis", genesisFile, "--install", "--home", homes[0], decls[0], decls[1])
	require.ErrorContains(t, err, `agency "fsa" is not declared by anyone`)
	require.NoFileExists(t, filepath.Join(homes[0], "config", "genesis.json"))

	for i, h := range homes {
		out, err := tallyd(t, "genesis", "verify", "--genesis", genesisFile, "--install", "--home", h, decls[2], decls[0], decls[1])
		require.NoError(t, err, out)
		require.Equal(t, collected, genesisHash(t, out), "agency %s", agencies[i].id)
		require.Contains(t, out, "Installed")
		comet, _, err := node.LoadConfigs(h)
		require.NoError(t, err)
		require.Len(t, strings.Split(comet.P2P.PersistentPeers, ","), 2)
		require.True(t, comet.FilterPeers, "install turns on peer admission by validator node id")
	}
	// A home that has a genesis cannot declare again.
	_, err = tallyd(t, "genesis", "declare", "--home", homes[1], "--chain-id", chainID, "--agency", "tax",
		"--agency-name", "Tax Authority", "--agency-kind", "tax_authority", "--p2p-address", "127.0.0.1:1",
		"--keyring-backend", "test", "--output", filepath.Join(work, "again.json"))
	require.ErrorContains(t, err, "already has a genesis")
	// Installing again is idempotent; a home without keys is refused.
	_, err = tallyd(t, append([]string{"genesis", "verify", "--genesis", genesisFile, "--install", "--home", homes[0]}, decls...)...)
	require.NoError(t, err)
	_, err = tallyd(t, append([]string{"genesis", "verify", "--genesis", genesisFile, "--install", "--home", filepath.Join(work, "stranger")}, decls...)...)
	require.ErrorContains(t, err, "is missing")

	// Start all three nodes.
	nodes := make([]*node.Node, len(homes))
	for i, h := range homes {
		n, err := node.NewNode(h, log.NewNopLogger(), app.Options{})
		require.NoError(t, err)
		require.NoError(t, n.Start())
		nodes[i] = n
	}
	defer func() {
		for _, n := range nodes {
			require.NoError(t, n.Shutdown())
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	clients := make([]*client.Client, len(rpcs))
	for i, addr := range rpcs {
		clients[i], err = client.Dial(addr)
		require.NoError(t, err)
	}
	const target = int64(3)
	require.Eventually(t, func() bool {
		for _, c := range clients {
			_, h, err := c.Status(ctx)
			if err != nil || h < target {
				return false
			}
		}
		return true
	}, 40*time.Second, 100*time.Millisecond, "the three validators did not reach height %d", target)

	h := target
	var appHash, blockHash []byte
	for i, c := range clients {
		b, err := c.RPC.Block(ctx, &h)
		require.NoError(t, err)
		cm, err := c.RPC.Commit(ctx, &h)
		require.NoError(t, err)
		require.Equal(t, chainID, b.Block.ChainID)
		require.Len(t, cm.Commit.Signatures, 3)
		if i == 0 {
			appHash, blockHash = b.Block.AppHash, b.BlockID.Hash
			continue
		}
		require.Equal(t, appHash, []byte(b.Block.AppHash), "app hash of %s at height %d", agencies[i].id, h)
		require.Equal(t, blockHash, []byte(b.BlockID.Hash), "block hash of %s at height %d", agencies[i].id, h)
	}

	// Each agency's admin account is on chain, proven against the app hash.
	for i, a := range agencies {
		var body struct {
			AdminAddress string `json:"admin_address"`
		}
		decl, err := genesis.ReadDeclaration(decls[i])
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal([]byte(decl.Body), &body))
		addr, err := hex.DecodeString(body.AdminAddress)
		require.NoError(t, err)
		_, proven, err := clients[(i+1)%len(clients)].Query(ctx, api.PathAccount, addr, 0, true)
		require.NoError(t, err, "admin of %s", a.id)
		require.NotNil(t, proven)
	}
}
