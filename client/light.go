package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/light"
	"github.com/cometbft/cometbft/light/provider"
	httpp "github.com/cometbft/cometbft/light/provider/http"
	lightstore "github.com/cometbft/cometbft/light/store"
	dbs "github.com/cometbft/cometbft/light/store/db"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"
)

// DefaultTrustingPeriod is how long a verified header stays a valid
// starting point when no newer one was verified. Tally has no unbonding
// period; the bound is how long a retired validator key could be misused
// before agencies would notice and act. Two weeks, like most CometBFT chains.
const DefaultTrustingPeriod = 14 * 24 * time.Hour

// DefaultMaxAge is how old the newest verified header may be before a read
// of the latest state first verifies a newer one.
const DefaultMaxAge = time.Second

// rpcTimeoutSeconds bounds each RPC call to a primary or witness.
const rpcTimeoutSeconds = 10

// LightOptions configure a LightClient.
type LightOptions struct {
	// ChainID of the network; empty takes it from Genesis, else from the
	// primary (a wrong chain id cannot pass: it is part of every header hash).
	ChainID string
	// Primary is the RPC address of the node answering queries.
	Primary string
	// Witnesses are RPC addresses of other nodes, ideally run by other
	// agencies, that every newly verified header is compared with. At least one.
	Witnesses []string
	// TrustHeight and TrustHash are the trust root: a header obtained out of
	// band from a source you trust. Not needed when Dir already holds
	// verified headers, or when Genesis is given.
	TrustHeight int64
	TrustHash   []byte
	// Genesis, for a fresh network, makes block 1 the trust root: its
	// commit must be signed by more than two thirds of the genesis validators.
	Genesis *types.GenesisDoc
	// TrustingPeriod: default DefaultTrustingPeriod.
	TrustingPeriod time.Duration
	// Dir keeps verified headers (goleveldb) between runs; empty keeps them
	// in memory.
	Dir string
	// MaxAge: default DefaultMaxAge; negative never refreshes on its own
	// (call Sync).
	MaxAge time.Duration
	// MaxClockDrift and MaxBlockLag tune CometBFT's light client (zero keeps
	// its defaults of 10 s each). A witness behind the primary is waited for
	// up to 2*MaxClockDrift+MaxBlockLag before it counts as unresponsive.
	MaxClockDrift, MaxBlockLag time.Duration
	// Logger receives the light client's log; nil discards it.
	Logger log.Logger
}

// LightClient answers queries and confirms transactions without trusting
// the node it asks: every header is verified by CometBFT's light client
// from the trust root, cross-checked with the witnesses, and every answer
// is checked with its Merkle proof against such a header. It is safe for
// concurrent use.
type LightClient struct {
	opts    LightOptions
	chainID string
	lc      *light.Client
	db      dbm.DB
	// nodes maps each provider to its RPC client, so queries follow the
	// light client when it replaces an unresponsive primary with a witness.
	nodes     map[provider.Provider]*node
	first     *node   // the primary given, until the light client exists
	witnessed []*node // the witnesses given, until the light client exists

	// mu serialises verification: light.Client updates its trusted state
	// without locking.
	mu       sync.Mutex
	latest   atomic.Pointer[types.LightBlock]
	syncedAt atomic.Int64 // unix nanoseconds of the last successful Sync
	// halted holds the divergence that stopped this client: once witnesses
	// and primary disagree, nothing more from this primary is accepted.
	halted atomic.Pointer[Refusal]
	// lastHash caches the hash of the header reads are pinned to.
	lastHash atomic.Pointer[headerHash]
}

type node struct {
	addr string
	c    *Client
	q    *queryHTTP // nil: queries go through c
}

// ErrNoTrustRoot is returned by NewLightClient when it has nothing to trust.
var ErrNoTrustRoot = errors.New("no trust root: give a trusted header's height and hash (--trust-height, --trust-hash), " +
	"obtained out of band from an agency you trust (`tallyd verify header` on a client that already trusts the chain prints them), " +
	"or the network's genesis file (--genesis) for a fresh network")

