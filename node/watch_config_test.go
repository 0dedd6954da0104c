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
	set := func(text []byte, key, value string) []byte {
		re := regexp.MustCompile(`(?m)^` + key + ` = .*$`)
		require.True(t, re.Match(text), "app.toml has %s", key)
		return re.ReplaceAll(text, []byte(key+" = "+value))
	}
	edited := set(set(set(text, "peer_silent_after", `"30s"`), "peer_redial_every", `"0s"`), "invariant_check_every", `"1h"`)
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

	require.NoError(t, os.WriteFile(file, set(text, "peer_silent_after", `"-5s"`), 0o600))
	_, _, err = node.LoadConfigs(dir)
	require.ErrorContains(t, err, "peer_silent_after")
}
