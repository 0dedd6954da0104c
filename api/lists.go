package api

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
)

// Listings. Every query path whose Answer is Page takes the same query
// data, a tally.app.v1.ListRequest {arg, after, limit}, and answers a
// ProvedList a page at a time: next_key, when set, is the after of the
// next page (same arg); complete is true on the last page. A client pages
// through any listing with the same loop.

// MaxPage is the most records one page of a listing holds besides its
// head records: a ListRequest limit of 0 or above it means MaxPage. It
// bounds one query's work.
const MaxPage = 1000

// MaxLineageOffset bounds where a page of PathProvenanceLineage may start
// (its after, the walk's position): a node refuses a later start with
// tx/17. A page walks the lineage from its start, so a page at offset N
// reads N+MaxPage items; this keeps one query's work within about eleven
// pages' reads.
const MaxLineageOffset = 10 * MaxPage

// ListData is the query data of one page of a listing: arg says what to
// list (each path's argument), after is the previous page's next_key (nil
// for the first page), limit the most records wanted (0: MaxPage).
func ListData(arg, after []byte, limit uint32) []byte {
	bz, _ := proto.Marshal(&appv1.ListRequest{Arg: arg, After: after, Limit: limit}) // cannot fail: bytes and an integer
	return bz
}

// ParseList decodes a listing's query data. Data that is not a
// ListRequest, or carries fields a ListRequest does not have (the query
// data of another path, or of an older client), is refused rather than
// read as a request for the first page.
func ParseList(data []byte) (*appv1.ListRequest, error) {
	req := &appv1.ListRequest{}
	if err := proto.Unmarshal(data, req); err != nil {
		return nil, fmt.Errorf("the query data is not a tally.app.v1.ListRequest {arg, after, limit}: %w", err)
	}
	if len(req.ProtoReflect().GetUnknown()) > 0 {
		return nil, errors.New("the query data has fields a tally.app.v1.ListRequest {arg = 1, after = 2, limit = 3} does not have")
	}
	return req, nil
}

// PageLimit is the number of records a page answers for a request's
// limit: the limit, or MaxPage when it is 0 or above MaxPage.
func PageLimit(limit uint32) int {
	if limit == 0 || limit > MaxPage {
		return MaxPage
	}
	return int(limit)
}

// The lineage directions as PathProvenanceLineage's argument names them.
const (
	lineageUp   = "up"
	lineageDown = "down"
)

// LineageArg is the ListRequest arg of PathProvenanceLineage: the
// direction ("up" to the items this one was made from, "down" to the items
// made from it), '/', then the item id.
func LineageArg(dir provenancev1.LineageDirection, itemID string) []byte {
	name := lineageDown
	if dir == provenancev1.LineageDirection_LINEAGE_DIRECTION_UP {
		name = lineageUp
	}
	return []byte(name + "/" + itemID)
}

// ParseLineageArg reads PathProvenanceLineage's argument (LineageArg).
func ParseLineageArg(arg []byte) (provenancev1.LineageDirection, string, error) {
	dir, id, _ := strings.Cut(string(arg), "/")
	switch dir {
	case lineageUp:
		return provenancev1.LineageDirection_LINEAGE_DIRECTION_UP, id, nil
	case lineageDown:
		return provenancev1.LineageDirection_LINEAGE_DIRECTION_DOWN, id, nil
	}
	return 0, "", fmt.Errorf("the lineage argument is up/<item id> or down/<item id>, not %s", Quote(arg))
}
