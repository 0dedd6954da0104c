package tax

import (
	"encoding/hex"
	"strconv"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// Event types the tax module emits.
const (
	EventTaxTypeRegistered   = "tax.tax_type_registered"
	EventCollectorAuthorised = "tax.collector_authorised"
	EventCollectorWithdrawn  = "tax.collector_withdrawn"
	EventReceiptIssued       = "tax.receipt_issued"
	EventReceiptAmended      = "tax.receipt_amended"
)

// maxNameBytes limits a tax type's name, which appears in events and screens.
const maxNameBytes = 128

// ValidateTaxTypeCode checks a tax type code (api.CheckTaxTypeCode),
// refusing a bad one with ErrInvalidTaxType.
func ValidateTaxTypeCode(code string) error { return coded(api.CheckTaxTypeCode(code)) }

// validatePayer checks the size of a payer commitment
// (api.CheckPayerCommitment), refusing a bad one with ErrInvalidTaxpayer.
func validatePayer(t []byte) error { return coded(api.CheckPayerCommitment(t)) }

func validateCollector(addr []byte) error {
	if len(addr) != agency.AddressSize {
		return ErrInvalidAddress.Wrapf("collector address is %d bytes; addresses are %d bytes (40 hex characters)", len(addr), agency.AddressSize)
	}
	return nil
}

// validateBankRef checks a bank-reference commitment: 32 bytes, because a
// bank reference is free text in which a payer's name often travels.
func validateBankRef(ref []byte) error {
	if len(ref) != TaxpayerSize {
		return ErrInvalidBankReference.Wrapf("bank reference is %d bytes; send the %d-byte commitment of the reference under your agency's reference key (client.BankReferenceCommitment), never the reference itself", len(ref), TaxpayerSize)
	}
	return nil
}

func validateRegisterTaxType(m *taxv1.MsgRegisterTaxType) error {
	if err := ValidateTaxTypeCode(m.Code); err != nil {
		return err
	}
	if m.Name == "" || len(m.Name) > maxNameBytes {
		return ErrInvalidName.Wrapf("name must be 1 to %d bytes; got %d", maxNameBytes, len(m.Name))
	}
	if err := agency.ValidateAgencyID(m.RevenueAgency); err != nil {
		return ErrInvalidRevenueAgency.Wrapf("revenue_agency: %v", err)
	}
	if KindName(m.PeriodKind) == "unspecified" {
		return ErrInvalidPeriodKind.Wrapf("period kind %d: use year, quarter or month", m.PeriodKind)
	}
	return nil
}

func validateAuthoriseCollector(m *taxv1.MsgAuthoriseCollector) error {
	if err := validateCollector(m.Collector); err != nil {
		return err
	}
	return ValidateTaxTypeCode(m.TaxType)
}

func validateWithdrawCollector(m *taxv1.MsgWithdrawCollector) error {
	if err := validateCollector(m.Collector); err != nil {
		return err
	}
	return ValidateTaxTypeCode(m.TaxType)
}

func validateIssueReceipt(m *taxv1.MsgIssueReceipt) error {
	if err := ValidateTaxTypeCode(m.TaxType); err != nil {
		return err
	}
	if err := validatePayer(m.Payer); err != nil {
		return err
	}
	if _, err := ParsePeriod(m.Period); err != nil {
		return err
	}
	if m.Amount == 0 {
		return ErrInvalidAmount.Wrapf("amount is 0; give the amount paid in minor units (pence, cents)")
	}
	return validateBankRef(m.BankReference)
}

func validateCorrectReceipt(m *taxv1.MsgCorrectReceipt) error {
	if _, err := ParseReceiptID(m.ReceiptId); err != nil {
		return err
	}
	if err := validReason(m.Reason); err != nil {
		return err
	}
	if m.Amount == 0 && m.Period == "" && len(m.Payer) == 0 {
		return ErrNothingToCorrect.Wrapf("give a corrected amount, period or payer commitment")
	}
	if m.Period != "" {
		if _, err := ParsePeriod(m.Period); err != nil {
			return err
		}
		if len(m.Payer) == 0 {
			return ErrPayerNeeded.Wrapf("a receipt moved to period %s must carry the taxpayer's payer commitment for that period, or the taxpayer's clearance would not count it", m.Period)
		}
	}
	if len(m.Payer) > 0 {
		return validatePayer(m.Payer)
	}
	return nil
}

func validateRefundReceipt(m *taxv1.MsgRefundReceipt) error {
	if _, err := ParseReceiptID(m.ReceiptId); err != nil {
		return err
	}
	if err := validReason(m.Reason); err != nil {
		return err
	}
	if m.Amount == 0 {
		return ErrInvalidAmount.Wrapf("refund amount is 0; give the amount returned in minor units")
	}
	return nil
}

func validateConfirmReceipt(m *taxv1.MsgConfirmReceipt) error {
	return validateConfirm(m)
}

func validateCancelReceipt(m *taxv1.MsgCancelReceipt) error {
	if _, err := ParseReceiptID(m.ReceiptId); err != nil {
		return err
	}
	return validReason(m.Reason)
}

// ownedTaxType loads a tax type and checks that the signer's agency, a tax
// authority, owns it.
func (k Keeper) ownedTaxType(kv store.KV, signer *agencyv1.Account, code string) (*taxv1.TaxType, error) {
	if _, err := k.taxAuthority(kv, signer); err != nil {
		return nil, err
	}
	tt, err := k.TaxType(kv, code)
	if err != nil {
		return nil, err
	}
	if tt.Authority != signer.AgencyId {
		return nil, ErrOtherAuthorityType.Wrapf("tax type %s belongs to authority %q; ask its admin", code, tt.Authority)
	}
	return tt, nil
}

// RegisterTaxType adds a tax type owned by the signer's tax authority.
func (k Keeper) RegisterTaxType(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgRegisterTaxType) error {
	if _, err := k.taxAuthority(ctx.Store, signer); err != nil {
		return err
	}
	if existing, err := k.TaxType(ctx.Store, m.Code); err == nil {
		return ErrTaxTypeExists.Wrapf("tax type %s was registered by %q at height %d", m.Code, existing.Authority, existing.CreatedHeight)
	}
	if _, err := k.agency.Agency(ctx.Store, m.RevenueAgency); err != nil {
		return ErrUnknownRevenueAgency.Wrapf("no agency %s to credit %s to", api.Quote(m.RevenueAgency), m.Code)
	}
	mandate, err := k.requireAuthority(ctx, signer.AgencyId)
	if err != nil {
		return err
	}
	revenueMandate, err := k.requireRevenueAgency(ctx, m.RevenueAgency)
	if err != nil {
		return err
	}
	tt := &taxv1.TaxType{Code: m.Code, Name: m.Name, Authority: signer.AgencyId, RevenueAgency: m.RevenueAgency, PeriodKind: m.PeriodKind, CreatedHeight: ctx.Height,
		Mandate: mandate, RevenueMandate: revenueMandate}
	if err := store.SetProto(ctx.Store, api.TaxTypeKey(m.Code), tt); err != nil {
		return err
	}
	ctx.Emit(EventTaxTypeRegistered, module.Indexed("agency", tt.Authority), module.Attr("tax_type", tt.Code),
		module.Attr("revenue_agency", tt.RevenueAgency), module.Attr("period_kind", KindName(tt.PeriodKind)))
	return nil
}

// AuthoriseCollector lets a collector account issue receipts of a tax type
// the signer's authority owns.
func (k Keeper) AuthoriseCollector(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgAuthoriseCollector) error {
	tt, err := k.ownedTaxType(ctx.Store, signer, m.TaxType)
	if err != nil {
		return err
	}
	acc, err := k.agency.Account(ctx.Store, m.Collector)
	if err != nil {
		return ErrUnknownCollector.Wrapf("no account %x; its agency's admin must add it first", m.Collector)
	}
	if acc.Status != agencyv1.Status_STATUS_ACTIVE {
		return ErrCollectorInactive.Wrapf("account %x is %s", m.Collector, agency.StatusName(acc.Status))
	}
	if !agency.HasRole(acc, agencyv1.Role_ROLE_TAX_COLLECTOR) {
		return ErrNotCollectorRole.Wrapf("account %x of %q must be granted tax_collector by its agency's admin first", m.Collector, acc.AgencyId)
	}
	prev, err := k.Authorisation(ctx.Store, m.Collector, m.TaxType)
	if err != nil {
		return err
	}
	if prev != nil && prev.Active {
		return ErrAlreadyAuthorised.Wrapf("account %x has been authorised for %s since height %d", m.Collector, m.TaxType, prev.GrantedHeight)
	}
	auth := &taxv1.Authorisation{Collector: acc.Address, CollectorAgency: acc.AgencyId, TaxType: tt.Code, Authority: tt.Authority, Active: true, GrantedHeight: ctx.Height}
	if err := store.SetProto(ctx.Store, api.TaxAuthorisationKey(m.Collector, m.TaxType), auth); err != nil {
		return err
	}
	if err := k.addActive(ctx.Store, m.Collector, 1); err != nil {
		return err
	}
	ctx.Emit(EventCollectorAuthorised, module.Indexed("agency", tt.Authority), module.Indexed("address", hex.EncodeToString(m.Collector)),
		module.Attr("collector_agency", acc.AgencyId), module.Attr("tax_type", tt.Code))
	return nil
}

// WithdrawCollector ends a collector's authorisation for a tax type.
func (k Keeper) WithdrawCollector(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgWithdrawCollector) error {
	tt, err := k.ownedTaxType(ctx.Store, signer, m.TaxType)
	if err != nil {
		return err
	}
	auth, err := k.Authorisation(ctx.Store, m.Collector, m.TaxType)
	if err != nil {
		return err
	}
	if auth == nil || !auth.Active {
		return ErrNotAuthorised.Wrapf("account %x is not authorised for %s; nothing to withdraw", m.Collector, m.TaxType)
	}
	auth.Active, auth.WithdrawnHeight = false, ctx.Height
	if err := store.SetProto(ctx.Store, api.TaxAuthorisationKey(m.Collector, m.TaxType), auth); err != nil {
		return err
	}
	if err := k.addActive(ctx.Store, m.Collector, -1); err != nil {
		return err
	}
	ctx.Emit(EventCollectorWithdrawn, module.Indexed("agency", tt.Authority), module.Indexed("address", hex.EncodeToString(m.Collector)),
		module.Attr("collector_agency", auth.CollectorAgency), module.Attr("tax_type", tt.Code))
	return nil
}

// collecting checks that signer may act for tax type code now: it holds an
// active authorisation for it.
func (k Keeper) collecting(kv store.KV, signer *agencyv1.Account, code string) (*taxv1.TaxType, error) {
	n, err := k.ActiveAuthorisations(kv, signer.Address)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, ErrUnauthorisedCollector.Wrapf("account %x holds no active collector authorisation; a tax authority's admin must authorise it", signer.Address)
	}
	tt, err := k.TaxType(kv, code)
	if err != nil {
		return nil, err
	}
	auth, err := k.Authorisation(kv, signer.Address, code)
	if err != nil {
		return nil, err
	}
	switch {
	case auth == nil:
		return nil, ErrCollectorNotForType.Wrapf("account %x is not authorised for %s; ask %q's admin", signer.Address, code, tt.Authority)
	case !auth.Active:
		return nil, ErrCollectorNotForType.Wrapf("account %x's authorisation for %s was withdrawn at height %d", signer.Address, code, auth.WithdrawnHeight)
	}
	return tt, nil
}

