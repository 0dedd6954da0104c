package app

import (
	"bytes"
	"encoding/binary"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
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
	return nil, ErrUnknownQuery.Wrapf("no provenance query %q; paths are %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s", q.Path,
		api.PathProvenanceItem, api.PathProvenanceOffer, api.PathProvenanceAccreditation, api.PathProvenanceRecall, api.PathProvenanceParams, api.PathProvenanceLocation,
		api.PathProvenanceHistory, api.PathProvenanceAttestations, api.PathProvenanceLineage, api.PathProvenanceHeld, api.PathProvenanceOffers, api.PathProvenanceUnacknowledged)
}

// provenanceList answers the paginated list paths.
func (a *App) provenanceList(q Query) (*abci.ResponseQuery, error) {
	lq := &provenancev1.ListQuery{}
	if err := proto.Unmarshal(q.Data, lq); err != nil {
		return nil, ErrInvalidQuery.Wrapf("data is not a tally.provenance.v1.ListQuery: %v", err)
	}
	var (
		prefix    []byte
		recordKey = func(k []byte) []byte { return k }
		head      [][]byte // records answered before the page
	)
	switch q.Path {
	case api.PathProvenanceHistory, api.PathProvenanceAttestations:
		if err := provenance.ValidateItemID(lq.Id); err != nil {
			return nil, err
		}
		head = [][]byte{api.ProvenanceItemKey(lq.Id)}
		prefix = api.ProvenanceHistoryPrefix(lq.Id)
		if q.Path == api.PathProvenanceAttestations {
			prefix = api.ProvenanceAttestationPrefix(lq.Id)
		}
	case api.PathProvenanceHeld, api.PathProvenanceOffers:
		if len(lq.Address) != agency.AddressSize {
			return nil, ErrInvalidQuery.Wrapf("address is %d bytes; an address is %d", len(lq.Address), agency.AddressSize)
		}
		prefix = api.ProvenanceHeldPrefix(lq.Address)
		if q.Path == api.PathProvenanceOffers {
			prefix = api.ProvenanceOffersToPrefix(lq.Address)
			recordKey = api.ProvenanceOfferOfOfferToKey
		} else {
			recordKey = api.ProvenanceItemOfHeldKey
		}
	case api.PathProvenanceUnacknowledged:
		if err := provenance.ValidateOrderID(lq.Id); err != nil {
			return nil, err
		}
		prefix = api.ProvenanceAwaitingAckPrefix(lq.Id)
		recordKey = func(k []byte) []byte { return api.ProvenanceItemKey(api.ProvenanceAwaitingAckItem(lq.Id, k)) }
	}
	if len(lq.Start) > 0 && !bytes.HasPrefix(lq.Start, prefix) {
		return nil, ErrInvalidQuery.Wrapf("start must be the next_key of an earlier answer to the same query")
	}
	return a.list(prefix, lq.Start, q.Height, q.Prove, recordKey, head...)
}

// maxLineageOffset bounds the offset of a lineage page. A page walks the
// lineage from its start, so a page at offset N reads N+maxListEntries
// items; this keeps one query's work within about ten pages' reads.
const maxLineageOffset = 10 * maxListEntries

// provenanceLineage answers one page of a lineage walk.
func (a *App) provenanceLineage(q Query) (*abci.ResponseQuery, error) {
	lq := &provenancev1.LineageQuery{}
	if err := proto.Unmarshal(q.Data, lq); err != nil {
		return nil, ErrInvalidQuery.Wrapf("data is not a tally.provenance.v1.LineageQuery: %v", err)
	}
	if lq.Offset > maxLineageOffset {
		return nil, ErrInvalidQuery.Wrapf("offset %d is past the deepest lineage page served (%d): each page walks the lineage from its start, so walk deeper lineages from an item further along", lq.Offset, maxLineageOffset)
	}
	get := func(key []byte) ([]byte, error) { return a.store.GetAt(q.Height, key) }
	ids, more, err := provenance.Lineage(get, lq.ItemId, lq.Direction, lq.Offset, maxListEntries)
	if err != nil {
		return nil, err
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = api.ProvenanceItemKey(id)
	}
	var next []byte
	if more {
		next = binary.BigEndian.AppendUint64(nil, lq.Offset+uint64(len(ids)))
	}
	return a.records(keys, next, q.Height, q.Prove)
}
