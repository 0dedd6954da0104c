package app_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
)

// The benchmark state: the test genesis plus benchAgencies departments of
// benchAccounts/benchAgencies accounts each, saved at height 1.
const (
	benchAccounts = 100_000
	benchAgencies = 20
)

func benchAdmin(i int) testKey { return keyFor(fmt.Sprintf("bench/dept-%02d/admin", i)) }

// BenchmarkFinalizeCommit measures FinalizeBlock plus Commit of blocks of
// signed agency transactions, on the default node config (see benchConfig),
// over a state of 100,000 accounts. "cold" blocks carry signatures the node
// has never seen, so FinalizeBlock verifies them; "checked" blocks went
// through CheckTx first, as a node's mempool does, so their verdicts are
// cached.
//
// Two views of the node: "warm" runs every sub-benchmark on one app that
// built the state itself and kept running, as a validator does (its node
// cache holds the tree; state grows from one sub-benchmark to the next);
// "reopened" starts each sub-benchmark from a copy of the state on disk,
// as after a restart, so the first blocks read tree nodes back from disk.
func BenchmarkFinalizeCommit(b *testing.B) {
	base := b.TempDir()
	start := time.Now()
	c := buildBenchState(b, base)
	b.Logf("state of %d accounts built in %s", benchAccountCount(b), time.Since(start).Round(time.Millisecond))

	warm := c.app
	if cfg := benchConfig(b); cfg.MemoryLimitMiB > 0 && os.Getenv("TALLY_BENCH_MEMORY_LIMIT_MIB") != "" {
		// The node's limit, applied once the state is built (building it
		// takes gigabytes the node never holds) and only while blocks run.
		debug.FreeOSMemory() // collects, and returns the build's freed heap, which the limit counts
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.Logf("memory limit %d MiB; live heap after building the state %d MiB", cfg.MemoryLimitMiB, m.HeapAlloc>>20)
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.MemoryLimitMiB << 20))
	}
	if vs := benchVariants(b); vs != nil {
		// The state build leaves gigabytes of freed heap the runtime has
		// not yet returned, which a memory limit counts.
		debug.FreeOSMemory()
		// Restored after the blocks: the state build keeps GOGC and no
		// limit.
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	}
	granted := map[int]int{} // grants each department's members were given (see benchGrant)
	for _, kind := range benchKinds {
		for _, size := range []int{1000, 5000} {
			for _, checked := range []bool{false, true} {
				name := fmt.Sprintf("warm/%s/txs=%d/cold", kind, size)
				if checked {
					name = fmt.Sprintf("warm/%s/txs=%d/checked", kind, size)
				}
				b.Run(name, func(b *testing.B) { runBlocks(b, warm, kind, size, checked, granted) })
			}
		}
	}
	c.close()
	b.Logf("state database after the warm runs: %d bytes", dirBytes(b, base))

	for _, kind := range benchKinds {
		for _, size := range []int{1000, 5000} {
			for _, checked := range []bool{false, true} {
				name := fmt.Sprintf("reopened/%s/txs=%d/cold", kind, size)
				if checked {
					name = fmt.Sprintf("reopened/%s/txs=%d/checked", kind, size)
				}
				b.Run(name, func(b *testing.B) { benchBlocks(b, base, kind, size, checked, granted) })
			}
		}
	}
}

// benchAccountCount is benchAccounts, or TALLY_BENCH_ACCOUNTS to try the
// benchmark quickly on a smaller state.
func benchAccountCount(tb testing.TB) int {
	if v := os.Getenv("TALLY_BENCH_ACCOUNTS"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(tb, err, "TALLY_BENCH_ACCOUNTS")
		return n
	}
	return benchAccounts
}

// benchMember is the address of member j of department i in the bench state.
func benchMember(i, j int) []byte { return benchMemberKey(i, j).addr }

func benchMemberKey(i, j int) testKey { return derivedKey(fmt.Sprintf("bench/dept-%02d/%d", i, j)) }

