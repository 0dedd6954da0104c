package testnet_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node"
)

// tallydExit runs the tallyd binary and returns its output and exit code.
func tallydExit(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := runTallyd(t, args...)
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out, exit.ExitCode()
	}
	require.NoError(t, err, "running tallyd %v", args)
	return out, 0
}

// globbed lists the paths matching pattern.
func globbed(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	require.NoError(t, err)
	return m
}

// exportedRecord returns the value of key in the agency section of the
// export at path, and whether it is there.
func exportedRecord(t *testing.T, path string, key []byte) (*types.GenesisDoc, []byte, bool) {
	t.Helper()
	doc, err := types.GenesisDocFromFile(path)
	require.NoError(t, err)
	g, err := app.ParseGenesis(doc.AppState)
	require.NoError(t, err)
	require.NotNil(t, g.ExportedFrom, "%s must be an export", path)
	for _, r := range g.GetAgency().GetRecords() {
		if bytes.Equal(r.GetKey(), key) {
			return doc, r.GetValue(), true
		}
	}
	return doc, nil, false
}

// The README's operator steps ("Backups, export and restart") with the
// tallyd binary on four validators:
//
// (a) a stopped validator is backed up with `tallyd snapshot take`, runs
// on and signs later blocks, loses its databases, and is brought back with
// `snapshot verify` and `restore`, which keeps its newer sign state; it
// catches up to the others' blocks and app hash, with a record added after
// the backup. restore refuses a running node's home and a backup with a
// damaged file, changing nothing.
//
// (b) the whole network is stopped and every operator runs
// `tallyd export --height H`: the four exports are identical (same
// records_sha256), hold the chain's app hash at H and a record created
// before H with the value the chain served, and lack one created after H's
// earlier height. `tallyd export restart` on every node and a start
// continue the chain at H+1 with the record queryable and new transactions
// committed.
func TestOperatorBackupRestoreAndExportRestartWithTallyd(t *testing.T) {
	started := time.Now()
	net := startNetwork(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	all := []string{"treasury", "revenue", "benefits", "fsa"}
	for _, n := range all {
		require.NoError(t, net.WaitHeight(ctx, n, 2))
	}
	home := map[string]string{}
	for _, n := range all {
		nd, err := net.Node(n)
		require.NoError(t, err)
		home[n] = nd.Home
	}
	chainID := net.Manifest.ChainID

	// A record created after beforeMember: absent from an export at that height.
	beforeMember := maxHeight(ctx, net, "treasury")
	member := addMember(t, ctx, net, "treasury", "treasury")
	res, _, err := rpc(t, net, "treasury").Query(ctx, api.PathAccount, member, 0, false)
	require.NoError(t, err)
	require.NotEmpty(t, res.Value)
	memberValue := res.Value
	// fsa must hold the member's block before it is backed up: a validator
	// can be a block behind the one that answered.
	require.NoError(t, net.WaitHeight(ctx, "fsa", maxHeight(ctx, net, "treasury")+1))

	// (a) Backup and restore of a stopped validator.
	require.NoError(t, net.Stop("fsa", 10*time.Second))
	backups := t.TempDir()
	backup := filepath.Join(backups, "fsa")
	out, code := tallydExit(t, "snapshot", "take", backup, "--home", home["fsa"])
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "backed up chain "+chainID+" at height ")
	var manifest node.BackupManifest
	bz, err := os.ReadFile(filepath.Join(backup, node.BackupManifestFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(bz, &manifest))
	require.Equal(t, chainID, manifest.ChainID)
	require.Greater(t, manifest.Height, beforeMember)

	out, code = tallydExit(t, "snapshot", "verify", backup)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, strconv.Itoa(len(manifest.Files))+" files match the manifest")

	// The validator runs on after the backup: it signs later blocks and
	// sees a record the backup does not hold.
	require.NoError(t, net.Start("fsa"))
	afterBackup := addMember(t, ctx, net, "treasury", "treasury")
	require.NoError(t, net.WaitHeight(ctx, "fsa", max(manifest.Height+3, maxHeight(ctx, net, "treasury")+1)))
	require.NoError(t, net.Stop("fsa", 10*time.Second))
	signFile := filepath.Join(home["fsa"], "data", "priv_validator_state.json")
	signState, err := os.ReadFile(signFile)
	require.NoError(t, err)
	backedSign, err := os.ReadFile(filepath.Join(backup, "data", "priv_validator_state.json"))
	require.NoError(t, err)
	require.NotEqual(t, backedSign, signState, "the validator must have signed since the backup")

	// Into a running node's home: refused, its data left in place.
	out, code = tallydExit(t, "snapshot", "restore", backup, "--home", home["treasury"])
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "stop the node first")
	require.Empty(t, globbed(t, filepath.Join(home["treasury"], "*.before-restore-*")))

	// A backup with one damaged file: verify and restore refuse it.
	damaged := filepath.Join(backups, "damaged")
	cp, err := exec.Command("cp", "-a", backup, damaged).CombinedOutput()
	require.NoError(t, err, "%s", cp)
	var victim string
	for _, f := range manifest.Files {
		if f.Size > 0 && filepath.Dir(f.Path) != "config" && filepath.Base(f.Path) != "priv_validator_state.json" {
			victim = f.Path
			break
		}
	}
	require.NotEmpty(t, victim)
	vb, err := os.ReadFile(filepath.Join(damaged, victim))
	require.NoError(t, err)
	vb[len(vb)/2] ^= 0xff
	require.NoError(t, os.WriteFile(filepath.Join(damaged, victim), vb, 0o600))
	for _, args := range [][]string{{"snapshot", "verify", damaged}, {"snapshot", "restore", damaged, "--home", home["fsa"]}} {
		out, code = tallydExit(t, args...)
		require.Equal(t, 1, code, "%v: %s", args, out)
		require.Contains(t, out, victim+" is damaged", "%v", args)
	}
	require.Empty(t, globbed(t, filepath.Join(home["fsa"], "*.before-restore-*")), "a refused restore must not move the node's data")

	// The node loses its databases (all of data/ but its sign state); the
	// good backup brings them back and keeps the newer sign state, so the
	// validator cannot sign again at a height it signed after the backup.
	entries, err := os.ReadDir(filepath.Join(home["fsa"], "data"))
	require.NoError(t, err)
	for _, e := range entries {
		if e.Name() != "priv_validator_state.json" {
			require.NoError(t, os.RemoveAll(filepath.Join(home["fsa"], "data", e.Name())))
		}
	}
	out, code = tallydExit(t, "snapshot", "restore", backup, "--home", home["fsa"])
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "restored chain "+chainID+" at height "+strconv.FormatInt(manifest.Height, 10))
	require.Len(t, globbed(t, filepath.Join(home["fsa"], "data.before-restore-*")), 1, "restore keeps the node's old data")
	for _, f := range manifest.Files {
		b, err := os.ReadFile(filepath.Join(home["fsa"], filepath.FromSlash(f.Path)))
		require.NoError(t, err, "restored %s", f.Path)
		if f.Path == "data/priv_validator_state.json" {
			require.Equal(t, string(signState), string(b), "restore must keep the validator's newer sign state")
			continue
		}
		sum := sha256.Sum256(b)
		require.Equal(t, f.SHA256, hex.EncodeToString(sum[:]), "restored %s", f.Path)
	}
	require.NoError(t, net.Start("fsa"))
	target := maxHeight(ctx, net, "treasury", "revenue", "benefits") + 2
	require.NoError(t, net.WaitHeight(ctx, "fsa", target), "the restored validator must catch up")
	requireSameBlocks(t, ctx, net, all, target)
	_, _, err = rpc(t, net, "fsa").Query(ctx, api.PathAccount, afterBackup, 0, true)
	require.NoError(t, err, "the restored validator must serve the account added after its backup")
	t.Logf("(a) backup, refusals, restore and catch-up to %d: %s", target, time.Since(started).Round(100*time.Millisecond))

	// (b) Export at a common height and restart the whole network from it.
	var lowest int64
	for _, s := range net.Statuses(ctx) {
		require.True(t, s.Online, s.Name)
		if lowest == 0 || s.Height < lowest {
			lowest = s.Height
		}
	}
	h := lowest - 1 // every node has committed the state at h
	blk, err := rpc(t, net, "treasury").RPC.Block(ctx, ptr(h+1))
	require.NoError(t, err)
	appHashAtH := blk.Block.AppHash.String()
	net.StopAll()

	exports := t.TempDir()
	digest := regexp.MustCompile(`records_sha256 ([0-9A-F]{64})`)
	var first []byte
	var firstDigest string
	for _, n := range all {
		path := filepath.Join(exports, n+".json")
		out, code := tallydExit(t, "export", "--height", strconv.FormatInt(h, 10), "--out", path, "--home", home[n])
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "exported chain "+chainID+" at height "+strconv.FormatInt(h, 10)+" (app hash "+appHashAtH+")")
		require.Contains(t, out, "the chain restarts at height "+strconv.FormatInt(h+1, 10))
		m := digest.FindStringSubmatch(out)
		require.NotNil(t, m, out)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		if first == nil {
			first, firstDigest = b, m[1]
		}
		require.Equal(t, firstDigest, m[1], "%s's records_sha256", n)
		require.True(t, bytes.Equal(first, b), "%s's export differs from treasury's", n)
	}
	doc, v, ok := exportedRecord(t, filepath.Join(exports, "treasury.json"), api.AccountKey(member))
	require.True(t, ok, "the account added before %d must be in the export", h)
	require.Equal(t, memberValue, v)
	require.Equal(t, h+1, doc.InitialHeight)
	require.Equal(t, chainID, doc.ChainID)

	early := filepath.Join(exports, "early.json")
	out, code = tallydExit(t, "export", "--height", strconv.FormatInt(beforeMember, 10), "--out", early, "--home", home["revenue"])
	require.Equal(t, 0, code, out)
	_, _, ok = exportedRecord(t, early, api.AccountKey(member))
	require.False(t, ok, "an export at %d, before the account was added, must not hold it", beforeMember)

	// A genesis that is not an export is refused, the node's data kept.
	out, code = tallydExit(t, "export", "restart", filepath.Join(home["fsa"], "config", "genesis.json"), "--home", home["treasury"])
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "is not an export")
	require.Empty(t, globbed(t, filepath.Join(home["treasury"], "data.before-restart-*")))

	for _, n := range all {
		out, code := tallydExit(t, "export", "restart", filepath.Join(exports, n+".json"), "--home", home[n])
		require.Equal(t, 0, code, out)
		require.Contains(t, out, "installed the export of height "+strconv.FormatInt(h, 10))
		require.DirExists(t, filepath.Join(home[n], "data.before-restart-"+strconv.FormatInt(h, 10)))
	}
	require.NoError(t, net.StartAll())
	for _, n := range all {
		require.NoError(t, net.WaitHeight(ctx, n, h+2), "%s must continue the chain after the restart", n)
	}
	for _, n := range all {
		b, err := rpc(t, net, n).RPC.Block(ctx, ptr(h+1))
		require.NoError(t, err, "%s block %d", n, h+1)
		require.Equal(t, chainID, b.Block.ChainID)
	}
	for _, n := range all {
		c := rpc(t, net, n)
		res, proven, err := c.Query(ctx, api.PathAccount, member, 0, true)
		require.NoError(t, err, "%s", n)
		require.Equal(t, memberValue, res.Value, "%s serves the exported account", n)
		require.NotNil(t, proven)
	}
	second := addMember(t, ctx, net, "revenue", "revenue")
	after := maxHeight(ctx, net, all...) + 1
	for _, n := range all {
		require.NoError(t, net.WaitHeight(ctx, n, after))
	}
	for x := h + 1; x <= after; x++ {
		requireSameBlocksAt(t, ctx, net, all, x)
	}
	_, _, err = rpc(t, net, "fsa").Query(ctx, api.PathAccount, second, 0, true)
	require.NoError(t, err, "a transaction after the restart is committed and served")
	t.Logf("whole test: %s", time.Since(started).Round(100*time.Millisecond))
}

func ptr(h int64) *int64 { return &h }
