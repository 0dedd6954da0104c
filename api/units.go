package api

// What the resource meter charges a transaction for itself, before any of
// its messages runs, and for a byte written to state (the whole price list
// is store/meter.go's, which uses these numbers). They are part of the
// client contract because a client that declares its transaction's unit
// limit (TxBody.max_units) must count them: the limit covers the
// transaction's base and bytes as well as its messages' work.
const (
	// TxBaseUnits is charged once per transaction.
	TxBaseUnits uint64 = 1_000
	// TxByteUnits is charged per byte of the transaction as sent.
	TxByteUnits uint64 = 10
	// WriteByteUnits is charged per byte of key or value written to state.
	WriteByteUnits uint64 = 10
)

// TxOwnUnits is what a transaction of n bytes (as sent) is charged before
// its messages run: the least any TxBody.max_units may declare.
func TxOwnUnits(n int) uint64 { return TxBaseUnits + TxByteUnits*uint64(n) }