// benchBlocks runs b.N blocks of one kind of transaction: add_member adds a
// new account (four new state entries: account, member index, key index and
// the agency's counts); grant_role gives an existing account a role (one
// entry rewritten). Both also write the nonce. granted is what the warm
// runs granted, which the state in base holds; each run starts from it.
func benchBlocks(b *testing.B, base, kind string, size int, checked bool, granted map[int]int) {
	b.StopTimer()
	dir := b.TempDir()
	copyDir(b, base, dir)
	st, err := store.Open(benchConfig(b).StoreOptions(dir))
	require.NoError(b, err)
	a, err := app.New(st, app.Options{})
	require.NoError(b, err)
	defer a.Close()
	runBlocks(b, a, kind, size, checked, maps.Clone(granted))
}

// benchKinds are the transactions BenchmarkFinalizeCommit runs blocks of
// (see benchTxs).
var benchKinds = []string{"add_member", "grant_role", "receipt", "payment", "custody", "mixed"}

// benchAdmins are the admins that sign add_member, with their agencies:
// the money genesis's and the bench departments'.
func benchAdmins() ([]testKey, []string) {
	signers := []testKey{mTreasuryAdmin, mBenefitsAdmin, mCouncilAdmin, mBankAdmin, mRegAdmin, mTaxAdmin}
	agencies := []string{mTreasury, mBenefits, mCouncil, mBank, mRegulate, mTax}
	for i := 0; i < benchAgencies; i++ {
		signers = append(signers, benchAdmin(i))
		agencies = append(agencies, fmt.Sprintf("dept-%02d", i))
	}
	return signers, agencies
}

// benchTxs builds one block of size transactions of kind for height, and
// for the kinds that need one, an untimed block run before it (at height;
// the timed block is then at height+1):
//   - add_member: a new account (account, member index, key index and the
//     agency's counts) from one of 26 admins;
//   - grant_role: a role for an existing account of a bench department
//     (its account rewritten);
//   - receipt: a tax receipt for a new payer and bank reference, from the
//     one collector (receipt, its state, indexes, three running totals,
//     the revenue credit);
//   - payment: an allocation of 1p from the treasury to the benefits
//     agency (both balances, the movement and its tranche);
//   - custody: a custody transfer, an offer then its acceptance (size/2 of
//     each), of items the untimed block registered;
//   - mixed: rounds of the load mix's nine messages (appropriate,
//     allocate, fund, enrol, issue_receipt, register_item, offer_custody,
//     accept_custody, add_member), an item offered and accepted in the
//     block that registers it.
//
// Every transaction also writes its nonce.
func benchTxs(b *testing.B, kind string, size int, height int64, rng *rand.Rand, granted map[int]int) (setup, txs [][]byte) {
	signers, agencies := benchAdmins()
	sign := func(k testKey, msgs ...*txv1.Msg) []byte {
		opts := client.TxOptions{Signer: k.addr, Nonce: rng.Uint64() | 1, TimeoutHeight: uint64(height) + 50}
		return signTx(b, opts, k, msgs...)
	}
	newMember := func(j int) []byte {
		s := signers[j%len(signers)]
		newKey := derivedKey("bench/new/" + strconv.FormatUint(rng.Uint64(), 16))
		return sign(s, addMemberTo(agencies[j%len(signers)], newKey, agencyv1.Role_ROLE_AUDITOR))
	}
	unique := func() string { return strconv.FormatUint(rng.Uint64(), 16) }
	switch kind {
	case "add_member":
		for j := 0; j < size; j++ {
			txs = append(txs, newMember(j))
		}
	case "grant_role":
		for j := 0; j < size; j++ {
			dept := j % benchAgencies
			txs = append(txs, sign(benchAdmin(dept), benchGrant(b, dept, granted[dept]+j/benchAgencies)))
		}
		for dept := 0; dept < benchAgencies; dept++ {
			granted[dept] += (size + benchAgencies - 1) / benchAgencies
		}
	case "receipt":
		for j := 0; j < size; j++ {
			u := unique()
			txs = append(txs, sign(mCollector, taxIssue("VAT", taxPayerRef(u), "2026-Q1", 1+rng.Uint64N(1_000_000), "BANK-"+u)))
		}
	case "payment":
		for j := 0; j < size; j++ {
			txs = append(txs, sign(mOfficer, msgAllocate(mBenefits, 1)))
		}
	case "custody":
		ids := make([]string, size/2)
		for j := range ids {
			ids[j] = "bench-lot:" + unique()
			setup = append(setup, sign(mProducer, register(ids[j], 100, "milk")))
		}
		for _, id := range ids {
			txs = append(txs, sign(mProducer, offer(id, mAuditor, 0)))
		}
		for _, id := range ids {
			txs = append(txs, sign(mAuditor, accept(id)))
		}
	case "mixed":
		for j := 0; len(txs) < size; j++ {
			u := unique()
			item := "bench-mix:" + u
			for _, tx := range [][]byte{
				sign(mOfficer, msgAppropriate("SA/"+u, 1_000)),
				sign(mOfficer, msgAllocate(mBenefits, 1_000)),
				sign(mFinance, msgFund("p", 100)),
				sign(mCaseworker, msgEnrol("p", "r"+u, benchProgrammeStart)),
				sign(mCollector, taxIssue("VAT", taxPayerRef(u), "2026-Q1", 1_000, "BANK-"+u)),
				sign(mProducer, register(item, 100, "milk")),
				sign(mProducer, offer(item, mAuditor, 0)),
				sign(mAuditor, accept(item)),
				newMember(j),
			} {
				if len(txs) < size {
					txs = append(txs, tx)
				}
			}
		}
	default:
		b.Fatalf("unknown bench kind %q", kind)
	}
	return setup, txs
}

