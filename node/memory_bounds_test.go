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
// own default is 1 GB); app.toml keeps at most 32 MiB of decoded
// transactions, 20,000 signature verdicts, 8 MiB of state CheckTx read and
// a 32 MiB block cache for the state database; they are read back as written, and together with the
// node caches sized from the memory limit they leave room under it.
func TestNewNodeConfigBoundsMemoryInBytes(t *testing.T) {
	dir := t.TempDir()
	_, err := node.InitNode(dir, "bounds")
	require.NoError(t, err)

	text, err := os.ReadFile(filepath.Join(dir, "config", "config.toml"))
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`(?m)^max_txs_bytes = 33554432$`), string(text))
	text, err = os.ReadFile(node.AppConfigFile(dir))
	require.NoError(t, err)
	for _, line := range []string{"decode_cache_mib = 32", "db_cache_mib = 32", "db_no_compression = false", "signature_cache_size = 20000", "check_cache_mib = 8", "mempool_blocks = 2"} {
		require.Regexp(t, regexp.MustCompile(`(?m)^`+line+`$`), string(text))
	}

	comet, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Equal(t, int64(node.DefaultMempoolMaxTxsBytes), comet.Mempool.MaxTxsBytes)
	require.Equal(t, 32, appCfg.DecodeCacheMiB)
	require.Equal(t, 8, appCfg.CheckCacheMiB)
	require.Equal(t, app.DefaultMempoolBlocks, appCfg.MempoolBlocks)
	require.Equal(t, 32<<20, appCfg.StoreOptions(dir).DBCacheBytes)

	limit := appCfg.MemoryLimitMiB << 20
	require.Positive(t, limit)
	held := app.NodeCacheBytes(appCfg.NodeCacheSize(limit)) + comet.Mempool.MaxTxsBytes + int64(appCfg.DecodeCacheMiB)<<20 + int64(appCfg.DBCacheMiB)<<20 + int64(appCfg.CheckCacheMiB)<<20
	require.Less(t, held, limit*6/10, "node caches, mempool, decoded transactions, CheckTx's state cache and the database's block cache leave 40% of the limit for the rest")
}
