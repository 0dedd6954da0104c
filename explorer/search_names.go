package explorer

import (
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
)

// Searching by name: "Food Standards" finds the agency, "bursary" the
// programme, "cheese" the items whose product is named so. The chain keeps
// no index of names, so the search reads the lists that are small (the
// agencies of genesis and of governance, the programmes) and the recent
// items; every hit is a record read with its proof.

// minNameQuery is the shortest text searched for as a name.
const minNameQuery = 3

// maxNameHits bounds the hits of one name search.
const maxNameHits = 20

func (s *Server) nameHits(sn *snap, q string) []hit {
	if len([]rune(q)) < minNameQuery {
		return nil
	}
	want := strings.ToLower(q)
	match := func(ss ...string) bool {
		for _, s := range ss {
			if s != "" && strings.Contains(strings.ToLower(s), want) {
				return true
			}
		}
		return false
	}
	var hits []hit
	add := func(what, link string) {
		if len(hits) < maxNameHits {
			hits = append(hits, hit{what, link})
		}
	}
	for _, id := range s.agencyIDs(sn) {
		ag := &agencyv1.Agency{}
		if sn.record(api.PathAgency, []byte(id), ag) == nil && match(ag.Name, ag.Id) {
			add("Agency: "+ag.Name, "/agency/"+ag.Id)
		}
	}
	if list, err := sn.list(api.PathBenefitsProgrammes, nil); err == nil {
		for _, e := range list.Entries {
			p := &benefitsv1.Programme{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, p) == nil && match(p.Name, p.Id) {
				add("Benefit programme: "+p.Name+" ("+pounds(p.Amount)+" "+periodWords(int64(p.PeriodSeconds))+")", "/programme/"+p.Id)
			}
		}
	}
	for _, it := range sn.recentItems(recentTxs) {
		if name := productName(it.Attributes); match(name, it.Product) {
			add("Item: "+firstNonEmpty(name, "product "+it.Product)+", "+it.Id, "/item/"+it.Id)
		}
	}
	return hits
}

// agencyIDs lists the agencies of genesis and those admitted by a
// governance proposal.
func (s *Server) agencyIDs(sn *snap) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if g, err := sn.c.RPC.Genesis(sn.ctx); err == nil {
		st := &appv1.GenesisState{}
		if protojson.Unmarshal(g.Genesis.AppState, st) == nil && st.Agency != nil {
			for _, a := range st.Agency.Agencies {
				add(a.Id)
			}
		}
	}
	if list, err := sn.list(api.PathGovProposals, nil); err == nil {
		for _, e := range list.Entries {
			p := &govv1.Proposal{}
			if len(e.Value) > 0 && proto.Unmarshal(e.Value, p) == nil && p.Status == govv1.ProposalStatus_PROPOSAL_STATUS_EXECUTED {
				add(p.GetContent().GetAdmitAgency().GetAgencyId())
			}
		}
	}
	return ids
}
