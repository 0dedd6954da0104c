package app

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"

	"github.com/tallyledger/tally/x/agency"
)

// sigCache remembers signature verdicts so a node checks each signature once:
// CheckTx or ProcessProposal verifies, FinalizeBlock reuses. A verdict is
// keyed by the hash of the whole transaction (which includes the signature)
// and records the public key it was checked against, because a key rotation
// earlier in a block changes which key must verify. The verdict depends on
// no other state, so reusing it cannot make nodes disagree.
type sigCache struct {
	valid *hashCache[[]byte] // tx hash → public key the signature verified with
	// keys holds the signers' public keys expanded (agency.ExpandedKey),
	// keyed by the key itself: every node checks every transaction once,
	// most of them from signers it has seen before, and verifying with an
	// expanded key skips a quarter of the work. A key's expansion depends
	// on nothing but its bytes, so verdicts are VerifySignature's.
	keys *hashCache[*agency.ExpandedKey]
}

// expandedKeys is how many signers' expanded keys a node keeps (~1.5 KiB
// each with the cache's map and order slots, ~3 MiB in all; README
// "Bounded memory"): the oldest
// expanded is dropped first, and a signer seen again is expanded again
// (about a fifth of one verification).
const expandedKeys = 2048

func newSigCache(limit int) *sigCache {
	return &sigCache{valid: newHashCache[[]byte](limit, 0, nil), keys: newHashCache[*agency.ExpandedKey](expandedKeys, 0, nil)}
}

// verify reports whether d's signature verifies with pub, using and filling the cache.
func (c *sigCache) verify(d *decodedTx, pub []byte) bool {
	if c.known(d.hash, pub) {
		return true
	}
	if !c.check(pub, d.tx.BodyBytes, d.tx.Signature) {
		return false
	}
	c.add(d.hash, pub)
	return true
}

// check is agency.VerifySignature(pub, msg, sig) with pub's expanded key,
// expanded now and kept if it was not held.
func (c *sigCache) check(pub, msg, sig []byte) bool {
	k, ok := c.key(pub)
	if !ok {
		return false // not a point: no signature verifies with it
	}
	return k.Verify(msg, sig)
}

// key is pub's expanded key, expanded now and kept if it was not held;
// false if pub is not a key.
func (c *sigCache) key(pub []byte) (*agency.ExpandedKey, bool) {
	if len(pub) != agency.PubKeySize {
		return nil, false
	}
	id := [32]byte(pub)
	k, ok := c.keys.get(id)
	if !ok {
		if k, ok = agency.ExpandKey(pub); !ok {
			return nil, false
		}
		c.keys.put(id, k)
	}
	return k, true
}

func (c *sigCache) known(hash [32]byte, pub []byte) bool {
	k, ok := c.valid.get(hash)
	return ok && bytes.Equal(k, pub)
}

func (c *sigCache) add(hash [32]byte, pub []byte) { c.valid.put(hash, pub) }

// forget drops verdicts of transactions that are committed; they will not
// be checked again except as replays, which fail on their nonce first.
func (c *sigCache) forget(hashes [][32]byte) { c.valid.drop(hashes) }

// sigJob is one signature to check in a batch; if it verifies, a
// transaction's verdict is remembered in sigs under hash, or valid is
// called (from any goroutine; see verified).
type sigJob struct {
	pub, msg, sig []byte
	// key, when set, is pub expanded (sigCache.key): verified with it,
	// one by one or in a batch, the key is not decompressed again.
	key *agency.ExpandedKey
	// sigs and hash are a transaction's (txJob), without a closure a
	// transaction.
	sigs  *sigCache
	hash  [32]byte
	valid func()
}

// verified records that j's signature verified.
func (j *sigJob) verified() {
	if j.sigs != nil {
		j.sigs.add(j.hash, j.pub)
		return
	}
	j.valid()
}

// txJob is the job of checking d's signature with pub (by the signer's
// expanded key), remembered in c.
func (c *sigCache) txJob(d *decodedTx, pub []byte) sigJob {
	k, _ := c.key(pub)
	return sigJob{pub: pub, msg: d.tx.BodyBytes, sig: d.tx.Signature, key: k, sigs: c, hash: d.hash}
}

// minBatch is the batch size below which verifying one by one is as fast.
const minBatch = 8

