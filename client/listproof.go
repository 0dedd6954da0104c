package client

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/tallyledger/tally/api"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
)

// Listing says where a key-range listing lies in state, so a client can
// check that a page of it leaves no record out (VerifyPage): the node's
// answer is checked against these facts, never against what it says of
// itself.
type Listing struct {
	// Prefix covers the listing's index keys.
	Prefix []byte
	// Head is how many records every page answers before the listing's
	// own (the item whose history it is, a root's totals).
	Head int
	// RecordKey maps an index key to the record it points at; nil means
	// the index keys are the records.
	RecordKey func(indexKey []byte) []byte
}

// ListingOf returns the layout of the listing a query asks for and the
// key the page continues after (nil for a first page), from the query's
// path and data (an api.ListData ListRequest). ok is false for a path
// that is not a key-range listing (a walk such as a trace or a lineage,
// a receipt's amendments) or data that does not name one.
func ListingOf(path string, data []byte) (l Listing, after []byte, ok bool) {
	req, err := api.ParseList(data)
	if err != nil {
		return l, nil, false
	}
	arg, after := string(req.Arg), req.After
	switch path {
	case api.PathMembers:
		l = Listing{Prefix: api.MembersPrefix(arg)}
		l.RecordKey = func(k []byte) []byte { return api.AccountKey(k[len(l.Prefix):]) }
	case api.PathGovProposals:
		l = Listing{Prefix: api.GovProposalsPrefix()}
	case api.PathGovOpenProposals:
		l = Listing{Prefix: api.GovOpenPrefix()}
		l.RecordKey = api.GovProposalOfOpenKey
	case api.PathGovMandates:
		l = Listing{Prefix: api.GovMandatesPrefix()}
	case api.PathGovValidators:
		l = Listing{Prefix: api.GovValidatorsPrefix()}
	case api.PathGovMisbehaviours:
		l = Listing{Prefix: api.GovMisbehavioursPrefix()}
	case api.PathGovValidatorMisbehaviours:
		addr, err := hex.DecodeString(arg)
		if err != nil {
			return l, nil, false
		}
		l = Listing{Prefix: api.GovValidatorMisbehavioursPrefix(addr)}
		l.RecordKey = func(k []byte) []byte {
			if len(k) < len(l.Prefix)+8 {
				return nil
			}
			return api.GovMisbehaviourOfIndexKey(k)
		}
	case api.PathGovVotes:
		id, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return l, nil, false
		}
		l = Listing{Prefix: api.GovVotesPrefix(id)}
	case api.PathFundsBalances:
		l = Listing{Prefix: api.FundsBalancesPrefix()}
	case api.PathFundsTraceDown:
		id, err := strconv.ParseUint(arg, 10, 64)
		if err != nil {
			return l, nil, false
		}
		l = Listing{Prefix: api.FundsRootLegsPrefix(id), Head: 1} // the root's totals first
	case api.PathBenefitsProgrammes:
		l = Listing{Prefix: api.BenefitsProgrammesPrefix()}
	case api.PathBenefitsEnrolments:
		l = Listing{Prefix: api.BenefitsEnrolmentsPrefix(arg)}
	case api.PathTaxTypes:
		l = Listing{Prefix: api.TaxTypesPrefix()}
	case api.PathTaxTotals:
		l = Listing{Prefix: api.TaxTypeTotalsPrefix(arg)}
	case api.PathTaxReceipts:
		taxType, period, found := strings.Cut(arg, "/")
		if !found {
			return l, nil, false
		}
		l = Listing{Prefix: api.TaxTypePeriodPrefix(taxType, period), RecordKey: api.TaxReceiptKeyOfIndex}
	case api.PathBenefitsHistory:
		prog, rcpt, found := strings.Cut(arg, "/")
		if !found {
			return l, nil, false
		}
		l = Listing{Prefix: api.BenefitsHistoryPrefix(prog, rcpt)}
		l.RecordKey = func(k []byte) []byte {
			if len(k) < len(l.Prefix)+8 {
				return nil
			}
			return api.BenefitsPaymentOfHistoryKey(k)
		}
	case api.PathProvenanceHistory, api.PathProvenanceAttestations:
		if arg == "" || len(arg) > 255 {
			return l, nil, false
		}
		l = Listing{Prefix: api.ProvenanceHistoryPrefix(arg), Head: 1}
		if path == api.PathProvenanceAttestations {
			l.Prefix = api.ProvenanceAttestationPrefix(arg)
		}
	case api.PathProvenanceHeld:
		l = Listing{Prefix: api.ProvenanceHeldPrefix(req.Arg), RecordKey: api.ProvenanceItemOfHeldKey}
	case api.PathProvenanceOffers:
		l = Listing{Prefix: api.ProvenanceOffersToPrefix(req.Arg), RecordKey: api.ProvenanceOfferOfOfferToKey}
	case api.PathProvenanceUnacknowledged:
		if arg == "" || len(arg) > 255 {
			return l, nil, false
		}
		l = Listing{Prefix: api.ProvenanceAwaitingAckPrefix(arg)}
		l.RecordKey = func(k []byte) []byte { // index key: prefix, custodian, item id
			if len(k) <= len(l.Prefix)+api.AddressSize {
				return nil
			}
			return api.ProvenanceItemKey(api.ProvenanceAwaitingAckItem(arg, k))
		}
	default:
		return l, nil, false
	}
	return l, after, true
}

