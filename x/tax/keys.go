package tax

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
)

// State layout. Every record and index lives in the one IAVL tree, so each
// answer — including "no such receipt" — is provable against the app hash.
// Agency ids, tax type codes and periods cannot contain '/'; addresses (20
// bytes), payer and bank-reference commitments (32 bytes) and sequences (8
// bytes, big-endian) have fixed sizes, so no prefix of one record covers
// another's.
//
// Privacy: no key or record holds a taxpayer reference. A receipt names its
// taxpayer only by a payer commitment, which differs for every (tax type,
// period) and can be computed only with the salt the taxpayer hands out
// (PayerCommitment); so there is no key under which one taxpayer's receipts
// group, and a party given the salts of some periods can find those and no
// others, even reading the whole state.
//
//	tax/t/<tax type>                           → TaxType (the registry)
//	tax/z/<collector>/<tax type>               → Authorisation
//	tax/k/<collector>                          → Collector (active authorisation count)
//	tax/n/<authority>                          → last receipt sequence of the authority (8 bytes)
//	tax/r/<authority>/<seq>                    → Receipt, written once
//	tax/s/<authority>/<seq>                    → ReceiptState, derived from the amendments
//	tax/m/<authority>/<seq>/<n 4 bytes>        → Amendment n of the receipt, written once
//	tax/b/<collector agency>/<bank ref commitment> → receipt id: the duplicate-payment guard
//	tax/p/<tax type>/<period>/<payer>          → Total: one payer commitment's running total
//	tax/a/<tax type>/<period>                  → Total over every collector
//	tax/c/<collector>/<tax type>/<period>      → Total of one collector's receipts
//	tax/y/<tax type>/<period>/<authority>/<seq> → empty: the receipts of a tax type in a period
var (
	prefixTaxType    = []byte("tax/t/")
	prefixAuth       = []byte("tax/z/")
	prefixCollector  = []byte("tax/k/")
	prefixSeq        = []byte("tax/n/")
	prefixReceipt    = []byte("tax/r/")
	prefixState      = []byte("tax/s/")
	prefixAmendment  = []byte("tax/m/")
	prefixBankRef    = []byte("tax/b/")
	prefixPayerTotal = []byte("tax/p/")
	prefixTypeTotal  = []byte("tax/a/")
	prefixCollTotal  = []byte("tax/c/")
	prefixTypePeriod = []byte("tax/y/")
)

// TaxpayerSize is the size of a pseudonymous taxpayer reference, of a payer
// commitment and of a bank-reference commitment.
const TaxpayerSize = 32

// minSeqDigits is the width receipt sequences are zero-padded to in ids.
const minSeqDigits = 6

var slash = []byte("/")

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

func (r ReceiptRef) suffix() []byte {
	return binary.BigEndian.AppendUint64(store.Key([]byte(r.Authority), slash), r.Seq)
}

