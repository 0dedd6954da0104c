package agency

import "github.com/tallyledger/tally/x/module"

// Codespace is the agency module's error namespace.
const Codespace = "agency"

// Errors a user can cause through agency messages or genesis.
var (
	ErrUnknownAgency   = module.Register(Codespace, 2, "unknown agency")
	ErrUnknownAccount  = module.Register(Codespace, 3, "unknown account")
	ErrAccountExists   = module.Register(Codespace, 4, "account already exists")
	ErrOtherAgency     = module.Register(Codespace, 5, "account belongs to another agency")
	ErrRoleNotAllowed  = module.Register(Codespace, 6, "role not allowed for this kind of agency")
	ErrRoleHeld        = module.Register(Codespace, 7, "role already held")
	ErrRoleNotHeld     = module.Register(Codespace, 8, "role not held")
	ErrLastAdmin       = module.Register(Codespace, 9, "agency would be left without an active admin")
	ErrNotActive       = module.Register(Codespace, 10, "account is not active")
	ErrNotSuspended    = module.Register(Codespace, 11, "account is not suspended")
	ErrInvalidKey      = module.Register(Codespace, 12, "invalid public key")
	ErrKeyInUse        = module.Register(Codespace, 13, "public key already in use")
	ErrBadKeyProof     = module.Register(Codespace, 14, "new key's signature does not verify")
	ErrRemoved         = module.Register(Codespace, 15, "account has been removed")
	ErrSelf            = module.Register(Codespace, 16, "an admin cannot do this to their own account")
	ErrInvalidRole     = module.Register(Codespace, 17, "invalid role")
	ErrInvalidAddress  = module.Register(Codespace, 18, "invalid address")
	ErrInvalidGenesis  = module.Register(Codespace, 19, "invalid agency genesis")
	ErrInvalidAgencyID = module.Register(Codespace, 20, "invalid agency id")
	ErrInvalidReason   = module.Register(Codespace, 21, "invalid reason")
	ErrAgencyNotActive = module.Register(Codespace, 22, "agency is not active")
	ErrSmallOrderKey   = module.Register(Codespace, 23, "public key is a point of small order")
	ErrNonCanonicalKey = module.Register(Codespace, 24, "public key is not canonically encoded")
	ErrInvalidName     = module.Register(Codespace, 260, "invalid display name")
	ErrNameUnchanged   = module.Register(Codespace, 261, "the account already has this display name")
)