// IssueReceipt records a payment: a receipt in the tax authority's series,
// credited to the tax type's revenue account.
func (k Keeper) IssueReceipt(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgIssueReceipt) error {
	tt, err := k.collecting(ctx.Store, signer, m.TaxType)
	if err != nil {
		return err
	}
	if err := checkPeriodKind(m.Period, tt.PeriodKind, tt.Code); err != nil {
		return err
	}
	if err := k.checkReceiptAmount(ctx, m.Amount); err != nil {
		return err
	}
	mandate, err := k.requireAuthority(ctx, tt.Authority)
	if err != nil {
		return err
	}
	if _, err := k.requireRevenueAgency(ctx, tt.RevenueAgency); err != nil {
		return err
	}
	bankKey := api.TaxBankRefKey(signer.AgencyId, m.BankReference)
	if prev := ctx.Store.Get(bankKey); prev != nil {
		if cancelled, err := k.isCancelled(ctx.Store, string(prev)); err != nil || !cancelled {
			return ErrDuplicatePayment.Wrapf("%q already receipted the payment with bank reference commitment %x as %s", signer.AgencyId, m.BankReference, prev)
		}
	}
	seq, err := module.NextSeq(ctx.Store, api.TaxSeqKey(tt.Authority), tt.Authority+" receipt")
	if err != nil {
		return err
	}
	ref := ReceiptRef{Authority: tt.Authority, Seq: seq}
	r := &taxv1.Receipt{
		Id: ref.ID(), Authority: tt.Authority, Sequence: seq, TaxType: tt.Code, Payer: m.Payer,
		Period: m.Period, Amount: m.Amount, BankReference: m.BankReference, Collector: signer.Address,
		CollectorAgency: signer.AgencyId, Height: ctx.Height, CollectedAt: ctx.Time.Unix(),
		RevenueHolder: k.holder(tt.RevenueAgency), Mandate: mandate,
	}
	// Nothing is credited yet: the receipt's revenue is pending until a
	// settling bank confirms it (ConfirmReceipt).
	s := initialState(r)
	if err := store.SetProto(ctx.Store, api.TaxReceiptKey(ref), r); err != nil {
		return err
	}
	if err := store.SetProto(ctx.Store, api.TaxReceiptStateKey(ref), s); err != nil {
		return err
	}
	ctx.Store.Set(bankKey, []byte(r.Id))
	ctx.Store.Set(api.TaxTypePeriodIndexKey(r.TaxType, s.Period, ref), []byte{})
	if err := k.moveTotals(ctx.Store, r, nil, s); err != nil {
		return err
	}
	ctx.Emit(EventReceiptIssued, module.Indexed("receipt", r.Id), module.Indexed("agency", r.Authority),
		module.Indexed("address", hex.EncodeToString(r.Collector)), module.Attr("collector_agency", r.CollectorAgency),
		module.Attr("tax_type", r.TaxType), module.Attr("period", r.Period), module.Attr("amount", strconv.FormatUint(r.Amount, 10)),
		module.Attr("payer", TaxpayerHex(r.Payer)), module.Attr("revenue_holder", r.RevenueHolder), module.Attr("movement", r.RevenueMovement))
	return nil
}