// NewLightClient connects to the primary and witnesses and establishes
// trust: from the headers already verified in opts.Dir, else from the trust
// root, which is checked against the primary and compared with every
// witness. Close it when done.
func NewLightClient(ctx context.Context, opts LightOptions) (*LightClient, error) {
	if opts.Primary == "" {
		return nil, errors.New("no primary: give the RPC address of the node to ask")
	}
	if len(opts.Witnesses) == 0 {
		return nil, errors.New("no witnesses: give at least one other node's RPC address, ideally another agency's; " +
			"without a witness nothing checks that the primary serves the one true chain")
	}
	if opts.TrustingPeriod == 0 {
		opts.TrustingPeriod = DefaultTrustingPeriod
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	c := &LightClient{opts: opts, nodes: map[provider.Provider]*node{}}
	primary, err := dialNode(opts.Primary)
	if err != nil {
		return nil, err
	}
	switch {
	case opts.ChainID != "":
		c.chainID = opts.ChainID
	case opts.Genesis != nil:
		c.chainID = opts.Genesis.ChainID
	default:
		if c.chainID, _, err = primary.c.Status(ctx); err != nil {
			return nil, fmt.Errorf("asking the primary %s for the chain id: %w", opts.Primary, err)
		}
	}
	primaryP := httpp.NewWithClient(c.chainID, primary.c.RPC)
	c.nodes[primaryP] = primary
	c.first = primary
	var witnesses []provider.Provider
	for _, addr := range opts.Witnesses {
		w, err := dialNode(addr)
		if err != nil {
			return nil, err
		}
		p := httpp.NewWithClient(c.chainID, w.c.RPC)
		c.nodes[p] = w
		c.witnessed = append(c.witnessed, w)
		witnesses = append(witnesses, p)
	}

	if opts.Dir == "" {
		c.db = dbm.NewMemDB()
	} else {
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("light client directory: %w", err)
		}
		if c.db, err = dbm.NewGoLevelDB("light", opts.Dir); err != nil {
			return nil, fmt.Errorf("opening the light client's store in %s (is another tallyd using it?): %w", opts.Dir, err)
		}
	}
	trusted := dbs.New(c.db, c.chainID)
	if err := c.open(ctx, primaryP, witnesses, trusted); err != nil {
		c.db.Close()
		return nil, err
	}
	return c, nil
}

func dialNode(addr string) (*node, error) {
	if !strings.Contains(addr, "://") {
		addr = "tcp://" + addr
	}
	rpc, err := rpchttp.NewWithTimeout(addr, "/websocket", rpcTimeoutSeconds)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", addr, err)
	}
	return &node{addr: addr, c: &Client{RPC: rpc}, q: newQueryHTTP(addr)}, nil
}

