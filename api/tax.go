package api

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Tax query paths. /tax/receipt and /tax/clearance answer a ProvedList
// whose keys the client recomputes (DecodeReceipt, DecodeClearance),
// so nothing can be left out. Listings (and /tax/receipt, whose
// amendments come a page at a time) take a ListRequest (ListData) with the
// argument shown.
// There is no listing by taxpayer: receipts name a taxpayer only by a
// per-(type, period) payer commitment, and a clearance reads exactly the
// commitments its grant yields (below, and client/clearance.go).
const (
	PathTaxReceipt       = "/tax/receipt"       // ListRequest arg: receipt id → receipt, state, its amendments
	PathTaxClearance     = "/tax/clearance"     // data: ClearanceRequest → tax type, each period's payer-commitment total
	PathTaxType          = "/tax/tax_type"      // data: tax type code
	PathTaxTypes         = "/tax/tax_types"     // ListRequest, no arg; the registry, each proven
	PathTaxAuthorisation = "/tax/authorisation" // data: 20-byte collector address + tax type code
	PathTaxTotal         = "/tax/total"         // data: TotalRequest; with a collector, that collector's total
	PathTaxTotals        = "/tax/totals"        // ListRequest arg: tax type; every period's total, each proven
	// ListRequest arg: "<tax type>/<period>"; the receipts of that tax type
	// whose current period it is, by authority and sequence, each proven.
	PathTaxReceipts = "/tax/receipts"
)

// Tax state. Agency ids, tax type codes and periods cannot contain '/';
// addresses (20 bytes), payer and bank-reference commitments (32 bytes)
// and sequences (8 bytes, big-endian) have fixed sizes, so no prefix of one
// record covers another's.
//
// Privacy: no key or record holds a taxpayer reference. A receipt names its
// taxpayer only by a payer commitment, which differs for every (tax type,
// period) and can be computed only with the salt the taxpayer hands out; so
// there is no key under which one taxpayer's receipts group.
//
//	tax/t/<tax type>                           → tally.tax.v1.TaxType (the registry)
//	tax/z/<collector>/<tax type>               → Authorisation
//	tax/k/<collector>                          → Collector (active authorisation count)
//	tax/n/<authority>                          → last receipt sequence of the authority (8 bytes)
//	tax/r/<authority>/<seq>                    → Receipt, written once
//	tax/s/<authority>/<seq>                    → ReceiptState, derived from the amendments
//	tax/m/<authority>/<seq>/<n 4 bytes>        → Amendment n of the receipt, written once
//	tax/v/<authority>/<seq>                    → Confirmed: what a settling bank confirmed of the receipt
//	tax/w/<authority>/<seq>/<n 4 bytes>        → Confirmation n of the receipt
//	tax/b/<collector agency>/<bank ref commitment> → receipt id: the duplicate-payment guard
//	tax/p/<tax type>/<period>/<payer>          → Total: one payer commitment's running total
//	tax/a/<tax type>/<period>                  → Total over every collector
//	tax/c/<collector>/<tax type>/<period>      → Total of one collector's receipts
//	tax/y/<tax type>/<period>/<authority>/<seq> → index: the receipts of a tax type in a period
var (
	prefixTaxType         = []byte("tax/t/")
	prefixTaxAuth         = []byte("tax/z/")
	prefixTaxCollector    = []byte("tax/k/")
	prefixTaxSeq          = []byte("tax/n/")
	prefixTaxReceipt      = []byte("tax/r/")
	prefixTaxState        = []byte("tax/s/")
	prefixTaxAmendment    = []byte("tax/m/")
	prefixTaxConfirmed    = []byte("tax/v/")
	prefixTaxConfirmation = []byte("tax/w/")
	prefixTaxBankRef      = []byte("tax/b/")
	prefixTaxPayerTotal   = []byte("tax/p/")
	prefixTaxTypeTotal    = []byte("tax/a/")
	prefixTaxCollTotal    = []byte("tax/c/")
	prefixTaxTypePeriod   = []byte("tax/y/")
)

// TaxStatePrefix starts every key the tax module keeps.
func TaxStatePrefix() []byte { return []byte("tax/") }

// CommitmentSize is the size of a pseudonymous taxpayer reference, of a
// payer commitment and of a bank-reference commitment.
const CommitmentSize = 32

// MaxTaxTypeBytes is the longest tax type code.
const MaxTaxTypeBytes = 32

// CheckTaxTypeCode checks a tax type code: 1-32 characters of A-Z, 0-9
// and '_', starting with a letter ("VAT", "COUNCIL_TAX"). Its errors wrap
// ErrTaxType.
func CheckTaxTypeCode(code string) error {
	if code == "" || len(code) > MaxTaxTypeBytes || code[0] < 'A' || code[0] > 'Z' {
		return refuse(ErrTaxType, "tax type %s must be 1 to %d characters starting with A-Z", Quote(code), MaxTaxTypeBytes)
	}
	for _, c := range []byte(code) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return refuse(ErrTaxType, "tax type %s may use only A-Z, 0-9 and '_'", Quote(code))
		}
	}
	return nil
}

