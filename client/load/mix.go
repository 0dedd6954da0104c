package load

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// Account is a signing account the load generator controls. Its private key
// lives only in memory.
type Account struct {
	Address []byte
	PubKey  ed25519.PublicKey
	priv    ed25519.PrivateKey
	// ChainID and AgencyID are the chain and agency the account signs in,
	// for key proofs of members it adds.
	ChainID  string
	AgencyID string
}

// Sign signs a transaction body with the account's key (a client.Signer).
func (a *Account) Sign(body []byte) ([]byte, error) { return ed25519.Sign(a.priv, body), nil }

// Parties: the agencies a mix's signers belong to. The setup adds load
// accounts to each party's agency, signed by that agency's admin key, with
// the roles the party's messages need.
const (
	// PartyAgency accounts are admins of the --from agency (add_member).
	PartyAgency = "agency"
	// PartyTreasury accounts hold the treasury role in a Treasury agency
	// (appropriate, allocate).
	PartyTreasury = "treasury"
	// PartyBenefits accounts hold finance, caseworker and programme manager
	// in a benefits agency (fund, enrol; the setup creates a programme).
	PartyBenefits = "benefits"
	// PartyTax accounts are tax collectors of a tax authority, authorised
	// for a tax type the setup registers (issue_receipt).
	PartyTax = "tax"
	// PartyProvenance accounts are producers of one business (register_item,
	// offer_custody, accept_custody: custody goes round between them).
	PartyProvenance = "provenance"
)

// partyRoles are the roles the setup gives each party's load accounts.
var partyRoles = map[string][]agencyv1.Role{
	PartyAgency:     {agencyv1.Role_ROLE_ADMIN},
	PartyTreasury:   {agencyv1.Role_ROLE_TREASURY},
	PartyBenefits:   {agencyv1.Role_ROLE_FINANCE, agencyv1.Role_ROLE_CASEWORKER, agencyv1.Role_ROLE_PROGRAMME_MANAGER},
	PartyTax:        {agencyv1.Role_ROLE_TAX_COLLECTOR},
	PartyProvenance: {agencyv1.Role_ROLE_PRODUCER},
}

// kind is one message type of the mix vocabulary: the parties whose setup
// it needs (the first signs it) and how to build one. Every message a kind
// builds is valid whenever it is sent, in any order and concurrently with
// the others, so that a transaction refused or failed is a finding, not
// noise. Kinds that depend on an earlier transaction (accepting an offer)
// are built only once that transaction was seen committed.
//
// An independent kind sets msg (one message signed by s; any number of
// them may share a transaction); a dependent kind sets build, which picks
// its own signer (the holder of the item) and is sent one to a transaction.
type kind struct {
	parties []string
	msg     func(m *Mix, r *rand.Rand, s *Account) *txv1.Msg
	build   func(m *Mix, r *rand.Rand) (*Job, error)
}