// benchGrantRoles are the roles grant_role gives the members of a bench
// department (who start with auditor and payer), one role to every member
// before the next. A department has benchAccountCount/benchAgencies - 1
// members; the default state's 4,999 take 19,996 grants, but at a small
// TALLY_BENCH_ACCOUNTS (99 members at 2,000 accounts) the runs' grants
// (600 a department at -benchtime 1x) outnumber them: then the next passes
// revoke the roles in the same order, and the passes after grant them
// again. A revoke, like a grant, reads and rewrites one account.
var benchGrantRoles = []agencyv1.Role{agencyv1.Role_ROLE_PRODUCER, agencyv1.Role_ROLE_CASEWORKER, agencyv1.Role_ROLE_FINANCE, agencyv1.Role_ROLE_PROGRAMME_MANAGER}

// benchGrant is the n-th (from 0) grant_role message of department dept:
// for member 1+n%members, benchGrantRoles[pass%4] granted, or revoked on
// the odd rounds of four passes.
func benchGrant(b *testing.B, dept, n int) *txv1.Msg {
	members := benchAccountCount(b)/benchAgencies - 1
	if members < 1 {
		b.Fatalf("grant_role needs a member in each of the %d bench departments: TALLY_BENCH_ACCOUNTS >= %d, got %d", benchAgencies, 2*benchAgencies, benchAccountCount(b))
	}
	pass := n / members
	member, role := benchMember(dept, 1+n%members), benchGrantRoles[pass%len(benchGrantRoles)]
	if pass/len(benchGrantRoles)%2 == 1 {
		return revokeRole(member, role)
	}
	return grantRole(member, role)
}

// runBenchBlock runs and commits an untimed block that must succeed whole.
func runBenchBlock(b *testing.B, a *app.App, height int64, txs [][]byte) {
	res, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: height, Time: blockTime(height)})
	require.NoError(b, err)
	for _, r := range res.TxResults {
		require.Zero(b, r.Code, r.Log)
	}
	_, err = a.Commit(context.Background(), &abci.RequestCommit{})
	require.NoError(b, err)
}

