package module

import (
	"encoding/binary"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
)

// ErrSequenceExhausted refuses what would need a number after the last one
// a sequence can hand out (2^64-1). Counting on would wrap round to 0 and
// then 1, and the next record would overwrite the one numbered 1; refusing
// leaves state as it was. It is in the tx codespace because every module's
// counters share this one helper; tx/80-84 are kept for it and Params.
var ErrSequenceExhausted = Register("tx", 80, "sequence exhausted")

// Next is the number after n in a sequence that says what it numbers
// (what, e.g. "movement"), or ErrSequenceExhausted when n is the last
// number its type holds. Counters kept inside a record (an item's history
// entries) or in a key (a recovery's steps) use it; a counter kept under
// its own key uses NextSeq.
func Next[N uint32 | uint64](n N, what string) (N, error) {
	if n == ^N(0) {
		return 0, ErrSequenceExhausted.Wrapf("every %s number up to %d has been used; nothing more can be numbered", what, n)
	}
	return n + 1, nil
}

// NextSeq is the one counter kept under its own key: it hands out the
// number after the one stored at key (absent is 0, so the first number is
// 1), stores it and returns it. The stored value is the number as 8 bytes
// big-endian, exactly what each module's own counter wrote before this
// helper, so existing state reads on unchanged. At the last number it
// refuses with ErrSequenceExhausted and writes nothing. A stored value that
// is not 8 bytes is a broken invariant (ErrInternal): counting on from 0
// would overwrite the record numbered 1.
func NextSeq(kv store.KV, key []byte, what string) (uint64, error) {
	var n uint64
	if b := kv.Get(key); b != nil {
		if len(b) != 8 {
			return 0, ErrInternal.Wrapf("the %s counter at %q holds %d bytes, not 8", what, key, len(b))
		}
		n = binary.BigEndian.Uint64(b)
	}
	next, err := Next(n, what)
	if err != nil {
		return 0, err
	}
	kv.Set(key, api.Uint64(next))
	return next, nil
}
