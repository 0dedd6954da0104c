package app_test

import (
	"google.golang.org/protobuf/proto"

	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/x/gov"
)

// noMandates is a genesis mandate list that grants nothing: a test passes
// it to start a chain on which no agency holds any mandate.
var noMandates = []*govv1.MandateGrant{{AgencyId: "-", Mandate: govv1.Mandate_MANDATE_UNSPECIFIED}}

// withFoundingMandates returns g with the mandates a real genesis grants its
// agencies by kind (gov.FoundingMandates), unless g lists its own; noMandates
// stands for "none at all".
func withFoundingMandates(g *appv1.GenesisState) *appv1.GenesisState {
	if g == nil {
		return nil
	}
	g = proto.Clone(g).(*appv1.GenesisState)
	if g.Gov == nil {
		g.Gov = &govv1.Genesis{}
	}
	switch {
	case len(g.Gov.Mandates) == 1 && proto.Equal(g.Gov.Mandates[0], noMandates[0]):
		g.Gov.Mandates = nil
	case len(g.Gov.Mandates) == 0 && g.Agency != nil:
		g.Gov.Mandates = gov.FoundingMandates(g.Agency.Agencies)
	}
	return g
}