// runBlocks runs b.N blocks on a.
func runBlocks(b *testing.B, a *app.App, kind string, size int, checked bool, granted map[int]int) {
	b.StopTimer()
	info, err := a.Info(context.Background(), &abci.RequestInfo{})
	require.NoError(b, err)
	height := info.LastBlockHeight

	rng := rand.New(rand.NewPCG(uint64(size), uint64(height)))
	var elapsed, finalize, commit, cpu time.Duration
	var work runtimeWork
	total := 0
	vs := benchVariants(b)
	vCPU := make([]time.Duration, len(vs))
	vTxs := make([]int, len(vs))
	vGCs := make([]uint64, len(vs))
	vLive := make([]uint64, len(vs))
	for i := 0; i < b.N; i++ {
		height++
		setup, txs := benchTxs(b, kind, size, height, rng, granted)
		total += len(txs)
		if setup != nil { // untimed: what the timed block builds on
			runBenchBlock(b, a, height, setup)
			height++
		}
		if checked {
			for _, tx := range txs {
				res, err := a.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx})
				require.NoError(b, err)
				require.Zero(b, res.Code, res.Log)
			}
		}

		if len(vs) > 0 {
			vs[i%len(vs)].apply()
		}
		gc0 := gcCycles()
		stopProfile := startBlockProfile(b, i)
		stopAllocs := startAllocProfile(b, i)
		w0 := readRuntimeWork()
		c0 := cpuTime()
		t0 := time.Now()
		b.StartTimer()
		res, err := a.FinalizeBlock(context.Background(), &abci.RequestFinalizeBlock{Txs: txs, Height: height, Time: blockTime(height)})
		t1 := time.Now()
		if err == nil {
			_, err = a.Commit(context.Background(), &abci.RequestCommit{})
		}
		b.StopTimer()
		elapsed += time.Since(t0)
		blockCPU := cpuTime() - c0
		cpu += blockCPU
		if len(vs) > 0 {
			vCPU[i%len(vs)] += blockCPU
			vTxs[i%len(vs)] += len(txs)
			vGCs[i%len(vs)] += gcCycles() - gc0
			vLive[i%len(vs)] = max(vLive[i%len(vs)], liveHeap())
		}
		work = work.plus(readRuntimeWork().minus(w0))
		stopProfile()
		stopAllocs()
		finalize, commit = finalize+t1.Sub(t0), commit+time.Since(t1)

		require.NoError(b, err)
		for _, r := range res.TxResults {
			require.Zero(b, r.Code, r.Log)
		}
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(total)/cpu.Seconds(), "tx/cpu-s")
	for j, v := range vs {
		if vTxs[j] > 0 {
			b.ReportMetric(float64(vTxs[j])/vCPU[j].Seconds(), "tx/cpu-s@"+v.name)
			b.ReportMetric(float64(vGCs[j])*float64(len(vs))/float64(b.N), "gcs/block@"+v.name)
			b.ReportMetric(float64(vLive[j]>>20), "live-MiB@"+v.name)
		}
	}
	b.ReportMetric(float64(finalize.Milliseconds())/float64(b.N), "finalize-ms/block")
	b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms/block")
	b.ReportMetric(work.allocs/float64(total), "allocs/tx")
	b.ReportMetric(work.bytes/float64(total), "B/tx")
}

// benchVariant is a setting of the Go collector the timed blocks may run
// under (TALLY_BENCH_VARIANTS).
type benchVariant struct {
	name       string
	gcPercent  int   // as GOGC; -1 off
	limitBytes int64 // soft memory limit; 0 none
}

func (v benchVariant) apply() {
	debug.SetGCPercent(v.gcPercent)
	if v.limitBytes > 0 {
		debug.SetMemoryLimit(v.limitBytes)
	} else {
		debug.SetMemoryLimit(math.MaxInt64)
	}
}

// benchVariants parses TALLY_BENCH_VARIANTS, a comma-separated list of
// collector settings gc<percent>/limit<MiB> (gc-1 is off, limit0 none),
// e.g. "gc200/limit448,gc200/limit0". The timed blocks cycle through them
// block by block, and each reports tx/cpu-s@<variant> and
// gcs/block@<variant>: an A/B under the same machine load, in one run.
// Nil when unset: the blocks run under GOGC (and
// TALLY_BENCH_MEMORY_LIMIT_MIB).
func benchVariants(tb testing.TB) []benchVariant {
	v := os.Getenv("TALLY_BENCH_VARIANTS")
	if v == "" {
		return nil
	}
	var out []benchVariant
	for _, f := range strings.Split(v, ",") {
		var pct int
		var mib int64
		_, err := fmt.Sscanf(strings.TrimSpace(f), "gc%d/limit%d", &pct, &mib)
		require.NoError(tb, err, "TALLY_BENCH_VARIANTS %q: want gc<percent>/limit<MiB>", f)
		out = append(out, benchVariant{name: strings.TrimSpace(f), gcPercent: pct, limitBytes: mib << 20})
	}
	return out
}

