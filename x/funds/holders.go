package funds

import (
	"strings"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	fundsv1 "github.com/tallyledger/tally/proto/tally/funds/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// maxTokenBytes bounds programme ids, payee tokens and references, which
// appear in keys and on screens.
const maxTokenBytes = 128

// PseudonymSize is the size of a pseudonym or commitment standing for a
// person (a recipient, a bank account, a payment reference): written as 64
// lower-case hex characters.
const PseudonymSize = api.PseudonymSize

// ValidatePseudonym checks that s is what may stand for a person on chain
// (api.CheckPseudonym), refusing anything else with ErrInvalidHolder.
func ValidatePseudonym(what, s string) error {
	if err := api.CheckPseudonym(what, s); err != nil {
		return ErrInvalidHolder.Wrapf("%v", err)
	}
	return nil
}

// ValidateToken checks a programme id, payee token or recipient reference:
// 1-128 characters of A-Z, a-z, 0-9, '-', '_', '.', ':'.
func ValidateToken(what, s string) error {
	if s == "" || len(s) > maxTokenBytes {
		return ErrInvalidHolder.Wrapf("%s %s must be 1 to %d characters", what, api.Quote(s), maxTokenBytes)
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return ErrInvalidHolder.Wrapf("%s %s may use only A-Z, a-z, 0-9, '-', '_', '.' and ':'", what, api.Quote(s))
		}
	}
	return nil
}

// ValidateHolder checks the syntax of a holder id: "agency:<agency id>",
// "programme:<programme id>" or "payee:<token>".
func ValidateHolder(h string) error {
	switch {
	case strings.HasPrefix(h, api.HolderAgencyPrefix):
		if err := agency.ValidateAgencyID(h[len(api.HolderAgencyPrefix):]); err != nil {
			return ErrInvalidHolder.Wrapf("%s<agency id>: %v", api.HolderAgencyPrefix, err)
		}
		return nil
	case strings.HasPrefix(h, api.HolderProgrammePrefix):
		return ValidateToken("programme id", h[len(api.HolderProgrammePrefix):])
	case strings.HasPrefix(h, api.HolderPayeePrefix):
		return ValidatePseudonym("payee token", h[len(api.HolderPayeePrefix):])
	}
	return ErrInvalidHolder.Wrapf("%s is not a holder id; use agency:<agency id>, programme:<programme id> or payee:<token>", api.Quote(h))
}

func isPayee(h string) bool { return strings.HasPrefix(h, api.HolderPayeePrefix) }

// validateReference checks a free-text reference (appropriation line, bank
// reference, purpose code).
func validateReference(what, s string) error {
	if s == "" || len(s) > maxTokenBytes {
		return ErrInvalidReference.Wrapf("%s must be 1 to %d bytes; got %d", what, maxTokenBytes, len(s))
	}
	return nil
}

// OpenProgrammeHolder registers a programme's fund, owned by ownerAgency,
// whose finance officers may move money out of it. The benefits module
// calls it when a programme is created.
func (k Keeper) OpenProgrammeHolder(ctx module.Context, programmeID, ownerAgency string) (string, error) {
	h := api.ProgrammeHolder(programmeID)
	if err := ValidateHolder(h); err != nil {
		return "", err
	}
	if ctx.Store.Has(api.FundsHolderKey(h)) {
		return "", ErrHolderExists.Wrapf("%s is already open", h)
	}
	if _, err := k.Agency.Agency(ctx.Store, ownerAgency); err != nil {
		return "", err
	}
	return h, store.SetProto(ctx.Store, api.FundsHolderKey(h), &fundsv1.Holder{Id: h, OwnerAgency: ownerAgency, CreatedHeight: ctx.Height})
}

// owner is the agency that controls holder, or "" for payees. Unknown
// holders are refused.
func (k Keeper) owner(kv store.KV, h string) (string, error) {
	if err := ValidateHolder(h); err != nil {
		return "", err
	}
	switch {
	case strings.HasPrefix(h, api.HolderAgencyPrefix):
		id := h[len(api.HolderAgencyPrefix):]
		if _, err := k.Agency.Agency(kv, id); err != nil {
			return "", ErrUnknownHolder.Wrapf("%s: no agency %q", h, id)
		}
		return id, nil
	case strings.HasPrefix(h, api.HolderProgrammePrefix):
		rec := &fundsv1.Holder{}
		found, err := store.GetProto(kv, api.FundsHolderKey(h), rec)
		if err != nil {
			return "", err
		}
		if !found {
			return "", ErrUnknownHolder.Wrapf("no programme fund %s; the programme must be created first", h)
		}
		return rec.OwnerAgency, nil
	}
	return "", nil
}

// controlled checks that signer's agency may move money out of holder.
func (k Keeper) controlled(kv store.KV, signer *agencyv1.Account, h string) error {
	own, err := k.owner(kv, h)
	if err != nil {
		return err
	}
	if own == "" || own != signer.AgencyId {
		return ErrNotController.Wrapf("%s is not controlled by agency %q; money leaves a bank account (payee) only by settlement", h, signer.AgencyId)
	}
	return nil
}

// revenueHolder checks that revenue may enter or leave holder: an agency's
// account or a programme's fund, never a payee.
func (k Keeper) revenueHolder(kv store.KV, h string) error {
	own, err := k.owner(kv, h)
	if err != nil {
		return err
	}
	if own == "" {
		return ErrInvalidHolder.Wrapf("%s is a bank account; revenue is credited to an agency's account or a programme's fund", h)
	}
	return nil
}
