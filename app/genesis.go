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
	}
	return nil
}

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
	if err := ValidateParams(g.Params); err != nil {
		return nil, fmt.Errorf("genesis params: %w", err)
	}
	return g, nil
}

// MarshalGenesis writes an app_state as indented JSON.
func MarshalGenesis(g *appv1.GenesisState) ([]byte, error) {
	return protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(g)
}
