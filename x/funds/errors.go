package funds

import "github.com/tallyledger/tally/x/module"

// Codespace is the funds module's error namespace.
const Codespace = "funds"

// Errors a user can cause through funds messages, genesis or the keeper
// methods other modules call. Each leaves state unchanged.
var (
	ErrZeroAmount             = module.Register(Codespace, 2, "amount must be positive")
	ErrWrongCurrency          = module.Register(Codespace, 3, "wrong currency")
	ErrInsufficientFunds      = module.Register(Codespace, 4, "insufficient funds (overdraft)")
	ErrInvalidHolder          = module.Register(Codespace, 5, "invalid holder id")
	ErrUnknownHolder          = module.Register(Codespace, 6, "unknown holder")
	ErrNotController          = module.Register(Codespace, 7, "signer's agency does not control this holder")
	ErrInvalidReference       = module.Register(Codespace, 8, "invalid reference")
	ErrDuplicateAppropriation = module.Register(Codespace, 9, "appropriation reference already used")
	ErrOverAnnualLimit        = module.Register(Codespace, 10, "over the annual appropriation limit")
	ErrSameHolder             = module.Register(Codespace, 11, "from and to are the same holder")
	ErrMissingPurpose         = module.Register(Codespace, 12, "purpose code missing or invalid")
	ErrTooFragmented          = module.Register(Codespace, 13, "amount spans more tranches than one movement may take")
	ErrNotReturnable          = module.Register(Codespace, 14, "not that much came from the holder returned to")
	ErrUnknownPayment         = module.Register(Codespace, 15, "unknown payment")
	ErrNotPayment             = module.Register(Codespace, 16, "movement is not a payment to a bank account")
	ErrAlreadySettled         = module.Register(Codespace, 17, "payment already settled")
	ErrOverflow               = module.Register(Codespace, 18, "amount overflows")
	ErrInvalidGenesis         = module.Register(Codespace, 19, "invalid funds genesis")
	ErrUnknownMovement        = module.Register(Codespace, 20, "unknown movement")
	ErrHolderExists           = module.Register(Codespace, 21, "holder already exists")
	ErrNotTreasury            = module.Register(Codespace, 22, "only a treasury agency may do this")
	ErrPayeeByPaymentOnly     = module.Register(Codespace, 40, "a bank account is paid only by a programme payment")
)
