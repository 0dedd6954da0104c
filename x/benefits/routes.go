package benefits

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	benefitsv1 "github.com/tallyledger/tally/proto/tally/benefits/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// Module is the benefits module's route table: one row per message (the
// role it needs, its stateless check, its handler), and the scheduled
// payments run at the end of each block. A programme manager creates
// programmes; caseworkers enrol, suspend, resume and end; payers pay and
// open recoveries; a settlement bank records repayments.
// Each row's bound (WithUnits) is the most one message used in any state
// the app tests and the load mix build, with a margin (README "Bounded
// work"); the app tests check it on every block they run.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "benefits", Routes: []module.Route{
		module.Growing(module.Msg(agencyv1.Role_ROLE_PROGRAMME_MANAGER, validateCreateProgramme, k.CreateProgramme).WithUnits(7_500), periodsUnits),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateEnrol, k.Enrol).WithUnits(6_000),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateSuspendEnrolment, k.SuspendEnrolment).WithUnits(4_500),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateResumeEnrolment, k.ResumeEnrolment).WithUnits(4_500),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateEndEnrolment, k.EndEnrolment).WithUnits(4_500),
		module.Msg(agencyv1.Role_ROLE_PAYER, validatePay, k.Pay).WithUnits(60_000),
		module.Msg(agencyv1.Role_ROLE_PAYER, validateOpenRecovery, k.OpenRecovery).WithUnits(12_500),
		module.Msg(agencyv1.Role_ROLE_SETTLEMENT_BANK, validateRecordRepayment, k.RecordRepayment).WithUnits(30_000),
	}, EndBlock: k.EndBlock}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

// periodsUnits is the part of create_programme's bound that grows with the
// programme: what CreateProgramme charges for the periods it schedules.
func periodsUnits(m *benefitsv1.MsgCreateProgramme) uint64 {
	if m.PeriodSeconds <= 0 || m.EndUnix <= m.StartUnix { // refused by validateCreateProgramme before it runs
		return 0
	}
	return store.Cost(store.PeriodScheduled) * (uint64(m.EndUnix-m.StartUnix)/uint64(m.PeriodSeconds) + 1)
}
