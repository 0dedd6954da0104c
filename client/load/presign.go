package load

import (
	"context"
	mrand "math/rand/v2"
	"runtime"
	"sync"
	"time"

	"github.com/tallyledger/tally/client"
)

// Signing ahead. Signing a transaction (ed25519, and for add_member the new
// member's key proof too) was a third of `tallyd load`'s CPU at 2,400 tx/s
// offered, taken from the cores the nodes run on while they were measured.
// So before the load starts the run builds its Rate × Duration transactions
// in the order they will fall due, each of a mix entry picked by weight as
// when sent, and signs every one whose messages do not depend on what the
// chain has committed; a custody offer or acceptance (Mix.dependent) keeps
// its slot and is built and signed when it falls due, from the items seen
// committed by then, as before. Presigned transactions are the ones the
// load would have signed when due (same messages, a random nonce each) but
// for their timeout height, which cannot count from the height when sent:
// the one due at time t into the load gets the height before the load plus
// TimeoutBlocks plus t/presignBlockTime (presignTimeout). It is sent as
// signed while that is from TimeoutBlocks/2 to TimeoutBlocks above the
// chain's height, as one signed when due would be; otherwise (blocks much
// faster or slower than presignBlockTime, or a run longer than
// TimeoutBlocks/2 blocks) it is built and signed when due instead
// (Report.Presigned says how many were sent as signed ahead).
//
// The timeout advances with the due time because the chain keeps each used
// nonce under its timeout height (app/replay.go, tx/r/<timeout><signer>
// <nonce>): with one timeout for a whole run, every block inserted its
// nonces among all those of the blocks before, and the nodes spent a fifth
// more CPU per committed transaction (1.82–1.90 ms in five runs at 2,400
// tx/s offered, against 1.53–1.67 ms signed when due); with a timeout
// height per presignBlockTime, 1.63–1.74 ms (four runs) against 1.61 and
// 1.64 signed when due, alternated.
//
// Memory: a presigned slot holds its signed transaction (about 230 bytes
// for the full mix), a Job without its messages (they are dropped once
// signed: LastCommitted decodes the last one committed from its
// transaction), its closure for a registration and the slot itself: 380
// bytes of heap a presigned slot, 316 on average over the full mix's slots
// (measured over 200,000), so 6,400 tx/s for 60 s (384,000 slots) holds
// about 120 MB until sent.

// presignBlockTime is the block interval the presigned timeouts assume,
// longer than a localnet's blocks as `tallyd load` saturates it (1.3 s at
// 1,200 tx/s offered, 1.7–1.9 s at 2,400, 2.3 s at 4,800, 2.7 s at 6,400),
// so that the timeout height of one sent late in a long run is still no
// more than TimeoutBlocks above the chain (one sent 60 s in at 1.3 s blocks
// has 74 of 100 left), and each timeout height takes about a block's
// worth of nonces.
const presignBlockTime = 3 * time.Second

// presignFastestBlock is the shortest block interval signing ahead plans
// for: CometBFT's default timeout_commit. A presigned transaction due t
// into the load is sent as signed only while the chain has climbed at most
// TimeoutBlocks/2 above presignBase + t/presignBlockTime; at a block a
// second that holds for t up to TimeoutBlocks/2 / (1/1 s - 1/3 s), 75 s at
// the default 100 blocks (115 s at 1.3 s blocks). Signing later ones ahead
// would be wasted (they would be signed again when due) and held: a
// 30-minute run at 500 tx/s would have signed 900,000 transactions before
// it started and held ~280 MB of them. So only the transactions due within
// presignHorizon are signed ahead; the rest are signed when due, as before.
const presignFastestBlock = time.Second

// presignHorizon is how far into the load transactions are signed ahead.
func presignHorizon(timeoutBlocks uint64) time.Duration {
	secs := float64(timeoutBlocks) / 2 / (1/presignFastestBlock.Seconds() - 1/presignBlockTime.Seconds())
	return time.Duration(secs * float64(time.Second))
}