func (c *LightClient) open(ctx context.Context, primary provider.Provider, witnesses []provider.Provider, trusted lightstore.Store) error {
	o := c.opts
	lopts := []light.Option{light.Logger(o.Logger)}
	if o.MaxClockDrift > 0 {
		lopts = append(lopts, light.MaxClockDrift(o.MaxClockDrift))
	}
	if o.MaxBlockLag > 0 {
		lopts = append(lopts, light.MaxBlockLag(o.MaxBlockLag))
	}
	height, hash := o.TrustHeight, o.TrustHash
	if height == 0 && o.Genesis != nil {
		last, err := trusted.LastLightBlockHeight()
		if err != nil {
			return fmt.Errorf("reading the light client's store: %w", err)
		}
		if last <= 0 { // a store that already trusts the chain needs no genesis
			if height, hash, err = trustFromGenesis(ctx, primary, o.Genesis); err != nil {
				return err
			}
		}
	}
	var err error
	if height > 0 {
		// The first header is compared with every witness; one that does
		// not have it yet would be waited for at length (see Sync).
		if err := c.waitHeight(ctx, height); err != nil {
			return err
		}
		c.lc, err = light.NewClient(ctx, c.chainID, light.TrustOptions{Period: o.TrustingPeriod, Height: height, Hash: hash},
			primary, witnesses, trusted, lopts...)
	} else {
		var last int64
		if last, err = trusted.LastLightBlockHeight(); err == nil && last <= 0 {
			return ErrNoTrustRoot
		}
		if err == nil {
			c.lc, err = light.NewClientFromTrustedStore(c.chainID, o.TrustingPeriod, primary, witnesses, trusted, lopts...)
		}
	}
	if err != nil {
		if r := c.explain(ctx, height, err); r.Check != CheckHeader {
			return r
		}
		return &Refusal{Check: CheckTrustRoot, Err: err, Reason: fmt.Sprintf(
			"could not establish trust in the primary %s from the trust root (height %d, hash %X): %v. "+
				"Check that the trust root came from a source you trust and belongs to chain %q; "+
				"if it does, the primary is not serving that chain", o.Primary, height, hash, err, c.chainID)}
	}
	latest, err := c.lc.TrustedLightBlock(0)
	if err != nil {
		return fmt.Errorf("light client has no trusted header: %w", err)
	}
	if expired(latest, o.TrustingPeriod, time.Now()) {
		return expiredRefusal(latest, o.TrustingPeriod, time.Now())
	}
	c.latest.Store(latest)
	return nil
}

// trustFromGenesis checks block 1 against the genesis validators and
// returns it as the trust root.
func trustFromGenesis(ctx context.Context, primary provider.Provider, g *types.GenesisDoc) (int64, []byte, error) {
	if err := g.ValidateAndComplete(); err != nil {
		return 0, nil, fmt.Errorf("genesis: %w", err)
	}
	vals := make([]*types.Validator, len(g.Validators))
	for i, v := range g.Validators {
		vals[i] = types.NewValidator(v.PubKey, v.Power)
	}
	set := types.NewValidatorSet(vals)
	first := g.InitialHeight
	lb, err := primary.LightBlock(ctx, first)
	if err != nil {
		return 0, nil, fmt.Errorf("fetching block %d from the primary to check against the genesis: %w", first, err)
	}
	refuse := func(why string) (int64, []byte, error) {
		return 0, nil, &Refusal{Check: CheckTrustRoot, Reason: fmt.Sprintf("block %d from the primary does not follow from the genesis: %s", first, why)}
	}
	switch {
	case lb.ChainID != g.ChainID:
		return refuse(fmt.Sprintf("chain id %q, genesis says %q", lb.ChainID, g.ChainID))
	case !bytes.Equal(lb.ValidatorsHash, set.Hash()):
		return refuse("its validators are not the genesis validators")
	case !lb.Time.Equal(g.GenesisTime):
		return refuse(fmt.Sprintf("its time %s is not the genesis time %s", lb.Time, g.GenesisTime))
	case !bytes.Equal(lb.AppHash, g.AppHash) && len(g.AppHash) > 0:
		return refuse("its app hash is not the genesis app hash")
	}
	if err := set.VerifyCommitLight(g.ChainID, lb.Commit.BlockID, first, lb.Commit); err != nil {
		return refuse("its commit is not signed by more than two thirds of the genesis validators: " + err.Error())
	}
	return first, lb.Hash(), nil
}

// Close releases the light client's store and connections.
func (c *LightClient) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.db.Close()
}

// ChainID is the chain the client verifies.
func (c *LightClient) ChainID() string { return c.chainID }

// Latest is the newest verified header, without contacting any node.
func (c *LightClient) Latest() *types.LightBlock { return c.latest.Load() }

// Primary is the address of the node answering queries now (the light
// client replaces an unresponsive primary with a witness).
func (c *LightClient) Primary() string { return c.primaryNode().addr }

