package explorer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tallyledger/tally/client"
)

// The explorer checks every record's Merkle proof against an app hash. It
// takes that app hash from a header verified by the light client when it
// has a trust root (Config.Genesis, or Config.TrustHeight and TrustHash)
// and at least two nodes (a primary and a witness). Otherwise — or while
// the light client cannot answer, say because the demonstrator has switched
// nodes off — it checks the header's commit against the validator set the
// node reports, and every badge says which of the two it did.

const (
	lightMethod = "Merkle proof (ICS23) checked against the app hash in header H+1, verified by the light client from its trust root (%s) and cross-checked with witnesses %s"
	// lightRetry is how long after a failure the light client is rebuilt.
	lightRetry = 15 * time.Second
)

// checkedRoot is an app hash and how the header holding it was checked.
type checkedRoot struct {
	root   []byte
	method string
}

func (s *Server) hasTrustRoot() bool {
	return s.cfg.Genesis != nil || (s.cfg.TrustHeight > 0 && len(s.cfg.TrustHash) > 0)
}

// lightHeaderRoot returns the app hash of state at height from the light
// client's verified header height+1, or why it could not.
func (s *Server) lightHeaderRoot(ctx context.Context, height int64) (*checkedRoot, error) {
	lc, err := s.lightClient(ctx)
	if err != nil {
		return nil, err
	}
	lb, err := lc.Header(ctx, height+1)
	if err != nil {
		s.dropLight(lc, err)
		return nil, err
	}
	root := "genesis"
	if s.cfg.Genesis == nil {
		root = fmt.Sprintf("header %d %X", s.cfg.TrustHeight, s.cfg.TrustHash)
	}
	return &checkedRoot{root: lb.AppHash, method: fmt.Sprintf(lightMethod, root, strings.Join(lc.Witnesses(), ", "))}, nil
}

// lightClient builds the light client on first use (and again after a
// failure, at most every lightRetry), with the first node that answers as
// primary and the other answering nodes as witnesses.
func (s *Server) lightClient(ctx context.Context) (*client.LightClient, error) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.lc != nil {
		return s.lc, nil
	}
	if !s.hasTrustRoot() {
		return nil, fmt.Errorf("no trust root given (genesis or a trusted header)")
	}
	if time.Since(s.lightFailed) < lightRetry {
		return nil, s.lightErr
	}
	var up []string
	for i, c := range s.clients {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		_, _, err := c.Status(sctx)
		cancel()
		if err == nil {
			up = append(up, s.cfg.Nodes[i].RPC)
		}
	}
	fail := func(err error) (*client.LightClient, error) {
		s.lightFailed, s.lightErr = time.Now(), err
		return nil, err
	}
	if len(up) < 2 {
		return fail(fmt.Errorf("the light client needs a primary and a witness; %d node(s) answer", len(up)))
	}
	lctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	lc, err := client.NewLightClient(lctx, client.LightOptions{ChainID: s.cfg.ChainID, Primary: up[0], Witnesses: up[1:],
		Genesis: s.cfg.Genesis, TrustHeight: s.cfg.TrustHeight, TrustHash: s.cfg.TrustHash, MaxAge: -1})
	if err != nil {
		return fail(err)
	}
	s.lc = lc
	return lc, nil
}

// dropLight forgets a light client that failed, so the next read after
// lightRetry builds a new one from the nodes then answering.
func (s *Server) dropLight(lc *client.LightClient, err error) {
	s.lmu.Lock()
	defer s.lmu.Unlock()
	if s.lc == lc {
		s.lc = nil
		s.lightFailed, s.lightErr = time.Now(), err
		go lc.Close()
	}
}