// CheckPayerCommitment checks the size of a payer commitment. The chain
// cannot tell a commitment from a bare reference; what it can do is accept
// nothing but 32 opaque bytes, so no name or identifier fits. Its errors
// wrap ErrPayer.
func CheckPayerCommitment(p []byte) error {
	if len(p) != CommitmentSize {
		return refuse(ErrPayer, "payer is %d bytes; it is the %d-byte payer commitment of the taxpayer for the receipt's tax type and period (client.PayerCommitment), never the taxpayer reference or an identifier", len(p), CommitmentSize)
	}
	return nil
}

// minSeqDigits is the width receipt sequences are zero-padded to in ids.
const minSeqDigits = 6

// ReceiptRef names a receipt: the authority whose series it is in and its
// sequence number there.
type ReceiptRef struct {
	Authority string
	Seq       uint64
}

// ID is the receipt's human-friendly id, e.g. "REVENUE-000123".
func (r ReceiptRef) ID() string {
	return fmt.Sprintf("%s-%0*d", strings.ToUpper(r.Authority), minSeqDigits, r.Seq)
}

// KeySuffix is "<authority>/<seq 8 bytes>", the part of each of a
// receipt's keys after the record prefix.
func (r ReceiptRef) KeySuffix() []byte { return Key([]byte(r.Authority), slash, Uint64(r.Seq)) }

// ReceiptRefOfSuffix reads a KeySuffix back.
func ReceiptRefOfSuffix(suffix []byte) (ReceiptRef, bool) {
	i := bytes.IndexByte(suffix, '/')
	if i <= 0 || len(suffix) != i+1+8 {
		return ReceiptRef{}, false
	}
	return ReceiptRef{Authority: string(suffix[:i]), Seq: binary.BigEndian.Uint64(suffix[i+1:])}, true
}

// ParseReceiptID reads a receipt id as ReceiptRef.ID writes it. Only the
// canonical form is accepted, so one receipt has exactly one id and one
// key. Its errors wrap ErrReceiptID.
func ParseReceiptID(id string) (ReceiptRef, error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || i == len(id)-1 {
		return ReceiptRef{}, refuse(ErrReceiptID, "%s is not a receipt id; ids look like REVENUE-000123", Quote(id))
	}
	prefix, digits := id[:i], id[i+1:]
	if len(prefix) > MaxAgencyIDBytes || strings.ToUpper(strings.ToLower(prefix)) != prefix || CheckAgencyID(strings.ToLower(prefix)) != nil {
		return ReceiptRef{}, refuse(ErrReceiptID, "receipt id: %s (before the last '-') is not an upper-case agency id", Quote(prefix))
	}
	seq, ok := ParseDecimal(digits) // strconv's error would copy a longer input whole
	if !ok || seq == 0 {
		return ReceiptRef{}, refuse(ErrReceiptID, "receipt id: %s (after the last '-') is not a sequence number from 1", Quote(digits))
	}
	ref := ReceiptRef{Authority: strings.ToLower(prefix), Seq: seq}
	if ref.ID() != id {
		return ReceiptRef{}, refuse(ErrReceiptID, "%s is not in canonical form; write it as %q", Quote(id), ref.ID())
	}
	return ref, nil
}

// AmendmentID is the id of amendment n of a receipt, e.g. "REVENUE-000123/2".
func AmendmentID(receiptID string, n uint32) string { return fmt.Sprintf("%s/%d", receiptID, n) }

// ConfirmationID names a receipt's confirmation n ("REVENUE-000001/S1").
func ConfirmationID(receiptID string, n uint32) string {
	return receiptID + "/S" + strconv.FormatUint(uint64(n), 10)
}

// TaxTypeKey is the state key of a tax type.
func TaxTypeKey(code string) []byte { return Key(prefixTaxType, []byte(code)) }

// TaxTypesPrefix is the prefix of the tax-type registry.
func TaxTypesPrefix() []byte { return clone(prefixTaxType) }

// TaxAuthorisationKey is the state key of a collector's authorisation for a tax type.
func TaxAuthorisationKey(collector []byte, taxType string) []byte {
	return Key(prefixTaxAuth, collector, slash, []byte(taxType))
}

// TaxAuthorisationsPrefix covers every collector's authorisations.
func TaxAuthorisationsPrefix() []byte { return clone(prefixTaxAuth) }

// TaxCollectorKey is the state key of a collector's record.
func TaxCollectorKey(collector []byte) []byte { return Key(prefixTaxCollector, collector) }

// TaxCollectorsPrefix covers every collector's record.
func TaxCollectorsPrefix() []byte { return clone(prefixTaxCollector) }

// TaxSeqKey holds the last receipt sequence of an authority (8 bytes big-endian).
func TaxSeqKey(authority string) []byte { return Key(prefixTaxSeq, []byte(authority)) }

// TaxSeqsPrefix covers the receipt sequence of every authority.
func TaxSeqsPrefix() []byte { return clone(prefixTaxSeq) }

// TaxReceiptKey is the state key of a receipt.
func TaxReceiptKey(r ReceiptRef) []byte { return Key(prefixTaxReceipt, r.KeySuffix()) }