// verifyBatch checks many signatures at once, split across the CPUs, with
// curve25519-voi's batch verifier, under the strict rules of
// agency.VerifySignature (about 19 µs a signature against 52 µs
// alone on our machines). Each valid one has its valid called. Verdicts are
// identical to one-by-one verification; only the speed differs.
func verifyBatch(jobs []sigJob) {
	if len(jobs) == 0 {
		return
	}
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(jobs) + workers - 1) / workers
	if chunk < minBatch {
		chunk = minBatch
	}
	var wg sync.WaitGroup
	for start := 0; start < len(jobs); start += chunk {
		part := jobs[start:min(start+chunk, len(jobs))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			verifyChunk(part)
		}()
	}
	wg.Wait()
}

func verifyChunk(jobs []sigJob) {
	if len(jobs) < minBatch {
		for _, j := range jobs {
			ok := false
			if j.key != nil {
				ok = j.key.Verify(j.msg, j.sig)
			} else {
				ok = agency.VerifySignature(j.pub, j.msg, j.sig)
			}
			if ok {
				j.verified()
			}
		}
		return
	}
	bv := agency.NewBatchVerifier()
	for _, j := range jobs {
		if j.key != nil {
			bv.AddExpanded(j.key, j.msg, j.sig)
		} else {
			bv.Add(j.pub, j.msg, j.sig)
		}
	}
	// The batch's random coefficients come from the OS; verdicts do not
	// depend on them (agency.BatchVerifier), so nodes cannot disagree.
	for i, ok := range bv.Verify(rand.Reader) {
		if ok {
			jobs[i].verified()
		}
	}
}

// proofCache remembers proofs of possession (add_member's key_proof) this
// node found valid, keyed by a hash of key, statement and signature, so
// that a block's proofs are verified in one batch before it runs and the
// handler finds them known (agency.Keeper.Verified). Entries age out; a
// miss only means the handler verifies the proof itself.
type proofCache struct{ valid *hashCache[struct{}] }

func newProofCache(limit int) *proofCache {
	return &proofCache{valid: newHashCache[struct{}](limit, 0, nil)}
}

func proofKey(pub, msg, sig []byte) [32]byte {
	h := sha256.New()
	for _, part := range [][]byte{pub, sig, msg} {
		h.Write(binary.AppendUvarint(nil, uint64(len(part))))
		h.Write(part)
	}
	return [32]byte(h.Sum(nil))
}

// known is agency.Keeper.Verified.
func (c *proofCache) known(pub, msg, sig []byte) bool {
	_, ok := c.valid.get(proofKey(pub, msg, sig))
	return ok
}

// job is the job of checking one proof, remembered in c.
func (c *proofCache) job(pub, msg, sig []byte) (sigJob, bool) {
	key := proofKey(pub, msg, sig)
	if _, ok := c.valid.get(key); ok {
		return sigJob{}, false
	}
	return sigJob{pub: pub, msg: msg, sig: sig, valid: func() { c.valid.put(key, struct{}{}) }}, true
}

// PreverifySignatures verifies in one batch the signatures of those of txs
// whose verdict this node does not hold yet, against their signers' keys in
// the last committed state, and remembers the valid ones, so that CheckTx
// of each finds its verdict known instead of verifying it alone. The node
// calls it with transactions that peers gossiped and that queued up while
// CheckTx was busy (node/gossipbatch.go): curve25519-voi's batch verifier
// costs about 19 µs a signature against 35–52 µs alone.
//
// It decides nothing: a transaction it skips (undecodable, unknown signer,
// a batch too small to gain, a full mempool that will refuse it anyway) or
// finds invalid is checked by CheckTx exactly as before, and a verdict from
// the batch equals VerifySignature's (agency.BatchVerifier). A signer whose
// key rotates in between is safe too: a verdict is kept with the key it
// was checked against (sigCache.known).
func (a *App) PreverifySignatures(txs [][]byte) {
	c := a.committed.Load()
	if c == nil || len(txs) < minBatch || a.MempoolFull() {
		return
	}
	view := &stateAt{s: a.store, height: c.version, cached: true}
	seen := make(map[[32]byte]bool, len(txs))
	jobs := make([]sigJob, 0, len(txs))
	for _, raw := range txs {
		d, err := a.decodeCached(c.params, raw)
		if err != nil || seen[d.hash] {
			continue
		}
		seen[d.hash] = true
		acc, err := a.sharedAccount(view, d.body.Signer)
		if err != nil || a.sigs.known(d.hash, acc.PubKey) {
			continue
		}
		jobs = append(jobs, a.sigs.txJob(d, acc.PubKey))
	}
	if len(jobs) >= minBatch {
		// One batch, not verifyBatch's one per CPU: this runs beside
		// CheckTx, not on the consensus path, and a larger batch costs
		// less a signature.
		verifyChunk(jobs)
	}
}
