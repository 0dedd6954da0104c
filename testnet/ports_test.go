package testnet

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Test networks' ports lie below the kernel's ephemeral range, so an
// outgoing connection can never take one between setup and bind.
func TestFreeBasePortIsBelowTheEphemeralRange(t *testing.T) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			low, _ = strconv.Atoi(f[0])
		}
	}
	for range 20 {
		base, err := FreeBasePort(100)
		require.NoError(t, err)
		require.GreaterOrEqual(t, base, portsFrom)
		require.Less(t, base+100, low, "ports up to %d reach the ephemeral range from %d", base+100, low)
		require.LessOrEqual(t, base+100, portsTo)
	}
	_, err := FreeBasePort(0)
	require.Error(t, err)
}

// A single test node's ports lie there too, and FreePort never hands out
// the same port twice (a node takes two: drawn at random, they would
// sometimes coincide).
func TestFreePortIsBelowTheEphemeralRangeAndNeverRepeats(t *testing.T) {
	seen := map[int]bool{}
	for range 2000 {
		p, err := FreePort()
		require.NoError(t, err)
		require.GreaterOrEqual(t, p, portsFrom)
		require.Less(t, p, portsTo)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}
