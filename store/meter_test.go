package store

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMeteredChargesEveryAccess(t *testing.T) {
	m := NewMeter(1 << 40)
	kv := NewMetered(NewMemory(), m)
	kv.Set([]byte("ab"), []byte("xyz"))
	require.Equal(t, Cost(WriteEntry)+5*Cost(WriteByte), m.Used())
	before := m.Used()
	require.Equal(t, []byte("xyz"), kv.Get([]byte("ab")))
	require.Equal(t, Cost(ReadEntry)+5*Cost(ReadByte), m.Used()-before)
	before = m.Used()
	kv.Iterate(nil, nil, true, func(_, _ []byte) bool { return false })
	require.Equal(t, Cost(IterStep)+5*Cost(ReadByte), m.Used()-before)
}

func TestHardMeterStopsAnIterationAndLeavesTheStoreWritable(t *testing.T) {
	st := NewMemory()
	for i := range 100 {
		st.Set([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
	}
	m := NewMeter(10 * Cost(IterStep))
	visited := 0
	over := func() (r any) {
		defer func() { r = recover() }()
		NewMetered(st, m).Iterate(nil, nil, true, func(_, _ []byte) bool { visited++; return false })
		return nil
	}()
	require.IsType(t, OutOfUnits{}, over)
	require.Less(t, visited, 10)
	st.Set([]byte("after"), []byte("x")) // the store's iteration was closed before the panic
}

func TestSoftMeterCountsPastItsLimit(t *testing.T) {
	m := NewBudget(100)
	m.Charge(Payment, 1)
	require.True(t, m.Exhausted())
	require.Equal(t, Cost(Payment), m.Used())
	m.Charge(WriteByte, ^uint64(0)) // saturates rather than wrapping
	require.Equal(t, ^uint64(0), m.Used())
	var none *Meter
	none.Charge(Payment, 5)
	require.False(t, none.Exhausted())
}
