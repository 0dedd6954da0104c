package gov_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// invGov is a governance world of three agencies, each with one admin, and
// four validators, three run by the agencies and one genesis left unassigned.
type invGov struct {
	t      *testing.T
	kv     *store.Store
	k      gov.Keeper
	admins map[string]*agencyv1.Account
}

func newInvGov(t *testing.T) *invGov {
	kv := store.NewMemory()
	ak := agency.Keeper{}
	g := &agencyv1.Genesis{}
	ids := []string{"a", "b", "c"}
	for i, id := range ids {
		pub := testPub(byte(i + 1))
		g.Agencies = append(g.Agencies, &agencyv1.Agency{Id: id, Name: id, Kind: agencyv1.Kind_KIND_DEPARTMENT})
		g.Accounts = append(g.Accounts, &agencyv1.Account{PubKey: pub, AgencyId: id, Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}})
	}
	require.NoError(t, ak.InitGenesis(kv, g, 0))
	w := &invGov{t: t, kv: kv, k: gov.NewKeeper(ak, gov.NewRegistry(gov.OwnParams()...)), admins: map[string]*agencyv1.Account{}}
	var vals []gov.ValidatorUpdate
	var ops []*govv1.ValidatorOperator
	for i := range 4 {
		pk := testPub(byte(10 + i))
		vals = append(vals, gov.ValidatorUpdate{PubKey: pk, Power: 10})
		if i < len(ids) {
			ops = append(ops, &govv1.ValidatorOperator{PubKey: pk, AgencyId: ids[i]})
		}
	}
	require.NoError(t, w.k.InitGenesis(kv, &govv1.Genesis{Operators: ops}, vals))
	for i, id := range ids {
		pub := testPub(byte(i + 1))
		acc, err := ak.Account(kv, agency.AddressOf(pub))
		require.NoError(t, err)
		w.admins[id] = acc
	}
	return w
}

func (w *invGov) ctx(h int64) module.Context {
	return module.NewContext(w.kv, h, time.Unix(1_900_000_000+h, 0), "gov-unit", nil)
}

func (w *invGov) submit(h int64, agencyID, param, value string) {
	w.t.Helper()
	m := &govv1.MsgSubmitProposal{Title: param + "=" + value, Content: &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: param, Value: value}}}}
	require.NoError(w.t, gov.ValidateBasic(m))
	require.NoError(w.t, w.k.SubmitProposal(w.ctx(h), w.admins[agencyID], m))
}

func (w *invGov) voteYes(h int64, id uint64) {
	w.t.Helper()
	for _, ag := range []string{"a", "b", "c"} {
		require.NoError(w.t, w.k.Vote(w.ctx(h), w.admins[ag], &govv1.MsgVote{ProposalId: id, Option: govv1.VoteOption_VOTE_OPTION_YES}))
	}
}

func (w *invGov) endBlock(h int64) {
	w.t.Helper()
	_, err := w.k.EndBlock(w.ctx(h))
	require.NoError(w.t, err)
}

// build runs the proposals of the world: the open-proposal limit is set to
// 3, agency a opens two proposals and the limit is then lowered to 1 while
// they are still open, and agency b opens one under the new limit.
func (w *invGov) build() {
	w.submit(2, "a", "gov.max_open_proposals_per_agency", "3") // proposal 1
	w.voteYes(2, 1)
	w.endBlock(2)
	w.submit(3, "a", "gov.quorum", "3/4")                      // proposal 2, left open
	w.submit(3, "a", "gov.voting_period_seconds", "1000")      // proposal 3, left open
	w.submit(3, "c", "gov.max_open_proposals_per_agency", "1") // proposal 4
	w.voteYes(3, 4)
	w.endBlock(3)
	w.submit(4, "b", "gov.quorum", "4/5") // proposal 5, left open
	w.endBlock(4)
	p, err := w.k.Params(w.kv)
	require.NoError(w.t, err)
	require.Equal(w.t, uint32(1), p.MaxOpenProposalsPerAgency)
	for id, want := range map[uint64]govv1.ProposalStatus{1: govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED, 2: govv1.ProposalStatus_PROPOSAL_STATUS_VOTING, 4: govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED} {
		pr, err := w.k.Proposal(w.kv, id)
		require.NoError(w.t, err)
		require.Equal(w.t, want, pr.Status, "proposal %d", id)
	}
}

