package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/privval"
	cmtstore "github.com/cometbft/cometbft/store"
	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/app"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	"github.com/tallyledger/tally/store"
)

// Export reads the state of the stopped node at home at height (0: the
// latest it saved) and returns it as a genesis document that restarts the
// same chain at height+1 (see app/export.go): the whole state as records,
// the validator set governance holds at that height, the consensus
// parameters of the node's genesis, and a genesis time one second after
// block height's, so block times keep rising.
//
// The node must be stopped: its databases are opened here.
func Export(home string, height int64) (*types.GenesisDoc, *appv1.ExportedFrom, error) {
	comet, appCfg, err := LoadConfigs(home)
	if err != nil {
		return nil, nil, err
	}
	old, err := types.GenesisDocFromFile(comet.GenesisFile())
	if err != nil {
		return nil, nil, fmt.Errorf("reading the node's genesis: %w", err)
	}
	st, err := openStopped(appCfg.StoreOptions(StateDir(home)))
	if err != nil {
		return nil, nil, err
	}
	a, err := app.New(st, app.Options{})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	defer a.Close()
	state, err := a.ExportGenesis(height)
	if err != nil {
		return nil, nil, err
	}
	from := state.ExportedFrom
	if from.ChainId != old.ChainID {
		return nil, nil, fmt.Errorf("the state in %s is chain %q but config/genesis.json is chain %q: this home mixes two chains; export from a home of one chain", StateDir(home), from.ChainId, old.ChainID)
	}
	vals, err := a.ExportValidators(from.Height)
	if err != nil {
		return nil, nil, err
	}
	if len(vals) == 0 {
		return nil, nil, fmt.Errorf("the state at height %d has no validator with power; the export could not start a chain", from.Height)
	}
	blockTime, err := blockTimeAt(comet, from.Height)
	if err != nil {
		return nil, nil, err
	}
	appState, err := app.MarshalGenesis(state)
	if err != nil {
		return nil, nil, err
	}
	doc := &types.GenesisDoc{
		ChainID:         old.ChainID,
		GenesisTime:     blockTime.Add(time.Second),
		InitialHeight:   from.Height + 1,
		ConsensusParams: old.ConsensusParams,
		Validators:      vals,
		AppState:        json.RawMessage(appState),
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, nil, fmt.Errorf("exported genesis: %w", err)
	}
	return doc, from, nil
}

// openStopped opens a stopped node's state, saying what to do when the
// node is still running (the database is locked).
func openStopped(so store.Options) (*store.Store, error) {
	if _, err := os.Stat(so.Dir); so.Backend != "memdb" && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no state at %s: is this a node home (--home)?", so.Dir)
	}
	st, err := store.Open(so)
	if err != nil {
		return nil, fmt.Errorf("opening the state in %s (stop the node first: a running node holds its database): %w", so.Dir, err)
	}
	return st, nil
}

// blockTimeAt is the time of block height in the node's block store.
func blockTimeAt(comet *cfg.Config, height int64) (time.Time, error) {
	db, err := cfg.DefaultDBProvider(&cfg.DBContext{ID: "blockstore", Config: comet})
	if err != nil {
		return time.Time{}, fmt.Errorf("opening the block store (stop the node first): %w", err)
	}
	bs := cmtstore.NewBlockStore(db)
	defer bs.Close()
	meta := bs.LoadBlockMeta(height)
	if meta == nil {
		return time.Time{}, fmt.Errorf("block %d is not in the block store (it keeps %d to %d): export a height whose block this node still has", height, bs.Base(), bs.Height())
	}
	return meta.Header.Time, nil
}

// RestartFromExport prepares the stopped node at home to restart its chain
// from the genesis tallyd export wrote (at genesisPath): it keeps the old
// data directory as data.before-restart-<height> and the old genesis
// beside it, installs the export as config/genesis.json, and starts a
// fresh data directory whose validator sign state is at the exported
// height, so the key signs the restarted chain's blocks (height+1 on) but
// nothing at or below the height it exported. A remote signer (tallyd
// signer) keeps its own state: reset it there the same way.
//
// It refuses a file that is not an export, and an export of another chain.
func RestartFromExport(home, genesisPath string) (height int64, err error) {
	comet, appCfg, err := LoadConfigs(home)
	if err != nil {
		return 0, err
	}
	doc, err := types.GenesisDocFromFile(genesisPath)
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", genesisPath, err)
	}
	state, err := app.ParseGenesis(doc.AppState)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", genesisPath, err)
	}
	from := state.ExportedFrom
	if from == nil {
		return 0, fmt.Errorf("%s is not an export (its app_state has no exported_from); write one with tallyd export", genesisPath)
	}
	old, err := types.GenesisDocFromFile(comet.GenesisFile())
	if err != nil {
		return 0, fmt.Errorf("reading the node's genesis: %w", err)
	}
	if from.ChainId != old.ChainID || doc.ChainID != old.ChainID {
		return 0, fmt.Errorf("%s is an export of chain %q, but this home runs chain %q: restart a node of the chain the export came from", genesisPath, from.ChainId, old.ChainID)
	}
	st, err := openStopped(appCfg.StoreOptions(StateDir(home)))
	if err != nil {
		return 0, err
	}
	st.Close()
	data := comet.DBDir()
	kept := fmt.Sprintf("%s.before-restart-%d", data, from.Height)
	if _, err := os.Stat(kept); err == nil {
		return 0, fmt.Errorf("%s already exists: this home was restarted from height %d before; move it away first", kept, from.Height)
	}
	if err := os.Rename(data, kept); err != nil {
		return 0, fmt.Errorf("keeping the old data directory: %w", err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return 0, err
	}
	if err := copyFile(comet.GenesisFile(), kept+"/genesis.json"); err != nil {
		return 0, err
	}
	if comet.PrivValidatorListenAddr == "" {
		pv := privval.LoadFilePVEmptyState(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
		pv.LastSignState.Height = from.Height
		pv.LastSignState.Save()
	}
	return from.Height, doc.SaveAs(comet.GenesisFile())
}

// copyFile copies src to dst (mode 0600).
func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}
