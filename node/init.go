package node

import (
	"fmt"

	"github.com/cometbft/cometbft/crypto"
	cmtos "github.com/cometbft/cometbft/libs/os"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"

	"github.com/tallyledger/tally/app"
)

// Identity is what a fresh home holds: the node's p2p id and its
// validator's consensus public key.
type Identity struct {
	NodeID      string
	ConsensusPK crypto.PubKey
}

// InitNode writes configs and generates the node and validator keys, keeping
// any that exist. It does not write a genesis.
func InitNode(home, moniker string) (Identity, error) {
	comet := DefaultCometConfig(home)
	comet.Moniker = moniker
	if cmtos.FileExists(comet.GenesisFile()) {
		return Identity{}, fmt.Errorf("%s already has a genesis; refusing to re-initialise (remove the home to start over)", home)
	}
	if err := WriteConfigs(home, comet, app.DefaultConfig()); err != nil {
		return Identity{}, err
	}
	return LoadIdentity(home)
}

// LoadIdentity reads (or creates) the node key and validator key of home.
func LoadIdentity(home string) (Identity, error) {
	comet := DefaultCometConfig(home)
	nk, err := p2p.LoadOrGenNodeKey(comet.NodeKeyFile())
	if err != nil {
		return Identity{}, fmt.Errorf("node key: %w", err)
	}
	pv := privval.LoadOrGenFilePV(comet.PrivValidatorKeyFile(), comet.PrivValidatorStateFile())
	pk, err := pv.GetPubKey()
	if err != nil {
		return Identity{}, err
	}
	return Identity{NodeID: string(nk.ID()), ConsensusPK: pk}, nil
}
