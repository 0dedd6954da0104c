package api

// Tax query paths. /tax/receipt and /tax/clearance answer a ProvedList
// whose keys the client recomputes (tax.DecodeReceipt, tax.DecodeClearance),
// so nothing can be left out; the others answer one record (a.single).
// There is no listing by taxpayer: receipts name a taxpayer only by a
// per-(type, period) payer commitment, and a clearance reads exactly the
// commitments its grant yields (x/tax/keys.go, client/clearance.go).
const (
	PathTaxReceipt       = "/tax/receipt"       // data: receipt id → receipt, state, every amendment
	PathTaxClearance     = "/tax/clearance"     // data: ClearanceRequest → tax type, each period's payer-commitment total
	PathTaxType          = "/tax/tax_type"      // data: tax type code
	PathTaxTypes         = "/tax/tax_types"     // data: [0x00 next_key]; the registry, each proven
	PathTaxAuthorisation = "/tax/authorisation" // data: 20-byte collector address + tax type code
	PathTaxTotal         = "/tax/total"         // data: TotalRequest; with a collector, that collector's total
	PathTaxTotals        = "/tax/totals"        // data: tax type [0x00 next_key]; every period's total, each proven
	// data: "<tax type>/<period>", then optionally 0x00 and the index key
	// (tax.TypePeriodIndexKey) to continue after; the receipts of that tax
	// type whose current period it is, by authority and sequence, each proven.
	PathTaxReceipts = "/tax/receipts"
)
