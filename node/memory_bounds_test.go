package node_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node"
)

// A new node's configuration bounds in bytes what it holds for clients:
// config.toml's mempool takes at most 32 MiB of transactions (CometBFT's
// own default is 1 GB) and app.toml keeps at most 32 MiB of decoded
// transactions; both are read back as written, and together with the
// node caches sized from the memory limit they fit under it.
func TestNewNodeConfigBoundsMemoryInBytes(t *testing.T) {
	dir := t.TempDir()
	_, err := node.InitNode(dir, "bounds")
	require.NoError(t, err)

	text, err := os.ReadFile(filepath.Join(dir, "config", "config.toml"))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`(?m)^max_txs_bytes = 33554432$`), string(text))
	text, err = os.ReadFile(node.AppConfigFile(dir))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`(?m)^decode_cache_mib = 32$`), string(text))

	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Equal(t, int64(node.DefaultMempoolMaxTxsBytes), comet.Mempool.MaxTxsBytes)
	require.Equal(t, 32, appCfg.DecodeCacheMiB)

	limit := appCfg.MemoryLimitMiB << 20
	require.Positive(t, limit)
	held := app.NodeCacheBytes(appCfg.NodeCacheSize(limit)) + comet.Mempool.MaxTxsBytes + int64(appCfg.DecodeCacheMiB)<<20
	require.Less(t, held, limit/2, "node caches, mempool and decoded transactions leave half the limit for the rest")
}
