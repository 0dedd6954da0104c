package gov_test

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
)

// Any bytes decoded as a proposal or a vote are validated and handled
// without panicking, and end-of-block tallying never fails on them.
func FuzzSubmitAndVote(f *testing.F) {
	seed, _ := proto.Marshal(&govv1.MsgSubmitProposal{Content: &govv1.Content{Sum: &govv1.Content_ChangeParam{ChangeParam: &govv1.ChangeParam{Name: "gov.quorum", Value: "1/2"}}}})
	f.Add(seed, uint64(1), int32(1))
	seed, _ = proto.Marshal(&govv1.MsgSubmitProposal{Content: &govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{PubKey: testPub(20), Power: 1, AgencyId: "a"}}}})
	f.Add(seed, uint64(2), int32(3))
	f.Fuzz(func(t *testing.T, bz []byte, id uint64, option int32) {
		kv := store.NewMemory()
		ak := agency.Keeper{}
		admin := testPub(1)
		if err := ak.InitGenesis(kv, &agencyv1.Genesis{
			Agencies: []*agencyv1.Agency{{Id: "a", Name: "A", Kind: agencyv1.Kind_KIND_TREASURY}},
			Accounts: []*agencyv1.Account{{PubKey: admin, AgencyId: "a", Roles: []agencyv1.Role{agencyv1.Role_ROLE_ADMIN}}},
		}, 0); err != nil {
			t.Fatal(err)
		}
		k := gov.NewKeeper(ak, gov.NewRegistry(gov.OwnParams()...))
		vals := []gov.ValidatorUpdate{}
		for i := range 4 {
			pk := testPub(byte(10 + i))
			vals = append(vals, gov.ValidatorUpdate{PubKey: pk, Power: 10})
		}
		if err := k.InitGenesis(kv, nil, vals); err != nil {
			t.Fatal(err)
		}
		signer, err := ak.Account(kv, agency.AddressOf(admin))
		if err != nil {
			t.Fatal(err)
		}
		ctx := module.NewContext(store.NewCache(kv), 5, time.Unix(1_900_000_000, 0), "c", nil)
		m := &govv1.MsgSubmitProposal{}
		if proto.Unmarshal(bz, m) == nil && gov.ValidateBasic(m) == nil {
			_ = k.SubmitProposal(ctx, signer, m)
		}
		v := &govv1.MsgVote{ProposalId: id, Option: govv1.VoteOption(option)}
		if gov.ValidateBasic(v) == nil {
			_ = k.Vote(ctx, signer, v)
		}
		if _, err := k.EndBlock(ctx); err != nil {
			t.Fatalf("end block: %v", err)
		}
	})
}
