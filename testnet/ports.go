package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
)

// Test networks take their ports from [portsFrom, portsTo): below Linux's
// ephemeral range (32768-60999 by default), where the kernel picks the
// local port of every outgoing connection. A port free when a network was
// set up but inside that range can be taken by any client's connection
// before a node (a late joiner, a restarted node) binds it. The range also
// stays below CometBFT's default ports (26656, 26657) and the local
// network's default --base-port (27000).
const (
	portsFrom = 10000
	portsTo   = 26000
)

// FreeBasePort finds a base port for Options.BasePort with the n ports
// above it free on 127.0.0.1 (a network of v validators needs 10v), for
// tests that run several networks side by side.
func FreeBasePort(n int) (int, error) {
	if n <= 0 || n > portsTo-portsFrom {
		return 0, fmt.Errorf("cannot find %d free ports in a row between %d and %d", n, portsFrom, portsTo)
	}
	for try := 0; try < 50; try++ {
		base := portsFrom + 10*rand.IntN((portsTo-portsFrom-n)/10+1)
		ok := true
		for p := base; p < base+n && ok; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			l.Close()
		}
		if ok {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d free ports in a row on 127.0.0.1 after 50 tries", n)
}
