package client_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// One JSON form for people and programs (docs/protocol.md): a value keeps
// its stable form under its field's name — an enum its value name, an
// amount a string of pence, bytes hex — and the words a person reads are
// beside it as <field>_formatted; a false yes/no is written.
func TestRecordJSONKeepsStableValuesWithWordsBeside(t *testing.T) {
	decode := func(v map[string]any) map[string]any {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		var out map[string]any
		require.NoError(t, json.Unmarshal(b, &out))
		return out
	}

	acc := decode(client.RecordJSON(&agencyv1.Account{
		Address: []byte{0xab, 0xcd}, PubKey: []byte{0x01, 0xff}, AgencyId: "revenue",
		Roles:  []agencyv1.Role{agencyv1.Role_ROLE_ADMIN, agencyv1.Role_ROLE_AUDITOR},
		Status: agencyv1.Status_STATUS_ACTIVE,
	}))
	require.Equal(t, "abcd", acc["address"])
	require.Equal(t, "01ff", acc["pub_key"], "bytes are hex, never base64")
	require.Equal(t, []any{"ROLE_ADMIN", "ROLE_AUDITOR"}, acc["roles"])
	require.Equal(t, []any{"admin", "auditor"}, acc["roles_formatted"])
	require.Equal(t, "STATUS_ACTIVE", acc["status"])
	require.Equal(t, "active", acc["status_formatted"])

	st := decode(client.RecordJSON(&taxv1.ReceiptState{Status: taxv1.Status_STATUS_PARTIALLY_REFUNDED, Amount: 1250000, Net: 1200000}))
	require.Equal(t, "STATUS_PARTIALLY_REFUNDED", st["status"])
	require.Equal(t, "partially refunded", st["status_formatted"])
	require.Equal(t, "1250000", st["amount"])
	require.Equal(t, "£12,500.00", st["amount_formatted"])
	require.Equal(t, "£12,000.00", st["net_formatted"])
	_, refunded := st["refunded"]
	require.False(t, refunded, "a zero amount is left out, as in protojson")

	// A number no value of the enum has is written as the number, in
	// both forms.
	odd := decode(client.RecordJSON(&agencyv1.Account{Status: agencyv1.Status(77)}))
	require.EqualValues(t, 77, odd["status"])
	require.Equal(t, "77", odd["status_formatted"])

	// A failing check reads "ok": false, not a missing field.
	rep := decode(client.RecordJSON(&appv1.InvariantsReport{Modules: []*appv1.ModuleInvariants{{
		Module: "tax", Checks: []*appv1.InvariantCheck{{Name: "receipt-chain", Ok: false, Detail: "gap"}, {Name: "totals", Ok: true}},
	}}}))
	require.Equal(t, false, rep["ok"])
	mod := rep["modules"].([]any)[0].(map[string]any)
	require.Equal(t, false, mod["ok"])
	checks := mod["checks"].([]any)
	require.Equal(t, false, checks[0].(map[string]any)["ok"])
	require.Equal(t, true, checks[1].(map[string]any)["ok"])
}
