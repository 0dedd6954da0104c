package api_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
)

// fixedKeys are the package's keys and prefixes that take no argument.
var fixedKeys = map[string]func() []byte{
	"AccountsPrefix":                  api.AccountsPrefix,
	"AgenciesPrefix":                  api.AgenciesPrefix,
	"AgencyStatePrefix":               api.AgencyStatePrefix,
	"AllMembersPrefix":                api.AllMembersPrefix,
	"BenefitsAllEnrolmentsPrefix":     api.BenefitsAllEnrolmentsPrefix,
	"BenefitsAllHistoryPrefix":        api.BenefitsAllHistoryPrefix,
	"BenefitsAllOpenRecoveriesPrefix": api.BenefitsAllOpenRecoveriesPrefix,
	"BenefitsDuePrefix":               api.BenefitsDuePrefix,
	"BenefitsParamsKey":               api.BenefitsParamsKey,
	"BenefitsPaymentSeqKey":           api.BenefitsPaymentSeqKey,
	"BenefitsPaymentsPrefix":          api.BenefitsPaymentsPrefix,
	"BenefitsProgrammesPrefix":        api.BenefitsProgrammesPrefix,
	"BenefitsRecoveriesPrefix":        api.BenefitsRecoveriesPrefix,
	"BenefitsRecoverySeqKey":          api.BenefitsRecoverySeqKey,
	"BenefitsStatePrefix":             api.BenefitsStatePrefix,
	"ChainIDKey":                      api.ChainIDKey,
	"FundsBalancesPrefix":             api.FundsBalancesPrefix,
	"FundsMovementSeqKey":             api.FundsMovementSeqKey,
	"FundsParamsKey":                  api.FundsParamsKey,
	"FundsStatePrefix":                api.FundsStatePrefix,
	"FundsTotalsKey":                  api.FundsTotalsKey,
	"FundsTrancheSeqKey":              api.FundsTrancheSeqKey,
	"GovGrantSeqKey":                  api.GovGrantSeqKey,
	"GovGrantsPrefix":                 api.GovGrantsPrefix,
	"GovMandatesPrefix":               api.GovMandatesPrefix,
	"GovMisbehaviourSeqKey":           api.GovMisbehaviourSeqKey,
	"GovMisbehavioursPrefix":          api.GovMisbehavioursPrefix,
	"GovOpenCountsPrefix":             api.GovOpenCountsPrefix,
	"GovOpenPrefix":                   api.GovOpenPrefix,
	"GovParamsKey":                    api.GovParamsKey,
	"GovProposalSeqKey":               api.GovProposalSeqKey,
	"GovProposalsPrefix":              api.GovProposalsPrefix,
	"GovStatePrefix":                  api.GovStatePrefix,
	"GovUpgradeKey":                   api.GovUpgradeKey,
	"GovValidatorsPrefix":             api.GovValidatorsPrefix,
	"NoncesPrefix":                    api.NoncesPrefix,
	"ParamsKey":                       api.ParamsKey,
	"ProvenanceAccreditationsPrefix":  api.ProvenanceAccreditationsPrefix,
	"ProvenanceAllAttestationsPrefix": api.ProvenanceAllAttestationsPrefix,
	"ProvenanceAllAwaitingAckPrefix":  api.ProvenanceAllAwaitingAckPrefix,
	"ProvenanceAllHistoryPrefix":      api.ProvenanceAllHistoryPrefix,
	"ProvenanceItemsPrefix":           api.ProvenanceItemsPrefix,
	"ProvenanceLocationsPrefix":       api.ProvenanceLocationsPrefix,
	"ProvenanceOfferExpiryPrefix":     api.ProvenanceOfferExpiryPrefix,
	"ProvenanceOffersPrefix":          api.ProvenanceOffersPrefix,
	"ProvenanceParamsKey":             api.ProvenanceParamsKey,
	"ProvenanceQueueNextKey":          api.ProvenanceQueueNextKey,
	"ProvenanceQueuePrefix":           api.ProvenanceQueuePrefix,
	"ProvenanceRecallOrdersPrefix":    api.ProvenanceRecallOrdersPrefix,
	"ProvenanceStatePrefix":           api.ProvenanceStatePrefix,
	"PubKeysPrefix":                   api.PubKeysPrefix,
	"TaxAllTypePeriodPrefix":          api.TaxAllTypePeriodPrefix,
	"TaxAllTypeTotalsPrefix":          api.TaxAllTypeTotalsPrefix,
	"TaxAmendmentsPrefix":             api.TaxAmendmentsPrefix,
	"TaxAuthorisationsPrefix":         api.TaxAuthorisationsPrefix,
	"TaxBankRefsPrefix":               api.TaxBankRefsPrefix,
	"TaxCollectorTotalsPrefix":        api.TaxCollectorTotalsPrefix,
	"TaxCollectorsPrefix":             api.TaxCollectorsPrefix,
	"TaxConfirmationsPrefix":          api.TaxConfirmationsPrefix,
	"TaxConfirmedPrefix":              api.TaxConfirmedPrefix,
	"TaxPayerTotalsPrefix":            api.TaxPayerTotalsPrefix,
	"TaxReceiptStatesPrefix":          api.TaxReceiptStatesPrefix,
	"TaxReceiptsPrefix":               api.TaxReceiptsPrefix,
	"TaxSeqsPrefix":                   api.TaxSeqsPrefix,
	"TaxStatePrefix":                  api.TaxStatePrefix,
	"TaxTypesPrefix":                  api.TaxTypesPrefix,
}

// A caller may build on a key or prefix the package returns (append a
// suffix, overwrite it in place as a scratch buffer): the next call must
// still return the key itself. A function that handed out the package's
// own slice let one caller's append change every later caller's prefix —
// a scan over the wrong range, a write to the wrong key.
func TestWritingIntoAReturnedKeyLeavesTheNextOneIntact(t *testing.T) {
	for name, f := range fixedKeys {
		want := string(f())
		p := f()
		_ = append(p[:0], strings.Repeat("X", len(p))...) // reuses p's array
		_ = append(f(), "/extra"...)                      // reuses spare capacity, if any
		require.Equal(t, want, string(f()), "%s returned a slice another caller changed", name)
	}
}

// Every exported function of the package that takes nothing and returns
// bytes is in fixedKeys, so the test above covers keys added later.
func TestFixedKeysListsEveryArgumentlessKeyFunction(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || !fn.Name.IsExported() || fn.Type.Params.NumFields() != 0 || fn.Type.Results.NumFields() != 1 {
				continue
			}
			if arr, ok := fn.Type.Results.List[0].Type.(*ast.ArrayType); ok && arr.Len == nil && isByte(arr.Elt) {
				require.Contains(t, fixedKeys, fn.Name.Name, "%s: add it to fixedKeys", fset.Position(fn.Pos()))
			}
		}
	}
}

func isByte(e ast.Expr) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == "byte"
}
