package app

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// hashCache evicts its oldest entries when the sizes of its entries pass
// maxBytes, replaces an entry in place, refuses one larger than the whole
// bound, and keeps its byte count right across drops.
func TestHashCacheEvictsByBytes(t *testing.T) {
	c := newHashCache(100, 10, func(v int) int { return v })
	h := func(i byte) [32]byte { return [32]byte{i} }
	held := func() []byte {
		var out []byte
		for i := byte(0); i < 10; i++ {
			if _, ok := c.get(h(i)); ok {
				out = append(out, i)
			}
		}
		return out
	}
	c.put(h(1), 4)
	c.put(h(2), 4)
	require.Equal(t, []byte{1, 2}, held())
	c.put(h(3), 4) // 12 > 10: the oldest goes
	require.Equal(t, []byte{2, 3}, held())
	require.Equal(t, 8, c.bytes)
	c.put(h(2), 6) // replaced in place: 10, nothing evicted
	require.Equal(t, []byte{2, 3}, held())
	require.Equal(t, 10, c.bytes)
	c.put(h(4), 11) // larger than the bound: not cached, nothing evicted
	require.Equal(t, []byte{2, 3}, held())
	c.drop([][32]byte{h(2)})
	require.Equal(t, 4, c.bytes)
	c.put(h(5), 6)
	require.Equal(t, []byte{3, 5}, held())
	require.Equal(t, 10, c.bytes)

	counted := newHashCache[int](2, 0, nil) // no byte bound: count only
	for i := byte(0); i < 5; i++ {
		counted.put(h(i), 1000)
	}
	require.Len(t, counted.m, 2)
}
