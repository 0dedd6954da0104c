package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/client/keys"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/testnet"
)

// TestDoubleSigningValidator runs a second node with a copy of one
// validator's consensus key. When the twins are to propose they propose
// different blocks and prevote for their own, so CometBFT sees two votes
// from one validator for the same height and round, and commits the
// evidence. The application records the misbehaviour and opens a removal
// proposal (gov.misbehaviour_action = propose, the default); the agencies
// pass it and the validator leaves the set. The chain stays consistent on
// every node, twins included.
func TestDoubleSigningValidator(t *testing.T) {
	// Five validators, so removing one leaves the four gov.min_validators
	// asks for.
	c := NewCluster(t, ClusterOptions{Validators: 5})
	s := NewScenario(t, "double-signing validator")
	const victim = 4
	names := c.Names()
	name := names[victim]

	w, ctx := StartWorkload(t, c, 20)

	// The twin: a fresh node (own node key, own data) holding a copy of
	// the victim's validator key.
	_, port, err := net.SplitHostPort(c.M.Nodes[0].P2P)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := strconv.Atoi(port)
	twin, _, err := testnet.Join(c.M, c.Dir, "twin-"+name, c.M.Nodes[victim].Agency, base+50)
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(c.M.Nodes[victim].Home, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(twin.Home, "config", "priv_validator_key.json"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	tc, err := client.Dial(twin.RPC)
	if err != nil {
		t.Fatal(err)
	}
	c.Clients = append(c.Clients, tc)
	if err := c.Net.Start(twin.Name); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	s.Fault("started %s with a copy of %s's validator key", twin.Name, name)

	// The evidence reaches the application.
	var rec *govv1.Misbehaviour
	for rec == nil {
		if time.Since(started) > 3*time.Minute {
			t.Fatalf("no misbehaviour recorded %s after starting the twin", time.Since(started).Round(time.Second))
		}
		res, _, err := c.Clients[0].Query(ctx, "/gov/misbehaviour", []byte("1"), 0, false)
		switch {
		case errors.Is(err, client.ErrNotFound):
			time.Sleep(500 * time.Millisecond)
		case err != nil:
			t.Fatal(err)
		default:
			rec = &govv1.Misbehaviour{}
			if err := proto.Unmarshal(res.Value, rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Note("misbehaviour #%d recorded %s after the twin started: %s by %X (agency %s) at height %d, committed at %d, action %s, proposal %d",
		rec.Seq, time.Since(started).Round(time.Second), rec.Type, rec.ValidatorAddress, rec.AgencyId, rec.EvidenceHeight, rec.Height, rec.Action, rec.ProposalId)
	if rec.Type != govv1.MisbehaviourType_MISBEHAVIOUR_TYPE_DUPLICATE_VOTE {
		t.Errorf("recorded %s, want a duplicate vote", rec.Type)
	}
	if rec.AgencyId != c.M.Nodes[victim].Agency {
		t.Errorf("misbehaviour blamed on agency %q, want %q", rec.AgencyId, c.M.Nodes[victim].Agency)
	}
	if rec.Action != govv1.MisbehaviourAction_MISBEHAVIOUR_ACTION_PROPOSED || rec.ProposalId == 0 {
		t.Fatalf("misbehaviour action %s, proposal %d: want a removal proposal", rec.Action, rec.ProposalId)
	}

	// The operator notices and stops the twin; the agencies vote the
	// removal through.
	if err := c.Net.Stop(twin.Name, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Open(c.M.KeyringDir, keys.BackendTest, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &testnet.Demo{M: c.M, Keys: kr, Clients: c.Clients[:len(names)], Log: t.Logf}
	// One vote per voting agency: the validators' agencies and the two
	// public bodies that run no validator (the two businesses do not vote).
	voters := append(append([]string{}, names[:4]...), "bank", "school")
	for i, ag := range voters {
		err := d.Send(ctx, i, ag+"-admin", &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: rec.ProposalId, Option: govv1.VoteOption_VOTE_OPTION_YES}}})
		if err != nil && strings.Contains(err.Error(), "voting on this proposal is closed") {
			break // passed on the votes before
		}
		if err != nil {
			t.Fatalf("%s voting: %v", ag, err)
		}
	}
	res, _, err := c.Clients[0].Query(ctx, "/gov/proposal", []byte(fmt.Sprint(rec.ProposalId)), 0, false)
	if err != nil {
		t.Fatal(err)
	}
	p := &govv1.Proposal{}
	if err := proto.Unmarshal(res.Value, p); err != nil {
		t.Fatal(err)
	}
	if p.Status != govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED {
		t.Fatalf("removal proposal %d is %s: %s", p.Id, p.Status, api.Describe(p.FailureCodespace, p.FailureCode))
	}
	s.Note("removal proposal %d executed at height %d", p.Id, p.EndHeight)
	// CometBFT applies a validator update two blocks later.
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	err = c.Net.WaitHeight(wctx, names[0], p.EndHeight+3)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	h := p.EndHeight + 3
	vals, err := c.Clients[0].RPC.Validators(ctx, &h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals.Validators {
		if bytes.Equal(v.Address, rec.ValidatorAddress) {
			t.Errorf("%X is still a validator at height %d", rec.ValidatorAddress, h)
		}
	}
	s.Note("validator set at height %d: %d validators, %X not among them", h, len(vals.Validators), rec.ValidatorAddress)

	// The twin comes back as a full node and must agree with everyone.
	if err := c.Restart(twin.Name, nil); err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	dur, err := c.WaitCaughtUp(wctx, len(c.Clients)-1)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	s.Resumed(dur, "the twin, restarted as a full node, caught up")
	time.Sleep(2 * time.Second)
	w.Stop()
	s.Verify(context.Background(), c, w, nil)
}
