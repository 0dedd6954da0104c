package main

import (
	"os/exec"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/testnet"
)

// `tallyd testnet init --snapshot-interval N` writes N into every node's
// app.toml, and 0 turns snapshots off;
// without the flag the local network's default is kept.
func TestTestnetInitWritesTheSnapshotInterval(t *testing.T) {
	bin := tallydBinary(t)
	for _, tc := range []struct {
		name  string
		flags []string
		want  uint64
	}{
		{"default", nil, testnet.DefaultOptions().SnapshotInterval},
		{"7", []string{"--snapshot-interval", "7"}, 7},
		{"0 turns snapshots off", []string{"--snapshot-interval", "0"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, err := testnet.FreeBasePort(10)
			require.NoError(t, err)
			dir := t.TempDir()
			args := append([]string{"testnet", "init", "--validators", "2", "--council=false",
				"--output", dir, "--base-port", strconv.Itoa(base)}, tc.flags...)
			out, err := exec.Command(bin, args...).CombinedOutput()
			require.NoError(t, err, "%s", out)
			m, err := testnet.Load(dir)
			require.NoError(t, err)
			require.Len(t, m.Nodes, 2)
			for _, n := range m.Nodes {
				_, appCfg, err := node.LoadConfigs(n.Home)
				require.NoError(t, err)
				require.Equal(t, tc.want, appCfg.SnapshotInterval, "%s: app.toml snapshot_interval", n.Name)
			}
		})
	}
}
