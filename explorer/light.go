package explorer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/tallyledger/tally/client"
)

// The explorer checks every record's Merkle proof against an app hash
// taken from a header the light client verified from a trust root
// (Config.Genesis, or Config.TrustHeight and TrustHash), cross-checked with
// at least one witness. It fails closed: when the light client cannot
// verify the header — no trust root, fewer than two nodes answering, a
// header that does not verify — the page still shows what the node says,
// but badged "Not verified" with the reason, never "Verified". A node's
// own validator set is the node's word, so checking a commit against it
// proves nothing about a node that lies.
//
// A witness divergence (a witness holding a different, validly signed
// block than the primary) is an attack or a fork: the explorer raises an
// alarm on every page and stops verifying until it is restarted by an
// operator who has looked into it.

const (
	lightMethod = "Merkle proof (ICS23) checked against the app hash in header H+1, verified by the light client from its trust root (%s) and cross-checked with witnesses %s"
	// lightRetry is how long after a failure the light client is rebuilt.
	lightRetry = 15 * time.Second
)

// checkedRoot is an app hash and how the header holding it was checked.
type checkedRoot struct {
	root   []byte
	method string
	// unverified says why the light client could not verify the header
	// holding root (root is then the node's word); empty when it did.
	unverified string
}

func (s *Server) hasTrustRoot() bool {
	return s.cfg.Genesis != nil || (s.cfg.TrustHeight > 0 && len(s.cfg.TrustHash) > 0)
}

// lightHeader returns the header at height verified by the light client,
// or why it could not be verified.
func (s *Server) lightHeader(ctx context.Context, height int64) (*types.LightBlock, *client.LightClient, error) {
	lc, err := s.lightClient(ctx)
	if err != nil {
		return nil, nil, err
	}
	lb, err := lc.Header(ctx, height)
	if err != nil {
		s.noteDivergence(err)
		s.dropLight(lc, err)
		return nil, nil, err
	}
	return lb, lc, nil
}

// lightHeaderRoot returns the app hash of state at height from the light
// client's verified header height+1, or why it could not.
func (s *Server) lightHeaderRoot(ctx context.Context, height int64) (*checkedRoot, error) {
	lb, lc, err := s.lightHeader(ctx, height+1)
	if err != nil {
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
	if a := s.alarm(); a != "" {
		return nil, fmt.Errorf("verification stopped after a witness divergence; restart the explorer once the fork is understood")
	}
	if !s.hasTrustRoot() {
		return nil, fmt.Errorf("no trust root given: start the explorer with the chain's genesis file or a trusted header's height and hash")
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
		s.noteDivergence(err)
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

// noteDivergence raises the alarm when err is the light client's refusal
// for a witness divergence. The alarm stays up until the explorer is
// restarted: a fork is not something a later good answer explains away.
func (s *Server) noteDivergence(err error) {
	var r *client.Refusal
	if !errors.As(err, &r) || r.Check != client.CheckDivergence {
		return
	}
	s.amu.Lock()
	defer s.amu.Unlock()
	if s.divergence == "" {
		s.divergence = r.Reason
	}
}

// alarm is the witness divergence seen, or empty.
func (s *Server) alarm() string {
	s.amu.Lock()
	defer s.amu.Unlock()
	return s.divergence
}
