package app

import (
	"encoding/binary"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/provenance"
)

var provenanceRoutes = moduleRoutes{
	name:  "provenance",
	query: func(a *App, q Query) (*abci.ResponseQuery, error) { return a.provenanceQuery(q) },
}

func (a *App) provenanceQuery(q Query) (*abci.ResponseQuery, error) {
	switch q.Path {
	case api.PathProvenanceItem:
		if err := provenance.ValidateItemID(string(q.Data)); err != nil {
			return nil, err
		}
		return a.single(api.ProvenanceItemKey(string(q.Data)), q.Height, q.Prove)
	case api.PathProvenanceOffer:
		if err := provenance.ValidateItemID(string(q.Data)); err != nil {
			return nil, err
		}
		return a.single(api.ProvenanceOfferKey(string(q.Data)), q.Height, q.Prove)
	case api.PathProvenanceAccreditation:
		if len(q.Data) != agency.AddressSize {
			return nil, ErrInvalidQuery.Wrapf("an address is %d bytes; got %d", agency.AddressSize, len(q.Data))
		}
		return a.single(api.ProvenanceAccreditationKey(q.Data), q.Height, q.Prove)
	case api.PathProvenanceRecall:
		if err := provenance.ValidateOrderID(string(q.Data)); err != nil {
			return nil, err
		}
		return a.single(api.ProvenanceRecallOrderKey(string(q.Data)), q.Height, q.Prove)
	case api.PathProvenanceLocation:
		if err := provenance.ValidateLocationQuery(string(q.Data)); err != nil {
			return nil, err
		}
		return a.single(api.ProvenanceLocationKey(string(q.Data)), q.Height, q.Prove)
	case api.PathProvenanceParams:
		return a.single(api.ProvenanceParamsKey(), q.Height, q.Prove)
	case api.PathProvenanceLineage:
		return a.provenanceLineage(q)
	case api.PathProvenanceHistory, api.PathProvenanceAttestations, api.PathProvenanceHeld, api.PathProvenanceOffers, api.PathProvenanceUnacknowledged:
		return a.provenanceList(q)
	}
	return nil, ErrUnknownQuery.Wrapf("no provenance query %s; paths are %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s", api.Quote(q.Path),
		api.PathProvenanceItem, api.PathProvenanceOffer, api.PathProvenanceAccreditation, api.PathProvenanceRecall, api.PathProvenanceParams, api.PathProvenanceLocation,
		api.PathProvenanceHistory, api.PathProvenanceAttestations, api.PathProvenanceLineage, api.PathProvenanceHeld, api.PathProvenanceOffers, api.PathProvenanceUnacknowledged)
}

// provenanceList answers the provenance listings: arg is the item id
// (history, attestations), the account address (held, offers) or the
// recall order id (unacknowledged), refused here with the module's codes
// before the listing's layout (api.Route.Listing) is read.
func (a *App) provenanceList(q Query) (*abci.ResponseQuery, error) {
	id := string(q.Data)
	switch q.Path {
	case api.PathProvenanceHistory, api.PathProvenanceAttestations:
		if err := provenance.ValidateItemID(id); err != nil {
			return nil, err
		}
	case api.PathProvenanceHeld, api.PathProvenanceOffers:
		if len(q.Data) != agency.AddressSize {
			return nil, ErrInvalidQuery.Wrapf("the argument is the %d-byte account address; got %d bytes", agency.AddressSize, len(q.Data))
		}
	case api.PathProvenanceUnacknowledged:
		if err := provenance.ValidateOrderID(id); err != nil {
			return nil, err
		}
	}
	return a.list(q)
}

// provenanceLineage answers one page of a lineage walk. Its next_key is
// the walk's position (8 bytes, big-endian) where the next page starts.
func (a *App) provenanceLineage(q Query) (*abci.ResponseQuery, error) {
	dir, id, err := api.ParseLineageArg(q.Data)
	if err != nil {
		return nil, ErrInvalidQuery.Wrapf("%v", err)
	}
	var offset uint64
	if len(q.After) > 0 {
		if len(q.After) != 8 {
			return nil, ErrInvalidQuery.Wrapf("a lineage page continues after the 8-byte next_key of the previous page; got %d bytes", len(q.After))
		}
		offset = binary.BigEndian.Uint64(q.After)
	}
	if offset > api.MaxLineageOffset {
		return nil, ErrInvalidQuery.Wrapf("position %d is past the deepest lineage page served (%d): each page walks the lineage from its start, so walk deeper lineages from an item further along", offset, api.MaxLineageOffset)
	}
	get := func(key []byte) ([]byte, error) { return a.store.GetAt(q.Height, key) }
	ids, more, err := provenance.Lineage(get, id, dir, offset, q.Limit)
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = api.ProvenanceItemKey(id)
	}
	var next []byte
	if more {
		next = binary.BigEndian.AppendUint64(nil, offset+uint64(len(ids)))
	}
	return a.records(keys, next, q.Height, q.Prove)
}