func requireOnlyFails(t *testing.T, r *appv1.ModuleInvariants, name, fragment string) {
	t.Helper()
	require.False(t, r.Ok, "the report must fail")
	seen := false
	for _, c := range r.Checks {
		if c.Name != name {
			require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
			continue
		}
		seen = true
		require.False(t, c.Ok, "check %s must fail", name)
		require.NotZero(t, c.Problems)
		require.Contains(t, c.Detail, fragment)
	}
	require.True(t, seen, "no check named %s", name)
}

// Lowering the limit does not close proposals already open: agency a has
// two open under a limit of one, which the limit in force when it submitted
// them allowed, so the invariant holds.
func TestGovInvariantsHoldAfterProposalsVotesAndALoweredLimit(t *testing.T) {
	w := newInvGov(t)
	w.build()
	r, err := w.k.Invariants(w.kv)
	require.NoError(t, err)
	require.Equal(t, "gov", r.Module)
	for _, c := range r.Checks {
		require.True(t, c.Ok, "check %s: %s", c.Name, c.Detail)
		require.NotEmpty(t, c.Rule)
	}
	require.True(t, r.Ok)
	require.Len(t, r.Checks, 4)
}

func TestGovInvariantsCatchCorruptState(t *testing.T) {
	for _, tt := range []struct {
		name, check, fragment string
		corrupt               func(t *testing.T, w *invGov)
	}{
		{"voting proposal dropped from the open index", gov.CheckOpenProposals, "proposal 2 is voting but missing from the open index",
			func(t *testing.T, w *invGov) {
				w.kv.Delete(api.GovOpenKey(2))
			}},
		{"open count drifts", gov.CheckOpenProposals, `agency "b"'s open count is 3 but 1 of its proposals are voting`,
			func(t *testing.T, w *invGov) {
				w.kv.Set(api.GovOpenCountKey("b"), api.Uint64(3))
			}},
		{"an agency over the limit in force", gov.CheckOpenLimit, `agency "b" has 2 open proposals: proposal 6, submitted at height 5 as its open proposal number 2, exceeds the limit of 1`,
			func(t *testing.T, w *invGov) {
				// A second open proposal of b, index and count kept consistent.
				p := &govv1.Proposal{Id: 6, ProposerAgency: "b", SubmitHeight: 5, Status: govv1.ProposalStatus_PROPOSAL_STATUS_VOTING,
					Content: &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: "gov.quorum", Value: "1/2"}}}}
				require.NoError(t, store.SetProto(w.kv, api.GovProposalKey(6), p))
				w.kv.Set(api.GovOpenKey(6), []byte{})
				w.kv.Set(api.GovOpenCountKey("b"), api.Uint64(2))
			}},
		{"validator run by an agency that does not exist", gov.CheckValidators, `operated by agency "ghost", which does not exist`,
			func(t *testing.T, w *invGov) {
				pk := testPub(10)
				v, err := w.k.Validator(w.kv, pk)
				require.NoError(t, err)
				v.AgencyId = "ghost"
				require.NoError(t, store.SetProto(w.kv, api.GovValidatorKey(pk), v))
			}},
		{"one validator holding too much of the power", gov.CheckSpread, "with 100 of 130 total power",
			func(t *testing.T, w *invGov) {
				pk := testPub(10)
				v, err := w.k.Validator(w.kv, pk)
				require.NoError(t, err)
				v.Power = 100
				require.NoError(t, store.SetProto(w.kv, api.GovValidatorKey(pk), v))
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := newInvGov(t)
			w.build()
			tt.corrupt(t, w)
			r, err := w.k.Invariants(w.kv)
			require.NoError(t, err)
			requireOnlyFails(t, r, tt.check, tt.fragment)
		})
	}
}
