package testnet

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cometbft/cometbft/privval"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/client"
	"github.com/tallyledger/tally/node"
	"github.com/tallyledger/tally/node/genesis"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
)

// CouncilProposalTitle is the title of the demo's governance proposal.
const CouncilProposalTitle = "Admit Harbourside Council's node as a validator"

// govDemo has the agencies vote a council's node into the validator set:
// the Treasury proposes it, every agency that votes says yes until the
// proposal passes, and the node, which has followed the chain as a full
// node, starts signing blocks. It runs when the network has a candidate
// node (Options.Council).
func govDemo(ctx context.Context, d *Demo) error {
	var cand *Node
	for i := range d.M.Nodes {
		if d.M.Nodes[i].Candidate {
			cand = &d.M.Nodes[i]
		}
	}
	if cand == nil {
		return nil
	}
	pv := privval.LoadFilePVEmptyState(node.DefaultCometConfig(cand.Home).PrivValidatorKeyFile(), "")
	pk := pv.Key.PubKey.Bytes()
	proof, err := client.KeyProof(pv.Key.PrivKey.Sign, d.M.ChainID, cand.Agency, pv.Key.PubKey.Address(), pk, keyproof.AddValidator)
	if err != nil {
		return err
	}
	// A validator joining may move at most gov.max_power_change (a third)
	// of the power: on a small network the council starts weaker.
	validators := int64(len(d.M.Validators()))
	power := min(int64(genesis.DefaultPower), validators*genesis.DefaultPower/3)
	if err := d.Send(ctx, 0, "treasury-admin", &txv1.Msg{Sum: &txv1.Msg_SubmitProposal{SubmitProposal: &govv1.MsgSubmitProposal{
		Title: CouncilProposalTitle,
		Content: &govv1.Content{Sum: &govv1.Content_AddValidator{AddValidator: &govv1.AddValidator{
			PubKey: pk, Power: power, AgencyId: cand.Agency, NodeAddress: cand.NodeID + "@" + cand.P2P, KeyProof: proof}}},
	}}}); err != nil {
		return err
	}
	id, p, err := d.latestProposal(ctx)
	if err != nil {
		return err
	}
	d.Log("HM Treasury proposed #%d: %s (voting power %d)", id, CouncilProposalTitle, power)
	for i, ag := range d.voters() {
		if err := d.Send(ctx, i, ag+"-admin", &txv1.Msg{Sum: &txv1.Msg_Vote{Vote: &govv1.MsgVote{ProposalId: id, Option: govv1.VoteOption_VOTE_OPTION_YES}}}); err != nil {
			return fmt.Errorf("%s's vote: %w", ag, err)
		}
		if p, err = d.proposal(ctx, id); err != nil {
			return err
		}
		if p.Status != govv1.ProposalStatus_PROPOSAL_STATUS_VOTING {
			break
		}
	}
	if p.Status != govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED {
		return fmt.Errorf("proposal #%d ended %s, not executed", id, p.Status)
	}
	d.Log("the agencies voted yes (%d of %d); %s's node validates from block %d — see `%s query gov validators`",
		p.Yes, p.ActiveAgencies, cand.Agency, p.EndHeight+2, d.CLI)
	return nil
}

// voters are the agencies that vote on proposals in the demo network, in
// genesis order: the public bodies, not the businesses (gov.voting_kinds
// as a new chain has it).
func (d *Demo) voters() []string {
	var out []string
	for _, s := range append(append(append([]seat{}, validatorSeats...), otherAgencies...), councilSeat) {
		if _, err := d.Keys.Show(s.id + "-admin"); err == nil && s.kind != agencyv1.Kind_KIND_BUSINESS {
			out = append(out, s.id)
		}
	}
	return out
}

// latestProposal finds the newest proposal by reading ids up from 1.
func (d *Demo) latestProposal(ctx context.Context) (uint64, *govv1.Proposal, error) {
	var last *govv1.Proposal
	for id := uint64(1); ; id++ {
		p, err := d.proposal(ctx, id)
		if err != nil {
			if last == nil {
				return 0, nil, err
			}
			return last.Id, last, nil
		}
		last = p
	}
}

func (d *Demo) proposal(ctx context.Context, id uint64) (*govv1.Proposal, error) {
	res, _, err := d.Clients[0].Query(ctx, api.PathGovProposal, []byte(strconv.FormatUint(id, 10)), 0, false)
	if err != nil {
		return nil, err
	}
	p := &govv1.Proposal{}
	return p, proto.Unmarshal(res.Value, p)
}