// VerifyPage checks that a page of listing l, continuing after the key
// after (nil for the first page), leaves no record out: its range proofs,
// checked against root (an app hash, named rootName in refusals), chain
// from the page's start through every index key in the range to its end
// (next_key, or past the prefix on the last page), and the page's records,
// after the head, are exactly the records those index keys point at, in
// order. Each record's own proof is checked separately (checkProof). It
// returns the proven index keys.
func VerifyPage(root []byte, rootName string, l Listing, after []byte, page *appv1.ProvedList) ([][]byte, error) {
	refuse := func(format string, args ...any) ([][]byte, error) {
		return nil, &Refusal{Check: CheckList, Reason: fmt.Sprintf(format, args...)}
	}
	if len(page.RangeProofs) == 0 {
		return refuse("the page of %s has no range proofs, so nothing shows that no entry was left out", fmtKey(l.Prefix))
	}
	if len(after) > 0 && !bytes.HasPrefix(after, l.Prefix) {
		return refuse("the page continues after %s, which is not under the listing's prefix %s", fmtKey(after), fmtKey(l.Prefix))
	}
	cursor := l.Prefix
	if len(after) > 0 {
		cursor = successorKey(after)
	}
	var index [][]byte
	ended := false
	for i, p := range page.RangeProofs {
		if ended {
			return refuse("range proof %d comes after one that reached the end of the listing", i)
		}
		next, err := nextKeyFrom(root, rootName, cursor, p)
		if err != nil {
			return nil, err
		}
		if next == nil || !bytes.HasPrefix(next, l.Prefix) {
			ended = true
			continue
		}
		index = append(index, next)
		cursor = successorKey(next)
	}
	switch {
	case len(page.NextKey) > 0 && ended:
		return refuse("the page has a next_key but its range proofs reach the end of the listing")
	case len(page.NextKey) > 0 && (len(index) == 0 || !bytes.Equal(index[len(index)-1], page.NextKey)):
		return refuse("the page's next_key %s is not the last index key its range proofs show", fmtKey(page.NextKey))
	case len(page.NextKey) == 0 && !ended:
		return refuse("the page stops at %s without a next_key before the end of the listing: entries after it were left out", fmtKey(cursor))
	case len(page.NextKey) == 0 && !page.Complete:
		return refuse("the page's range proofs reach the end of the listing but it is not marked complete")
	}
	if got, want := len(page.Entries), l.Head+len(index); got != want {
		return refuse("the page has %d records but the range proofs show %d index keys under %s (and %d head records): records were left out or added", got, len(index), fmtKey(l.Prefix), l.Head)
	}
	for i, k := range index {
		want := k
		if l.RecordKey != nil {
			want = l.RecordKey(k)
		}
		if e := page.Entries[l.Head+i]; !bytes.Equal(e.Key, want) {
			return refuse("record %d of the page is %s but index key %s points at %s", l.Head+i, fmtKey(e.Key), fmtKey(k), fmtKey(want))
		}
	}
	return index, nil
}

// successorKey is the smallest key above k: k followed by one 0x00 byte.
func successorKey(k []byte) []byte { return append(append(make([]byte, 0, len(k)+1), k...), 0) }