// kinds is the mix vocabulary (name as used by --mix → kind). A module adds
// its entry here; state it needs prepared goes into setup.go.
var kinds = map[string]kind{
	// A member with a fresh random key and the auditor role, which any
	// agency kind may hold: grows state like real onboarding does.
	"add_member": {parties: []string{PartyAgency}, msg: func(m *Mix, r *rand.Rand, s *Account) *txv1.Msg {
		return client.AddMember(s.ChainID, s.AgencyID, ed25519.NewKeyFromSeed(randomBytes(r, ed25519.SeedSize)), agencyv1.Role_ROLE_AUDITOR)
	}},
	// A new appropriation line, a few pence, under this run's prefix.
	"appropriate": {parties: []string{PartyTreasury}, msg: func(m *Mix, r *rand.Rand, _ *Account) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_Appropriate{Appropriate: &fundsv1.MsgAppropriate{
			Reference: m.prefix + "/" + hex.EncodeToString(randomBytes(r, 8)), Amount: 1 + r.Uint64N(1_000), Currency: m.currency}}}
	}},
	// Treasury → the benefits agency, from the setup's appropriation.
	"allocate": {parties: []string{PartyTreasury, PartyBenefits}, msg: func(m *Mix, r *rand.Rand, _ *Account) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_Allocate{Allocate: &fundsv1.MsgAllocate{
			ToAgency: m.parties[PartyBenefits].agencyID, Amount: 1 + r.Uint64N(1_000), Currency: m.currency, Reference: "load allocation"}}}
	}},
	// Benefits agency → the setup's programme, from the setup's allocation.
	"fund": {parties: []string{PartyBenefits, PartyTreasury}, msg: func(m *Mix, r *rand.Rand, _ *Account) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_Fund{Fund: &fundsv1.MsgFund{
			Programme: m.programme, Amount: 1 + r.Uint64N(100), Currency: m.currency, Reference: "load top-up"}}}
	}},
	// A new recipient (a random pseudonym) on the setup's programme, from
	// its first period (which starts after the run: nothing is paid).
	"enrol": {parties: []string{PartyBenefits}, msg: func(m *Mix, r *rand.Rand, _ *Account) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_Enrol{Enrol: &benefitsv1.MsgEnrol{
			Programme: m.programme, Recipient: hex.EncodeToString(randomBytes(r, 32)), ReceivingAccount: hex.EncodeToString(randomBytes(r, 32)),
			EvidenceHash: randomBytes(r, 32), StartUnix: m.programmeStart}}}
	}},
	// A receipt for the setup's tax type, a random payer commitment and a
	// fresh bank reference commitment (a payment is receipted once).
	"issue_receipt": {parties: []string{PartyTax}, msg: func(m *Mix, r *rand.Rand, _ *Account) *txv1.Msg {
		return &txv1.Msg{Sum: &txv1.Msg_IssueReceipt{IssueReceipt: &taxv1.MsgIssueReceipt{
			TaxType: m.taxType, Payer: randomBytes(r, 32), Period: m.taxPeriod, Amount: 1 + r.Uint64N(1_000_000), BankReference: randomBytes(r, 32)}}}
	}},
	// A new batch held by its producer; once committed it can be offered.
	"register_item": {parties: []string{PartyProvenance}, build: func(m *Mix, r *rand.Rand) (*Job, error) {
		return m.register(r), nil
	}},
	// An item a producer holds with no open offer, offered to the next
	// producer; without one, a registration instead.
	"offer_custody": {parties: []string{PartyProvenance}, build: func(m *Mix, r *rand.Rand) (*Job, error) {
		if j := m.offer(r); j != nil {
			return j, nil
		}
		return m.register(r), nil
	}},
	// An offer seen committed, accepted by the producer it was made to;
	// without one, an offer (or a registration) instead.
	"accept_custody": {parties: []string{PartyProvenance}, build: func(m *Mix, r *rand.Rand) (*Job, error) {
		if j := m.accept(); j != nil {
			return j, nil
		}
		if j := m.offer(r); j != nil {
			return j, nil
		}
		return m.register(r), nil
	}},
}

// PartyRoles are the roles the setup gives the load accounts that sign
// message type name.
func PartyRoles(name string) []agencyv1.Role {
	k, ok := kinds[name]
	if !ok {
		return nil
	}
	return partyRoles[k.parties[0]]
}

// Job is one message to send: the load account that must sign it and what
// to do when its fate is known.
type Job struct {
	// Kind is the mix entry that built it (a dependent kind may fall back
	// to another: an accept with no open offer is an offer).
	Kind   string
	Signer *Account
	Msg    *txv1.Msg
	// More are further messages of the same kind and signer, sent in the
	// same transaction after Msg (NextBatch).
	More []*txv1.Msg
	done func(committedOK bool)
	// tx and msgs: a presigned job's signed transaction and its number of
	// messages (its Msg and More are dropped once it is signed, to keep a
	// run's presigned transactions small).
	tx   []byte
	msgs int
}

// Msgs are the job's messages in transaction order: Msg, then More.
func (j *Job) Msgs() []*txv1.Msg { return append([]*txv1.Msg{j.Msg}, j.More...) }

// Done tells the mix what became of the job's transaction: committed with
// code 0 (true), or refused, failed or lost (false). Call it once; state
// the next jobs depend on (an item that can now be offered) follows from it.
func (j *Job) Done(committedOK bool) {
	if j.done != nil {
		j.done(committedOK)
		j.done = nil
	}
}

// MsgNames lists the message types a mix may name, sorted.
func MsgNames() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// MixEntry is one message type of a mix with its relative weight.
type MixEntry struct {
	Name   string
	Weight int
}

// DefaultMix is what a run sends when Config.Mix is empty.
var DefaultMix = []MixEntry{{Name: "add_member", Weight: 1}}

