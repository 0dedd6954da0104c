package provenance

import (
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	provenancev1 "github.com/tallyledger/tally/proto/tally/provenance/v1"
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
// Each row's bound (WithUnits) is the most one message used in any state
// the app tests and the load mix build, with a margin (README "Bounded
// work"); the app tests check it on every block they run.
func (k Keeper) Module() module.Module {
	anyone := module.AnyActiveAccount
	return module.Module{Name: "provenance", Routes: []module.Route{
		module.Growing(module.Msg(agencyv1.Role_ROLE_PRODUCER, validateRegisterItem, k.RegisterItem).WithUnits(7_000),
			func(m *provenancev1.MsgRegisterItem) uint64 { return idUnits(m.Id) }),
		module.Growing(module.Msg(anyone, validateOfferCustody, k.OfferCustody).WithUnits(20_000),
			func(m *provenancev1.MsgOfferCustody) uint64 { return idUnits(m.ItemId) }),
		module.Growing(module.Msg(anyone, validateAcceptCustody, k.AcceptCustody).WithUnits(11_000),
			func(m *provenancev1.MsgAcceptCustody) uint64 { return idUnits(m.ItemId) }),
		module.Growing(module.Msg(anyone, validateRejectCustody, k.RejectCustody).WithUnits(12_000),
			func(m *provenancev1.MsgRejectCustody) uint64 { return idUnits(m.ItemId) }),
		module.Growing(module.Msg(anyone, validateWithdrawOffer, k.WithdrawOffer).WithUnits(12_000),
			func(m *provenancev1.MsgWithdrawOffer) uint64 { return idUnits(m.ItemId) }),
		module.Msg(agencyv1.Role_ROLE_REGULATOR, validateAccreditInspector, k.AccreditInspector).WithUnits(3_000),
		module.Msg(agencyv1.Role_ROLE_REGULATOR, validateWithdrawAccreditation, k.WithdrawAccreditation).WithUnits(2_500),
		module.Growing(module.Msg(agencyv1.Role_ROLE_INSPECTOR, validateAttest, k.Attest).WithUnits(10_000),
			func(m *provenancev1.MsgAttest) uint64 { return idUnits(m.ItemId) }),
		module.Growing(module.Msg(anyone, validateSplit, k.Split).WithUnits(10_000), func(m *provenancev1.MsgSplit) uint64 {
			n := idUnits(m.ItemId)
			for _, p := range m.Parts {
				n += childUnits + idUnits(p.Id)
			}
			return n
		}),
		module.Growing(module.Msg(anyone, validateMerge, k.Merge).WithUnits(9_000+childUnits), func(m *provenancev1.MsgMerge) uint64 {
			n := idUnits(m.NewId)
			for _, id := range m.ItemIds {
				n += inputUnits + idUnits(id)
			}
			return n
		}),
		module.Growing(module.Msg(agencyv1.Role_ROLE_PRODUCER, validateTransform, k.Transform).WithUnits(4_000), func(m *provenancev1.MsgTransform) uint64 {
			var n uint64
			for _, id := range m.ItemIds {
				n += inputUnits + idUnits(id)
			}
			for _, o := range m.Outputs {
				n += childUnits + idUnits(o.Id)
			}
			return n
		}),
		module.Growing(module.Msg(anyone, validateRetire, k.Retire).WithUnits(6_500),
			func(m *provenancev1.MsgRetire) uint64 { return idUnits(m.ItemId) }),
		module.Growing(module.Msg(agencyv1.Role_ROLE_REGULATOR, validateRecall, k.Recall).WithUnits(27_500),
			func(m *provenancev1.MsgRecall) uint64 { return idUnits(m.ItemId) }),
		module.Growing(module.Msg(anyone, validateAcknowledgeRecall, k.AcknowledgeRecall).WithUnits(9_500),
			func(m *provenancev1.MsgAcknowledgeRecall) uint64 { return idUnits(m.ItemId) }),
		// A place's name speaks for its agency, like an account's name.
		module.Msg(agencyv1.Role_ROLE_ADMIN, validateNameLocation, k.NameLocation).WithUnits(2_000),
	}, EndBlock: func(ctx module.Context) error {
		_, err := k.EndBlock(ctx)
		return err
	}}
}

// ValidateBasic checks a message without reading state. It returns nil for
// message types this module does not own.
func ValidateBasic(msg any) error { return module.ValidateBasic(Keeper{}.Module().Routes, msg) }

// The parts of a bound that grow with a message (module.Growing): an item
// made (its record, custody and history entries, and store.Child), an
// input consumed (read, a history entry, written back), and each byte of
// an item id the message names, which the item's keys and records repeat
// (its record, custody index, history, offer and their keys: a 120-byte id
// costs an accept_custody 130 units a byte more than a 5-byte one).
const (
	childUnits  = 8_000
	inputUnits  = 8_500
	idByteUnits = 140
)

// idUnits is the part of a bound that grows with the item id id.
func idUnits(id string) uint64 { return idByteUnits * uint64(len(id)) }
