package app

import "crypto/sha256"

// SignatureVerdictHeld reports whether a holds a valid-signature verdict
// for the transaction raw (by any key): what PreverifySignatures leaves for
// CheckTx.
func SignatureVerdictHeld(a *App, raw []byte) bool {
	_, ok := a.sigs.valid.get(sha256.Sum256(raw))
	return ok
}
