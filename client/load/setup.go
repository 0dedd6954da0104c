package load

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Setup amounts, in minor units. The treasury appropriates enough for a
// long run's allocations (at most 1,000 each) and allocates enough to the
// benefits agency for its fundings (at most 100 each); a run appropriates
// 0.1% of the default annual limit, so a thousand runs fit in a year.
const (
	setupAppropriation = 100_000_000_000
	setupAllocation    = 10_000_000_000
	// setupItems is how many items each producer registers before the
	// load, so offers can start at once.
	setupItems = 4
	// programmeDelay puts the setup programme's first period after the run:
	// enrolments then cost what an enrolment costs, not a payment run.
	programmeDelay = 7 * 24 * time.Hour
	// programmePeriod and programmePeriods shape the setup programme.
	programmePeriod  = 30 * 24 * 3600
	programmePeriods = 12
)

func newAccount() *Account {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return &Account{Address: keys.AddressOf(pub), PubKey: pub, priv: priv}
}

// Setup prepares the chain for the mix, through clients[0], and returns
// once every client's node has applied it: each party's admin adds the
// party's load accounts with their roles; the tax admin registers a tax
// type for this run and authorises the collectors; a treasury account
// appropriates and allocates to the benefits agency; a benefits account
// creates this run's programme; each producer registers a few items. Ids
// and references carry a prefix unique to the run, so runs do not collide.
func (m *Mix) Setup(ctx context.Context, clients []*client.Client, logf func(string, ...any)) error {
	if len(clients) == 0 {
		return errors.New("no clients")
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := clients[0]
	chainID, _, err := c.Status(ctx)
	if err != nil {
		return err
	}
	m.chainID = chainID
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	m.prefix = "load-" + hex.EncodeToString(run)
	r := mrand.New(mrand.NewChaCha8([32]byte(append(run, make([]byte, 28)...))))

	names := make([]string, 0, len(m.parties))
	for name, p := range m.parties {
		names = append(names, name)
		if p.agencyID, err = accountAgency(ctx, c, p.adminAdr); err != nil {
			return fmt.Errorf("the %s party's admin: %w", name, err)
		}
		for _, a := range p.accounts {
			a.ChainID, a.AgencyID = chainID, p.agencyID
		}
	}
	sort.Strings(names)
	if m.parties[PartyTreasury] != nil || m.parties[PartyBenefits] != nil {
		if m.currency, err = currency(ctx, c); err != nil {
			return err
		}
	}

	// Round 1: the load accounts (and the tax type).
	var round []setupTx
	for _, name := range names {
		p := m.parties[name]
		for start := 0; start < len(p.accounts); start += setupBatch {
			var msgs []*txv1.Msg
			for _, a := range p.accounts[start:min(start+setupBatch, len(p.accounts))] {
				msgs = append(msgs, client.AddMember(chainID, p.agencyID, a.priv, partyRoles[name]...))
			}
			round = append(round, adminTx(p, msgs...))
		}
	}
	if p := m.parties[PartyTax]; p != nil {
		m.taxType = strings.ToUpper(strings.ReplaceAll(m.prefix, "-", "_"))
		m.taxPeriod = fmt.Sprintf("%d-Q1", time.Now().UTC().Year()-1)
		revenue := p.agencyID
		if t := m.parties[PartyTreasury]; t != nil {
			revenue = t.agencyID
		} else if revenue, err = revenueAgency(ctx, c, p.agencyID); err != nil {
			return err
		}
		round = append(round, adminTx(p, &txv1.Msg{Sum: &txv1.Msg_RegisterTaxType{RegisterTaxType: &taxv1.MsgRegisterTaxType{
			Code: m.taxType, Name: "Load test tax " + m.prefix, RevenueAgency: revenue, PeriodKind: taxv1.PeriodKind_PERIOD_KIND_QUARTER}}}))
	}
	if err := m.runRound(ctx, clients, "load accounts", round); err != nil {
		return err
	}
	logf("setup: %d parties (%s), %d load accounts each, added", len(names), strings.Join(names, ", "), len(m.parties[names[0]].accounts))

	// Round 2: what the load's messages draw on.
	round = round[:0]
	if p := m.parties[PartyTreasury]; p != nil {
		msgs := []*txv1.Msg{{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{Reference: m.prefix + "/setup", Amount: setupAppropriation, Currency: m.currency}}}}
		if b := m.parties[PartyBenefits]; b != nil {
			msgs = append(msgs, &txv1.Msg{Sum: &txv1.Msg_Allocate{Allocate: &fundsv1.MsgAllocate{ToAgency: b.agencyID, Amount: setupAllocation, Currency: m.currency, Reference: "load setup"}}})
		}
		round = append(round, accountTx(p.accounts[0], msgs...))
	}
	if p := m.parties[PartyBenefits]; p != nil {
		m.programme = m.prefix
		m.programmeStart = time.Now().Add(programmeDelay).Unix()
		round = append(round, accountTx(p.accounts[0], &txv1.Msg{Sum: &txv1.Msg_CreateProgramme{CreateProgramme: &benefitsv1.MsgCreateProgramme{
			Id: m.programme, Name: "Load test programme", Amount: 100, Currency: m.currency, PeriodSeconds: programmePeriod,
			StartUnix: m.programmeStart, EndUnix: m.programmeStart + programmePeriod*programmePeriods}}}))
	}
	if p := m.parties[PartyTax]; p != nil {
		for start := 0; start < len(p.accounts); start += setupBatch {
			var msgs []*txv1.Msg
			for _, a := range p.accounts[start:min(start+setupBatch, len(p.accounts))] {
				msgs = append(msgs, &txv1.Msg{Sum: &txv1.Msg_AuthoriseCollector{AuthoriseCollector: &taxv1.MsgAuthoriseCollector{Collector: a.Address, TaxType: m.taxType}}})
			}
			round = append(round, adminTx(p, msgs...))
		}
	}
	var registered []func(bool)
	if p := m.parties[PartyProvenance]; p != nil {
		for i, a := range p.accounts {
			var msgs []*txv1.Msg
			for range setupItems {
				j := m.registerBy(i, r)
				msgs = append(msgs, j.Msg)
				registered = append(registered, j.done)
			}
			round = append(round, accountTx(a, msgs...))
		}
	}
	if len(round) > 0 {
		if err := m.runRound(ctx, clients, "programme, funds, collectors and items", round); err != nil {
			return err
		}
		for _, done := range registered {
			done(true)
		}
		logf("setup: programme %s, tax type %s, appropriation %s/setup ready", m.programme, m.taxType, m.prefix)
	}
	return nil
}