// ParseReceiptID reads a receipt id as ReceiptRef.ID writes it. Only the
// canonical form is accepted, so one receipt has exactly one id and one key.
func ParseReceiptID(id string) (ReceiptRef, error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || i == len(id)-1 {
		return ReceiptRef{}, ErrInvalidReceiptID.Wrapf("%q is not a receipt id; ids look like REVENUE-000123", id)
	}
	prefix, digits := id[:i], id[i+1:]
	authority := strings.ToLower(prefix)
	if strings.ToUpper(authority) != prefix || agency.ValidateAgencyID(authority) != nil {
		return ReceiptRef{}, ErrInvalidReceiptID.Wrapf("%q: %q is not an upper-case agency id", id, prefix)
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || seq == 0 {
		return ReceiptRef{}, ErrInvalidReceiptID.Wrapf("%q: %q is not a sequence number from 1", id, digits)
	}
	ref := ReceiptRef{Authority: authority, Seq: seq}
	if ref.ID() != id {
		return ReceiptRef{}, ErrInvalidReceiptID.Wrapf("%q is not in canonical form; write it as %q", id, ref.ID())
	}
	return ref, nil
}

// AmendmentID is the id of amendment n of a receipt, e.g. "REVENUE-000123/2".
func AmendmentID(receiptID string, n uint32) string { return fmt.Sprintf("%s/%d", receiptID, n) }

// TaxTypeKey is the state key of a tax type.
func TaxTypeKey(code string) []byte { return store.Key(prefixTaxType, []byte(code)) }

// TaxTypesPrefix is the prefix of the tax-type registry.
func TaxTypesPrefix() []byte { return prefixTaxType }

// AuthorisationKey is the state key of a collector's authorisation for a tax type.
func AuthorisationKey(collector []byte, taxType string) []byte {
	return store.Key(prefixAuth, collector, slash, []byte(taxType))
}

// CollectorKey is the state key of a collector's record.
func CollectorKey(collector []byte) []byte { return store.Key(prefixCollector, collector) }

func seqKey(authority string) []byte { return store.Key(prefixSeq, []byte(authority)) }

// ReceiptKey is the state key of a receipt.
func ReceiptKey(r ReceiptRef) []byte { return store.Key(prefixReceipt, r.suffix()) }

// StateKey is the state key of a receipt's derived state.
func StateKey(r ReceiptRef) []byte { return store.Key(prefixState, r.suffix()) }

// AmendmentKey is the state key of amendment n of a receipt.
func AmendmentKey(r ReceiptRef, n uint32) []byte {
	return binary.BigEndian.AppendUint32(store.Key(prefixAmendment, r.suffix(), slash), n)
}

// BankRefKey is the state key of the duplicate-payment guard.
func BankRefKey(collectorAgency string, bankRef []byte) []byte {
	return store.Key(prefixBankRef, []byte(collectorAgency), slash, bankRef)
}

// PayerTotalKey is the state key of a payer commitment's running total: one
// taxpayer's live receipts of a tax type in a period. The type and period
// are in the key so that a receipt filed under one period's commitment
// never counts towards another period's clearance.
func PayerTotalKey(taxType, period string, payer []byte) []byte {
	return store.Key(prefixPayerTotal, []byte(taxType), slash, []byte(period), slash, payer)
}

// TypeTotalKey is the state key of the total of a tax type in a period.
func TypeTotalKey(taxType, period string) []byte {
	return store.Key(prefixTypeTotal, []byte(taxType), slash, []byte(period))
}

// TypeTotalsPrefix is the prefix under which a tax type's totals per period live.
func TypeTotalsPrefix(taxType string) []byte {
	return store.Key(prefixTypeTotal, []byte(taxType), slash)
}

// CollectorTotalKey is the state key of one collector's total of a tax type in a period.
func CollectorTotalKey(collector []byte, taxType, period string) []byte {
	return store.Key(prefixCollTotal, collector, slash, []byte(taxType), slash, []byte(period))
}

// TypePeriodPrefix is the prefix of the index of a tax type's receipts in
// one period (by the receipt's current period, as its totals count it).
func TypePeriodPrefix(taxType, period string) []byte {
	return store.Key(prefixTypePeriod, []byte(taxType), slash, []byte(period), slash)
}

// TypePeriodIndexKey is the entry of receipt r in the index of its tax type
// and period. Paginated listings continue after such a key.
func TypePeriodIndexKey(taxType, period string, r ReceiptRef) []byte {
	return store.Key(TypePeriodPrefix(taxType, period), r.suffix())
}

// ReceiptKeyFromTypePeriodIndex maps an entry of a tax type and period's
// receipt index to the receipt it lists. Tax type codes and periods hold no
// '/', so the receipt's part starts after the second '/'; the sequence's
// bytes may hold '/' but come after it.
func ReceiptKeyFromTypePeriodIndex(indexKey []byte) []byte {
	rest := indexKey[len(prefixTypePeriod):]
	for n := 0; n < 2; n++ {
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			return nil
		}
		rest = rest[i+1:]
	}
	return store.Key(prefixReceipt, rest)
}
