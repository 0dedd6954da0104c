package node

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/crypto"
	cmtos "github.com/cometbft/cometbft/libs/os"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
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

// Validator is one genesis validator.
type Validator struct {
	Name   string
	PubKey crypto.PubKey
	Power  int64
}

// DefaultPower is each genesis validator's voting power: equal for every agency.
const DefaultPower = 10

// WriteGenesis builds genesis.json from validators and the app state and
// saves it to path.
func WriteGenesis(path, chainID string, genesisTime time.Time, vals []Validator, state *appv1.GenesisState) (*types.GenesisDoc, error) {
	appState, err := app.MarshalGenesis(state)
	if err != nil {
		return nil, err
	}
	doc := &types.GenesisDoc{
		ChainID:         chainID,
		GenesisTime:     genesisTime,
		InitialHeight:   1,
		ConsensusParams: types.DefaultConsensusParams(),
		AppState:        json.RawMessage(appState),
	}
	for _, v := range vals {
		doc.Validators = append(doc.Validators, types.GenesisValidator{Address: v.PubKey.Address(), PubKey: v.PubKey, Power: v.Power, Name: v.Name})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	if _, err := app.ParseGenesis(appState); err != nil {
		return nil, err
	}
	return doc, doc.SaveAs(path)
}

// SingleAgencyState is the app state of a one-agency chain whose admin
// holds adminPub, with the founding mandates of its kind; adminSign signs
// the admin key's proof of possession.
func SingleAgencyState(chainID, agencyID, name string, kind agencyv1.Kind, adminPub []byte, adminSign Signer) (*appv1.GenesisState, error) {
	proof, err := GenesisKeyProof(chainID, agencyID, adminPub, adminSign)
	if err != nil {
		return nil, err
	}
	agencies := []*agencyv1.Agency{{Id: agencyID, Name: name, Kind: kind}}
	return &appv1.GenesisState{
		Params: app.DefaultParams(),
		Agency: &agencyv1.Genesis{
			Agencies:  agencies,
			Accounts:  []*agencyv1.Account{{PubKey: adminPub, AgencyId: agencyID, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}}},
			KeyProofs: []*agencyv1.KeyProof{proof},
		},
		Gov: &govv1.Genesis{Mandates: gov.FoundingMandates(agencies)},
	}, nil
}

// ProveGenesisAccounts adds to g a proof of possession for every account
// whose key is one of keys (for genesis files written by tools and tests
// that hold all the keys; the ceremony collects proofs from declarations).
func ProveGenesisAccounts(chainID string, g *agencyv1.Genesis, keys ...ed25519.PrivateKey) error {
	for _, a := range g.Accounts {
		for _, k := range keys {
			if !bytes.Equal(k.Public().(ed25519.PublicKey), a.PubKey) {
				continue
			}
			p, err := GenesisKeyProof(chainID, a.AgencyId, a.PubKey, func(msg []byte) ([]byte, error) { return ed25519.Sign(k, msg), nil })
			if err != nil {
				return err
			}
			g.KeyProofs = append(g.KeyProofs, p)
			break
		}
	}
	return nil
}

// GenesisKeyProof is a genesis account's proof of possession: sign (the
// account key's holder) signs keyproof.Statement for the account whose
// address derives from pub.
func GenesisKeyProof(chainID, agencyID string, pub []byte, sign Signer) (*agencyv1.KeyProof, error) {
	addr := agency.AddressOf(pub)
	sig, err := sign(keyproof.Statement(chainID, agencyID, addr, pub, keyproof.GenesisAccount))
	if err != nil {
		return nil, fmt.Errorf("signing the key proof of account %x: %w", addr, err)
	}
	return &agencyv1.KeyProof{Address: addr, Signature: sig}, nil
}
