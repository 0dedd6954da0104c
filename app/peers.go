package app

import (
	"encoding/hex"
	"strings"
	"sync/atomic"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Peer admission. With CometBFT's filter_peers on (config.toml), a node
// asks the app about every peer before connecting: /p2p/filter/addr/<ip:port>
// when the connection opens and /p2p/filter/id/<node id> after the
// handshake proves the peer holds that node key. Tally admits a node id
// when it is registered for a validator in the current set (the
// "<id>@host:port" node_address of AddValidator, or of a genesis
// operator) or when the operator lists it in app.toml's allowed_peers.
// Addresses are all admitted: a node key, not an IP, is what a validator
// registered, and IPs change. The answer is node-local policy, not
// consensus: it reads the last committed (or genesis) state.

// PeerCodespace is the error namespace of peer admission answers.
const PeerCodespace = "p2p"

// ErrPeerNotAdmitted answers a filter query for a node id that is neither
// a validator's nor on the operator's list.
var ErrPeerNotAdmitted = module.Register(PeerCodespace, 2, "peer not admitted")

// Filter query paths CometBFT asks when filter_peers is on.
const (
	pathFilterID   = "/p2p/filter/id/"
	pathFilterAddr = "/p2p/filter/addr/"
)

// peerSet is the node ids admitted: validators' and the operator's.
type peerSet struct {
	validators map[string]bool
}

// peers holds the validators' node ids; replaced whole at InitChain and
// Commit, read by filter queries from CometBFT's p2p goroutines.
type peers struct {
	set      atomic.Pointer[peerSet]
	operator map[string]bool // fixed at start from app.toml
}

func newPeers(allowed []string) *peers {
	p := &peers{operator: map[string]bool{}}
	for _, id := range allowed {
		if id = normalPeerID(id); id != "" {
			p.operator[id] = true
		}
	}
	p.set.Store(&peerSet{validators: map[string]bool{}})
	return p
}

// normalPeerID returns a node id in CometBFT's form (40 lowercase hex
// digits, the "id" of "id@host:port"), or "" when s is not one.
func normalPeerID(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if id, _, ok := strings.Cut(s, "@"); ok {
		s = id
	}
	if b, err := hex.DecodeString(s); err != nil || len(b) != 20 {
		return ""
	}
	return s
}

// refresh reads the validators' registered node ids from state.
func (a *App) refreshPeers(kv store.KV) error {
	vals, err := a.gov.Validators(kv)
	if err != nil {
		return err
	}
	set := &peerSet{validators: map[string]bool{}}
	for _, v := range vals {
		if id := normalPeerID(v.NodeAddress); id != "" {
			set.validators[id] = true
		}
	}
	a.peers.set.Store(set)
	return nil
}

// filterPeer answers CometBFT's peer filter queries; ok is false for a
// path that is not one.
func (a *App) filterPeer(path string) (*abci.ResponseQuery, bool) {
	switch {
	case strings.HasPrefix(path, pathFilterAddr):
		return &abci.ResponseQuery{Code: abci.CodeTypeOK, Log: "addresses are not filtered; node ids are"}, true
	case strings.HasPrefix(path, pathFilterID):
		raw := strings.TrimPrefix(path, pathFilterID)
		id := normalPeerID(raw)
		switch {
		case id != "" && a.peers.operator[id]:
			return &abci.ResponseQuery{Code: abci.CodeTypeOK, Log: "listed in allowed_peers"}, true
		case id != "" && a.peers.set.Load().validators[id]:
			return &abci.ResponseQuery{Code: abci.CodeTypeOK, Log: "registered for a validator"}, true
		}
		err := ErrPeerNotAdmitted.Wrapf("node %s is registered for no validator in the current set and not listed in this node's allowed_peers (app.toml)", api.Quote(raw))
		space, code, log := module.CodeOf(err)
		return &abci.ResponseQuery{Code: code, Codespace: space, Log: log}, true
	}
	return nil, false
}