// liveHeap is the heap the last collection found live, in bytes.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// gcCycles is how many collections the runtime has finished.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startBlockProfile starts a CPU profile of timed block i when
// TALLY_BENCH_CPUPROFILE names a file prefix, and returns what stops it. A
// profile of the timed blocks alone, with the collector and the batch
// verifier's goroutines, unlike -cpuprofile, which also takes in building
// the state and signing the blocks; merge the blocks' files with
// go tool pprof -top <prefix>*.
func startBlockProfile(b *testing.B, i int) (stop func()) {
	prefix := os.Getenv("TALLY_BENCH_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	name := strings.NewReplacer("/", "_", "=", "").Replace(b.Name())
	f, err := os.Create(fmt.Sprintf("%s%s.%d.pprof", prefix, name, i))
	require.NoError(b, err)
	require.NoError(b, pprof.StartCPUProfile(f))
	return func() {
		pprof.StopCPUProfile()
		require.NoError(b, f.Close())
	}
}

// startAllocProfile writes the heap profile before and after timed block i
// when TALLY_BENCH_ALLOCPROFILE names a file prefix, and returns what writes
// the second: the allocations of the block alone are their difference,
// go tool pprof -sample_index=alloc_space -base <prefix><name>.<i>.before.pprof <prefix><name>.<i>.after.pprof
// (each written after a collection, which publishes the counts; untimed).
// The block's allocations are all recorded, not sampled, which slows it.
func startAllocProfile(b *testing.B, i int) (stop func()) {
	prefix := os.Getenv("TALLY_BENCH_ALLOCPROFILE")
	if prefix == "" {
		return func() {}
	}
	name := fmt.Sprintf("%s%s.%d", prefix, strings.NewReplacer("/", "_", "=", "").Replace(b.Name()), i)
	// Every allocation of the block is recorded, not sampled; the profile
	// scales its counts by the rate in force when it is written, so both
	// are written at that rate.
	rate := runtime.MemProfileRate
	write := func(suffix string) {
		runtime.MemProfileRate = 1
		runtime.GC()
		f, err := os.Create(name + suffix)
		require.NoError(b, err)
		require.NoError(b, pprof.Lookup("allocs").WriteTo(f, 0))
		require.NoError(b, f.Close())
	}
	write(".before.pprof")
	return func() {
		write(".after.pprof")
		runtime.MemProfileRate = rate
	}
}

// runtimeWork is what the Go runtime counted while blocks ran: heap
// objects and bytes allocated, which the garbage collector's work grows
// with. (Its CPU time is left to profiles: runtime/metrics counts it by
// whole GC cycles, which straddle the untimed setup between blocks.)
type runtimeWork struct{ allocs, bytes float64 }

var runtimeWorkMetrics = []string{"/gc/heap/allocs:objects", "/gc/heap/allocs:bytes"}

func readRuntimeWork() runtimeWork {
	s := make([]metrics.Sample, len(runtimeWorkMetrics))
	for i, name := range runtimeWorkMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	value := func(v metrics.Value) float64 {
		if v.Kind() != metrics.KindUint64 {
			return 0
		}
		return float64(v.Uint64())
	}
	return runtimeWork{allocs: value(s[0].Value), bytes: value(s[1].Value)}
}

func (w runtimeWork) plus(o runtimeWork) runtimeWork {
	return runtimeWork{w.allocs + o.allocs, w.bytes + o.bytes}
}

func (w runtimeWork) minus(o runtimeWork) runtimeWork {
	return runtimeWork{w.allocs - o.allocs, w.bytes - o.bytes}
}

// benchConfig is the node config the benchmarks run: app.DefaultConfig,
// changed by the environment to compare settings in one checkout:
// TALLY_BENCH_DB (db_backend: goleveldb or pebbledb),
// TALLY_BENCH_MEMIAVL_SNAPSHOT_EVERY (memiavl_snapshot_every), TALLY_BENCH_DB_CACHE_MIB
// (db_cache_mib), TALLY_BENCH_DB_NO_COMPRESSION (db_no_compression, true or
// false), TALLY_BENCH_CACHE
// (iavl_cache_size) and TALLY_BENCH_MEMORY_LIMIT_MIB (memory_limit_mib,
// which sizes the node cache when TALLY_BENCH_CACHE is unset, and which
// BenchmarkFinalizeCommit's warm runs also apply to the process as a node
// does).
func benchConfig(tb testing.TB) app.Config {
	tb.Helper()
	cfg := app.DefaultConfig()
	if v := os.Getenv("TALLY_BENCH_DB"); v != "" {
		cfg.DBBackend = v
	}
	if v := os.Getenv("TALLY_BENCH_STATE_ENGINE"); v != "" {
		cfg.StateEngine = v
	}
	if v := os.Getenv("TALLY_BENCH_MEMIAVL_SNAPSHOT_EVERY"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		require.NoError(tb, err, "TALLY_BENCH_MEMIAVL_SNAPSHOT_EVERY")
		cfg.MemiavlSnapshotEvery = uint32(n)
	}
	if v := os.Getenv("TALLY_BENCH_MEMORY_LIMIT_MIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		require.NoError(tb, err, "TALLY_BENCH_MEMORY_LIMIT_MIB")
		cfg.MemoryLimitMiB = n
	}
	if v := os.Getenv("TALLY_BENCH_CACHE"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(tb, err, "TALLY_BENCH_CACHE")
		cfg.IAVLCacheSize = n
	}
	if v := os.Getenv("TALLY_BENCH_DB_CACHE_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(tb, err, "TALLY_BENCH_DB_CACHE_MIB")
		cfg.DBCacheMiB = n
	}
	if v := os.Getenv("TALLY_BENCH_DB_NO_COMPRESSION"); v != "" {
		off, err := strconv.ParseBool(v)
		require.NoError(tb, err, "TALLY_BENCH_DB_NO_COMPRESSION")
		cfg.DBNoCompression = off
	}
	tb.Logf("db cache %d MiB, no compression %v", cfg.DBCacheMiB, cfg.DBNoCompression)
	tb.Logf("node config: state_engine %s, db_backend %s, node cache %d, memory limit %d MiB", cfg.StateEngine, cfg.DBBackend, cfg.NodeCacheSize(cfg.MemoryLimitMiB<<20), cfg.MemoryLimitMiB)
	return cfg
}

// cpuTime is the CPU time this process has used, on all threads (the batch
// verifier's goroutines and the garbage collector included). On a machine
// shared with other work, transactions per CPU-second vary far less than
// per wall-clock second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchProgrammeStart is when the bench's benefits programme starts paying:
// after every block the bench runs, so enrolments pay nothing.
var benchProgrammeStart = genesisTime.Unix() + 7*24*3600

// buildBenchState writes the benchmark's starting state into dir through
// InitChain with a real genesis (the money genesis, a tax type and the
// bench departments), commits it as block 1, then a block that
// appropriates money, allocates it to the benefits agency and creates the
// programme the mixed blocks fund and enrol in, and returns the
// still-running chain.
func buildBenchState(b *testing.B, dir string) *chain {
	b.Helper()
	g := moneyGenesis(0)
	g.Params.MaxBlockUnits = 1 << 40       // blocks of 5,000 transactions: this measures throughput, not the limit
	g.Params.MaxPendingPerSigner = 1 << 20 // the checked runs put a whole block from a few signers through CheckTx
	g.Tax = &taxv1.Genesis{
		TaxTypes:       []*taxv1.TaxType{{Code: "VAT", Name: "Value added tax", Authority: mTax, RevenueAgency: mTreasury, PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}},
		Authorisations: []*taxv1.Authorisation{{Collector: mCollector.addr, TaxType: "VAT", Active: true}},
	}
	per := benchAccountCount(b) / benchAgencies
	var members []testKey // known to withKeyProofs for the genesis only (see derivedKey)
	for i := 0; i < benchAgencies; i++ {
		id := fmt.Sprintf("dept-%02d", i)
		g.Agency.Agencies = append(g.Agency.Agencies, &agencyv1.Agency{Id: id, Name: "Department " + id, Kind: agencyv1.Kind_KIND_DEPARTMENT})
		admin := benchAdmin(i)
		g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: admin.pub, AgencyId: id, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
		g.Agency.KeyProofs = append(g.Agency.KeyProofs, &agencyv1.KeyProof{Address: admin.addr, Signature: keyProof(admin, id, admin.addr, keyproof.GenesisAccount)})
		for j := 1; j < per; j++ {
			m := benchMemberKey(i, j)
			members = append(members, m)
			knownKeys.Store(string(m.pub), m)
			g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: m.pub, AgencyId: id, Roles: []agencyv1.Role{agencyv1.Role_ROLE_AUDITOR, agencyv1.Role_ROLE_PAYER}})
			g.Agency.KeyProofs = append(g.Agency.KeyProofs, &agencyv1.KeyProof{Address: m.addr, Signature: keyProof(m, id, m.addr, keyproof.GenesisAccount)})
		}
	}
	st, err := store.Open(benchConfig(b).StoreOptions(dir))
	require.NoError(b, err)
	c := openChain(b, st, app.Options{})
	c.initChain(g)
	for _, m := range members {
		knownKeys.Delete(string(m.pub))
	}
	c.block()
	for _, r := range c.block(
		c.tx(mOfficer, msgAppropriate("SA/bench", 10_000_000_000), msgAllocate(mBenefits, 5_000_000_000)),
		c.tx(mManager, msgCreateProgramme("p", 100, 7*24*3600, benchProgrammeStart, benchProgrammeStart+52*7*24*3600, 0)),
	).TxResults {
		requireOK(b, r)
	}
	awaitMemiavlSnapshot(b, c)
	return c
}

