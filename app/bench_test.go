package app_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
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
	b.Logf("state of %d accounts built in %s", benchAccounts, time.Since(start).Round(time.Millisecond))

	warm := c.app
	if cfg := benchConfig(b); cfg.MemoryLimitMiB > 0 && os.Getenv("TALLY_BENCH_MEMORY_LIMIT_MIB") != "" {
		// The node's limit, applied once the state is built (building it
		// takes gigabytes the node never holds) and only while blocks run.
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.Logf("memory limit %d MiB; live heap after building the state %d MiB", cfg.MemoryLimitMiB, m.HeapAlloc>>20)
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.MemoryLimitMiB << 20))
	}
	granted := map[int]int{} // members of each department already given the role
	for _, kind := range []string{"add_member", "grant_role"} {
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

	for _, kind := range []string{"add_member", "grant_role"} {
		for _, size := range []int{1000, 5000} {
			for _, checked := range []bool{false, true} {
				name := fmt.Sprintf("reopened/%s/txs=%d/cold", kind, size)
				if checked {
					name = fmt.Sprintf("reopened/%s/txs=%d/checked", kind, size)
				}
				b.Run(name, func(b *testing.B) { benchBlocks(b, base, kind, size, checked) })
			}
		}
	}
}

// benchMember is the address of member j of department i in the bench state.
func benchMember(i, j int) []byte { return benchMemberKey(i, j).addr }

func benchMemberKey(i, j int) testKey { return keyFor(fmt.Sprintf("bench/dept-%02d/%d", i, j)) }

// benchBlocks runs b.N blocks of one kind of transaction: add_member adds a
// new account (four new state entries: account, member index, key index and
// the agency's counts); grant_role gives an existing account a role (one
// entry rewritten). Both also write the nonce.
func benchBlocks(b *testing.B, base, kind string, size int, checked bool) {
	b.StopTimer()
	dir := b.TempDir()
	copyDir(b, base, dir)
	st, err := store.Open(benchConfig(b).StoreOptions(dir))
	require.NoError(b, err)
	a, err := app.New(st, app.Options{})
	require.NoError(b, err)
	defer a.Close()
	runBlocks(b, a, kind, size, checked, map[int]int{})
}

// runBlocks runs b.N blocks on a.
func runBlocks(b *testing.B, a *app.App, kind string, size int, checked bool, granted map[int]int) {
	b.StopTimer()
	info, err := a.Info(context.Background(), &abci.RequestInfo{})
	require.NoError(b, err)
	height := info.LastBlockHeight

	signers := []testKey{treasuryAdmin, treasuryAdmin2, taxAdmin, regAdmin}
	agencies := []string{agTreasury, agTreasury, agTax, agRegulator}
	for i := 0; i < benchAgencies; i++ {
		signers = append(signers, benchAdmin(i))
		agencies = append(agencies, fmt.Sprintf("dept-%02d", i))
	}
	rng := rand.New(rand.NewPCG(uint64(size), uint64(height)))
	var elapsed, finalize, commit, cpu time.Duration
	for i := 0; i < b.N; i++ {
		height++
		txs := make([][]byte, size)
		for j := range txs {
			opts := client.TxOptions{Nonce: rng.Uint64() | 1, TimeoutHeight: uint64(height) + 50}
			if kind == "grant_role" {
				dept := j % benchAgencies
				admin := benchAdmin(dept)
				opts.Signer = admin.addr
				member := 1 + granted[dept] + j/benchAgencies
				txs[j] = signTx(b, opts, admin, grantRole(benchMember(dept, member), agencyv1.Role_ROLE_PRODUCER))
				continue
			}
			s := signers[j%len(signers)]
			opts.Signer = s.addr
			newKey := keyFor("bench/new/" + strconv.FormatUint(rng.Uint64(), 16))
			txs[j] = signTx(b, opts, s, addMemberTo(agencies[j%len(signers)], newKey, agencyv1.Role_ROLE_AUDITOR))
		}
		for dept := 0; dept < benchAgencies; dept++ {
			granted[dept] += (size + benchAgencies - 1) / benchAgencies
		}
		if checked {
			for _, tx := range txs {
				res, err := a.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx})
				require.NoError(b, err)
				require.Zero(b, res.Code, res.Log)
			}
		}

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
		cpu += cpuTime() - c0
		finalize, commit = finalize+t1.Sub(t0), commit+time.Since(t1)

		require.NoError(b, err)
		for _, r := range res.TxResults {
			require.Zero(b, r.Code, r.Log)
		}
	}
	b.ReportMetric(float64(size*b.N)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(size*b.N)/cpu.Seconds(), "tx/cpu-s")
	b.ReportMetric(float64(finalize.Milliseconds())/float64(b.N), "finalize-ms/block")
	b.ReportMetric(float64(commit.Milliseconds())/float64(b.N), "commit-ms/block")
}

// benchConfig is the node config the benchmarks run: app.DefaultConfig,
// changed by the environment to compare settings in one checkout:
// TALLY_BENCH_DB (db_backend: goleveldb or pebbledb), TALLY_BENCH_CACHE
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
	tb.Logf("node config: db_backend %s, node cache %d, memory limit %d MiB", cfg.DBBackend, cfg.NodeCacheSize(cfg.MemoryLimitMiB<<20), cfg.MemoryLimitMiB)
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

// buildBenchState writes the benchmark's starting state into dir through
// InitChain with a real genesis, commits it as block 1, and returns the
// still-running chain.
func buildBenchState(b *testing.B, dir string) *chain {
	b.Helper()
	g := testGenesis()
	g.Params.MaxBlockUnits = 1 << 40 // blocks of 5,000 transactions: this measures throughput, not the limit
	per := benchAccounts / benchAgencies
	for i := 0; i < benchAgencies; i++ {
		id := fmt.Sprintf("dept-%02d", i)
		g.Agency.Agencies = append(g.Agency.Agencies, &agencyv1.Agency{Id: id, Name: "Department " + id, Kind: agencyv1.Kind_KIND_DEPARTMENT})
		admin := benchAdmin(i)
		g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: admin.pub, AgencyId: id, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
		g.Agency.KeyProofs = append(g.Agency.KeyProofs, &agencyv1.KeyProof{Address: admin.addr, Signature: keyProof(admin, id, admin.addr, keyproof.GenesisAccount)})
		for j := 1; j < per; j++ {
			m := benchMemberKey(i, j)
			g.Agency.Accounts = append(g.Agency.Accounts, &agencyv1.Account{PubKey: m.pub, AgencyId: id, Roles: []agencyv1.Role{agencyv1.Role_ROLE_AUDITOR, agencyv1.Role_ROLE_PAYER}})
			g.Agency.KeyProofs = append(g.Agency.KeyProofs, &agencyv1.KeyProof{Address: m.addr, Signature: keyProof(m, id, m.addr, keyproof.GenesisAccount)})
		}
	}
	st, err := store.Open(benchConfig(b).StoreOptions(dir))
	require.NoError(b, err)
	c := openChain(b, st, app.Options{})
	c.initChain(g)
	c.block()
	return c
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