// FullMix is every module's common transactions ("--mix all", or --mix
// alone): the benefit payments path (appropriate, allocate, fund, enrol),
// tax receipts, custody registrations, offers and acceptances, and new
// members, in equal parts but for custody (an offer and its acceptance per
// registration) and enrolments (the bulk of a benefits agency's work).
var FullMix = []MixEntry{
	{"add_member", 2}, {"appropriate", 1}, {"allocate", 1}, {"fund", 1}, {"enrol", 2},
	{"issue_receipt", 2}, {"register_item", 1}, {"offer_custody", 1}, {"accept_custody", 1},
}

// MixAll is the name ParseMix reads as FullMix.
const MixAll = "all"

// ParseMix parses "name[=weight],..." (for example "add_member" or
// "add_member=3,enrol=1"), or "all" for FullMix; a name without a weight
// weighs 1.
func ParseMix(s string) ([]MixEntry, error) {
	if strings.TrimSpace(s) == MixAll {
		return append([]MixEntry(nil), FullMix...), nil
	}
	var out []MixEntry
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, hasW := strings.Cut(part, "=")
		name = strings.TrimSpace(name)
		weight := 1
		if hasW {
			n, err := strconv.Atoi(strings.TrimSpace(w))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("mix entry %q: weight must be a positive integer", part)
			}
			weight = n
		}
		if _, ok := kinds[name]; !ok {
			return nil, fmt.Errorf("mix entry %q: unknown message type; known: %s (or %q for all of them)", name, strings.Join(MsgNames(), ", "), MixAll)
		}
		if seen[name] {
			return nil, fmt.Errorf("mix entry %q named twice", name)
		}
		seen[name] = true
		out = append(out, MixEntry{Name: name, Weight: weight})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty mix; known message types: %s (or %q)", strings.Join(MsgNames(), ", "), MixAll)
	}
	return out, nil
}

// MixString renders a mix as ParseMix reads it.
func MixString(mix []MixEntry) string {
	parts := make([]string, len(mix))
	for i, e := range mix {
		parts[i] = e.Name + "=" + strconv.Itoa(e.Weight)
	}
	return strings.Join(parts, ",")
}

