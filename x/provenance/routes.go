package provenance

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	"github.com/tallyledger/tally/x/module"
)

// Module is the provenance module's route table: one row per message (the
// role it needs, its stateless check, its handler), and recall propagation
// and offer expiry at the end of each block, bounded by the module's
// params (see recall.go for why recalls are propagated by a queue rather
// than derived on read).
//
// Registering goods and transforming them into new products needs a
// producer; accrediting and recalling a regulator; attesting an inspector
// (and the handler checks the accreditation). Custody steps, splits,
// merges, retirement and acknowledgements may be sent by any active
// account: the handler checks that the signer is the item's custodian or
// the offer's receiver, which no role could express.
func (k Keeper) Module() module.Module {
	anyone := module.AnyActiveAccount
	return module.Module{Name: "provenance", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_PRODUCER, validateRegisterItem, k.RegisterItem),
		module.Msg(anyone, validateOfferCustody, k.OfferCustody),
		module.Msg(anyone, validateAcceptCustody, k.AcceptCustody),
		module.Msg(anyone, validateRejectCustody, k.RejectCustody),
		module.Msg(anyone, validateWithdrawOffer, k.WithdrawOffer),
		module.Msg(agencyv1.Role_ROLE_REGULATOR, validateAccreditInspector, k.AccreditInspector),
		module.Msg(agencyv1.Role_ROLE_REGULATOR, validateWithdrawAccreditation, k.WithdrawAccreditation),
		module.Msg(agencyv1.Role_ROLE_INSPECTOR, validateAttest, k.Attest),
		module.Msg(anyone, validateSplit, k.Split),
		module.Msg(anyone, validateMerge, k.Merge),
		module.Msg(agencyv1.Role_ROLE_PRODUCER, validateTransform, k.Transform),
		module.Msg(anyone, validateRetire, k.Retire),
		module.Msg(agencyv1.Role_ROLE_REGULATOR, validateRecall, k.Recall),
		module.Msg(anyone, validateAcknowledgeRecall, k.AcknowledgeRecall),
		// A place's name speaks for its agency, like an account's name.
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateNameLocation, k.NameLocation),
	}, EndBlock: func(ctx module.Context) error {
		_, err := k.EndBlock(ctx)
		return err
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }
