package tax

import "github.com/tallyledger/tally/x/module"

// Codespace is the tax module's error namespace.
const Codespace = "tax"

// Errors a user can cause through tax messages, queries or genesis. Each
// leaves state untouched.
var (
	ErrNotTaxAuthority        = module.Register(Codespace, 2, "signer's agency is not a tax authority")
	ErrInvalidTaxType         = module.Register(Codespace, 3, "invalid tax type code")
	ErrUnknownTaxType         = module.Register(Codespace, 4, "unknown tax type")
	ErrTaxTypeExists          = module.Register(Codespace, 5, "tax type already registered")
	ErrOtherAuthorityType     = module.Register(Codespace, 6, "tax type belongs to another tax authority")
	ErrInvalidName            = module.Register(Codespace, 7, "invalid tax type name")
	ErrInvalidRevenueAgency   = module.Register(Codespace, 8, "invalid revenue agency")
	ErrInvalidPeriodKind      = module.Register(Codespace, 9, "invalid period kind")
	ErrInvalidAddress         = module.Register(Codespace, 10, "invalid collector address")
	ErrUnknownCollector       = module.Register(Codespace, 11, "unknown collector account")
	ErrCollectorInactive      = module.Register(Codespace, 12, "collector account is not active")
	ErrNotCollectorRole       = module.Register(Codespace, 13, "account does not hold the tax_collector role")
	ErrAlreadyAuthorised      = module.Register(Codespace, 14, "collector already authorised for this tax type")
	ErrNotAuthorised          = module.Register(Codespace, 15, "collector holds no active authorisation for this tax type")
	ErrUnauthorisedCollector  = module.Register(Codespace, 16, "unauthorised collector")
	ErrCollectorNotForType    = module.Register(Codespace, 17, "collector not authorised for this tax type")
	ErrInvalidPeriod          = module.Register(Codespace, 18, "malformed tax period")
	ErrWrongPeriodKind        = module.Register(Codespace, 19, "period is not of the tax type's kind")
	ErrInvalidAmount          = module.Register(Codespace, 20, "amount must be a positive number of minor units")
	ErrInvalidTaxpayer        = module.Register(Codespace, 21, "invalid taxpayer reference")
	ErrInvalidBankReference   = module.Register(Codespace, 22, "invalid bank reference")
	ErrDuplicatePayment       = module.Register(Codespace, 23, "bank reference already receipted")
	ErrInvalidReceiptID       = module.Register(Codespace, 24, "invalid receipt id")
	ErrUnknownReceipt         = module.Register(Codespace, 25, "unknown receipt")
	ErrAmendOtherAuthority    = module.Register(Codespace, 26, "receipt belongs to another authority")
	ErrRefundTooLarge         = module.Register(Codespace, 27, "refund larger than the receipt's net amount")
	ErrReceiptCancelled       = module.Register(Codespace, 28, "receipt is cancelled")
	ErrInvalidReason          = module.Register(Codespace, 29, "invalid reason code")
	ErrNothingToCorrect       = module.Register(Codespace, 30, "correction changes nothing")
	ErrCorrectionBelowRefunds = module.Register(Codespace, 31, "corrected amount below what was already refunded")
	ErrTooManyAmendments      = module.Register(Codespace, 32, "receipt has too many amendments")
	ErrUnknownRevenueAgency   = module.Register(Codespace, 33, "unknown revenue agency")
	ErrInvalidGenesis         = module.Register(Codespace, 34, "invalid tax genesis")
	ErrInvalidRange           = module.Register(Codespace, 35, "invalid clearance period range")
	ErrOverflow               = module.Register(Codespace, 36, "amount overflows")
	// Codes from 60 up belong to the privacy rules (payer commitments).
	ErrPayerNeeded = module.Register(Codespace, 60, "a corrected period or taxpayer needs the payer commitment for it")
	// Codes from 80 up belong to money that must be backed (the receipt
	// cap, the settling bank's confirmation).
	ErrOverReceiptCap = module.Register(Codespace, 80, "amount above the per-receipt cap")
)
