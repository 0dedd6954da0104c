package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
)

// FreeBasePort finds a base port for Options.BasePort with the n ports
// above it free on 127.0.0.1 (a network of v validators needs 10v), for
// tests that run several networks side by side.
func FreeBasePort(n int) (int, error) {
	for try := 0; try < 50; try++ {
		base := 30000 + 10*rand.IntN(2500)
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