func (k Keeper) isCancelled(kv store.KV, id string) (bool, error) {
	ref, err := ParseReceiptID(id)
	if err != nil {
		return false, err
	}
	s, err := k.State(kv, ref)
	if err != nil {
		return false, err
	}
	return s.Status == taxv1.Status_STATUS_CANCELLED, nil
}

func (k Keeper) holder(agencyID string) string {
	if k.holderOf == nil {
		return ""
	}
	return k.holderOf(agencyID)
}

func (k Keeper) credit(ctx module.Context, holder string, amount uint64, ref string, mandate uint64) (string, error) {
	if k.ledger == nil || holder == "" {
		return "", module.ErrInternal.Wrapf("the tax module has no revenue ledger wired; confirmations cannot credit revenue")
	}
	return k.ledger.CreditRevenue(ctx, holder, amount, LedgerSource, ref, mandate)
}

func (k Keeper) debit(ctx module.Context, holder string, amount uint64, ref string) (string, error) {
	if k.ledger == nil || holder == "" {
		return "", module.ErrInternal.Wrapf("the tax module has no revenue ledger wired; refunds cannot debit revenue")
	}
	return k.ledger.DebitRevenue(ctx, holder, amount, LedgerSource, ref)
}

// CorrectReceipt records a correction of a receipt's amount, period or taxpayer.
func (k Keeper) CorrectReceipt(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgCorrectReceipt) error {
	return k.amend(ctx, signer, m.ReceiptId, &taxv1.Amendment{Kind: taxv1.AmendmentKind_AMENDMENT_KIND_CORRECTION, Reason: m.Reason,
		CorrectedAmount: m.Amount, CorrectedPeriod: m.Period, CorrectedPayer: m.Payer})
}

