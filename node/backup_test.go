package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/privval"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/agency"
)

// A backup of a stopped real node restores into an empty home (a lost
// disk): the node starts there at the backup's height with the state it
// had, and carries on. A damaged or incomplete backup, one changed after
// it was taken, one of another chain, and a backup of a running node are
// refused; a restore over a home keeps the home's newer sign state.
func TestNodeBackupTakeAndRestore(t *testing.T) {
	dir := t.TempDir()
	adminPub, adminPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	n, rpcAddr := startNode(t, dir, adminPriv)
	running := true
	defer func() {
		if running {
			require.NoError(t, n.Shutdown())
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := client.Dial(rpcAddr)
	require.NoError(t, err)
	var height int64
	for height < 1 {
		_, height, _ = c.Status(ctx)
		time.Sleep(100 * time.Millisecond)
	}
	memberPub, memberPriv, err := ed25519.GenerateKey(nil)
	require.NoError(t, err)
	sign := func(b []byte) ([]byte, error) { return ed25519.Sign(adminPriv, b), nil }
	tx, err := client.BuildTx(client.TxOptions{ChainID: "tally-test", Signer: agency.AddressOf(adminPub), TimeoutHeight: uint64(height) + 50}, sign,
		client.AddMember("tally-test", "treasury", memberPriv, agencyv1.Role_ROLE_AUDITOR))
	require.NoError(t, err)
	res, err := c.BroadcastAndWait(ctx, tx)
	require.NoError(t, err)
	require.Zero(t, res.TxResult.Code, res.TxResult.Log)

	backups := t.TempDir()
	_, err = node.TakeBackup(dir, filepath.Join(backups, "live"))
	require.ErrorContains(t, err, "stop the node first")
	require.NoError(t, n.Shutdown())
	running = false

	good := filepath.Join(backups, "good")
	m, err := node.TakeBackup(dir, good)
	require.NoError(t, err)
	require.Equal(t, "tally-test", m.ChainID)
	require.GreaterOrEqual(t, m.Height, res.Height)
	require.NotEmpty(t, m.AppHash)
	_, err = node.VerifyBackup(good)
	require.NoError(t, err)

	// Damaged copies of the good backup are refused, naming the problem.
	damaged := func(name string, f func(dir string)) string {
		d := filepath.Join(backups, name)
		_, err := node.TakeBackup(dir, d)
		require.NoError(t, err)
		f(d)
		return d
	}
	flip := damaged("flipped", func(d string) {
		p := filepath.Join(d, "config", "genesis.json")
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		b[len(b)/2] ^= 1
		require.NoError(t, os.WriteFile(p, b, 0o600))
	})
	missing := damaged("missing", func(d string) { require.NoError(t, os.Remove(filepath.Join(d, "config", "app.toml"))) })
	extra := damaged("extra", func(d string) {
		require.NoError(t, os.WriteFile(filepath.Join(d, "data", "planted.db"), []byte("x"), 0o600))
	})
	for name, tt := range map[string]struct{ dir, want string }{
		"a flipped byte": {flip, "config/genesis.json is damaged"},
		"a missing file": {missing, "missing 1 of the"},
		"a planted file": {extra, "data/planted.db is in the backup but not in its manifest"},
		"not a backup":   {t.TempDir(), "is not a backup"},
	} {
		_, err := node.RestoreBackup(t.TempDir(), tt.dir)
		require.ErrorContains(t, err, tt.want, name)
	}

	// Another chain's backup is refused over this home.
	other := t.TempDir()
	_, err = node.InitNode(other, "other-node")
	require.NoError(t, err)
	otherComet, _, err := node.LoadConfigs(other)
	require.NoError(t, err)
	state, err := genesis.SingleAgencyState("tally-other", "treasury", "Treasury", agencyv1.Kind_KIND_TREASURY, adminPub, sign)
	require.NoError(t, err)
	otherID, err := node.InitNode(t.TempDir(), "x")
	require.NoError(t, err)
	_, err = genesis.WriteGenesis(otherComet.GenesisFile(), "tally-other", time.Now().UTC(), []genesis.Validator{{Name: "v0", PubKey: otherID.ConsensusPK, Power: 10}}, state)
	require.NoError(t, err)
	otherBackup := filepath.Join(backups, "other")
	_, err = node.TakeBackup(other, otherBackup)
	require.NoError(t, err)
	_, err = node.RestoreBackup(dir, otherBackup)
	require.ErrorContains(t, err, `the backup is of chain "tally-other" but this home runs chain "tally-test"`)

	// Restored over its own home, the validator keeps its newer sign state.
	comet, _, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	later := privval.LoadFilePV(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
	later.LastSignState.Height += 100
	later.LastSignState.Save()
	_, err = node.RestoreBackup(dir, good)
	require.NoError(t, err)
	after := privval.LoadFilePV(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
	require.Equal(t, later.LastSignState.Height, after.LastSignState.Height, "the newer sign state is kept")
	kept, err := filepath.Glob(filepath.Join(dir, "data.before-restore-*"))
	require.NoError(t, err)
	require.Len(t, kept, 1, "the replaced data is kept")

	// Into an empty home (a lost disk): the node runs from the backup.
	fresh := t.TempDir()
	m2, err := node.RestoreBackup(fresh, good)
	require.NoError(t, err)
	require.Equal(t, m.Height, m2.Height)
	n2, err := node.NewNode(fresh, log.NewNopLogger(), app.Options{})
	require.NoError(t, err)
	require.NoError(t, n2.Start())
	defer func() { require.NoError(t, n2.Shutdown()) }()
	c, err = client.Dial(rpcAddr)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, h, err := c.Status(ctx)
		return err == nil && h > m.Height+1
	}, 60*time.Second, 100*time.Millisecond, "the restored node did not carry on")
	_, _, err = c.Query(ctx, api.PathAccount, agency.AddressOf(memberPub), 0, false)
	require.NoError(t, err)

	var manifest node.BackupManifest
	bz, err := os.ReadFile(filepath.Join(good, node.BackupManifestFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(bz, &manifest))
	require.Equal(t, node.BackupFormat, manifest.Format)
}
