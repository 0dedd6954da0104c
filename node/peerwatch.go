package node

import (
	"strings"
	"sync"
	"time"

	"github.com/cometbft/cometbft/consensus"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"
	cmttypes "github.com/cometbft/cometbft/types"
)

// Fast recovery after a silent partition.
//
// A network cut that drops packets without resetting connections (a
// firewall rule, a dead link) leaves CometBFT's connections open: its
// keep-alive pings every 60 s and waits 45 s for the answer, and the
// kernel backs its retransmissions off exponentially, so after a 30 s cut
// the old connection carried nothing again for a further 20-25 s
// (measured: a validator cut off for 30 s was back at the others' height
// only 31-46 s after the cut healed). Neither the ping interval nor the
// socket options are settings CometBFT exposes, so the node watches its
// peers itself:
//
//   - a peer taking part in consensus that this node kept sending to but
//     heard nothing from for peer_silent_after (app.toml, 10 s) is dropped
//     (consensus traffic flows every round while blocks are made, so only
//     a dead path is that quiet; an idle network, where this node sends
//     nothing either, is left alone). A peer that has not yet told this
//     node its consensus height is not in consensus: a node joining by
//     state sync or catching up by block sync hears every round's traffic
//     and says nothing on it until it switches to consensus, and it talks
//     only to the peers it fetches from. Dropping it every peer_silent_after
//     made a joining node lose its other peers every ~10 s, and with them
//     (each listing only its newest snapshots on reconnecting) the senders
//     of the snapshot it had chosen;
//   - every persistent peer that is not connected is dialled again every
//     peer_redial_every (1 s), besides CometBFT's own reconnection (which
//     waits 5-8 s between attempts), so a healed link is used within about
//     a second.

// peerWatch runs the two rules above until stop is closed.
type peerWatch struct {
	sw         p2p.Switcher
	persistent []*p2p.NetAddress
	logger     log.Logger
	// silentAfter and redialEvery are the two rules' settings; 0 turns a
	// rule off.
	silentAfter, redialEvery time.Duration

	mu      sync.Mutex
	dialing map[p2p.ID]bool
}

// newPeerWatch watches sw's peers; persistent is config.toml's
// persistent_peers (addresses that do not parse are CometBFT's to report).
func newPeerWatch(sw p2p.Switcher, persistent string, silentAfter, redialEvery time.Duration, logger log.Logger) *peerWatch {
	w := &peerWatch{sw: sw, logger: logger, silentAfter: silentAfter, redialEvery: redialEvery, dialing: map[p2p.ID]bool{}}
	for _, s := range strings.Split(persistent, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if addr, err := p2p.NewNetAddressString(s); err == nil {
			w.persistent = append(w.persistent, addr)
		}
	}
	return w
}

// run checks the peers every redialEvery (every second when only the
// silence rule is on) until stop is closed.
func (w *peerWatch) run(stop <-chan struct{}) {
	tick := w.redialEvery
	if tick <= 0 {
		tick = time.Second
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			if w.silentAfter > 0 {
				w.dropSilent()
			}
			if w.redialEvery > 0 {
				w.redial()
			}
		}
	}
}

// dropSilent stops each peer in consensus (inConsensus) this node has sent
// to since it last heard from it, longer ago than silentAfter.
func (w *peerWatch) dropSilent() {
	for _, p := range w.sw.Peers().Copy() {
		if !inConsensus(p) {
			continue
		}
		st := p.Status()
		if heard := st.RecvMonitor.Idle; heard >= w.silentAfter && st.SendMonitor.Idle < heard {
			w.logger.Info("dropping a silent peer to dial it again", "peer", p.ID(), "silent", heard.Round(time.Second))
			w.sw.StopPeerForError(p, "sent nothing for "+heard.Round(time.Second).String()+" while we kept sending")
		}
	}
}

// redial dials each persistent peer that is neither connected nor being
// dialled, one dial per peer at a time.
func (w *peerWatch) redial() {
	for _, addr := range w.persistent {
		if w.sw.IsDialingOrExistingAddress(addr) || w.sw.Peers().Has(addr.ID) {
			continue
		}
		w.mu.Lock()
		busy := w.dialing[addr.ID]
		w.dialing[addr.ID] = true
		w.mu.Unlock()
		if busy {
			continue
		}
		go func(addr *p2p.NetAddress) {
			defer func() {
				w.mu.Lock()
				delete(w.dialing, addr.ID)
				w.mu.Unlock()
			}()
			_ = w.sw.DialPeerWithAddress(addr) // failures are retried at the next tick
		}(addr)
	}
}

// inConsensus reports whether p has told this node's consensus reactor its
// height (a NewRoundStep message): a peer does on connecting once it is in
// consensus, and a syncing one when it switches to consensus.
func inConsensus(p p2p.Peer) bool {
	ps, ok := p.Get(cmttypes.PeerStateKey).(*consensus.PeerState)
	return ok && ps.GetHeight() > 0
}