// TaxReceiptsPrefix covers every receipt, by authority and sequence.
func TaxReceiptsPrefix() []byte { return clone(prefixTaxReceipt) }

// TaxReceiptStateKey is the state key of a receipt's derived state.
func TaxReceiptStateKey(r ReceiptRef) []byte { return Key(prefixTaxState, r.KeySuffix()) }

// TaxReceiptStatesPrefix covers the derived state of every receipt.
func TaxReceiptStatesPrefix() []byte { return clone(prefixTaxState) }

// TaxAmendmentKey is the state key of amendment n of a receipt.
func TaxAmendmentKey(r ReceiptRef, n uint32) []byte {
	return Key(prefixTaxAmendment, r.KeySuffix(), slash, u32(n))
}

// TaxAmendmentsPrefix covers the amendments of every receipt.
func TaxAmendmentsPrefix() []byte { return clone(prefixTaxAmendment) }

// TaxConfirmedKey is the state key of what was confirmed of a receipt.
func TaxConfirmedKey(r ReceiptRef) []byte { return Key(prefixTaxConfirmed, r.KeySuffix()) }

// TaxConfirmedPrefix covers what was confirmed of every receipt.
func TaxConfirmedPrefix() []byte { return clone(prefixTaxConfirmed) }

// TaxConfirmationsPrefix covers the confirmations of every receipt.
func TaxConfirmationsPrefix() []byte { return clone(prefixTaxConfirmation) }

// TaxConfirmationKey is the state key of a receipt's confirmation n.
func TaxConfirmationKey(r ReceiptRef, n uint32) []byte {
	return Key(prefixTaxConfirmation, r.KeySuffix(), slash, u32(n))
}

// TaxBankRefKey is the state key of the duplicate-payment guard.
func TaxBankRefKey(collectorAgency string, bankRef []byte) []byte {
	return Key(prefixTaxBankRef, []byte(collectorAgency), slash, bankRef)
}

// TaxBankRefsPrefix covers the whole duplicate-payment guard.
func TaxBankRefsPrefix() []byte { return clone(prefixTaxBankRef) }

// TaxPayerTotalKey is the state key of a payer commitment's running total:
// one taxpayer's live receipts of a tax type in a period. The type and
// period are in the key so that a receipt filed under one period's
// commitment never counts towards another period's clearance.
func TaxPayerTotalKey(taxType, period string, payer []byte) []byte {
	return Key(prefixTaxPayerTotal, []byte(taxType), slash, []byte(period), slash, payer)
}

// TaxPayerTotalsPrefix covers every payer commitment's totals.
func TaxPayerTotalsPrefix() []byte { return clone(prefixTaxPayerTotal) }

// TaxTypeTotalKey is the state key of the total of a tax type in a period.
func TaxTypeTotalKey(taxType, period string) []byte {
	return Key(prefixTaxTypeTotal, []byte(taxType), slash, []byte(period))
}

// TaxTypeTotalsPrefix is the prefix under which a tax type's totals per
// period live.
func TaxTypeTotalsPrefix(taxType string) []byte {
	return Key(prefixTaxTypeTotal, []byte(taxType), slash)
}

// TaxAllTypeTotalsPrefix covers every tax type's totals.
func TaxAllTypeTotalsPrefix() []byte { return clone(prefixTaxTypeTotal) }

// TaxCollectorTotalKey is the state key of one collector's total of a tax type in a period.
func TaxCollectorTotalKey(collector []byte, taxType, period string) []byte {
	return Key(prefixTaxCollTotal, collector, slash, []byte(taxType), slash, []byte(period))
}

// TaxCollectorTotalsPrefix covers every collector's totals.
func TaxCollectorTotalsPrefix() []byte { return clone(prefixTaxCollTotal) }

// TaxTypePeriodPrefix is the prefix of the index of a tax type's receipts
// in one period (by the receipt's current period, as its totals count it).
func TaxTypePeriodPrefix(taxType, period string) []byte {
	return Key(prefixTaxTypePeriod, []byte(taxType), slash, []byte(period), slash)
}

// TaxAllTypePeriodPrefix covers the whole (tax type, period) receipt index.
func TaxAllTypePeriodPrefix() []byte { return clone(prefixTaxTypePeriod) }

// TaxTypePeriodIndexKey is the entry of receipt r in the index of its tax
// type and period. Paginated listings continue after such a key.
func TaxTypePeriodIndexKey(taxType, period string, r ReceiptRef) []byte {
	return Key(TaxTypePeriodPrefix(taxType, period), r.KeySuffix())
}

// TaxReceiptKeyOfIndex maps an entry of a tax type and period's receipt
// index to the receipt it lists (nil when it is no such entry). Tax type
// codes and periods hold no '/', so the receipt's part starts after the
// second '/'; the sequence's bytes may hold '/' but come after it.
func TaxReceiptKeyOfIndex(indexKey []byte) []byte {
	if !bytes.HasPrefix(indexKey, prefixTaxTypePeriod) {
		return nil
	}
	rest := indexKey[len(prefixTaxTypePeriod):]
	for n := 0; n < 2; n++ {
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
	return Key(prefixTaxReceipt, rest)
}
