package client

import "encoding/binary"

// Query paths and the state keys their answers must be proven at.
//
// The client never imports the node's packages, so it mirrors here the few
// facts it needs to tell that a node proved the RIGHT key: a proof of some
// other record is a valid proof, and only the key the request implies makes
// it an answer to the question asked. Keep these in step with the files
// named beside each; a mismatch makes every verified read of that record
// fail loudly ("proved key … but the request implies …"), never pass wrongly.

func be64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// taxReceiptSuffix is <authority>/<seq 8 bytes> (x/tax/keys.go ReceiptRef.suffix).
func taxReceiptSuffix(authority string, seq uint64) []byte {
	return cat([]byte(authority), []byte("/"), be64(seq))
}

// TaxReceiptKey is the state key of a receipt (x/tax/keys.go ReceiptKey).
func TaxReceiptKey(authority string, seq uint64) []byte {
	return cat([]byte("tax/r/"), taxReceiptSuffix(authority, seq))
}

// TaxReceiptStateKey is the state key of a receipt's derived state (x/tax/keys.go StateKey).
func TaxReceiptStateKey(authority string, seq uint64) []byte {
	return cat([]byte("tax/s/"), taxReceiptSuffix(authority, seq))
}

// TaxAmendmentKey is the state key of amendment n of a receipt (x/tax/keys.go AmendmentKey).
func TaxAmendmentKey(authority string, seq uint64, n uint32) []byte {
	return binary.BigEndian.AppendUint32(cat([]byte("tax/m/"), taxReceiptSuffix(authority, seq), []byte("/")), n)
}

// TaxTypeKey is the state key of a tax type (x/tax/keys.go TaxTypeKey).
func TaxTypeKey(code string) []byte { return cat([]byte("tax/t/"), []byte(code)) }

// TaxPayerTotalKey is the state key of a payer commitment's total for one
// tax type and period (x/tax/keys.go PayerTotalKey).
func TaxPayerTotalKey(taxType, period string, payer []byte) []byte {
	return cat([]byte("tax/p/"), []byte(taxType), []byte("/"), []byte(period), []byte("/"), payer)
}
