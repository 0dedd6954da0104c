package app

// EstimateUnits is what a proposer counts the transaction raw as using
// under the app's current params (estimateUnits), or 0 when it does not
// decode. For the external tests: the harness (runBlock) checks that no
// transaction uses more.
func (a *App) EstimateUnits(raw []byte) uint64 {
	d, err := a.decode(a.params, raw)
	if err != nil {
		return 0
	}
	return estimateUnits(a.params, d)
}

// DecodeCacheUse is how many decoded transactions the node holds and their
// size as the cache counts it (decodedBytes).
func (a *App) DecodeCacheUse() (entries, bytes int) {
	a.decoded.mu.Lock()
	defer a.decoded.mu.Unlock()
	return len(a.decoded.m), a.decoded.bytes
}