// RefundReceipt records a refund of part or all of a receipt's net amount.
func (k Keeper) RefundReceipt(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgRefundReceipt) error {
	return k.amend(ctx, signer, m.ReceiptId, &taxv1.Amendment{Kind: taxv1.AmendmentKind_AMENDMENT_KIND_REFUND, Reason: m.Reason, Refund: m.Amount})
}

// CancelReceipt records the cancellation of a receipt.
func (k Keeper) CancelReceipt(ctx module.Context, signer *agencyv1.Account, m *taxv1.MsgCancelReceipt) error {
	return k.amend(ctx, signer, m.ReceiptId, &taxv1.Amendment{Kind: taxv1.AmendmentKind_AMENDMENT_KIND_CANCELLATION, Reason: m.Reason})
}

// amend appends amendment a to a receipt: checks who may, derives the new
// state with Apply, moves the difference in net amount through the revenue
// ledger, and moves the receipt's contribution between running totals.
func (k Keeper) amend(ctx module.Context, signer *agencyv1.Account, id string, a *taxv1.Amendment) error {
	ref, err := ParseReceiptID(id)
	if err != nil {
		return err
	}
	r, err := k.Receipt(ctx.Store, ref)
	if err != nil {
		return err
	}
	if signer.AgencyId != r.Authority {
		return ErrAmendOtherAuthority.Wrapf("receipt %s is in the series of %q; only %q's own collectors amend it", r.Id, r.Authority, r.Authority)
	}
	tt, err := k.collecting(ctx.Store, signer, r.TaxType)
	if err != nil {
		return err
	}
	if _, err := k.requireAuthority(ctx, r.Authority); err != nil {
		return err
	}
	if err := k.checkReceiptAmount(ctx, a.CorrectedAmount); err != nil {
		return err
	}
	if a.CorrectedPeriod != "" {
		if err := checkPeriodKind(a.CorrectedPeriod, tt.PeriodKind, tt.Code); err != nil {
			return err
		}
	}
	before, err := k.State(ctx.Store, ref)
	if err != nil {
		return err
	}
	a.ReceiptId, a.Number, a.Issuer, a.Height, a.IssuedAt = r.Id, before.Amendments+1, signer.Address, ctx.Height, ctx.Time.Unix()
	a.Id = api.AmendmentID(r.Id, a.Number)
	after, err := Apply(before, a)
	if err != nil {
		return err
	}
	a.NetBefore, a.NetAfter = before.Net, after.Net
	// A higher net is pending until confirmed; a lower one takes back
	// only what was confirmed above it.
	if err := k.unconfirm(ctx, ref, r, a, after.Net); err != nil {
		return err
	}
	if err := store.SetProto(ctx.Store, api.TaxAmendmentKey(ref, a.Number), a); err != nil {
		return err
	}
	if err := store.SetProto(ctx.Store, api.TaxReceiptStateKey(ref), after); err != nil {
		return err
	}
	if before.Period != after.Period {
		ctx.Store.Delete(api.TaxTypePeriodIndexKey(r.TaxType, before.Period, ref))
		ctx.Store.Set(api.TaxTypePeriodIndexKey(r.TaxType, after.Period, ref), []byte{})
	}
	if err := k.moveTotals(ctx.Store, r, before, after); err != nil {
		return err
	}
	ctx.Emit(EventReceiptAmended, module.Indexed("receipt", r.Id), module.Indexed("agency", r.Authority),
		module.Indexed("address", hex.EncodeToString(signer.Address)), module.Attr("amendment", a.Id),
		module.Attr("kind", KindOfAmendment(a.Kind)), module.Attr("reason", ReasonName(a.Reason)),
		module.Attr("status", StatusName(after.Status)), module.Attr("net_before", strconv.FormatUint(a.NetBefore, 10)),
		module.Attr("net_after", strconv.FormatUint(a.NetAfter, 10)), module.Attr("movement", a.RevenueMovement))
	return nil
}
