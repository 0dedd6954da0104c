package node_test

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/node"
)

// The peer watch's thresholds and the invariant-check interval are app.toml
// settings: `tallyd init` writes the defaults (10 s silent, 1 s redial,
// 10 min), an operator's values are read back, an app.toml from before the
// settings gets the defaults, and a negative duration is refused with the
// setting's name.
func TestWatchSettingsAreReadFromAppTOML(t *testing.T) {
	dir := t.TempDir()
	_, err := node.InitNode(dir, "watch")
	require.NoError(t, err)
	_, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Equal(t, 10*time.Second, appCfg.PeerSilentAfter)
	require.Equal(t, time.Second, appCfg.PeerRedialEvery)
	require.Equal(t, 10*time.Minute, appCfg.InvariantCheckEvery)

	file := node.AppConfigFile(dir)
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	edited := setKeys(t, text, "peer_silent_after", `"30s"`, "peer_redial_every", `"0s"`, "invariant_check_every", `"1h"`)
	require.NoError(t, os.WriteFile(file, edited, 0o600))
	_, appCfg, err = node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Equal(t, 30*time.Second, appCfg.PeerSilentAfter)
	require.Zero(t, appCfg.PeerRedialEvery)
	require.Equal(t, time.Hour, appCfg.InvariantCheckEvery)

	old := regexp.MustCompile(`(?m)^(peer_silent_after|peer_redial_every|invariant_check_every) = .*$`).ReplaceAll(text, nil)
	require.NoError(t, os.WriteFile(file, old, 0o600))
	_, appCfg, err = node.LoadConfigs(dir)
	require.NoError(t, err)
	def := app.DefaultConfig()
	require.Equal(t, def.PeerSilentAfter, appCfg.PeerSilentAfter)
	require.Equal(t, def.InvariantCheckEvery, appCfg.InvariantCheckEvery)

	require.NoError(t, os.WriteFile(file, setKeys(t, text, "peer_silent_after", `"-5s"`), 0o600))
	_, _, err = node.LoadConfigs(dir)
	require.ErrorContains(t, err, "peer_silent_after")
}

// setKeys sets app.toml keys in text: key, value, key, value...
func setKeys(t *testing.T, text []byte, kv ...string) []byte {
	t.Helper()
	for i := 0; i < len(kv); i += 2 {
		re := regexp.MustCompile(`(?m)^` + kv[i] + ` = .*$`)
		require.True(t, re.Match(text), "app.toml has %s", kv[i])
		text = re.ReplaceAll(text, []byte(kv[i]+" = "+kv[i+1]))
	}
	return text
}

// The broadcast gate's limits are app.toml settings: `tallyd init` writes
// the defaults (450 waiting, 64 while answers take over 1 s), an
// operator's values are read back, an app.toml from before the settings
// gets the defaults, and values no gate can work with are refused with the
// setting's name and what to write instead.
func TestBroadcastGateConfigIsReadFromAppTOML(t *testing.T) {
	dir := t.TempDir()
	_, err := node.InitNode(dir, "gate")
	require.NoError(t, err)
	file := node.AppConfigFile(dir)
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	for _, line := range []string{"broadcast_max_waiting = 450", "broadcast_slow_max_waiting = 64", `broadcast_slow_answer = "1s"`} {
		require.Regexp(t, regexp.MustCompile(`(?m)^`+line+`$`), string(text))
	}
	_, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Equal(t, 450, appCfg.BroadcastMaxWaiting)
	require.Equal(t, 64, appCfg.BroadcastSlowMaxWaiting)
	require.Equal(t, time.Second, appCfg.BroadcastSlowAnswer)

	require.NoError(t, os.WriteFile(file, setKeys(t, text, "broadcast_max_waiting", "2000", "broadcast_slow_max_waiting", "100", "broadcast_slow_answer", `"250ms"`), 0o600))
	_, appCfg, err = node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Equal(t, 2000, appCfg.BroadcastMaxWaiting)
	require.Equal(t, 100, appCfg.BroadcastSlowMaxWaiting)
	require.Equal(t, 250*time.Millisecond, appCfg.BroadcastSlowAnswer)

	// Off: no queue limit, no slow-answer rule (its limit is then unused).
	require.NoError(t, os.WriteFile(file, setKeys(t, text, "broadcast_max_waiting", "0", "broadcast_slow_max_waiting", "0", "broadcast_slow_answer", `"0s"`), 0o600))
	_, appCfg, err = node.LoadConfigs(dir)
	require.NoError(t, err)
	require.Zero(t, appCfg.BroadcastMaxWaiting)
	require.Zero(t, appCfg.BroadcastSlowAnswer)

	old := regexp.MustCompile(`(?m)^broadcast_\w+ = .*$`).ReplaceAll(text, nil)
	require.NoError(t, os.WriteFile(file, old, 0o600))
	_, appCfg, err = node.LoadConfigs(dir)
	require.NoError(t, err)
	def := app.DefaultConfig()
	require.Equal(t, def.BroadcastMaxWaiting, appCfg.BroadcastMaxWaiting)
	require.Equal(t, def.BroadcastSlowMaxWaiting, appCfg.BroadcastSlowMaxWaiting)
	require.Equal(t, def.BroadcastSlowAnswer, appCfg.BroadcastSlowAnswer)

	for _, bad := range []struct {
		kv      []string
		message string
	}{
		{[]string{"broadcast_max_waiting", "-1"}, "broadcast_max_waiting is -1; it must be 0 (no limit) or more"},
		{[]string{"broadcast_slow_max_waiting", "0"}, `broadcast_slow_max_waiting is 0; it must be 1 or more (default 64), or broadcast_slow_answer "0s"`},
		{[]string{"broadcast_slow_max_waiting", "500"}, "broadcast_slow_max_waiting (500) is more than broadcast_max_waiting (450)"},
		{[]string{"broadcast_slow_answer", `"-1s"`}, "broadcast_slow_answer is -1s"},
	} {
		require.NoError(t, os.WriteFile(file, setKeys(t, text, bad.kv...), 0o600))
		_, _, err = node.LoadConfigs(dir)
		require.ErrorContains(t, err, bad.message, "%v", bad.kv)
	}
}

// memiavl_snapshot_every is written by `tallyd init` (0: memiavl's
// default), read back from app.toml and handed to the store as the memiavl
// engine's snapshot interval.
func TestMemiavlSnapshotEveryIsReadFromAppTOML(t *testing.T) {
	dir := t.TempDir()
	_, err := node.InitNode(dir, "mem")
	require.NoError(t, err)
	file := node.AppConfigFile(dir)
	text, err := os.ReadFile(file)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`(?m)^memiavl_snapshot_every = 0$`), string(text))
	require.NoError(t, os.WriteFile(file, setKeys(t, text, "memiavl_snapshot_every", "5"), 0o600))
	_, appCfg, err := node.LoadConfigs(dir)
	require.NoError(t, err)
	require.EqualValues(t, 5, appCfg.MemiavlSnapshotEvery)
	require.EqualValues(t, 5, appCfg.StoreOptions(dir).SnapshotInterval)
}
