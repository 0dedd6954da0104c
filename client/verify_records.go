package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Composite records: answers made of several records, each proven against
// the same light-client-verified header, whose linkage the client checks
// itself — the keys an answer must hold are computed here from proven
// records (a count, an id, a period range), so a node can neither leave a
// record out nor slip in another one unnoticed.

// CheckLinkage is the check that a composite record's proven parts link
// up: counts match, ids point at each other.
const CheckLinkage Check = "record linkage"

func linkage(format string, args ...any) error {
	return &Refusal{Check: CheckLinkage, Reason: fmt.Sprintf(format, args...)}
}

func decodeEntry(e Entry, m proto.Message, what string) error {
	if e.Value == nil {
		return linkage("%s (key %s) is proven absent", what, fmtKey(e.Key))
	}
	if err := proto.Unmarshal(e.Value, m); err != nil {
		return &Refusal{Check: CheckRecord, Reason: fmt.Sprintf("%s (key %s) does not decode as %T: %v", what, fmtKey(e.Key), m, err)}
	}
	return nil
}

// provedList is the entries of a checked answer in the form the
// contract's decoders read (api.DecodeReceipt, api.DecodeClearance): each
// entry's proof has been checked already.
func (l *ListAnswer) provedList() *appv1.ProvedList {
	out := &appv1.ProvedList{Complete: l.Complete, NextKey: l.NextKey}
	for _, e := range l.Entries {
		out.Entries = append(out.Entries, &appv1.ProvedEntry{Key: e.Key, Value: e.Value})
	}
	return out
}

// answerRefusal gives a contract decoder's refusal of proven records the
// name of the check that failed; a refusal of the request itself (a
// receipt id, a period range) is returned as it is.
func answerRefusal(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, api.ErrUndecodable):
		return &Refusal{Check: CheckRecord, Reason: err.Error()}
	case errors.Is(err, api.ErrReceiptID), errors.Is(err, api.ErrPeriod), errors.Is(err, api.ErrPeriodKind),
		errors.Is(err, api.ErrPeriodRange), errors.Is(err, api.ErrTaxType), errors.Is(err, api.ErrPayer):
		return err
	}
	return &Refusal{Check: CheckLinkage, Reason: err.Error()}
}

// TaxReceipt reads a receipt, its state and its amendment chain, verified:
// every record proven at keys the client computes, and the records checked
// by the contract's decoder (api.DecodeReceipt): the number of amendments
// equal to the state's proven count, each amendment numbered in turn and
// taking the net amount from where the one before left it, and the proven
// state equal to the one its receipt and amendments give. A proven absence
// returns ErrNotFound.
func (c *LightClient) TaxReceipt(ctx context.Context, id string, height int64) (*api.ReceiptAnswer, *ListAnswer, error) {
	if _, err := api.ParseReceiptID(id); err != nil {
		return nil, nil, err
	}
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	list, err := c.listAllAt(ctx, lb, h, api.PathTaxReceipt, []byte(id), nil, nil)
	if err != nil {
		return nil, nil, err
	}
	r, err := api.DecodeReceipt(id, list.provedList())
	if err != nil {
		return nil, nil, answerRefusal(err)
	}
	if !r.Found {
		return nil, list, ErrNotFound
	}
	return r, list, nil
}

