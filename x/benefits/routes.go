package benefits

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the benefits module's route table: one row per message (the
// role it needs, its stateless check, its handler), and the scheduled
// payments run at the end of each block. A programme manager creates
// programmes; caseworkers enrol, suspend, resume and end; payers pay and
// open recoveries; a settlement bank records repayments.
func (k Keeper) Module() module.Module {
	return module.Module{Name: "benefits", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_PROGRAMME_MANAGER, validateCreateProgramme, k.CreateProgramme),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateEnrol, k.Enrol),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateSuspendEnrolment, k.SuspendEnrolment),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateResumeEnrolment, k.ResumeEnrolment),
		module.Msg(agencyv1.Role_ROLE_CASEWORKER, validateEndEnrolment, k.EndEnrolment),
		module.Msg(agencyv1.Role_ROLE_PAYER, validatePay, k.Pay),
		module.Msg(agencyv1.Role_ROLE_PAYER, validateOpenRecovery, k.OpenRecovery),
		module.Msg(agencyv1.Role_ROLE_SETTLEMENT_BANK, validateRecordRepayment, k.RecordRepayment),
	}, EndBlock: k.EndBlock}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }
