package app

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	statev1 "github.com/tallyledger/tally/proto/tally/state/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
	"github.com/tallyledger/tally/x/tax"
)

// Export and restore.
//
// `tallyd export` writes the whole state at a height as a genesis: the app
// params as usual, and every other key — each module's records, indexes,
// sequences, parameters, mandates, and the app's used nonces — as records
// in the section of the module that owns it (module.ExportRecords). A chain
// started from that genesis restores the records byte for byte and carries
// on at the next height, so every height stored in a record (creation,
// deadlines, due payments, recall steps, timeouts of used nonces) keeps its
// meaning, and no transaction of the exported chain can run twice.
//
// Records rather than typed fields: a typed export would have to name, and
// a typed import re-derive, each of some sixty record and index kinds, and
// a kind forgotten would vanish silently. Walking the keys cannot forget one
// (ExportGenesis refuses a key no section owns), and the typed genesis
// fields stay what they are for: founding a new chain.
//
// What guards the restore: the app_state names the chain and height it was
// exported from and the SHA-256 of its records (RecordsDigest). InitChain
// refuses an export for another chain id or initial height, one whose
// records no longer match the digest, records outside their module's keys,
// a validator set other than the exported one, and a restored state that
// fails any module's invariants. The export is deterministic, so each
// operator can export from their own node and compare the file (or the
// digest) before starting: that, not the digest, is what protects against
// an edited export, since whoever edits can recompute a digest.

// appNoncePrefix is the app's own state exported as records: the used
// nonces. app/params travels as the params field and app/chain_id is the
// genesis chain id.
var appNoncePrefix = api.NoncesPrefix()

// exportedAppKeys are the app's keys written from other genesis fields.
var exportedAppKeys = [][]byte{api.ParamsKey(), api.ChainIDKey()}

// ExportGenesis returns the state at height (0: the last committed one)
// as an app_state that restarts the chain at height+1.
func (a *App) ExportGenesis(height int64) (*appv1.GenesisState, error) {
	last, _ := a.store.LastCommit()
	if height == 0 {
		height = last
	}
	if height <= 0 || height > last {
		return nil, ErrExportUnavailable.Wrapf("height %d: this node has committed up to %d", height, last)
	}
	hash, err := a.store.HashAt(height)
	if err != nil {
		return nil, ErrExportUnavailable.Wrapf("height %d is not kept by this node (pruned; see app.toml pruning): %v", height, err)
	}
	view := &stateAt{s: a.store, height: height}
	params, err := module.Params(view, api.ParamsKey(), DefaultParams)
	if err != nil {
		return nil, err
	}
	chainID := string(view.Get(api.ChainIDKey()))
	g := &appv1.GenesisState{
		Params:     params,
		Records:    module.ExportRecords(view, appNoncePrefix),
		Agency:     a.agency.ExportGenesis(view),
		Funds:      a.funds.ExportGenesis(view),
		Benefits:   a.benefits.ExportGenesis(view),
		Tax:        a.tax.ExportGenesis(view),
		Provenance: a.provenance.ExportGenesis(view),
		Gov:        a.gov.ExportGenesis(view),
	}
	if err := checkEveryKeyExported(view, g); err != nil {
		return nil, err
	}
	if view.err != nil {
		return nil, fmt.Errorf("reading state at height %d: %w", height, view.err)
	}
	g.ExportedFrom = &appv1.ExportedFrom{ChainId: chainID, Height: height, AppHash: hash, RecordsSha256: RecordsDigest(g)}
	return g, nil
}

// checkEveryKeyExported walks the whole state and refuses an export that
// would leave a key behind: a key of a module this binary does not route
// (a newer binary's state) must not be dropped quietly.
func checkEveryKeyExported(view store.KV, g *appv1.GenesisState) error {
	sections := exportSections(g)
	var missing []string
	var total int
	view.Iterate(nil, nil, true, func(k, _ []byte) bool {
		total++
		for _, own := range exportedAppKeys {
			if bytes.Equal(k, own) {
				return false
			}
		}
		for _, s := range sections {
			if bytes.HasPrefix(k, s.prefix) {
				return false
			}
		}
		if len(missing) < 5 {
			missing = append(missing, fmt.Sprintf("%q", k))
		}
		return false
	})
	if len(missing) > 0 {
		return ErrExportUnavailable.Wrapf("state holds keys no module of this binary owns (%s): export with the binary that wrote them", strings.Join(missing, ", "))
	}
	n := len(exportedAppKeys)
	for _, s := range sections {
		n += len(s.records)
	}
	if n != total {
		return fmt.Errorf("export holds %d keys but the state has %d", n, total)
	}
	return nil
}

