package benefits

import "github.com/tallyledger/tally/x/module"

// Codespace is the benefits module's error namespace.
const Codespace = "benefits"

// Errors a user can cause through benefits messages or genesis. Each
// leaves state unchanged.
var (
	ErrInvalidGenesis     = module.Register(Codespace, 2, "invalid benefits genesis")
	ErrUnknownProgramme   = module.Register(Codespace, 3, "unknown programme")
	ErrProgrammeExists    = module.Register(Codespace, 4, "programme already exists")
	ErrInvalidProgramme   = module.Register(Codespace, 5, "invalid programme terms")
	ErrDuplicateEnrolment = module.Register(Codespace, 6, "recipient already enrolled")
	ErrUnknownEnrolment   = module.Register(Codespace, 7, "recipient not enrolled")
	ErrInvalidRecipient   = module.Register(Codespace, 8, "invalid recipient reference or receiving account")
	ErrInvalidEvidence    = module.Register(Codespace, 9, "invalid eligibility evidence hash")
	ErrNotActive          = module.Register(Codespace, 10, "enrolment is not active")
	ErrNotSuspended       = module.Register(Codespace, 11, "enrolment is not suspended")
	ErrEnded              = module.Register(Codespace, 12, "enrolment has ended")
	ErrOutsideDates       = module.Register(Codespace, 13, "outside the programme's dates")
	ErrOverCap            = module.Register(Codespace, 14, "over the per-recipient cap")
	ErrAgencyNotAllowed   = module.Register(Codespace, 15, "signer's agency may not act on this programme")
	ErrZeroAmount         = module.Register(Codespace, 16, "amount must be positive")
	ErrUnknownPayment     = module.Register(Codespace, 17, "unknown payment")
	ErrPaymentNotPaid     = module.Register(Codespace, 18, "payment was not paid")
	ErrOverRecovery       = module.Register(Codespace, 19, "more than can be recovered")
	ErrUnknownRecovery    = module.Register(Codespace, 20, "unknown recovery")
	ErrRecovered          = module.Register(Codespace, 21, "recovery already recovered in full")
	ErrInvalidReason      = module.Register(Codespace, 22, "invalid reason or reference")
	ErrStartsInPast       = module.Register(Codespace, 23, "programme would start in the past")
)
