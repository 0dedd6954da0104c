package app_test

import (
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	"github.com/stretchr/testify/require"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/app/testdata/example"
	"github.com/tallyledger/tally/client"
	examplev1 "github.com/tallyledger/tally/proto/tally/example/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/module"
)

func postNotice(text string) *txv1.Msg {
	return &txv1.Msg{Sum: &txv1.Msg_PostNotice{PostNotice: &examplev1.MsgPostNotice{Text: text}}}
}

// A module written from docs/adding-a-module.md (app/testdata/example: a
// folder with its route table) runs through the real application once it
// is registered with one line: its message passes the permission table,
// its stateless check and its handler, on a real IAVL store with real
// signatures, and its state is proven against the app hash. Without the
// line, a node refuses the message as of a type it does not know.
func TestModuleFromTheDocRunsWithOneLineOfRegistration(t *testing.T) {
	c := openChain(t, store.NewMemory(), app.Options{
		Modules: []module.Module{example.Keeper{}.Module()}, // the one line
	})
	c.initChain(testGenesis())
	c.block()

	// Allowed: an admin posts its agency's notice.
	tx := c.tx(treasuryAdmin, postNotice("office closed on Friday"))
	require.Zero(t, c.checkTx(tx).Code)
	res := c.block(tx)
	requireOK(t, res.TxResults[0])
	ev := attrs(event(t, res.TxResults[0].Events, example.EventNoticePosted))
	require.Equal(t, agTreasury, ev["agency"].Value)

	// The notice is state, proven against the app hash like any record.
	q := c.query(api.PathKey, example.NoticeKey(agTreasury))
	require.Zero(t, q.Code, q.Log)
	require.Equal(t, "office closed on Friday", string(q.Value))
	proved, err := c.app.Query(t.Context(), &abci.RequestQuery{Path: api.PathKey, Data: example.NoticeKey(agTreasury), Prove: true})
	require.NoError(t, err)
	require.NotNil(t, proved.ProofOps)
	require.NoError(t, client.ProvenValue(c.hashes[c.height], example.NoticeKey(agTreasury), proved.Value, proved.ProofOps.Ops[0].Data))

	// Refused, each with its code, leaving state and app hash as they were:
	// the route's role, the route's stateless check, the handler's own rule.
	// Refused before running (role, stateless check), a transaction leaves
	// even its nonce unspent, so the app hash too is unchanged; refused by
	// the handler, it spends only its nonce.
	for _, tt := range []struct {
		tx     []byte
		want   *module.Error
		before bool // refused before the handler runs
	}{
		{c.tx(treasuryClerk, postNotice("not an admin")), app.ErrUnauthorized, true},
		{c.tx(treasuryAdmin, postNotice("")), example.ErrInvalidNotice, true},
		{c.tx(treasuryAdmin, postNotice("two\nlines")), example.ErrInvalidNotice, true},
		{c.tx(treasuryAdmin2, postNotice("office closed on Friday")), example.ErrSameNotice, false},
	} {
		state, hash := withoutReplay(c.dump()), c.lastHash()
		if tt.before {
			chk := c.checkTx(tt.tx)
			requireCode(t, tt.want, chk.Codespace, chk.Code, chk.Log)
		}
		r := c.block(tt.tx)
		requireCode(t, tt.want, r.TxResults[0].Codespace, r.TxResults[0].Code, r.TxResults[0].Log)
		require.Zero(t, countEvents(r.TxResults[0].Events, example.EventNoticePosted))
		require.Equal(t, state, withoutReplay(c.dump()))
		if tt.before {
			require.Equal(t, hash, r.AppHash)
		}
	}

	// A node without the line does not know the message.
	plain := newChain(t)
	plain.block()
	chk := plain.checkTx(plain.tx(treasuryAdmin, postNotice("hello")))
	requireCode(t, app.ErrInvalidMessage, chk.Codespace, chk.Code, chk.Log, "does not know")
}
