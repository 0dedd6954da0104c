package gov

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the gov module's route table: one row per message (the role it
// needs, its stateless check, its handler). Only an agency's admins speak
// for the agency in governance. Its end-of-block work returns validator
// changes, which the application collects itself (app/route_gov.go).
// Each row's bound (WithUnits) is the most one message used in any state
// the app tests and the load mix build, with a margin (README "Bounded
// work"); the app tests check it on every block they run.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "gov", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateSubmitProposal, k.SubmitProposal).WithUnits(10_500),
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateVote, k.Vote).WithUnits(6_500),
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }
