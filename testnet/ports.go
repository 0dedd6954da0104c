package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
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

// FreePort finds one port free on 127.0.0.1 in the same range, for a
// test's single node, never one it has handed out before in this process
// (a node needs two: picked at random, they would sometimes be the same).
// A port the kernel hands out for ":0" is in the ephemeral range, where an
// outgoing connection of another test can take it before the node binds
// it ("address already in use": CI saw a node test fail so while the
// network tests ran beside it).
func FreePort() (int, error) {
	handedOut.Lock()
	defer handedOut.Unlock()
	for try := 0; try < 100; try++ {
		p := portsFrom + rand.IntN(portsTo-portsFrom)
		if handedOut.ports[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		handedOut.ports[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("no free port on 127.0.0.1 between %d and %d after 100 tries", portsFrom, portsTo)
}

// handedOut is every port FreePort has returned.
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}