// TaxClearance reads a clearance statement, verified: the tax type proven
// (or its absence, ErrNotFound), then one proven total (or proven absence,
// a period with no receipt) for each period key the client computes from
// the range, the proven tax type's period kind and the request's payer
// commitments (ClearanceRequestOf a grant), checked by the contract's
// decoder (api.DecodeClearance). The statement names no taxpayer: the
// caller, who holds the grant, sets Statement.Taxpayer.
func (c *LightClient) TaxClearance(ctx context.Context, req *taxv1.ClearanceRequest, height int64) (*api.Statement, *ListAnswer, error) {
	if err := api.ValidateClearanceRequest(req); err != nil {
		return nil, nil, err
	}
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	ttAns, err := c.getAt(ctx, lb, h, api.PathTaxType, []byte(req.TaxType), api.TaxTypeKey(req.TaxType))
	if err != nil {
		if ttAns != nil {
			return nil, &ListAnswer{Path: api.PathTaxClearance, Verified: ttAns.Verified}, err
		}
		return nil, nil, err
	}
	tt := &taxv1.TaxType{}
	if err := decodeEntry(Entry{Key: ttAns.Key, Value: ttAns.Value}, tt, "tax type "+req.TaxType); err != nil {
		return nil, nil, err
	}
	// The range is checked against the proven period kind before the
	// node is asked for it.
	if _, _, err := api.ClearanceKeys(req, tt); err != nil {
		return nil, nil, err
	}
	data, err := proto.Marshal(req)
	if err != nil {
		return nil, nil, err
	}
	list, err := c.listAt(ctx, lb, h, api.PathTaxClearance, data, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	s, err := api.DecodeClearance(req, h, list.provedList())
	if err != nil {
		return nil, nil, answerRefusal(err)
	}
	if !bytes.Equal(list.Entries[0].Value, ttAns.Value) {
		return nil, nil, linkage("the clearance answer's tax type differs from the proven tax type")
	}
	list.ProofBytes += ttAns.ProofBytes
	return s, list, nil
}

// BenefitsPaymentTrace reads a payment trace, verified: the payment proven
// (or absent, ErrNotFound), then the trace's records proven and checked by
// the contract's decoder (api.DecodePaymentTrace): the recoveries its
// deductions went to, the paying movement, and for each of its legs the
// tranche it took money from and that tranche's chain of parents back to
// an inflow — each tranche created by a leg of the movement it names that
// moved money out of its parent — and the settlement proven present or
// absent.
func (c *LightClient) BenefitsPaymentTrace(ctx context.Context, id uint64, height int64) (*api.PaymentTrace, *ListAnswer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	dec := []byte(strconv.FormatUint(id, 10))
	payAns, err := c.getAt(ctx, lb, h, api.PathBenefitsPayment, dec, api.BenefitsPaymentKey(id))
	if err != nil {
		if payAns != nil {
			return nil, &ListAnswer{Path: api.PathBenefitsTrace, Verified: payAns.Verified}, err
		}
		return nil, nil, err
	}
	list, err := c.listAt(ctx, lb, h, api.PathBenefitsTrace, dec, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	list.ProofBytes += payAns.ProofBytes
	t, err := api.DecodePaymentTrace(id, list.provedList())
	if err != nil {
		return nil, nil, answerRefusal(err)
	}
	for _, e := range list.Entries {
		if bytes.Equal(e.Key, payAns.Key) && !bytes.Equal(e.Value, payAns.Value) {
			return nil, nil, linkage("the trace's payment record is not the proven payment %d", id)
		}
	}
	return t, list, nil
}

// ProvenanceHistory reads an item and its whole history, verified: the
// item proven (or absent, ErrNotFound), then events 1..n each proven at
// the key of its sequence number, n the item's proven event count, page by
// page at the same verified header, each page checked by the contract's
// decoder (api.DecodeItemHistory).
func (c *LightClient) ProvenanceHistory(ctx context.Context, id string, height int64) (*api.ItemHistory, *ListAnswer, error) {
	if id == "" || len(id) > 128 {
		return nil, nil, fmt.Errorf("item id %q: ids are 1 to 128 bytes", id)
	}
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	var (
		out   *ListAnswer
		hist  *api.ItemHistory
		start []byte
	)
	for {
		list, err := c.listAt(ctx, lb, h, api.PathProvenanceHistory, api.ListData([]byte(id), start, 0), nil, nil)
		if err != nil {
			return nil, nil, err
		}
		if out == nil {
			out = list
		} else {
			out.ProofBytes += list.ProofBytes
		}
		hist, start, err = api.DecodeItemHistory(id, hist, list.provedList())
		if err != nil {
			return nil, nil, answerRefusal(err)
		}
		if !hist.Found {
			out.Entries = nil
			return nil, out, ErrNotFound
		}
		if start == nil {
			break
		}
	}
	out.Entries, out.Complete = nil, true
	return hist, out, nil
}

// GovProposal reads a proposal and its votes, verified: the proposal
// proven (or absent, ErrNotFound), every vote proven under the proposal's
// vote prefix, and the records checked by the contract's decoder
// (api.DecodeProposal): each vote filed at the key of the agency that cast
// it, and the proven votes checked against the proposal's proven tally: a
// vote counted in the tally but not listed means votes were left out.
func (c *LightClient) GovProposal(ctx context.Context, id uint64, height int64) (*api.ProposalRecord, *ListAnswer, error) {
	lb, h, err := c.pin(ctx, height)
	if err != nil {
		return nil, nil, err
	}
	dec := []byte(strconv.FormatUint(id, 10))
	pAns, err := c.getAt(ctx, lb, h, api.PathGovProposal, dec, api.GovProposalKey(id))
	if err != nil {
		if pAns != nil {
			return nil, &ListAnswer{Path: api.PathGovProposal, Verified: pAns.Verified}, err
		}
		return nil, nil, err
	}
	list, err := c.listAllAt(ctx, lb, h, api.PathGovVotes, dec, nil, nil) // laid out by its route (ListingOf)
	if err != nil {
		return nil, nil, err
	}
	rec, err := api.DecodeProposal(id, &appv1.ProvedEntry{Key: pAns.Key, Value: pAns.Value}, list.provedList())
	if err != nil {
		return nil, nil, answerRefusal(err)
	}
	list.ProofBytes += pAns.ProofBytes
	return rec, list, nil
}
