// Package genesis makes a chain's genesis: the multi-agency ceremony
// (ceremony.go), in which agencies that do not trust each other declare
// what they bring and check the result, and the genesis files that tools,
// test networks and single-agency chains write directly.
package genesis

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
)

// NewState is a genesis app state with the default params and no
// agencies, accounts or operators yet: what a tool fills in.
func NewState() *appv1.GenesisState {
	return &appv1.GenesisState{Params: app.DefaultParams(), Agency: &agencyv1.Genesis{}, Gov: &govv1.Genesis{}}
}

// FoundingMandates are the mandates each kind of agency holds from
// genesis (x/gov FoundingMandates): every tool that writes a genesis grants
// the same ones, so every agency that signs it sees the same grants.
func FoundingMandates(agencies []*agencyv1.Agency) []*govv1.MandateGrant {
	return gov.FoundingMandates(agencies)
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
	proof, err := KeyProof(chainID, agencyID, adminPub, adminSign)
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
		Gov: &govv1.Genesis{Mandates: FoundingMandates(agencies)},
	}, nil
}

// ProveAccounts adds to g a proof of possession for every account
// whose key is one of keys (for genesis files written by tools and tests
// that hold all the keys; the ceremony collects proofs from declarations).
func ProveAccounts(chainID string, g *agencyv1.Genesis, keys ...ed25519.PrivateKey) error {
	for _, a := range g.Accounts {
		for _, k := range keys {
			if !bytes.Equal(k.Public().(ed25519.PublicKey), a.PubKey) {
				continue
			}
			p, err := KeyProof(chainID, a.AgencyId, a.PubKey, func(msg []byte) ([]byte, error) { return ed25519.Sign(k, msg), nil })
			if err != nil {
				return err
			}
			g.KeyProofs = append(g.KeyProofs, p)
			break
		}
	}
	return nil
}

// KeyProof is a genesis account's proof of possession: sign (the
// account key's holder) signs keyproof.Statement for the account whose
// address derives from pub.
func KeyProof(chainID, agencyID string, pub []byte, sign Signer) (*agencyv1.KeyProof, error) {
	addr := agency.AddressOf(pub)
	sig, err := sign(keyproof.Statement(chainID, agencyID, addr, pub, keyproof.GenesisAccount))
	if err != nil {
		return nil, fmt.Errorf("signing the key proof of account %x: %w", addr, err)
	}
	return &agencyv1.KeyProof{Address: addr, Signature: sig}, nil
}
