package app

// UnitLimit is the transaction raw's unit limit under the app's current
// params (unitLimit: what a proposer counts it as and the most it may use),
// and whether its signer declared it; 0 when it does not decode. For the
// external tests: the harness (runBlock) checks every block against it.
func (a *App) UnitLimit(raw []byte) (limit uint64, declared bool) {
	d, err := a.decode(a.params, raw)
	if err != nil {
		return 0, false
	}
	return unitLimit(a.params, d), d.body.MaxUnits != 0
}

// MaxTxUnits is the app's current max_tx_units.
func (a *App) MaxTxUnits() uint64 { return a.params.MaxTxUnits }

// DecodeCacheUse is how many decoded transactions the node holds and their
// size as the cache counts it (decodedBytes).
func (a *App) DecodeCacheUse() (entries, bytes int) {
	a.decoded.mu.Lock()
	defer a.decoded.mu.Unlock()
	return len(a.decoded.m), a.decoded.bytes
}