// presignTimeout is the timeout height of slot i's presigned transaction.
func (r *runner) presignTimeout(i int64) uint64 {
	return r.presignBase + r.cfg.TimeoutBlocks + uint64(float64(i)/r.cfg.Rate/presignBlockTime.Seconds())
}

// slot is one transaction of the load, in the order they fall due: job is
// presigned (its tx set), or nil for one built when due (of entry).
type slot struct {
	job   *Job
	entry int
}

// presign makes the slots of the load's transactions due within
// presignHorizon and signs their independent transactions ahead, on every
// core; later transactions have no slot and are picked and signed when due.
func (r *runner) presign(ctx context.Context) error {
	total := int64(r.cfg.Rate * min(r.cfg.Duration, presignHorizon(r.cfg.TimeoutBlocks)).Seconds())
	if total <= 0 {
		return nil
	}
	_, h, err := r.observer.Status(ctx)
	if err != nil {
		return err
	}
	r.presignBase = uint64(h)
	r.slots = make([]slot, total)
	workers := min(runtime.GOMAXPROCS(0), int(total))
	chunk := (total + int64(workers) - 1) / int64(workers)
	var wg sync.WaitGroup
	errs := make([]error, workers)
	counts := make([]int64, workers)
	for w := range workers {
		lo, hi := int64(w)*chunk, min(int64(w+1)*chunk, total)
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := mrand.New(mrand.NewChaCha8(randomSeed()))
			for i := lo; i < hi; i++ {
				if i%1024 == 0 && ctx.Err() != nil {
					errs[w] = ctx.Err()
					return
				}
				e := r.mix.pick(rnd)
				r.slots[i].entry = e
				if r.mix.dependent(e) {
					continue
				}
				j, err := r.mix.build(e, rnd, r.cfg.MsgsPerTx)
				if err != nil {
					errs[w] = err
					return
				}
				if j.tx, err = r.signJob(j, r.presignTimeout(i)); err != nil {
					errs[w] = err
					return
				}
				j.msgs = 1 + len(j.More)
				j.Msg, j.More = nil, nil
				r.slots[i].job = j
				counts[w]++
			}
		}()
	}
	wg.Wait()
	for w := range workers {
		if errs[w] != nil {
			return errs[w]
		}
		r.presignedCount += counts[w]
	}
	return nil
}

// nextTx is the next transaction to send and its job (counted sent): the
// next slot's presigned one while its timeout height is from
// TimeoutBlocks/2 to TimeoutBlocks above the chain, or one built and
// signed now, of the slot's mix entry (or, past the slots, of one picked
// now).
func (r *runner) nextTx(rnd *mrand.Rand) (*Job, []byte, error) {
	var j *Job
	if i := r.next.Add(1) - 1; i < int64(len(r.slots)) {
		s := r.slots[i]
		r.slots[i] = slot{} // sent once; its memory is the record's now
		if h := uint64(r.height.Load()); s.job != nil && h+r.cfg.TimeoutBlocks/2 <= r.presignTimeout(i) && r.presignTimeout(i) <= h+r.cfg.TimeoutBlocks {
			r.presignedSent.Add(1)
			r.mix.track(s.job)
			return s.job, s.job.tx, nil
		}
		var err error
		if j, err = r.mix.build(s.entry, rnd, r.cfg.MsgsPerTx); err != nil {
			return nil, nil, err
		}
		r.mix.track(j)
	} else {
		var err error
		if j, err = r.mix.NextBatch(rnd, r.cfg.MsgsPerTx); err != nil {
			return nil, nil, err
		}
	}
	tx, err := r.signJob(j, uint64(r.height.Load())+r.cfg.TimeoutBlocks)
	if err != nil {
		return nil, nil, err
	}
	return j, tx, nil
}

// signJob builds and signs j's transaction with timeout height timeout.
func (r *runner) signJob(j *Job, timeout uint64) ([]byte, error) {
	opts := client.TxOptions{ChainID: r.chainID, Signer: j.Signer.Address, TimeoutHeight: timeout}
	if !r.cfg.RouteUnits {
		opts.MessageUnits = j.MessageUnits()
	}
	return client.BuildTx(opts, j.Signer.Sign, j.Msgs()...)
}
