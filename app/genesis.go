package app

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// DefaultParams are the transaction rules of a new chain.
func DefaultParams() *appv1.Params {
	return &appv1.Params{
		MaxTxBytes:    32 * 1024,
		MaxMessages:   32,
		TimeoutWindow: 600, // about ten minutes of one-second blocks
		MaxMemoBytes:  256,
		MaxTxUnits:    DefaultMaxTxUnits,
		MaxBlockUnits: DefaultMaxBlockUnits,
		EndBlockUnits: DefaultEndBlockUnits,

		MaxPendingPerSigner: DefaultMaxPendingPerSigner,
	}
}

// Default resource-meter limits (units: see store/meter.go). On a loaded
// 2-core machine a unit costs 20-60 ns of block time (BenchmarkSplitFlood,
// BenchmarkProgrammeCatchUp), so a block at both block limits (its
// transactions, which never use more than their unit limits, and its
// end-of-block work) runs in about 0.8-2.4 s; honest blocks of a few
// thousand transactions fit (add_member uses about 9,500 units).
const (
	// DefaultMaxTxUnits lets one transaction write about 1 MB of state,
	// and a split of 1,000 parts.
	DefaultMaxTxUnits = 10_000_000
	// DefaultMaxBlockUnits is about 3,000 add_member transactions.
	DefaultMaxBlockUnits = 30_000_000
	// DefaultEndBlockUnits bounds a block's scheduled work to a third of
	// what its transactions may do.
	DefaultEndBlockUnits = 10_000_000
)

// fillMeterDefaults gives a genesis written before the resource meter
// existed its default limits.
func fillMeterDefaults(p *appv1.Params) {
	if p.MaxTxUnits == 0 {
		p.MaxTxUnits = DefaultMaxTxUnits
	}
	if p.MaxBlockUnits == 0 {
		p.MaxBlockUnits = DefaultMaxBlockUnits
	}
	if p.EndBlockUnits == 0 {
		p.EndBlockUnits = DefaultEndBlockUnits
	}
}

// ValidateParams checks params for values that would break the chain.
func ValidateParams(p *appv1.Params) error {
	switch {
	case p == nil:
		return fmt.Errorf("params are missing")
	case p.MaxTxBytes < 512:
		return fmt.Errorf("max_tx_bytes %d is below 512, too small for any transaction", p.MaxTxBytes)
	case p.MaxMessages == 0:
		return fmt.Errorf("max_messages must be at least 1")
	case p.TimeoutWindow == 0:
		return fmt.Errorf("timeout_window must be at least 1 block")
	case p.MaxTxUnits < minTxUnits:
		return fmt.Errorf("max_tx_units %d is below %d, too small for any transaction", p.MaxTxUnits, minTxUnits)
	case p.MaxBlockUnits < p.MaxTxUnits:
		return fmt.Errorf("max_block_units %d is below max_tx_units %d: no block could hold the largest transaction", p.MaxBlockUnits, p.MaxTxUnits)
	case p.MaxPendingPerSigner == 0:
		return fmt.Errorf("max_pending_per_signer must be at least 1, or no account could send a transaction")
	case p.EndBlockUnits < minEndBlockUnits:
		return fmt.Errorf("end_block_units %d is below %d: scheduled work would never progress", p.EndBlockUnits, minEndBlockUnits)
	}
	return nil
}

// Lowest limits governance may set: below them no transaction, or no
// step of scheduled work, could ever fit.
const (
	minTxUnits       = 100_000
	minEndBlockUnits = 100_000
)

// ParseGenesis reads the app_state of genesis.json. Missing params take
// their defaults.
func ParseGenesis(appState []byte) (*appv1.GenesisState, error) {
	if len(appState) == 0 {
		return nil, fmt.Errorf("genesis has no app_state; create one with `tallyd init` or `tallyd testnet init`")
	}
	g := &appv1.GenesisState{}
	if err := protojson.Unmarshal(appState, g); err != nil {
		return nil, fmt.Errorf("genesis app_state is not a tally.app.v1.GenesisState: %w", err)
	}
	if g.Params == nil {
		g.Params = DefaultParams()
	}
	fillMeterDefaults(g.Params)
	if g.Params.MaxPendingPerSigner == 0 { // a genesis written before the parameter
		g.Params.MaxPendingPerSigner = DefaultMaxPendingPerSigner
	}
	if err := ValidateParams(g.Params); err != nil {
		return nil, fmt.Errorf("genesis params: %w", err)
	}
	return g, nil
}

// MarshalGenesis writes an app_state as indented JSON.
func MarshalGenesis(g *appv1.GenesisState) ([]byte, error) {
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(g)
}
