package app_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/benefits"
	"github.com/tallyledger/tally/x/funds"
	"github.com/tallyledger/tally/x/gov"
	"github.com/tallyledger/tally/x/module"
	"github.com/tallyledger/tally/x/provenance"
)

// registryOf is the parameter registry's current values of one record
// (names "<prefix>.<field>"), as /gov/registry answers, or the refusal.
func registryOf(t *testing.T, c *chain, prefix string) (map[string]string, *govv1.ParamList, error) {
	t.Helper()
	res := c.query(api.PathGovRegistry, nil)
	if res.Code != 0 {
		return nil, nil, fmt.Errorf("%s/%d: %s", res.Codespace, res.Code, res.Log)
	}
	list := &govv1.ParamList{}
	require.NoError(t, proto.Unmarshal(res.Value, list))
	out := map[string]string{}
	for _, p := range list.Params {
		if strings.HasPrefix(p.Name, prefix+".") {
			out[p.Name] = p.Value
		}
	}
	require.NotEmpty(t, out, "no %s.* parameter in the registry", prefix)
	return out, list, nil
}

// valuesOf renders m's fields as the registry does, for the names given.
func valuesOf(m proto.Message, names map[string]string) map[string]string {
	out := map[string]string{}
	for name := range names {
		field := name[strings.Index(name, ".")+1:]
		fd := m.ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(field))
		out[name] = fmt.Sprint(m.ProtoReflect().Get(fd).Interface())
	}
	return out
}

// Every module's parameters record is read by the one loader
// (module.Params), so it behaves the same in each: a missing record is
// the module's defaults, both for its messages and for /gov/registry; a
// record stored as 0x01 (every field zero) is the zero record; a record
// that does not decode refuses the module's message and the registry
// query with tx/81, and the message leaves state as it was.
func TestEveryParamsRecordReadsTheSameWhenMissingEmptyOrDamaged(t *testing.T) {
	c := newPayingWorld(t)
	cases := []struct {
		module string
		key    []byte
		def    proto.Message
		msg    *txv1.Msg
		undo   []*txv1.Msg
	}{
		{"funds", api.FundsParamsKey(), funds.DefaultParams(), msgAppropriate("FZ/PARAMS", 1_000), nil},
		{"benefits", api.BenefitsParamsKey(), benefits.DefaultParams(), msgPay(payingProgramme, "r1", 100), nil},
		{"gov", api.GovParamsKey(), gov.DefaultParams(), msgPropose(changeParam("app.max_memo_bytes", "300")), nil},
		{"provenance", api.ProvenanceParamsKey(), provenance.DefaultParams(), offer(fzItem, mCouncilAdmin, 3600), []*txv1.Msg{withdraw(fzItem)}},
	}
	for _, tc := range cases {
		t.Run(tc.module, func(t *testing.T) {
			prev := c.st.Get(tc.key)
			require.NotNil(t, prev, "genesis writes every params record")
			defer func() { c.st.Set(tc.key, prev); c.block() }()

			c.st.Delete(tc.key)
			c.block()
			got, _, err := registryOf(t, c, tc.module)
			require.NoError(t, err)
			require.Equal(t, valuesOf(tc.def, got), got, "a missing record reads as the defaults")
			requireOK(t, c.block(c.tx(signerFor(tc.msg), tc.msg)).TxResults[0])
			for _, m := range tc.undo {
				requireOK(t, c.block(c.tx(signerFor(m), m)).TxResults[0])
			}

			c.st.Set(tc.key, store.Present)
			c.block()
			got, _, err = registryOf(t, c, tc.module)
			require.NoError(t, err, "a record stored as 0x01 is the zero record")
			require.Equal(t, valuesOf(tc.def.ProtoReflect().Type().New().Interface(), got), got)

			c.st.Set(tc.key, []byte{0xff, 0xff})
			c.block()
			_, _, err = registryOf(t, c, tc.module)
			require.ErrorContains(t, err, "tx/81: parameters record unreadable")
			before := withoutReplay(c.dump())
			res := c.block(c.tx(signerFor(tc.msg), tc.msg)).TxResults[0]
			requireCode(t, module.ErrParamsUnreadable, res.Codespace, res.Code, res.Log, fmt.Sprintf("%X", tc.key))
			require.Equal(t, before, withoutReplay(c.dump()), "the refused message changed state")
		})
	}
}

// The app's own params record is read by the same loader when a node
// starts on saved state: missing is the defaults, damaged stops the start
// with tx/81 naming the record.
func TestTheAppParamsRecordReadsTheSameAtStart(t *testing.T) {
	dir := t.TempDir()
	c := openChain(t, openLevel(t, dir), fuzzOptions)
	c.initChain(fuzzGenesis())
	c.block()
	c.close()

	st := openLevel(t, dir)
	st.Set(api.ParamsKey(), []byte{0xff, 0xff})
	_, _, err := st.Commit()
	require.NoError(t, err)
	_, err = app.New(st, fuzzOptions)
	require.True(t, errors.Is(err, module.ErrParamsUnreadable), "%v", err)
	require.ErrorContains(t, err, fmt.Sprintf("%X", api.ParamsKey()))

	st.Delete(api.ParamsKey())
	_, _, err = st.Commit()
	require.NoError(t, err)
	c = openChain(t, st, fuzzOptions)
	got, _, err := registryOf(t, c, "app")
	require.NoError(t, err)
	require.Equal(t, valuesOf(app.DefaultParams(), got), got, "a missing record reads as the defaults")
	c.block()
}
