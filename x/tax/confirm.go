package tax

// Money that must be backed. A receipt is a collector's word that a
// taxpayer paid; the money is real only when the bank it was paid through
// settles it into the public account. So a receipt credits nothing: its
// revenue is pending until an agency holding the settlement-bank mandate —
// never the receipt's authority or collecting agency, so two agencies are
// needed — confirms a settlement that matches the receipt's bank reference
// and pending amount. Only then is the amount credited to the revenue
// account, where it can be allocated and spent.
//
// State layout (beside the receipt's own records):
//
//	tax/v/<authority>/<seq>             → Confirmed: confirmed so far, less refunds of it
//	tax/w/<authority>/<seq>/<n 4 bytes> → Confirmation n of the receipt, written once

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

// EventReceiptConfirmed is emitted when a settling bank confirms a receipt.
const EventReceiptConfirmed = "tax.receipt_confirmed"

// Errors of settlement confirmation.
var (
	ErrConfirmOwnReceipt  = module.Register(Codespace, 81, "a receipt is confirmed by a settling bank other than its authority and collector")
	ErrSettlementMismatch = module.Register(Codespace, 82, "settlement does not match the receipt")
	ErrNothingPending     = module.Register(Codespace, 83, "receipt has no pending revenue")
)

// Confirmed loads what was confirmed of a receipt (zero when nothing).
func (Keeper) Confirmed(kv store.KV, r ReceiptRef) (*taxv1.Confirmed, error) {
	c := &taxv1.Confirmed{}
	_, err := store.GetProto(kv, api.TaxConfirmedKey(r), c)
	return c, err
}

func (Keeper) saveConfirmed(kv store.KV, r ReceiptRef, c *taxv1.Confirmed) error {
	if c.Amount == 0 && c.Confirmations == 0 {
		kv.Delete(api.TaxConfirmedKey(r))
		return nil
	}
	return store.SetProto(kv, api.TaxConfirmedKey(r), c)
}

func validateConfirm(m *taxv1.MsgConfirmReceipt) error {
	if _, err := ParseReceiptID(m.ReceiptId); err != nil {
		return err
	}
	if len(m.BankReference) != TaxpayerSize {
		return ErrInvalidBankReference.Wrapf("bank_reference is %d bytes; give the receipt's %d-byte bank-reference commitment", len(m.BankReference), TaxpayerSize)
	}
	if m.Amount == 0 {
		return ErrInvalidAmount.Wrapf("amount is 0; give the settled amount in minor units")
	}
	return nil
}

// ConfirmReceipt records a settling bank's confirmation of a receipt's
// pending revenue and credits it to the tax type's revenue account.
func (k Keeper) ConfirmReceipt(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgConfirmReceipt) error {
	kv := ctx.Store
	ref, err := ParseReceiptID(m.ReceiptId)
	if err != nil {
		return err
	}
	r, err := k.Receipt(kv, ref)
	if err != nil {
		return err
	}
	if signer.AgencyId == r.Authority || signer.AgencyId == r.CollectorAgency {
		return ErrConfirmOwnReceipt.Wrapf("receipt %s was issued by %q for %q; agency %q cannot also confirm its settlement", r.Id, r.CollectorAgency, r.Authority, signer.AgencyId)
	}
	mandate, err := k.requireMandate(ctx, signer.AgencyId, govv1.Mandate_MANDATE_SETTLEMENT_BANK)
	if err != nil {
		return err
	}
	if !bytes.Equal(m.BankReference, r.BankReference) {
		return ErrSettlementMismatch.Wrapf("the settlement's bank reference %x is not receipt %s's", m.BankReference, r.Id)
	}
	s, err := k.State(kv, ref)
	if err != nil {
		return err
	}
	c, err := k.Confirmed(kv, ref)
	if err != nil {
		return err
	}
	pending := s.Net - min(c.Amount, s.Net)
	if pending == 0 {
		return ErrNothingPending.Wrapf("receipt %s (%s, net %d) has %d confirmed and nothing pending", r.Id, StatusName(s.Status), s.Net, c.Amount)
	}
	if m.Amount != pending {
		return ErrSettlementMismatch.Wrapf("the bank settled %d, but receipt %s has %d pending; a settlement confirms the pending amount exactly", m.Amount, r.Id, pending)
	}
	if _, err := k.requireRevenueAgency(ctx, k.revenueAgencyOf(kv, r)); err != nil {
		return err
	}
	conf := &taxv1.Confirmation{
		ReceiptId: r.Id, Number: c.Confirmations + 1, Amount: pending, BankReference: r.BankReference,
		Bank: signer.Address, BankAgency: signer.AgencyId, Mandate: mandate, Height: ctx.Height, TimeUnix: ctx.Time.Unix(),
	}
	conf.Id = api.ConfirmationID(r.Id, conf.Number)
	if conf.RevenueMovement, err = k.credit(ctx, r.RevenueHolder, pending, conf.Id, mandate); err != nil {
		return err
	}
	c.Amount += pending // ≤ Net: fits
	c.Confirmations = conf.Number
	if err := k.saveConfirmed(kv, ref, c); err != nil {
		return err
	}
	if err := store.SetProto(kv, api.TaxConfirmationKey(ref, conf.Number), conf); err != nil {
		return err
	}
	ctx.Emit(EventReceiptConfirmed, module.Indexed("receipt", r.Id), module.Indexed("agency", signer.AgencyId),
		module.Indexed("address", hex.EncodeToString(signer.Address)), module.Attr("confirmation", conf.Id),
		module.Attr("amount", strconv.FormatUint(pending, 10)), module.Attr("revenue_holder", r.RevenueHolder),
		module.Attr("movement", conf.RevenueMovement), module.Attr("mandate", strconv.FormatUint(mandate, 10)))
	return nil
}

// revenueAgencyOf is the agency a receipt's revenue account belongs to.
func (k Keeper) revenueAgencyOf(kv store.KV, r *taxv1.Receipt) string {
	tt, err := k.TaxType(kv, r.TaxType)
	if err != nil {
		return ""
	}
	return tt.RevenueAgency
}

// unconfirm takes back out of the revenue account what an amendment leaves
// confirmed above the receipt's new net (a refund or downward correction of
// revenue already confirmed). Pending revenue was never credited, so
// reducing it moves no money.
func (k Keeper) unconfirm(ctx module.Context, ref ReceiptRef, r *taxv1.Receipt, a *taxv1.Amendment, netAfter uint64) error {
	c, err := k.Confirmed(ctx.Store, ref)
	if err != nil {
		return err
	}
	if c.Amount <= netAfter {
		return nil
	}
	if a.RevenueMovement, err = k.debit(ctx, r.RevenueHolder, c.Amount-netAfter, a.Id); err != nil {
		return err
	}
	c.Amount = netAfter
	return k.saveConfirmed(ctx.Store, ref, c)
}

// Confirmations loads a receipt's confirmations 1..n.
func (Keeper) Confirmations(kv store.KV, r ReceiptRef, n uint32) ([]*taxv1.Confirmation, error) {
	out := make([]*taxv1.Confirmation, 0, n)
	for i := uint32(1); i <= n; i++ {
		c := &taxv1.Confirmation{}
		found, err := store.GetProto(kv, api.TaxConfirmationKey(r, i), c)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("receipt %s: confirmation %d is missing", r.ID(), i)
		}
		out = append(out, c)
	}
	return out, nil
}