// Parties lists the parties a mix needs admin keys for, sorted.
func Parties(mix []MixEntry) []string {
	set := map[string]bool{}
	for _, e := range mix {
		for _, p := range kinds[e.Name].parties {
			set[p] = true
		}
	}
	out := make([]string, 0, len(set))
	for p := range set {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// party is one agency's load accounts.
type party struct {
	admin    ed25519.PrivateKey
	adminAdr []byte
	agencyID string
	accounts []*Account
}

// Mix builds valid transactions of a weighted mix of message types for a
// pool of load accounts it prepares itself (Setup). It is the one workload
// of `tallyd load` and of the fault suite: each driver asks Next for a job,
// signs and sends it, and reports its fate with Job.Done. Safe for
// concurrent use.
type Mix struct {
	entries []MixEntry
	funcs   []kind
	names   []string
	cum     []int
	total   int

	parties map[string]*party
	// Set up by Setup.
	chainID        string
	prefix         string // this run's unique prefix for references and ids
	currency       string
	programme      string
	programmeStart int64
	taxType        string
	taxPeriod      string

	mu sync.Mutex
	// idle[i] are items producer i holds with no open offer; offered are
	// offers seen committed, waiting to be accepted.
	idle    [][]string
	offered []offer
	counts  map[string]*KindCount
	last    map[string]*txv1.Msg // the latest message of each kind seen committed
	// lastTx is, for a kind whose latest message seen committed was
	// presigned, that transaction (decoded when asked for: LastCommitted).
	lastTx map[string][]byte
}

type offer struct {
	item string
	to   int
}

// Admin is an agency admin's key; Address is its account when it differs
// from the key's own (after a key rotation).
type Admin struct {
	Key     ed25519.PrivateKey
	Address []byte
}

// NewMix prepares a mix; admins holds an admin key for every party the mix
// needs (Parties), and accounts is how many load accounts each party gets.
func NewMix(mix []MixEntry, admins map[string]Admin, accounts int) (*Mix, error) {
	if len(mix) == 0 {
		return nil, fmt.Errorf("empty mix")
	}
	if accounts < 2 {
		return nil, fmt.Errorf("a mix needs at least 2 load accounts per party (custody goes from one to another); got %d", accounts)
	}
	m := &Mix{entries: mix, parties: map[string]*party{}, counts: map[string]*KindCount{}, last: map[string]*txv1.Msg{}, lastTx: map[string][]byte{}}
	for _, e := range mix {
		k, ok := kinds[e.Name]
		if !ok {
			return nil, fmt.Errorf("unknown message type %q in mix; known: %s", e.Name, strings.Join(MsgNames(), ", "))
		}
		if e.Weight < 1 {
			return nil, fmt.Errorf("mix entry %q: weight must be positive", e.Name)
		}
		m.total += e.Weight
		m.funcs = append(m.funcs, k)
		m.names = append(m.names, e.Name)
		m.cum = append(m.cum, m.total)
	}
	for _, p := range Parties(mix) {
		a, ok := admins[p]
		if !ok || len(a.Key) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("the mix %s needs an admin key for the %s party (%s)", MixString(mix), p, partyHelp[p])
		}
		adr := a.Address
		if adr == nil {
			adr = keys.AddressOf(a.Key.Public().(ed25519.PublicKey))
		}
		m.parties[p] = &party{admin: a.Key, adminAdr: adr}
		for range accounts {
			m.parties[p].accounts = append(m.parties[p].accounts, newAccount())
		}
	}
	if p := m.parties[PartyProvenance]; p != nil {
		m.idle = make([][]string, len(p.accounts))
	}
	return m, nil
}

// partyHelp says whose admin key a party needs.
var partyHelp = map[string]string{
	PartyAgency:     "an admin of any agency",
	PartyTreasury:   "an admin of a Treasury agency, e.g. treasury-admin",
	PartyBenefits:   "an admin of a benefits agency, e.g. benefits-admin",
	PartyTax:        "an admin of a tax authority, e.g. revenue-admin",
	PartyProvenance: "an admin of a business, e.g. dalefarm-admin",
}

// Next builds the next job, picking a message type by weight.
func (m *Mix) Next(r *rand.Rand) (*Job, error) { return m.NextBatch(r, 1) }

// NextBatch builds the next job, picking a message type by weight, with up
// to n messages of that type for one transaction (a chain's max_messages
// bounds n): n for an independent type, one for a type whose message
// depends on an earlier one (custody offers and acceptances). Counts are
// by message.
func (m *Mix) NextBatch(r *rand.Rand, n int) (*Job, error) {
	j, err := m.build(m.pick(r), r, n)
	if err != nil {
		return nil, err
	}
	m.track(j)
	return j, nil
}

// pick picks an entry of the mix by weight.
func (m *Mix) pick(r *rand.Rand) int { return sort.SearchInts(m.cum, r.IntN(m.total)+1) }

// build builds a job of entry i (NextBatch), not yet counted (track).
func (m *Mix) build(i int, r *rand.Rand, n int) (*Job, error) {
	k := m.funcs[i]
	if k.msg == nil {
		return k.build(m, r)
	}
	s := m.signer(k.parties[0], r)
	j := &Job{Kind: m.names[i], Signer: s, Msg: k.msg(m, r, s)}
	for range n - 1 {
		j.More = append(j.More, k.msg(m, r, s))
	}
	return j, nil
}

// dependent says entry i's messages depend on what the chain has
// committed (custody offers and acceptances): they are built when sent,
// never ahead (presign).
func (m *Mix) dependent(i int) bool {
	name := m.names[i]
	return name == "offer_custody" || name == "accept_custody"
}

// track counts j's messages sent and has its Done count what became of
// them. A job whose messages were dropped after signing (presign: Msg nil,
// tx set) keeps its signed transaction instead, for LastCommitted.
func (m *Mix) track(j *Job) {
	msgs := int64(1 + len(j.More))
	if j.Msg == nil {
		msgs = int64(j.msgs)
	}
	m.mu.Lock()
	m.count(j.Kind).Sent += msgs
	m.mu.Unlock()
	inner := j.done
	kindName, msg, tx := j.Kind, j.Msg, j.tx
	j.done = func(ok bool) {
		if inner != nil {
			inner(ok)
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		if ok {
			m.count(kindName).CommittedOK += msgs
			if msg != nil {
				m.last[kindName] = msg
				delete(m.lastTx, kindName)
			} else {
				m.lastTx[kindName] = tx
				delete(m.last, kindName)
			}
		} else {
			m.count(kindName).NotOK += msgs
		}
	}
}

// KindCount is what became of one message type's messages.
type KindCount struct {
	Kind        string `json:"kind"`
	Sent        int64  `json:"sent"`
	CommittedOK int64  `json:"committed_ok"`
	// NotOK were refused, failed in their block, or not seen committed.
	NotOK int64 `json:"not_ok"`
}

func (m *Mix) count(name string) *KindCount {
	c := m.counts[name]
	if c == nil {
		c = &KindCount{Kind: name}
		m.counts[name] = c
	}
	return c
}

// Counts is what became of each message type's jobs so far, by name.
func (m *Mix) Counts() []KindCount {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]KindCount, 0, len(m.counts))
	for _, c := range m.counts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// LastCommitted is the latest message of kind name seen committed with
// code 0, or nil: a record a test can look up.
func (m *Mix) LastCommitted(name string) *txv1.Msg {
	return m.lastCommitted()[name]
}

func (m *Mix) lastCommitted() map[string]*txv1.Msg {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]*txv1.Msg, len(m.last)+len(m.lastTx))
	for k, v := range m.last {
		out[k] = v
	}
	for k, tx := range m.lastTx {
		if msg := firstMsg(tx); msg != nil {
			out[k] = msg
		}
	}
	return out
}