// setupTx is one setup transaction: its signer and messages.
type setupTx struct {
	signer []byte
	sign   client.Signer
	msgs   []*txv1.Msg
}

func adminTx(p *party, msgs ...*txv1.Msg) setupTx {
	key := p.admin
	return setupTx{signer: p.adminAdr, sign: func(b []byte) ([]byte, error) { return ed25519.Sign(key, b), nil }, msgs: msgs}
}

func accountTx(a *Account, msgs ...*txv1.Msg) setupTx {
	return setupTx{signer: a.Address, sign: a.Sign, msgs: msgs}
}

// runRound sends a round's transactions at once through clients[0], waits
// until each is committed with code 0, then until every client's node has
// applied the last of them.
func (m *Mix) runRound(ctx context.Context, clients []*client.Client, what string, round []setupTx) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	c := clients[0]
	_, height, err := c.Status(ctx)
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		last int64
	)
	for _, s := range round {
		tx, err := client.BuildTx(client.TxOptions{ChainID: m.chainID, Signer: s.signer, TimeoutHeight: uint64(height) + DefaultTimeoutBlocks}, s.sign, s.msgs...)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.BroadcastAndWait(ctx, tx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			last = max(last, res.Height)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("setup (%s): %w", what, err)
	}
	return waitApplied(ctx, clients, last)
}

// waitApplied waits until every client's application has committed height,
// so that CheckTx everywhere sees its effects.
func waitApplied(ctx context.Context, clients []*client.Client, height int64) error {
	for _, c := range clients {
		for {
			info, err := c.RPC.ABCIInfo(ctx)
			if err == nil && info.Response.LastBlockHeight >= height {
				break
			}
			if err := sleep(ctx, DefaultPollInterval); err != nil {
				return fmt.Errorf("waiting for a node to apply block %d: %w", height, err)
			}
		}
	}
	return nil
}

// accountAgency is the agency of the account at address.
func accountAgency(ctx context.Context, c *client.Client, address []byte) (string, error) {
	res, _, err := c.Query(ctx, api.PathAccount, address, 0, false)
	if err != nil {
		return "", fmt.Errorf("reading account %x: %w", address, err)
	}
	if res.Code != abci.CodeTypeOK {
		return "", fmt.Errorf("account %x: %s", address, res.Log)
	}
	acc := &agencyv1.Account{}
	if err := proto.Unmarshal(res.Value, acc); err != nil {
		return "", fmt.Errorf("account %x: %w", address, err)
	}
	return acc.AgencyId, nil
}

// pathFundsParams is app.PathFundsParams (the client does not import app).
const pathFundsParams = "/funds/params"

// currency is the chain's currency, from the funds params.
func currency(ctx context.Context, c *client.Client) (string, error) {
	res, _, err := c.Query(ctx, pathFundsParams, nil, 0, false)
	if err != nil {
		return "", fmt.Errorf("reading the funds params: %w", err)
	}
	if res.Code != abci.CodeTypeOK {
		return "", fmt.Errorf("funds params: %s", res.Log)
	}
	p := &fundsv1.Params{}
	if err := proto.Unmarshal(res.Value, p); err != nil {
		return "", fmt.Errorf("funds params: %w", err)
	}
	return p.Currency, nil
}

// revenueAgency is the agency a load tax type pays into when the mix has
// no treasury party: a tax type's revenue agency must hold a revenue or
// the treasury mandate (tax refuses it with gov/60 otherwise), which a
// national tax authority does not. The tax party's own agency when it
// holds one (a council), else the Treasury, else any revenue holder.
func revenueAgency(ctx context.Context, c *client.Client, own string) (string, error) {
	list, _, err := c.ListAll(ctx, api.PathGovMandates, nil, 0, false)
	if err != nil {
		return "", fmt.Errorf("reading the mandates in force: %w", err)
	}
	var treasury, revenue string
	for _, e := range list.Entries {
		g := &govv1.MandateGrant{}
		if err := proto.Unmarshal(e.Value, g); err != nil {
			return "", fmt.Errorf("mandate %x: %w", e.Key, err)
		}
		if g.WithdrawnHeight != 0 || (g.UntilUnix != 0 && g.UntilUnix <= time.Now().Unix()) {
			continue
		}
		switch g.Mandate {
		case govv1.Mandate_MANDATE_REVENUE, govv1.Mandate_MANDATE_TREASURY:
			if g.AgencyId == own {
				return own, nil
			}
			if g.Mandate == govv1.Mandate_MANDATE_TREASURY && treasury == "" {
				treasury = g.AgencyId
			}
			if g.Mandate == govv1.Mandate_MANDATE_REVENUE && revenue == "" {
				revenue = g.AgencyId
			}
		}
	}
	if treasury != "" {
		return treasury, nil
	}
	if revenue != "" {
		return revenue, nil
	}
	return "", errors.New("no agency holds a revenue or treasury mandate for the load's tax type to pay into")
}