// Witnesses are the addresses of the witnesses still in use (one that sent
// an invalid header is dropped).
func (c *LightClient) Witnesses() []string {
	var out []string
	for _, w := range c.lc.Witnesses() {
		out = append(out, c.nodes[w].addr)
	}
	return out
}

func (c *LightClient) primaryNode() *node {
	if c.lc == nil {
		return c.first
	}
	return c.nodes[c.lc.Primary()]
}

// Sync verifies a recent header from the primary, cross-checked with the
// witnesses, and makes it the newest trusted header. It targets the newest
// block that the primary and every witness already have: CometBFT's
// detector waits up to 2*MaxClockDrift+MaxBlockLag for a witness that is
// behind, so verifying the primary's very newest block would often stall.
// A witness more than maxWitnessLag blocks behind is not waited for.
func (c *LightClient) Sync(ctx context.Context) (*types.LightBlock, error) {
	if r := c.halted.Load(); r != nil {
		return nil, r
	}
	top, witnesses, err := c.heights(ctx)
	if err != nil {
		return nil, err
	}
	target := top
	for _, h := range witnesses {
		if h < target && h >= top-maxWitnessLag {
			target = h
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	latest := c.latest.Load()
	if target > latest.Height {
		lb, err := c.lc.VerifyLightBlockAtHeight(ctx, target, time.Now())
		if err != nil {
			return nil, c.refuse(ctx, target, err)
		}
		c.latest.Store(lb)
		latest = lb
	} else if expired(latest, c.opts.TrustingPeriod, time.Now()) {
		return nil, expiredRefusal(latest, c.opts.TrustingPeriod, time.Now())
	}
	c.syncedAt.Store(time.Now().UnixNano())
	return latest, nil
}

// maxWitnessLag is how far behind the primary a witness may be and still
// be waited for when choosing which header to verify.
const maxWitnessLag = 5

// witnessWait bounds how long Header waits for witnesses to reach a block
// the primary has.
const witnessWait = 3 * time.Second

// heights asks the primary and, in parallel, every witness for their
// newest height; witnesses that do not answer are left out.
func (c *LightClient) heights(ctx context.Context) (primary int64, witnesses []int64, err error) {
	ws := c.witnessed
	if c.lc != nil {
		ws = nil
		for _, p := range c.lc.Witnesses() {
			ws = append(ws, c.nodes[p])
		}
	}
	got := make([]int64, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if _, h, err := w.c.Status(wctx); err == nil {
				got[i] = h
			}
		}()
	}
	_, primary, err = c.primaryNode().c.Status(ctx)
	wg.Wait()
	for _, h := range got {
		if h > 0 {
			witnesses = append(witnesses, h)
		}
	}
	return primary, witnesses, err
}

// Header returns the verified header at height, waiting for the chain to
// reach it, verifying it (and cross-checking the witnesses) if it is not
// yet trusted.
func (c *LightClient) Header(ctx context.Context, height int64) (*types.LightBlock, error) {
	if r := c.halted.Load(); r != nil {
		return nil, r
	}
	if height <= 0 {
		return nil, fmt.Errorf("height %d: heights start at 1", height)
	}
	if lb := c.latest.Load(); lb.Height == height {
		return lb, nil
	}
	if lb, err := c.trusted(height); err == nil {
		return lb, nil
	}
	if err := c.waitHeight(ctx, height); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	lb, err := c.lc.VerifyLightBlockAtHeight(ctx, height, time.Now())
	if err != nil {
		return nil, c.refuse(ctx, height, err)
	}
	if lb.Height > c.latest.Load().Height {
		c.latest.Store(lb)
	}
	return lb, nil
}

func (c *LightClient) trusted(height int64) (*types.LightBlock, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lc.TrustedLightBlock(height)
}

// waitHeight waits until the primary has block height — asking the light
// client for a block the primary lacks would make it replace the primary —
// and, for up to witnessWait more, until the witnesses have it too.
func (c *LightClient) waitHeight(ctx context.Context, height int64) error {
	var primaryHas time.Time
	for {
		top, witnesses, err := c.heights(ctx)
		if err == nil && top >= height {
			if primaryHas.IsZero() {
				primaryHas = time.Now()
			}
			all := true
			for _, h := range witnesses {
				all = all && h >= height
			}
			if all || time.Since(primaryHas) > witnessWait {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("block %d not available from the primary before the deadline (its latest: %d): %w", height, top, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// fresh returns the newest verified header, syncing first when it is
// older than MaxAge.
func (c *LightClient) fresh(ctx context.Context) (*types.LightBlock, error) {
	if r := c.halted.Load(); r != nil {
		return nil, r
	}
	if c.opts.MaxAge < 0 || time.Since(time.Unix(0, c.syncedAt.Load())) < c.opts.MaxAge {
		return c.latest.Load(), nil
	}
	return c.Sync(ctx)
}

func expired(lb *types.LightBlock, period time.Duration, now time.Time) bool {
	return !lb.Time.Add(period).After(now)
}

func expiredRefusal(lb *types.LightBlock, period time.Duration, now time.Time) *Refusal {
	return &Refusal{Check: CheckTrustingPeriod, Reason: fmt.Sprintf(
		"the newest trusted header (height %d, time %s) is older than the trusting period (%s): it expired at %s (now %s). "+
			"Headers that old can no longer be trusted to start from. Obtain a recent trust root (a header's height and hash) "+
			"out of band from an agency you trust and run again with --trust-height and --trust-hash "+
			"(or, if your network's rules allow, a longer --trusting-period)",
		lb.Height, lb.Time.UTC().Format(time.RFC3339), period, lb.Time.Add(period).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
}

// refuse turns a light client error into a Refusal and, for a detected
// divergence, halts the client.
func (c *LightClient) refuse(ctx context.Context, height int64, err error) *Refusal {
	r := c.explain(ctx, height, err)
	if r.Check == CheckDivergence {
		c.halted.CompareAndSwap(nil, r)
	}
	return r
}

// explain says in plain words which check of the light client failed.
func (c *LightClient) explain(ctx context.Context, height int64, err error) *Refusal {
	var (
		expiredErr  light.ErrOldHeaderExpired
		conflict    light.ErrConflictingHeaders
		priorities  light.ErrProposerPrioritiesDiverge
		failed      light.ErrVerificationFailed
		invalid     light.ErrInvalidHeader
		badBlock    provider.ErrBadLightBlock
		cantTrustVS light.ErrNewValSetCantBeTrusted
	)
	switch {
	case errors.Is(err, light.ErrLightClientAttack), errors.As(err, &conflict), errors.As(err, &priorities):
		divs := c.divergences(ctx, height)
		var parts []string
		for _, d := range divs {
			parts = append(parts, d.String())
		}
		if len(parts) == 0 {
			parts = append(parts, "the witnesses no longer show the difference they reported: "+err.Error())
		}
		return &Refusal{Check: CheckDivergence, Err: err, Divergences: divs, Reason: fmt.Sprintf(
			"witnesses disagree with the primary %s: %s. Both chains carry signatures of the trusted validators: "+
				"either the primary serves a forked chain, or more than a third of the voting power signed two histories. "+
				"Evidence of the attack was sent to the witnesses. Nothing more is accepted from this primary; "+
				"report it to the agency that runs it", c.opts.Primary, strings.Join(parts, "; "))}
	case errors.As(err, &expiredErr):
		lb := c.latest.Load()
		if lb == nil {
			return &Refusal{Check: CheckTrustingPeriod, Err: err, Reason: fmt.Sprintf(
				"the trust root is older than the trusting period (%s): it expired at %s. Obtain a recent trust root out of band "+
					"and run again with --trust-height and --trust-hash", c.opts.TrustingPeriod, expiredErr.At.UTC().Format(time.RFC3339))}
		}
		return expiredRefusal(lb, c.opts.TrustingPeriod, expiredErr.Now)
	case errors.Is(err, light.ErrFailedHeaderCrossReferencing):
		return &Refusal{Check: CheckWitnesses, Err: err, Reason: fmt.Sprintf(
			"no witness confirmed header %d: every witness was unreachable, lacked the block or sent an invalid one. "+
				"Check the witness addresses, or choose other witnesses", height)}
	case errors.Is(err, light.ErrNoWitnesses):
		return &Refusal{Check: CheckWitnesses, Err: err, Reason: "no witnesses left: those given were dropped for sending invalid headers. Give other witnesses"}
	case errors.As(err, &cantTrustVS):
		return &Refusal{Check: CheckHeader, Err: err, Reason: fmt.Sprintf(
			"header %d is signed by validators the trusted ones do not vouch for: %v", height, err)}
	case errors.As(err, &invalid), errors.As(err, &badBlock), errors.As(err, &failed):
		return &Refusal{Check: CheckHeader, Err: err, Reason: fmt.Sprintf(
			"header %d from the primary does not verify: %v", height, err)}
	}
	return &Refusal{Check: CheckHeader, Err: err, Reason: fmt.Sprintf("header %d could not be verified: %v", height, err)}
}

// divergences compares the primary's block at height with each witness's.
func (c *LightClient) divergences(ctx context.Context, height int64) []Divergence {
	if height <= 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	primary := c.primaryNode()
	pb, err := httpp.NewWithClient(c.chainID, primary.c.RPC).LightBlock(ctx, height)
	if err != nil {
		return nil
	}
	var out []Divergence
	for _, addr := range c.opts.Witnesses {
		w, err := dialNode(addr)
		if err != nil {
			continue
		}
		wb, err := httpp.NewWithClient(c.chainID, w.c.RPC).LightBlock(ctx, height)
		if err != nil || bytes.Equal(wb.Hash(), pb.Hash()) {
			continue
		}
		out = append(out, Divergence{Witness: addr, Height: height, PrimaryHash: fmt.Sprintf("%X", pb.Hash()),
			WitnessHash: fmt.Sprintf("%X", wb.Hash()), PrimaryAppHash: pb.AppHash.String(), WitnessAppHash: wb.AppHash.String()})
	}
	return out
}

// Divergence is a witness that reports a different block than the primary.
type Divergence struct {
	Witness                        string
	Height                         int64
	PrimaryHash, WitnessHash       string
	PrimaryAppHash, WitnessAppHash string
}

func (d Divergence) String() string {
	return fmt.Sprintf("at height %d witness %s has block %s, the primary has %s", d.Height, d.Witness, d.WitnessHash, d.PrimaryHash)
}

// Check names what a refused answer failed.
type Check string

// The checks an answer passes before it is accepted.
const (
	CheckTrustRoot      Check = "trust root"
	CheckTrustingPeriod Check = "trusting period"
	CheckHeader         Check = "header verification"
	CheckWitnesses      Check = "witness cross-check"
	CheckDivergence     Check = "witness divergence"
	CheckHeight         Check = "answer height"
	CheckKey            Check = "proven key"
	CheckProof          Check = "Merkle proof"
	CheckList           Check = "list completeness"
	CheckRecord         Check = "record content"
	CheckTxInclusion    Check = "transaction inclusion"
	CheckTxResult       Check = "transaction result"
)

// Refusal is an answer or header the client would not accept, and why.
type Refusal struct {
	Check  Check
	Reason string
	// Divergences lists the witnesses that disagree with the primary (for
	// CheckDivergence).
	Divergences []Divergence
	Err         error
}

func (r *Refusal) Error() string { return "refused, " + string(r.Check) + " failed: " + r.Reason }

// Unwrap returns the underlying error, if any.
func (r *Refusal) Unwrap() error { return r.Err }