// exportSection is one part of an exported app_state: whose records, and
// the key prefix they all start with.
type exportSection struct {
	name    string
	prefix  []byte
	records []*statev1.Record
}

// exportSections lists g's record sections in a fixed order: the app's,
// then the modules' in the order they are wired.
func exportSections(g *appv1.GenesisState) []exportSection {
	return []exportSection{
		{"app", appNoncePrefix, g.GetRecords()},
		{"agency", agency.StatePrefix, g.GetAgency().GetRecords()},
		{"funds", funds.StatePrefix, g.GetFunds().GetRecords()},
		{"benefits", benefits.StatePrefix, g.GetBenefits().GetRecords()},
		{"tax", tax.StatePrefix, g.GetTax().GetRecords()},
		{"provenance", provenance.StatePrefix, g.GetProvenance().GetRecords()},
		{"gov", gov.StatePrefix, g.GetGov().GetRecords()},
	}
}

// RecordsDigest is the SHA-256 that pins an exported app_state's content:
// its params (deterministic protobuf) and every record of every section in
// exportSections order, each field length-prefixed.
func RecordsDigest(g *appv1.GenesisState) []byte {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	params, _ := proto.MarshalOptions{Deterministic: true}.Marshal(g.GetParams()) // a Params always encodes
	field(params)
	for _, s := range exportSections(g) {
		field([]byte(s.name))
		h.Write(binary.AppendUvarint(nil, uint64(len(s.records))))
		for _, r := range s.records {
			field(r.Key)
			field(r.Value)
		}
	}
	return h.Sum(nil)
}

// hasRecords reports whether any section of g holds records.
func hasRecords(g *appv1.GenesisState) bool {
	for _, s := range exportSections(g) {
		if len(s.records) > 0 {
			return true
		}
	}
	return false
}

// checkExport checks an exported app_state against the genesis it came
// in, before anything is written: the chain it restarts, the height it
// restarts at, and that its records are the ones exported.
func checkExport(g *appv1.GenesisState, chainID string, initialHeight int64) error {
	from := g.ExportedFrom
	if from == nil {
		if hasRecords(g) {
			return ErrInvalidExport.Wrapf("app_state has records but no exported_from: records are restored only from an export written by tallyd export")
		}
		return nil
	}
	switch {
	case from.ChainId != chainID:
		return ErrInvalidExport.Wrapf("app_state is an export of chain %q, but this genesis is for chain %q: an export restarts the chain it came from; use the genesis file tallyd export wrote", from.ChainId, chainID)
	case from.Height < 1 || initialHeight != from.Height+1:
		return ErrInvalidExport.Wrapf("app_state is the state after height %d, so the genesis initial_height must be %d, not %d", from.Height, from.Height+1, initialHeight)
	case !bytes.Equal(RecordsDigest(g), from.RecordsSha256):
		return ErrInvalidExport.Wrapf("the records do not match the export's records_sha256: the file was damaged or edited after tallyd export wrote it; export again from a node of chain %q", from.ChainId)
	}
	return nil
}

// importAppRecords writes the app's own exported records (used nonces).
func importAppRecords(kv store.KV, g *appv1.GenesisState) error {
	return module.ImportRecords(kv, "app", appNoncePrefix, g.Records, ErrInvalidExport)
}

// checkRestored runs every module's invariants over a restored export
// and refuses it if any fails.
func (a *App) checkRestored(kv store.KV) error {
	r, err := a.invariants(kv)
	if err != nil {
		return err
	}
	if r.Ok {
		return nil
	}
	var failed []string
	for _, m := range r.Modules {
		for _, c := range m.Checks {
			if !c.Ok {
				failed = append(failed, fmt.Sprintf("%s/%s: %s", m.Module, c.Name, c.Detail))
			}
		}
	}
	return ErrInvalidExport.Wrapf("the restored state fails invariants: %s", strings.Join(failed, "; "))
}

// ExportValidators returns governance's validator set at height (those
// with power), in key order, named by the agency operating each: the
// validators of the genesis that restarts the chain from an export.
func (a *App) ExportValidators(height int64) ([]cmttypes.GenesisValidator, error) {
	view := &stateAt{s: a.store, height: height}
	vals, err := a.gov.Validators(view)
	if err == nil {
		err = view.err
	}
	if err != nil {
		return nil, fmt.Errorf("reading the validator set at height %d: %w", height, err)
	}
	var out []cmttypes.GenesisValidator
	for _, v := range vals {
		if v.Power <= 0 {
			continue
		}
		pk := cmted25519.PubKey(v.PubKey)
		out = append(out, cmttypes.GenesisValidator{Address: pk.Address(), PubKey: pk, Power: v.Power, Name: v.AgencyId})
	}
	return out, nil
}
