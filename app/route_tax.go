package app

import (
	"bytes"
	"encoding/binary"
	"strings"

	abci "github.com/cometbft/cometbft/abci/types"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/tax"
)

var taxRoutes = moduleRoutes{
	name: "tax",
	query: func(a *App, q Query) (*abci.ResponseQuery, error) {
		switch q.Path {
		case api.PathTaxReceipt:
			return a.taxReceipt(q)
		case api.PathTaxClearance:
			return a.taxClearance(q)
		case api.PathTaxType:
			if err := tax.ValidateTaxTypeCode(string(q.Data)); err != nil {
				return nil, err
			}
			return a.single(api.TaxTypeKey(string(q.Data)), q.Height, q.Prove)
		case api.PathTaxTypes:
			if len(q.Data) > 0 {
				return nil, ErrInvalidQuery.Wrapf("%s takes no argument: leave the ListRequest's arg empty", api.PathTaxTypes)
			}
			return a.list(q)
		case api.PathTaxAuthorisation:
			if len(q.Data) <= agency.AddressSize {
				return nil, ErrInvalidQuery.Wrapf("give the 20-byte collector address followed by the tax type code")
			}
			if err := tax.ValidateTaxTypeCode(string(q.Data[agency.AddressSize:])); err != nil {
				return nil, err
			}
			return a.single(api.TaxAuthorisationKey(q.Data[:agency.AddressSize], string(q.Data[agency.AddressSize:])), q.Height, q.Prove)
		case api.PathTaxTotal:
			return a.taxTotal(q)
		case api.PathTaxTotals:
			if err := tax.ValidateTaxTypeCode(string(q.Data)); err != nil {
				return nil, err
			}
			return a.list(q)
		case api.PathTaxReceipts:
			return a.taxReceipts(q)
		}
		return nil, ErrUnknownQuery.Wrapf("no tax query %s; paths are %s, %s, %s, %s, %s, %s, %s, %s", api.Quote(q.Path),
			api.PathTaxReceipt, api.PathTaxClearance, api.PathTaxType, api.PathTaxTypes, api.PathTaxAuthorisation, api.PathTaxTotal, api.PathTaxTotals, api.PathTaxReceipts)
	},
}

// taxReceipt answers a receipt with its state and every amendment, or the
// proof that no receipt has that id.
//
// The amendments come a page at a time, like every listing: the first page
// has the receipt, its state and up to q.Limit amendments; the next_key is
// the last amendment's key, and asking for the receipt id after that key
// gives the amendments after it.
func (a *App) taxReceipt(q Query) (*abci.ResponseQuery, error) {
	arg, after := string(q.Data), q.After
	ref, err := tax.ParseReceiptID(arg)
	if err != nil {
		return nil, err
	}
	keys := [][]byte{api.TaxReceiptKey(ref)}
	st, err := a.store.GetAt(q.Height, api.TaxReceiptStateKey(ref))
	if err != nil {
		return nil, ErrInvalidQuery.Wrapf("height %d: %v", q.Height, err)
	}
	if st == nil {
		return a.records(keys, nil, q.Height, q.Prove) // the proof that there is no such receipt
	}
	s := &taxv1.ReceiptState{}
	if err := proto.Unmarshal(st, s); err != nil {
		return nil, err
	}
	var from uint32 = 1 // first amendment of the page
	if len(after) > 0 {
		last := api.TaxAmendmentKey(ref, 0)
		if len(after) != len(last) || !bytes.HasPrefix(after, last[:len(last)-4]) {
			return nil, ErrInvalidQuery.Wrapf("the continuation key is not an amendment of receipt %s; give the next_key of the previous page", arg)
		}
		from = binary.BigEndian.Uint32(after[len(last)-4:]) + 1
		keys = nil // the receipt and its state came with the first page
	} else {
		keys = append(keys, api.TaxReceiptStateKey(ref))
	}
	var next []byte
	for i := from; i <= s.Amendments && i >= from; i++ { // i >= from: no wrap past 2^32-1
		if int(i-from) == q.Limit {
			next = api.TaxAmendmentKey(ref, i-1)
			break
		}
		keys = append(keys, api.TaxAmendmentKey(ref, i))
	}
	return a.records(keys, next, q.Height, q.Prove)
}

// taxClearance answers the tax type and the running total of each period's
// payer commitment: one key per period, never a scan of receipts.
func (a *App) taxClearance(q Query) (*abci.ResponseQuery, error) {
	req := &taxv1.ClearanceRequest{}
	if err := proto.Unmarshal(q.Data, req); err != nil {
		return nil, ErrInvalidQuery.Wrapf("data is not a tally.tax.v1.ClearanceRequest: %v", err)
	}
	if err := tax.ValidateClearanceRequest(req); err != nil {
		return nil, err
	}
	bz, err := a.store.GetAt(q.Height, api.TaxTypeKey(req.TaxType))
	if err != nil {
		return nil, ErrInvalidQuery.Wrapf("height %d: %v", q.Height, err)
	}
	if bz == nil {
		return nil, tax.ErrUnknownTaxType.Wrapf("no tax type %s at height %d", api.Quote(req.TaxType), q.Height)
	}
	tt := &taxv1.TaxType{}
	if err := proto.Unmarshal(bz, tt); err != nil {
		return nil, err
	}
	keys, _, err := tax.ClearanceKeys(req, tt)
	if err != nil {
		return nil, err
	}
	return a.records(keys, nil, q.Height, q.Prove)
}

func (a *App) taxTotal(q Query) (*abci.ResponseQuery, error) {
	req := &taxv1.TotalRequest{}
	if err := proto.Unmarshal(q.Data, req); err != nil {
		return nil, ErrInvalidQuery.Wrapf("data is not a tally.tax.v1.TotalRequest: %v", err)
	}
	if err := tax.ValidateTaxTypeCode(req.TaxType); err != nil {
		return nil, err
	}
	if _, err := tax.ParsePeriod(req.Period); err != nil {
		return nil, err
	}
	switch len(req.Collector) {
	case 0:
		return a.single(api.TaxTypeTotalKey(req.TaxType, req.Period), q.Height, q.Prove)
	case agency.AddressSize:
		return a.single(api.TaxCollectorTotalKey(req.Collector, req.TaxType, req.Period), q.Height, q.Prove)
	}
	return nil, ErrInvalidQuery.Wrapf("collector is %d bytes; an address is %d", len(req.Collector), agency.AddressSize)
}

// taxReceipts lists the receipts of one tax type and period from the
// (tax type, period) index, a page at a time: never a scan of receipts.
func (a *App) taxReceipts(q Query) (*abci.ResponseQuery, error) {
	taxType, period, ok := strings.Cut(string(q.Data), "/")
	if !ok {
		return nil, ErrInvalidQuery.Wrapf("give the tax type and period as TYPE/PERIOD, e.g. VAT/2026-Q1")
	}
	if err := tax.ValidateTaxTypeCode(taxType); err != nil {
		return nil, err
	}
	if _, err := tax.ParsePeriod(period); err != nil {
		return nil, err
	}
	return a.list(q)
}