// awaitMemiavlSnapshot runs empty blocks on c, when it runs the memiavl
// engine, until memiavl has switched to a snapshot written after the state
// was built, with no other snapshot being written.
//
// Until its first snapshot after the genesis memiavl holds every node of
// the state in the Go heap, and each collection the blocks trigger scans it
// all (over 400,000 accounts, more than memory_limit_mib = 448 holds, so
// the collector ran without pause); a validator that kept running holds
// only the nodes changed since its last snapshot, at most
// memiavl_snapshot_every blocks back. memiavl starts writing a snapshot in
// the background at each height that is a multiple of that interval
// (unless one is being written) and switches to it in the first Commit
// after it is written, which is when the Store keeps only the newest
// version readable (AvailableVersions is that one version). A switch at a
// height that is not a multiple leaves no snapshot being written until the
// next multiple; this waits for one at least 4 blocks before it, so that
// the 3 timed blocks of -benchtime=3x leave out the snapshot's writing,
// which a node does once every interval (more blocks take it in).
//
// Set TALLY_BENCH_MEMIAVL_FIRST_BLOCKS=1 to time the blocks right after
// the build instead, as before.
func awaitMemiavlSnapshot(b *testing.B, c *chain) {
	cfg := benchConfig(b)
	if cfg.StateEngine != store.EngineMemiavl || os.Getenv("TALLY_BENCH_MEMIAVL_FIRST_BLOCKS") != "" {
		return
	}
	interval := int64(cfg.MemiavlSnapshotEvery)
	if interval == 0 {
		interval = store.DefaultMemiavlSnapshotInterval
	}
	built, start := c.height, time.Now()
	for time.Since(start) < 5*time.Minute {
		c.block()
		vs := c.st.AvailableVersions()
		if switched := len(vs) == 1 && int64(vs[0]) == c.height; switched && c.height%interval != 0 && c.height%interval <= interval-4 {
			b.Logf("memiavl switched to a snapshot written after the build (height %d) at height %d, after %s", built, c.height, time.Since(start).Round(time.Millisecond))
			return
		}
		time.Sleep(20 * time.Millisecond) // the snapshot is written in the background
	}
	b.Fatalf("memiavl switched to no snapshot within 5 minutes of height %d (at height %d)", built, c.height)
}

// dirBytes is the size of the files under dir.
func dirBytes(tb testing.TB, dir string) int64 {
	var n int64
	require.NoError(tb, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil {
			n += info.Size()
		}
		return err
	}))
	return n
}

// copyDir copies a closed database directory, so each run starts from the
// same state without rebuilding it.
func copyDir(tb testing.TB, from, to string) {
	tb.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if d.Type()&fs.ModeSymlink != 0 { // memiavl's "current" snapshot
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, dst)
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(dst)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	require.NoError(tb, err)
}
