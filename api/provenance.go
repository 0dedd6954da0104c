package api

// Provenance query paths. Single-record paths answer with a.single; the
// others answer a ProvedList whose every entry carries its own proof.
// List queries take a provenancev1.ListQuery (start = the previous
// answer's next_key) and lineage a provenancev1.LineageQuery.
const (
	PathProvenanceItem          = "/provenance/item"          // data: item id → Item
	PathProvenanceOffer         = "/provenance/offer"         // data: item id → its latest Offer
	PathProvenanceAccreditation = "/provenance/accreditation" // data: 20-byte inspector address → Accreditation
	PathProvenanceRecall        = "/provenance/recall"        // data: recall order id → RecallOrder
	PathProvenanceParams        = "/provenance/params"        // data: none → Params
	PathProvenanceLocation      = "/provenance/location"      // data: location code → Location (its registered name)
	// History answers the Item first, then its Events in order: the item's
	// event count lets a client check that none is missing.
	PathProvenanceHistory = "/provenance/history" // ListQuery{id}
	// Attestations answers the Item first, then its Attestations in order.
	PathProvenanceAttestations = "/provenance/attestations" // ListQuery{id}
	// Lineage answers the Items of a breadth-first walk up or down the
	// lineage graph; each record names its parents and children, so a
	// client can check the walk.
	PathProvenanceLineage = "/provenance/lineage" // LineageQuery
	// Held answers the Items whose custodian is the address.
	PathProvenanceHeld = "/provenance/held" // ListQuery{address}
	// Offers answers the open Offers made to the address.
	PathProvenanceOffers = "/provenance/offers" // ListQuery{address}
	// Unacknowledged answers the recalled Items of an order whose custodian
	// has not acknowledged, ordered by custodian.
	PathProvenanceUnacknowledged = "/provenance/unacknowledged" // ListQuery{id: order id}
)
