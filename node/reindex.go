package node

import (
	"fmt"

	dbm "github.com/cometbft/cometbft-db"
	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/state/txindex"
	"github.com/cometbft/cometbft/types"
)

// reindexDepth is how many of the latest blocks Start indexes again.
const reindexDepth = 5

// Start starts the node, then indexes its latest blocks' transactions and
// events again. CometBFT indexes a block only from the events it fires
// after applying it: a process that stops between applying a block and
// indexing it, or that applies its last block again in the start-up
// handshake (which fires no events), never indexes that block, and `/tx`
// on this node answers "not found" for its transactions for ever — a
// client waiting for inclusion through this node would wait in vain.
// Indexing again is idempotent.
func (n *Node) Start() error {
	if err := n.Node.Start(); err != nil {
		return err
	}
	n.Config().RPC.ListenAddress = n.rpcAddr
	if n.rpcAddr != "" {
		if err := n.serveRPC(n.rpcAddr); err != nil {
			return err
		}
	}
	if err := n.checkRemoteSigner(); err != nil {
		n.Logger.Error("checking the remote signer's key", "err", err)
	}
	if err := n.reindexLatest(reindexDepth); err != nil {
		n.Logger.Error("indexing the latest blocks again failed; /tx may miss their transactions", "err", err)
	}
	n.stopWatch = make(chan struct{})
	if n.peerSilentAfter > 0 || n.peerRedialEvery > 0 {
		go newPeerWatch(n.Switch(), n.Config().P2P.PersistentPeers, n.peerSilentAfter, n.peerRedialEvery, n.Logger.With("module", "peerwatch")).run(n.stopWatch)
	}
	if n.signer != nil {
		go n.signer.run(n.stopWatch)
	}
	if n.invariants != nil && n.invariants.every > 0 {
		go n.invariants.run(n.stopWatch)
	}
	if db := n.TxIndexDB(); db != nil {
		n.pruned = make(chan struct{})
		go func() {
			defer close(n.pruned)
			pruneTxIndexLoop(db, n.BlockStore().Base, n.Logger.With("module", "txindex"), n.stopWatch)
		}()
	}
	return nil
}

// TxIndexDB is the kv transaction index's database, or nil when the node
// indexes nothing (tx_index.indexer = "null").
func (n *Node) TxIndexDB() dbm.DB {
	if n.Config().TxIndex.Indexer != "kv" {
		return nil
	}
	n.dbs.mu.Lock()
	defer n.dbs.mu.Unlock()
	return n.dbs.txIndex
}

func (n *Node) reindexLatest(depth int64) error {
	env, err := n.ConfigureRPC()
	if err != nil {
		return err
	}
	if n.Config().TxIndex.Indexer == "null" || env.TxIndexer == nil {
		return nil
	}
	top := env.BlockStore.Height()
	from := max(env.BlockStore.Base(), top-depth+1, 1)
	for h := from; h <= top; h++ {
		block := env.BlockStore.LoadBlock(h)
		resp, err := env.StateStore.LoadFinalizeBlockResponse(h)
		if block == nil || err != nil {
			continue // not applied yet: the indexer service will see it
		}
		if len(resp.TxResults) != len(block.Txs) {
			return fmt.Errorf("block %d has %d transactions but %d results", h, len(block.Txs), len(resp.TxResults))
		}
		if len(block.Txs) > 0 {
			batch := txindex.NewBatch(int64(len(block.Txs)))
			for i, r := range resp.TxResults {
				if err := batch.Add(&abci.TxResult{Height: h, Index: uint32(i), Tx: block.Txs[i], Result: *r}); err != nil {
					return err
				}
			}
			if err := env.TxIndexer.AddBatch(batch); err != nil {
				return fmt.Errorf("indexing the transactions of block %d: %w", h, err)
			}
		}
		if env.BlockIndexer != nil {
			if err := env.BlockIndexer.Index(types.EventDataNewBlockEvents{Height: h, Events: resp.Events, NumTxs: int64(len(block.Txs))}); err != nil {
				return fmt.Errorf("indexing the events of block %d: %w", h, err)
			}
		}
	}
	return nil
}