// firstMsg is the first message of tx, a transaction the load signed.
func firstMsg(tx []byte) *txv1.Msg {
	var t txv1.Tx
	var body txv1.TxBody
	if proto.Unmarshal(tx, &t) != nil || proto.Unmarshal(t.BodyBytes, &body) != nil || len(body.Messages) == 0 {
		return nil
	}
	return body.Messages[0]
}

// Programme is the benefits programme the setup created ("" before Setup).
func (m *Mix) Programme() string { return m.programme }

// String is the mix as ParseMix reads it.
func (m *Mix) String() string { return MixString(m.entries) }

func (m *Mix) signer(p string, r *rand.Rand) *Account {
	accts := m.parties[p].accounts
	return accts[r.IntN(len(accts))]
}

func (m *Mix) producer(i int) *Account { return m.parties[PartyProvenance].accounts[i] }

// Where the load's goods come from (a GS1 location number).
const (
	loadOrigin  = "urn:gln:5012345000017"
	loadProduct = "05012345678900"
)

// register builds a registration by a random producer; once it commits,
// the item can be offered.
func (m *Mix) register(r *rand.Rand) *Job {
	return m.registerBy(r.IntN(len(m.parties[PartyProvenance].accounts)), r)
}

// registerBy builds a registration by producer i.
func (m *Mix) registerBy(i int, r *rand.Rand) *Job {
	id := "lot:" + m.prefix + "-" + hex.EncodeToString(randomBytes(r, 8))
	return &Job{Kind: "register_item", Signer: m.producer(i), Msg: &txv1.Msg{Sum: &txv1.Msg_RegisterItem{RegisterItem: &provenancev1.MsgRegisterItem{
		Id: id, Product: loadProduct, Quantity: 1 + r.Uint64N(1_000), Unit: "kg", Origin: loadOrigin}}},
		done: func(ok bool) {
			if ok {
				m.mu.Lock()
				m.idle[i] = append(m.idle[i], id)
				m.mu.Unlock()
			}
		}}
}

// offer takes an idle item of some producer and offers it to the next
// producer, or returns nil when no producer holds an idle item.
func (m *Mix) offer(r *rand.Rand) *Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.idle)
	start := r.IntN(n)
	for k := range n {
		i := (start + k) % n
		if len(m.idle[i]) == 0 {
			continue
		}
		id := m.idle[i][0]
		m.idle[i] = m.idle[i][1:]
		to := (i + 1) % n
		return &Job{Kind: "offer_custody", Signer: m.producer(i), Msg: &txv1.Msg{Sum: &txv1.Msg_OfferCustody{OfferCustody: &provenancev1.MsgOfferCustody{
			ItemId: id, To: m.producer(to).Address, Location: loadOrigin}}},
			done: func(ok bool) {
				if ok {
					m.mu.Lock()
					m.offered = append(m.offered, offer{item: id, to: to})
					m.mu.Unlock()
				}
			}}
	}
	return nil
}

// accept takes an offer seen committed and has its receiver accept it, or
// returns nil when there is none.
func (m *Mix) accept() *Job {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.offered) == 0 {
		return nil
	}
	o := m.offered[0]
	m.offered = m.offered[1:]
	return &Job{Kind: "accept_custody", Signer: m.producer(o.to), Msg: &txv1.Msg{Sum: &txv1.Msg_AcceptCustody{AcceptCustody: &provenancev1.MsgAcceptCustody{
		ItemId: o.item, Location: loadOrigin}}},
		done: func(ok bool) {
			if ok {
				m.mu.Lock()
				m.idle[o.to] = append(m.idle[o.to], o.item)
				m.mu.Unlock()
			}
		}}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}
