package app_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/app"
)

// tallyd keeps a node up at a planned upgrade halt but stops it on any
// other consensus failure; it tells them apart by the text CometBFT logs.
func TestIsUpgradeHaltTellsThePlannedHaltFromFaults(t *testing.T) {
	planned := (&app.UpgradeNeededError{Name: "v2", Height: 51, Notes: "rehearsal"}).Error()
	require.True(t, app.IsUpgradeHalt(planned))
	require.True(t, app.IsUpgradeHalt("failed to apply block; error "+planned))
	require.False(t, app.IsUpgradeHalt(`error writing batch to DB "failed to save block": write data/blockstore.db/000001.log: no space left on device`))
	require.False(t, app.IsUpgradeHalt("failed to write {11} msg to consensus WAL due to write cs.wal/wal: read-only file system"))
}
