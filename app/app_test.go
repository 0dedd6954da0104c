package app_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	abci "github.com/cometbft/cometbft/abci/types"
	cmttypes "github.com/cometbft/cometbft/types"
	ics23 "github.com/cosmos/ics23/go"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/api"
	"github.com/tallyledger/tally/api/keyproof"
	"github.com/tallyledger/tally/app"
	"github.com/tallyledger/tally/client"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	appv1 "github.com/tallyledger/tally/proto/tally/app/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

const (
	roleAdmin        = agencyv1.Role_ROLE_ADMIN
	roleTreasury     = agencyv1.Role_ROLE_TREASURY
	roleTaxCollector = agencyv1.Role_ROLE_TAX_COLLECTOR
	roleInspector    = agencyv1.Role_ROLE_INSPECTOR
	roleAuditor      = agencyv1.Role_ROLE_AUDITOR
)

func TestGenesisIsQueryableAfterFirstBlock(t *testing.T) {
	c := newChain(t)
	res := c.query(api.PathAccount, treasuryAdmin.addr)
	requireCode(t, app.ErrNotReady, res.Codespace, res.Code, res.Log, "no state is committed yet")

	c.block()
	for _, ga := range genesisAccounts {
		acc := c.account(ga.key.addr)
		require.NotNil(t, acc, ga.key.name)
		require.Equal(t, ga.agency, acc.AgencyId)
		require.Equal(t, []byte(ga.key.pub), acc.PubKey)
	}
	tr := c.agency(agTreasury)
	require.Equal(t, uint64(3), tr.MemberCount)
	require.Equal(t, uint64(2), tr.ActiveAdmins)
	require.Equal(t, agencyv1.Status_STATUS_SUSPENDED, c.agency(agDormant).Status)
	require.Nil(t, c.account(stranger.addr))

	params := &appv1.Params{}
	res = c.query(api.PathParams, nil)
	require.Zero(t, res.Code, res.Log)
	require.NoError(t, proto.Unmarshal(res.Value, params))
	require.True(t, proto.Equal(app.DefaultParams(), params))
}

func TestInitChainRefusesBadGenesis(t *testing.T) {
	dup := testGenesis()
	dup.Agency.Accounts = append(dup.Agency.Accounts, dup.Agency.Accounts[0])
	badParams := testGenesis()
	badParams.Params.MaxTxBytes = 10
	noAdmin := testGenesis()
	noAdmin.Agency.Accounts = slicesWithout(noAdmin.Agency.Accounts, regAdmin.pub)

	for _, tt := range []struct {
		name    string
		state   []byte
		initial int64
		want    string
	}{
		{"no app_state", nil, 1, "no app_state"},
		{"not json", []byte("{"), 1, "not a tally.app.v1.GenesisState"},
		{"params too small", mustGenesis(t, badParams), 1, "max_tx_bytes 10"},
		{"duplicate account", mustGenesis(t, dup), 1, "appears twice"},
		{"agency without admin", mustGenesis(t, noAdmin), 1, `agency "regulator" has no active admin`},
		{"initial height above 1", mustGenesis(t, testGenesis()), 5, "initial_height 5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := app.New(store.NewMemory(), app.Options{})
			require.NoError(t, err)
			defer a.Close()
			_, err = a.InitChain(context.Background(), &abci.RequestInitChain{ChainId: testChainID, AppStateBytes: tt.state, InitialHeight: tt.initial})
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func mustGenesis(tb testing.TB, g *appv1.GenesisState) []byte {
	bz, err := app.MarshalGenesis(withKeyProofs(g))
	require.NoError(tb, err)
	return bz
}

func slicesWithout(accs []*agencyv1.Account, pub []byte) []*agencyv1.Account {
	var out []*agencyv1.Account
	for _, a := range accs {
		if !bytes.Equal(a.PubKey, pub) {
			out = append(out, a)
		}
	}
	return out
}

// Every agency message, sent by someone allowed to, changes state as a
// query shows, emits its event with the indexed attributes clients search
// by, and changes the app hash.
func TestAgencyMessagesApplyEmitAndChangeAppHash(t *testing.T) {
	newcomer := keyFor("newcomer")
	clerkNewKey := keyFor("treasury/clerk/new")

	for _, tt := range []struct {
		name   string
		signer testKey
		msg    *txv1.Msg
		event  string
		agency string
		target testKey
		other  map[string]string // non-indexed attributes
		check  func(t *testing.T, c *chain)
	}{
		{
			name: "AddMember creates an active account in the signer's agency", signer: treasuryAdmin,
			msg: addMember(newcomer, roleAuditor, roleTreasury), event: agency.EventMemberAdded, agency: agTreasury, target: newcomer,
			other: map[string]string{"roles": "treasury,auditor"},
			check: func(t *testing.T, c *chain) {
				acc := c.account(newcomer.addr)
				require.NotNil(t, acc)
				require.Equal(t, agTreasury, acc.AgencyId)
				require.Equal(t, agencyv1.Status_STATUS_ACTIVE, acc.Status)
				require.Equal(t, []agencyv1.Role{roleTreasury, roleAuditor}, acc.Roles) // sorted
				require.Equal(t, c.height, acc.CreatedHeight)
				require.Equal(t, uint64(4), c.agency(agTreasury).MemberCount)
				require.True(t, hasMember(c.members(agTreasury), newcomer.addr))
				res := c.query(api.PathKey, api.PubKeyKey(newcomer.pub))
				require.Equal(t, newcomer.addr, res.Value)
			},
		},
		{
			name: "RemoveMember marks the account removed and it can no longer sign", signer: treasuryAdmin,
			msg: removeMember(treasuryClerk.addr), event: agency.EventMemberRemoved, agency: agTreasury, target: treasuryClerk,
			check: func(t *testing.T, c *chain) {
				require.Equal(t, agencyv1.Status_STATUS_REMOVED, c.account(treasuryClerk.addr).Status)
				require.True(t, hasMember(c.members(agTreasury), treasuryClerk.addr), "the record and its history stay")
				res := c.checkTx(c.tx(treasuryClerk, rotateKey(treasuryClerk.addr, keyFor("x"))))
				requireCode(t, app.ErrInactiveSigner, res.Codespace, res.Code, res.Log, "removed")
			},
		},
		{
			name: "GrantRole adds the role", signer: treasuryAdmin,
			msg: grantRole(treasuryClerk.addr, roleAdmin), event: agency.EventRoleGranted, agency: agTreasury, target: treasuryClerk,
			other: map[string]string{"role": "admin"},
			check: func(t *testing.T, c *chain) {
				require.Equal(t, []agencyv1.Role{roleAdmin, roleTreasury}, c.account(treasuryClerk.addr).Roles)
				require.Equal(t, uint64(3), c.agency(agTreasury).ActiveAdmins)
				requireOK(t, c.block(c.tx(treasuryClerk, grantRole(treasuryAdmin.addr, roleAuditor))).TxResults[0])
			},
		},
		{
			name: "RevokeRole removes the role", signer: treasuryAdmin,
			msg: revokeRole(treasuryAdmin2.addr, roleAdmin), event: agency.EventRoleRevoked, agency: agTreasury, target: treasuryAdmin2,
			other: map[string]string{"role": "admin"},
			check: func(t *testing.T, c *chain) {
				require.Equal(t, []agencyv1.Role{roleTreasury}, c.account(treasuryAdmin2.addr).Roles)
				require.Equal(t, uint64(1), c.agency(agTreasury).ActiveAdmins)
				res := c.checkTx(c.tx(treasuryAdmin2, grantRole(treasuryClerk.addr, roleAuditor)))
				requireCode(t, app.ErrUnauthorized, res.Codespace, res.Code, res.Log, "needs role admin")
			},
		},
		{
			name: "RotateKey by any active account replaces its key, keeping its address", signer: treasuryClerk,
			msg: rotateKey(treasuryClerk.addr, clerkNewKey), event: agency.EventKeyRotated, agency: agTreasury, target: treasuryClerk,
			check: func(t *testing.T, c *chain) {
				acc := c.account(treasuryClerk.addr)
				require.Equal(t, []byte(clerkNewKey.pub), acc.PubKey)
				require.Equal(t, uint64(1), acc.KeyRotations)
				require.Equal(t, treasuryClerk.addr, acc.Address)
				require.Equal(t, treasuryClerk.addr, c.query(api.PathKey, api.PubKeyKey(clerkNewKey.pub)).Value)
				res := c.query(api.PathKey, api.PubKeyKey(treasuryClerk.pub))
				requireCode(t, app.ErrNotFound, res.Codespace, res.Code, res.Log)

				old := c.checkTx(c.tx(treasuryClerk, rotateKey(treasuryClerk.addr, keyFor("y"))))
				requireCode(t, app.ErrBadSignature, old.Codespace, old.Code, old.Log)
				fresh := c.txWith(txArgs{signer: treasuryClerk, signWith: &clerkNewKey}, rotateKey(treasuryClerk.addr, keyFor("y")))
				require.Zero(t, c.checkTx(fresh).Code)
				requireOK(t, c.block(fresh).TxResults[0])
			},
		},
		{
			name: "SuspendAccount stops the account from signing", signer: taxAdmin,
			msg: suspendAccount(taxCollector.addr, "audit 2030-17"), event: agency.EventAccountSuspended, agency: agTax, target: taxCollector,
			other: map[string]string{"reason": "under_review"},
			check: func(t *testing.T, c *chain) {
				require.Equal(t, agencyv1.Status_STATUS_SUSPENDED, c.account(taxCollector.addr).Status)
				res := c.checkTx(c.tx(taxCollector, rotateKey(taxCollector.addr, keyFor("z"))))
				requireCode(t, app.ErrInactiveSigner, res.Codespace, res.Code, res.Log, "suspended")
			},
		},
		{
			name: "ReinstateAccount lets a suspended account sign again", signer: taxAdmin,
			msg: reinstateAccount(taxSuspended.addr), event: agency.EventAccountReinstated, agency: agTax, target: taxSuspended,
			check: func(t *testing.T, c *chain) {
				require.Equal(t, agencyv1.Status_STATUS_ACTIVE, c.account(taxSuspended.addr).Status)
				require.Zero(t, c.checkTx(c.tx(taxSuspended, rotateKey(taxSuspended.addr, keyFor("w")))).Code)
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			c.block()
			before, beforeView := c.lastHash(), c.view()

			tx := c.tx(tt.signer, tt.msg)
			require.Zero(t, c.checkTx(tx).Code)
			res := c.block(tx).TxResults[0]
			requireOK(t, res)
			require.NotEqual(t, before, c.lastHash(), "app hash")
			require.NotEqual(t, beforeView, c.view(), "queried state")

			txEv := attrs(event(t, res.Events, "tx"))
			require.Equal(t, abci.EventAttribute{Key: "signer", Value: tt.signer.hex(), Index: true}, txEv["signer"])
			ev := attrs(event(t, res.Events, tt.event))
			require.Equal(t, abci.EventAttribute{Key: "agency", Value: tt.agency, Index: true}, ev["agency"])
			require.Equal(t, abci.EventAttribute{Key: "address", Value: tt.target.hex(), Index: true}, ev["address"])
			require.Len(t, ev, 2+len(tt.other))
			for k, v := range tt.other {
				require.Equal(t, abci.EventAttribute{Key: k, Value: v}, ev[k], "attribute %s is reported, not indexed", k)
			}
			tt.check(t, c)
		})
	}
}

func hasMember(ms []*agencyv1.Account, addr []byte) bool {
	for _, m := range ms {
		if bytes.Equal(m.Address, addr) {
			return true
		}
	}
	return false
}

// A transaction refused by authentication is refused the same way by
// CheckTx and FinalizeBlock, writes nothing (not even its nonce) and leaves
// the app hash as it was.
func TestRefusedTransactionLeavesStateAndAppHashUntouched(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	garbage := make([]byte, 300)
	for i := range garbage {
		garbage[i] = byte(rng.UintN(256))
	}
	grant := grantRole(treasuryClerk.addr, roleAuditor)
	var replayed []byte

	for _, tt := range []struct {
		name  string
		setup func(c *chain)
		tx    func(c *chain) []byte
		want  *module.Error
		log   string
	}{
		{name: "random garbage", tx: func(*chain) []byte { return garbage }, want: app.ErrTxMalformed},
		{name: "empty bytes", tx: func(*chain) []byte { return nil }, want: app.ErrTxMalformed, log: "signature is 0 bytes"},
		{name: "valid Tx with garbage body", want: app.ErrTxMalformed, log: "body_bytes is not a tally.tx.v1.TxBody",
			tx: func(*chain) []byte {
				raw, _ := proto.Marshal(&txv1.Tx{BodyBytes: []byte{0xff, 0xff, 0xff, 0x01}, Signature: make([]byte, 64)})
				return raw
			}},
		{name: "short signature", want: app.ErrTxMalformed, log: "signature is 63 bytes",
			tx: func(c *chain) []byte {
				tx := &txv1.Tx{}
				require.NoError(t, proto.Unmarshal(c.tx(treasuryAdmin, grant), tx))
				tx.Signature = tx.Signature[:63]
				raw, _ := proto.Marshal(tx)
				return raw
			}},
		{name: "signer not an address", want: app.ErrTxMalformed, log: "signer is 3 bytes",
			tx: func(c *chain) []byte {
				return encodeTx(t, &txv1.TxBody{ChainId: testChainID, Signer: []byte{1, 2, 3}, Nonce: 1, TimeoutHeight: 5, Messages: []*txv1.Msg{grant}}, treasuryAdmin)
			}},
		{name: "oversize", want: app.ErrTxTooLarge, log: "the limit is 32768",
			tx: func(c *chain) []byte {
				return c.txWith(txArgs{signer: treasuryAdmin, memo: strings.Repeat("m", 33_000)}, grant)
			}},
		{name: "memo too long", want: app.ErrMemoTooLarge, log: "memo is 257 bytes",
			tx: func(c *chain) []byte {
				return c.txWith(txArgs{signer: treasuryAdmin, memo: strings.Repeat("m", 257)}, grant)
			}},
		{name: "no messages", want: app.ErrNoMessages, tx: func(c *chain) []byte { return c.tx(treasuryAdmin) }},
		{name: "too many messages", want: app.ErrTooManyMessages, log: "33 messages; the limit is 32",
			tx: func(c *chain) []byte {
				msgs := make([]*txv1.Msg, 33)
				for i := range msgs {
					msgs[i] = grant
				}
				return c.tx(treasuryAdmin, msgs...)
			}},
		{name: "empty message", want: app.ErrInvalidMessage, log: "message 1",
			tx: func(c *chain) []byte { return c.tx(treasuryAdmin, grant, &txv1.Msg{}) }},
		{name: "message failing its stateless check", want: agency.ErrInvalidKey, log: "message 0: agency/12",
			tx: func(c *chain) []byte {
				return c.tx(treasuryAdmin, addMemberWithProof(make([]byte, 31), make([]byte, 64)))
			}},
		{name: "undefined role", want: agency.ErrInvalidRole, log: "role 99 is not defined",
			tx: func(c *chain) []byte { return c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, 99)) }},
		{name: "wrong chain id", want: app.ErrWrongChain, log: `"other-chain"`,
			tx: func(c *chain) []byte { return c.txWith(txArgs{signer: treasuryAdmin, chainID: "other-chain"}, grant) }},
		{name: "wrong chain id of 30,000 bytes", want: app.ErrWrongChain, // quoted to api.MaxQuotedBytes, not cut by CodeOf
			log: `"` + strings.Repeat("c", api.MaxQuotedBytes) + `"… (30000 bytes); this is "` + testChainID + `"`,
			tx: func(c *chain) []byte {
				return c.txWith(txArgs{signer: treasuryAdmin, chainID: strings.Repeat("c", 30_000)}, grant)
			}},
		{name: "expired timeout", want: app.ErrTimeoutExpired, log: "is below the current height",
			tx: func(c *chain) []byte {
				return c.txWith(txArgs{signer: treasuryAdmin, timeout: uint64(c.height)}, grant)
			}},
		{name: "timeout too far ahead", want: app.ErrTimeoutTooFar, log: "more than 600 blocks",
			tx: func(c *chain) []byte {
				return c.txWith(txArgs{signer: treasuryAdmin, timeout: uint64(c.height) + 1 + 600 + 1}, grant)
			}},
		{name: "signed by another key", want: app.ErrBadSignature,
			tx: func(c *chain) []byte { return c.txWith(txArgs{signer: treasuryAdmin, signWith: &taxAdmin}, grant) }},
		{name: "signature over other bytes", want: app.ErrBadSignature,
			tx: func(c *chain) []byte {
				tx := &txv1.Tx{}
				require.NoError(t, proto.Unmarshal(c.tx(treasuryAdmin, grant), tx))
				body := &txv1.TxBody{}
				require.NoError(t, proto.Unmarshal(tx.BodyBytes, body))
				body.Memo = strings.Repeat("ab", 32) // still canonical and a valid memo, no longer what was signed
				tx.BodyBytes, _ = proto.MarshalOptions{Deterministic: true}.Marshal(body)
				raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(tx)
				return raw
			}},
		{name: "unknown signer", want: app.ErrUnknownSigner, log: stranger.hex(),
			tx: func(c *chain) []byte { return c.tx(stranger, rotateKey(stranger.addr, keyFor("s"))) }},
		{name: "suspended signer", want: app.ErrInactiveSigner, log: "is suspended",
			tx: func(c *chain) []byte { return c.tx(taxSuspended, rotateKey(taxSuspended.addr, keyFor("s"))) }},
		{name: "removed signer", want: app.ErrInactiveSigner, log: "is removed",
			setup: func(c *chain) {
				requireOK(t, c.block(c.tx(treasuryAdmin, removeMember(treasuryClerk.addr))).TxResults[0])
			},
			tx: func(c *chain) []byte { return c.tx(treasuryClerk, rotateKey(treasuryClerk.addr, keyFor("s"))) }},
		{name: "signer of a suspended agency", want: app.ErrInactiveSigner, log: `agency "dormant", which is suspended`,
			tx: func(c *chain) []byte { return c.tx(dormantAdmin, rotateKey(dormantAdmin.addr, keyFor("s"))) }},
		{name: "replay of a committed transaction", want: app.ErrReplay, log: "already used nonce 42",
			setup: func(c *chain) {
				replayed = c.txWith(txArgs{signer: treasuryAdmin, nonce: 42}, grant)
				requireOK(t, c.block(replayed).TxResults[0])
			},
			tx: func(c *chain) []byte { return replayed }},
		{name: "known nonce and timeout in a new transaction", want: app.ErrReplay, log: "already used nonce 43 with timeout height 100",
			setup: func(c *chain) {
				requireOK(t, c.block(c.txWith(txArgs{signer: treasuryAdmin, nonce: 43, timeout: 100}, grant)).TxResults[0])
			},
			tx: func(c *chain) []byte {
				return c.txWith(txArgs{signer: treasuryAdmin, nonce: 43, timeout: 100}, revokeRole(treasuryClerk.addr, roleTreasury))
			}},
		{name: "admin message from a non-admin", want: app.ErrUnauthorized, log: "needs role admin",
			tx: func(c *chain) []byte { return c.tx(treasuryClerk, grantRole(treasuryClerk.addr, roleAuditor)) }},
		{name: "one message of several lacks the role", want: app.ErrUnauthorized, log: "message 1 needs role admin",
			tx: func(c *chain) []byte {
				return c.tx(treasuryClerk, rotateKey(treasuryClerk.addr, keyFor("s")), grantRole(treasuryClerk.addr, roleAuditor))
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			c.block()
			if tt.setup != nil {
				tt.setup(c)
			}
			tx := tt.tx(c)
			hash, state, view := c.lastHash(), c.dump(), c.view(treasuryClerk)

			check := c.checkTx(tx)
			requireCode(t, tt.want, check.Codespace, check.Code, check.Log, tt.log)
			require.Equal(t, state, c.dump(), "CheckTx wrote state")

			res := c.finalize(tx)
			requireCode(t, tt.want, res.TxResults[0].Codespace, res.TxResults[0].Code, res.TxResults[0].Log, tt.log)
			require.Empty(t, res.TxResults[0].Events)
			require.Equal(t, hash, res.AppHash, "FinalizeBlock app hash")
			c.commit()
			require.Equal(t, hash, c.lastHash(), "committed app hash")
			require.Equal(t, state, c.dump(), "state")
			require.Equal(t, view, c.view(treasuryClerk), "queried state")
		})
	}
}

// No corruption of a transaction's bytes gets it accepted or panics the
// app: every mangled copy of a valid transaction, and every random string,
// is refused by CheckTx and inside a block, and the block changes nothing.
func TestMangledTransactionsAreRefusedWithoutPanic(t *testing.T) {
	c := newChain(t)
	c.block()
	valid := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor), suspendAccount(taxCollector.addr, "x"))
	rng := rand.New(rand.NewPCG(3, 4))
	var bad [][]byte
	for i := range valid {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			m := append([]byte(nil), valid...)
			m[i] ^= flip
			bad = append(bad, m)
		}
		bad = append(bad, valid[:i]) // every truncation
	}
	for i := 0; i < 200; i++ {
		r := make([]byte, rng.IntN(400))
		for j := range r {
			r[j] = byte(rng.UintN(256))
		}
		bad = append(bad, r)
	}
	for i, tx := range bad {
		require.NotZero(t, c.checkTx(tx).Code, "mangled tx %d accepted by CheckTx", i)
	}
	hash := c.lastHash()
	for i, r := range c.block(bad...).TxResults {
		require.NotZero(t, r.Code, "mangled tx %d accepted in a block", i)
	}
	require.Equal(t, hash, c.lastHash())
}

// A transaction that passes authentication but whose message fails spends
// its nonce and nothing else: no message of it applies, its only event is
// the tx event, and the app hash is what any failed transaction with the
// same envelope produces.
func TestRefusedMessageSpendsOnlyItsNonce(t *testing.T) {
	removeMe := func(c *chain) {
		requireOK(t, c.block(c.tx(treasuryAdmin, removeMember(treasuryClerk.addr))).TxResults[0])
	}
	for _, tt := range []struct {
		name   string
		setup  func(c *chain)
		signer testKey
		msgs   func() []*txv1.Msg
		want   *module.Error
		log    string
	}{
		{name: "target in another agency", signer: treasuryAdmin, want: agency.ErrOtherAgency, log: `belongs to agency "tax"`,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{grantRole(taxCollector.addr, roleAuditor)} }},
		{name: "unknown target", signer: treasuryAdmin, want: agency.ErrUnknownAccount,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{suspendAccount(stranger.addr, "")} }},
		{name: "removed target", signer: treasuryAdmin, setup: removeMe, want: agency.ErrRemoved,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{grantRole(treasuryClerk.addr, roleAuditor)} }},
		{name: "revoking the last admin's role", signer: regAdmin, want: agency.ErrLastAdmin, log: "last active admin",
			msgs: func() []*txv1.Msg { return []*txv1.Msg{revokeRole(regAdmin.addr, roleAdmin)} }},
		{name: "removing the last admin", signer: treasuryAdmin, want: agency.ErrLastAdmin, log: "message 1",
			msgs: func() []*txv1.Msg {
				return []*txv1.Msg{revokeRole(treasuryAdmin.addr, roleAdmin), removeMember(treasuryAdmin2.addr)}
			}},
		{name: "suspending the last admin", signer: treasuryAdmin, want: agency.ErrLastAdmin, log: "message 1",
			msgs: func() []*txv1.Msg {
				return []*txv1.Msg{revokeRole(treasuryAdmin.addr, roleAdmin), suspendAccount(treasuryAdmin2.addr, "")}
			}},
		{name: "removing oneself", signer: treasuryAdmin, want: agency.ErrSelf,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{removeMember(treasuryAdmin.addr)} }},
		{name: "suspending oneself", signer: treasuryAdmin, want: agency.ErrSelf,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{suspendAccount(treasuryAdmin.addr, "")} }},
		{name: "granting a role the agency kind may not hold", signer: taxAdmin, want: agency.ErrRoleNotAllowed, log: "treasury cannot be held in a tax_authority agency",
			msgs: func() []*txv1.Msg { return []*txv1.Msg{grantRole(taxCollector.addr, roleTreasury)} }},
		{name: "adding a member with a role the kind may not hold", signer: treasuryAdmin, want: agency.ErrRoleNotAllowed, log: "inspector",
			msgs: func() []*txv1.Msg { return []*txv1.Msg{addMember(keyFor("n"), roleInspector)} }},
		{name: "granting a role already held", signer: treasuryAdmin, want: agency.ErrRoleHeld,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{grantRole(treasuryClerk.addr, roleTreasury)} }},
		{name: "revoking a role not held", signer: treasuryAdmin, want: agency.ErrRoleNotHeld,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{revokeRole(treasuryClerk.addr, roleAuditor)} }},
		{name: "adding an existing account", signer: treasuryAdmin, want: agency.ErrAccountExists,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{addMember(taxCollector)} }},
		{name: "rotating to a key in use", signer: treasuryClerk, want: agency.ErrKeyInUse, log: taxAdmin.hex(),
			msgs: func() []*txv1.Msg { return []*txv1.Msg{rotateKey(treasuryClerk.addr, taxAdmin)} }},
		{name: "suspending a suspended account", signer: taxAdmin, want: agency.ErrNotActive,
			msgs: func() []*txv1.Msg { return []*txv1.Msg{suspendAccount(taxSuspended.addr, "")} }},
		{name: "reinstating an account that is not suspended", signer: taxAdmin, want: agency.ErrNotSuspended, log: "is active",
			msgs: func() []*txv1.Msg { return []*txv1.Msg{reinstateAccount(taxCollector.addr)} }},
		{name: "second of two messages fails: neither applies", signer: treasuryAdmin, want: agency.ErrOtherAgency, log: "message 1",
			msgs: func() []*txv1.Msg {
				return []*txv1.Msg{grantRole(treasuryClerk.addr, roleAuditor), grantRole(taxCollector.addr, roleAuditor)}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// ref runs the same history with a different failing message
			// in the same envelope: rotating to one's own current key.
			c, ref := newChain(t), newChain(t)
			for _, x := range []*chain{c, ref} {
				x.block()
				if tt.setup != nil {
					tt.setup(x)
				}
			}
			const nonce = 77
			timeout := uint64(c.height) + 5
			tx := c.txWith(txArgs{signer: tt.signer, nonce: nonce, timeout: timeout}, tt.msgs()...)
			refTx := ref.txWith(txArgs{signer: tt.signer, nonce: nonce, timeout: timeout}, rotateKey(tt.signer.addr, tt.signer))
			state, view := c.dump(), c.view(treasuryClerk)

			require.Zero(t, c.checkTx(tx).Code, "CheckTx does not run messages")
			res := c.block(tx).TxResults[0]
			requireCode(t, tt.want, res.Codespace, res.Code, res.Log, tt.log)
			require.Len(t, res.Events, 1)
			require.Equal(t, "tx", res.Events[0].Type)

			require.Equal(t, view, c.view(treasuryClerk), "queried state")
			after := c.dump()
			require.Contains(t, after, string(api.NonceKey(timeout, tt.signer.addr, nonce)))
			changed := 0
			for k, v := range after {
				if old, ok := state[k]; !ok || old != v {
					changed++
					require.True(t, strings.HasPrefix(k, "tx/r/"), "key %q changed", k)
				}
			}
			require.Equal(t, 1, changed, "only the signer's nonce")
			require.Len(t, after, len(state)+1)

			refRes := ref.block(refTx).TxResults[0]
			requireCode(t, agency.ErrKeyInUse, refRes.Codespace, refRes.Code, refRes.Log)
			require.Equal(t, ref.lastHash(), c.lastHash())
		})
	}
}

// A rotate_key whose proof of possession does not verify is refused by
// CheckTx, before the mempool, and a proposal carrying it is rejected: the
// proof needs no state. Before, it passed CheckTx and spent the signer's
// nonce in the block, so any account could grow every node's state with
// transactions needing no role.
func TestRotateKeyWithABadProofIsRefusedBeforeTheMempool(t *testing.T) {
	n := keyFor("n")
	for _, tt := range []struct {
		name string
		msg  *txv1.Msg
	}{
		{"proof for another account", rotateKey(taxCollector.addr, n)},
		{"proof by another key", rotateKeyWithProof(n.pub, ed25519.Sign(stranger.priv, keyproof.Statement(testChainID, "", treasuryClerk.addr, n.pub, keyproof.RotateKey)))},
		{"proof for another chain", rotateKeyWithProof(n.pub, ed25519.Sign(n.priv, keyproof.Statement("other-chain", "", treasuryClerk.addr, n.pub, keyproof.RotateKey)))},
		{"zero proof", rotateKeyWithProof(n.pub, make([]byte, 64))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newChain(t)
			c.block()
			const nonce = 31
			timeout := uint64(c.height) + 5
			tx := c.txWith(txArgs{signer: treasuryClerk, nonce: nonce, timeout: timeout}, tt.msg)

			res := c.checkTx(tx)
			requireCode(t, agency.ErrBadKeyProof, res.Codespace, res.Code, res.Log, "message 0")
			require.Equal(t, abci.ResponseProcessProposal_REJECT, c.processProposal(tx))
			require.Empty(t, c.prepareProposal(tx))

			state := c.dump()
			inBlock := c.block(tx).TxResults[0] // a block no honest validator accepts
			requireCode(t, agency.ErrBadKeyProof, inBlock.Codespace, inBlock.Code, inBlock.Log)
			require.NotContains(t, c.dump(), string(api.NonceKey(timeout, treasuryClerk.addr, nonce)), "the nonce is not spent")
			require.Len(t, c.dump(), len(state))
		})
	}
}

func TestFailedTransactionCannotBeReplayed(t *testing.T) {
	c := newChain(t)
	c.block()
	tx := c.tx(treasuryAdmin, revokeRole(treasuryClerk.addr, roleAuditor))
	res := c.block(tx).TxResults[0]
	requireCode(t, agency.ErrRoleNotHeld, res.Codespace, res.Code, res.Log)

	check := c.checkTx(tx)
	requireCode(t, app.ErrReplay, check.Codespace, check.Code, check.Log)
	again := c.block(tx).TxResults[0]
	requireCode(t, app.ErrReplay, again.Codespace, again.Code, again.Log)
}

func TestSameNonceTwiceInOneBlockAppliesOnlyTheFirst(t *testing.T) {
	c := newChain(t)
	c.block()
	first := c.txWith(txArgs{signer: treasuryAdmin, nonce: 5}, grantRole(treasuryClerk.addr, roleAuditor))
	second := c.txWith(txArgs{signer: treasuryAdmin, nonce: 5}, suspendAccount(treasuryClerk.addr, "dup"))
	require.Zero(t, c.checkTx(first).Code)
	require.Zero(t, c.checkTx(second).Code, "the mempool does not track nonces; the block does")

	res := c.block(first, second, first)
	requireOK(t, res.TxResults[0])
	for _, r := range res.TxResults[1:] {
		requireCode(t, app.ErrReplay, r.Codespace, r.Code, r.Log, "nonce 5")
	}
	acc := c.account(treasuryClerk.addr)
	require.Equal(t, agencyv1.Status_STATUS_ACTIVE, acc.Status)
	require.Equal(t, []agencyv1.Role{roleTreasury, roleAuditor}, acc.Roles)
}

// One signer may have at most max_pending_per_signer transactions waiting
// in a node's mempool: CheckTx refuses more (tx/50) until a block takes
// some. After a block the mempool rechecks what is left, and those count
// again. Other signers are not affected.
func TestCheckTxCapsOneSignersPendingTransactions(t *testing.T) {
	c := openChain(t, store.NewMemory(), app.Options{})
	g := testGenesis()
	g.Params.MaxPendingPerSigner = 3
	c.initChain(g)
	c.block()
	var txs [][]byte
	for i := 0; i < 6; i++ {
		txs = append(txs, c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor)))
	}
	for _, tx := range txs[:3] {
		require.Zero(t, c.checkTx(tx).Code)
	}
	over := c.checkTx(txs[3])
	requireCode(t, app.ErrTooManyPending, over.Codespace, over.Code, over.Log, treasuryAdmin.hex(), "after the next block")
	require.Zero(t, c.checkTx(c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor))).Code, "another signer is not affected")

	// A block takes two of the three; the mempool rechecks the third,
	// which counts again, leaving room for two new ones.
	c.block(txs[0], txs[1])
	res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: txs[2], Type: abci.CheckTxType_Recheck})
	require.NoError(t, err)
	require.Zero(t, res.Code, res.Log)
	require.Zero(t, c.checkTx(txs[3]).Code)
	require.Zero(t, c.checkTx(txs[4]).Code)
	over = c.checkTx(txs[5])
	requireCode(t, app.ErrTooManyPending, over.Codespace, over.Code, over.Log)
}

// Under overload a client gets a coded refusal at once: with
// Options.MempoolLimit transactions waiting, CheckTx refuses new ones with
// tx/85 (any signer) and leaves rechecks alone, so what already waits is
// not evicted; after a block, what is left counts again and there is room.
func TestCheckTxRefusesNewTransactionsWhenTheMempoolIsFull(t *testing.T) {
	c := openChain(t, store.NewMemory(), app.Options{MempoolLimit: 3})
	c.initChain(testGenesis())
	c.block()
	var txs [][]byte
	for i := 0; i < 5; i++ {
		txs = append(txs, c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor)))
	}
	for _, tx := range txs[:3] {
		require.Zero(t, c.checkTx(tx).Code)
	}
	// The refusal comes before the signature check (the costly part): a
	// transaction with a wrong signature is refused for fullness too.
	forged := &txv1.Tx{}
	require.NoError(t, proto.Unmarshal(c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor)), forged))
	forged.Signature[0] ^= 0xff
	forgedRaw, err := proto.Marshal(forged)
	require.NoError(t, err)
	for _, tx := range [][]byte{txs[3], c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor)), forgedRaw} {
		over := c.checkTx(tx)
		requireCode(t, app.ErrMempoolFull, over.Codespace, over.Code, over.Log, "holds 3 transactions", "after the next block")
	}

	// A block takes two of the three; the third is rechecked (never
	// refused for fullness) and counts again: room for two new ones.
	c.block(txs[0], txs[1])
	res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: txs[2], Type: abci.CheckTxType_Recheck})
	require.NoError(t, err)
	require.Zero(t, res.Code, res.Log)
	require.Zero(t, c.checkTx(txs[3]).Code)
	require.Zero(t, c.checkTx(txs[4]).Code)
	over := c.checkTx(c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor)))
	requireCode(t, app.ErrMempoolFull, over.Codespace, over.Code, over.Log)
}

// A node's mempool takes Options.MempoolBlocks blocks of work: once the
// transactions waiting count (as a proposer counts them) as that many
// times max_block_units, CheckTx refuses new ones with tx/85, before the
// signature check, and App.MempoolFull (the broadcast gate's question)
// says so; rechecks are never refused. After a block what is left counts
// again and there is room.
func TestCheckTxRefusesMoreThanTheMempoolsBlocksOfWork(t *testing.T) {
	probe := newChain(t)
	probe.block()
	one, _ := probe.app.UnitLimit(probe.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor)))
	require.NotZero(t, one)
	require.Less(t, one, uint64(50_000))

	// One block of work (the least max_block_units params allow) is n
	// such transactions with some to spare: the nth fills it.
	c := openChain(t, store.NewMemory(), app.Options{MempoolBlocks: 1})
	g := testGenesis()
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits = 100_000, 100_000
	n := int((g.Params.MaxBlockUnits + one - 1) / one)
	require.Greater(t, uint64(n)*one-g.Params.MaxBlockUnits, uint64(100), "no tx lands on the limit by a few bytes")
	require.Greater(t, g.Params.MaxBlockUnits-uint64(n-1)*one, uint64(100))
	c.initChain(g)
	c.block()
	var txs [][]byte
	for i := 0; i < n+3; i++ {
		txs = append(txs, c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor)))
	}
	for _, tx := range txs[:n] {
		require.False(t, c.app.MempoolFull())
		require.Zero(t, c.checkTx(tx).Code)
	}
	require.True(t, c.app.MempoolFull())
	forged := &txv1.Tx{}
	require.NoError(t, proto.Unmarshal(c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor)), forged))
	forged.Signature[0] ^= 0xff
	forgedRaw, err := proto.Marshal(forged)
	require.NoError(t, err)
	// Refused before it is even decoded: a full node spends nothing on
	// what its peers keep gossiping to it, and keeps none of it.
	decoded, _ := c.app.DecodeCacheUse()
	for _, tx := range [][]byte{txs[n], c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor)), forgedRaw, []byte("not a transaction")} {
		over := c.checkTx(tx)
		requireCode(t, app.ErrMempoolFull, over.Codespace, over.Code, over.Log, fmt.Sprintf("holds %d transactions", n), "a block takes 100000", "after the next block")
	}
	after, _ := c.app.DecodeCacheUse()
	require.Equal(t, decoded, after, "refused transactions were decoded")

	// A block takes two; the rest are rechecked and count again: room for
	// two new ones.
	c.block(txs[0], txs[1])
	require.False(t, c.app.MempoolFull())
	for _, tx := range txs[2:n] {
		res, err := c.app.CheckTx(context.Background(), &abci.RequestCheckTx{Tx: tx, Type: abci.CheckTxType_Recheck})
		require.NoError(t, err)
		require.Zero(t, res.Code, res.Log)
	}
	require.Zero(t, c.checkTx(txs[n]).Code)
	require.False(t, c.app.MempoolFull())
	require.Zero(t, c.checkTx(txs[n+1]).Code)
	require.True(t, c.app.MempoolFull())
	over := c.checkTx(txs[n+2])
	requireCode(t, app.ErrMempoolFull, over.Codespace, over.Code, over.Log, fmt.Sprintf("holds %d transactions", n))
}

// One signer's waiting transactions may count as at most a fifth of the
// mempool's work (or one max_tx_units transaction, if more): a signer
// declaring max_tx_units on a few cheap transactions is refused (tx/50)
// before it fills the mempool, and other signers are still admitted.
// Without that bound, six such transactions would fill a default mempool
// (two blocks of 30M units) and every node would refuse everyone else with
// tx/85 until the next block.
func TestOneSignerCannotFillTheMempoolsWorkWithDeclaredLimits(t *testing.T) {
	c := openChain(t, store.NewMemory(), app.Options{MempoolBlocks: 2})
	g := testGenesis()
	g.Params.MaxTxUnits, g.Params.MaxBlockUnits = 100_000, 500_000 // a mempool of 1,000,000 units: 200,000 a signer
	c.initChain(g)
	c.block()
	heavy := func() []byte {
		return c.txWith(txArgs{signer: treasuryAdmin, units: g.Params.MaxTxUnits}, grantRole(treasuryClerk.addr, roleAuditor))
	}
	require.Zero(t, c.checkTx(heavy()).Code)
	require.Zero(t, c.checkTx(heavy()).Code)
	over := c.checkTx(heavy())
	requireCode(t, app.ErrTooManyPending, over.Codespace, over.Code, over.Log, treasuryAdmin.hex(), "200000 units of work or more", "after the next block", "max_units")
	require.False(t, c.app.MempoolFull(), "the signer was stopped before the mempool filled")
	require.Zero(t, c.checkTx(c.tx(taxAdmin, grantRole(taxCollector.addr, roleAuditor))).Code, "another signer is admitted")
	light := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor))
	res := c.checkTx(light)
	requireCode(t, app.ErrTooManyPending, res.Codespace, res.Code, res.Log, "units of work") // even a light one, counted at its route bounds

	// After a block that takes them, the signer has room again.
	c.block()
	require.Zero(t, c.checkTx(heavy()).Code)
}

func TestTimeoutWindowBoundsAreInclusive(t *testing.T) {
	c := newChain(t)
	c.block()
	next := uint64(c.height) + 1
	atNext := c.txWith(txArgs{signer: treasuryAdmin, timeout: next}, grantRole(treasuryClerk.addr, roleAuditor))
	atEdge := c.txWith(txArgs{signer: taxAdmin, timeout: next + app.DefaultParams().TimeoutWindow}, grantRole(taxCollector.addr, roleAuditor))
	for _, tx := range [][]byte{atNext, atEdge} {
		require.Zero(t, c.checkTx(tx).Code)
	}
	res := c.block(atNext, atEdge)
	requireOK(t, res.TxResults[0])
	requireOK(t, res.TxResults[1])
}

// One account may have thousands of transactions in flight at once, in any
// order: nonces are random, not a sequence. A nonce is remembered until its
// transaction's timeout passes, then forgotten; the timeout alone then
// keeps the transaction out.
func TestManyInFlightNoncesFromOneAccountThenExpiry(t *testing.T) {
	const n, blocks = 2000, 4
	c := openChain(t, store.NewMemory(), app.Options{})
	g := testGenesis()
	g.Params.MaxPendingPerSigner = n
	c.initChain(g)
	c.block()
	rng := rand.New(rand.NewPCG(1, 2))
	timeout := uint64(c.height) + blocks + 2

	txs, nonces := make([][]byte, n), make([]uint64, n)
	used := map[uint64]bool{}
	for i := range txs {
		for nonces[i] == 0 || used[nonces[i]] {
			nonces[i] = rng.Uint64()
		}
		used[nonces[i]] = true
		txs[i] = c.txWith(txArgs{signer: treasuryAdmin, nonce: nonces[i], timeout: timeout}, addMember(keyFor("in-flight/"+strconv.FormatUint(nonces[i], 10)), roleAuditor))
		require.Zero(t, c.checkTx(txs[i]).Code)
	}
	rng.Shuffle(n, func(i, j int) { txs[i], txs[j] = txs[j], txs[i]; nonces[i], nonces[j] = nonces[j], nonces[i] })
	for b := 0; b < blocks; b++ {
		for i, r := range c.block(txs[b*n/blocks : (b+1)*n/blocks]...).TxResults {
			requireOK(t, r)
			require.Equal(t, "tx", r.Events[0].Type, "tx %d", i)
		}
	}
	require.Equal(t, uint64(3+n), c.agency(agTreasury).MemberCount)
	page := &appv1.ProvedList{}
	require.NoError(t, proto.Unmarshal(c.query(api.PathMembers, listData(agTreasury)).Value, page))
	require.Len(t, page.Entries, 1000, "one page of members")
	require.NotEmpty(t, page.NextKey)
	for _, nonce := range nonces {
		res := c.query(api.PathKey, api.NonceKey(timeout, treasuryAdmin.addr, nonce))
		require.Zero(t, res.Code, res.Log)
	}

	// Blocks up to the timeout height: the nonces are still remembered.
	for uint64(c.height) < timeout-1 {
		c.block()
	}
	early := c.checkTx(txs[0])
	requireCode(t, app.ErrReplay, early.Codespace, early.Code, early.Log)
	c.block() // height == timeout: the last block the transactions could be in
	// An empty block forgets a bounded number of the expired nonces; the
	// rest wait for the next blocks, and the timeout alone refuses them.
	left := 0
	for k := range c.dump() {
		if strings.HasPrefix(k, "tx/r/") {
			left++
		}
	}
	require.Less(t, left, n, "the block forgot some expired nonces")
	require.Positive(t, left, "one block forgets a bounded number of expired nonces")
	check := c.checkTx(txs[0])
	requireCode(t, app.ErrTimeoutExpired, check.Codespace, check.Code, check.Log)

	c.block()
	gone := c.query(api.PathKey, api.NonceKey(timeout, treasuryAdmin.addr, nonces[0]))
	requireCode(t, app.ErrNotFound, gone.Codespace, gone.Code, gone.Log)
	for k := range c.dump() {
		require.False(t, strings.HasPrefix(k, "tx/"), "replay state left behind: %q", k)
	}
	hash := c.lastHash()
	res := c.block(txs[0]).TxResults[0]
	requireCode(t, app.ErrTimeoutExpired, res.Codespace, res.Code, res.Log)
	require.Equal(t, hash, c.lastHash())
}

// ProcessProposal rejects what no execution of the block could make
// valid: bytes that do not decode, a signer with no account at that point
// of the block, a signature that does not verify with the signer's key at
// that point. Whatever else depends on state fails inside the block.
func TestProcessProposal(t *testing.T) {
	c := newChain(t)
	c.block()
	good := c.tx(treasuryAdmin, grantRole(treasuryClerk.addr, roleAuditor))
	unknown := c.tx(stranger, rotateKey(stranger.addr, keyFor("s")))
	noRole := c.tx(treasuryClerk, grantRole(treasuryClerk.addr, roleAuditor))
	replayed := c.txWith(txArgs{signer: taxAdmin, nonce: 9}, grantRole(taxCollector.addr, roleAuditor))
	requireOK(t, c.block(replayed).TxResults[0])
	badSig := c.txWith(txArgs{signer: treasuryAdmin, signWith: &stranger}, grantRole(treasuryClerk.addr, roleAuditor))
	undecodable := c.tx(treasuryAdmin, &txv1.Msg{})

	for _, tt := range []struct {
		name string
		txs  [][]byte
		want abci.ResponseProcessProposal_ProposalStatus
	}{
		{"empty block", nil, abci.ResponseProcessProposal_ACCEPT},
		{"valid transactions", [][]byte{good}, abci.ResponseProcessProposal_ACCEPT},
		{"missing role and replay fail in the block", [][]byte{good, noRole, replayed}, abci.ResponseProcessProposal_ACCEPT},
		{"unknown signer", [][]byte{good, unknown}, abci.ResponseProcessProposal_REJECT},
		{"garbage bytes", [][]byte{good, []byte("garbage")}, abci.ResponseProcessProposal_REJECT},
		{"invalid message", [][]byte{undecodable}, abci.ResponseProcessProposal_REJECT},
		{"bad signature from a known signer", [][]byte{good, badSig}, abci.ResponseProcessProposal_REJECT},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, c.processProposal(tt.txs...))
		})
	}

	res := c.block(good, unknown, noRole, replayed).TxResults
	requireOK(t, res[0])
	requireCode(t, app.ErrUnknownSigner, res[1].Codespace, res[1].Code, res[1].Log)
	requireCode(t, app.ErrUnauthorized, res[2].Codespace, res[2].Code, res[2].Log)
	requireCode(t, app.ErrReplay, res[3].Codespace, res[3].Code, res[3].Log)
}

// A signer may rotate its key and sign with the new one in the same block,
// and a member added earlier in a block may sign later in it: ProcessProposal
// follows the block's account changes in order and accepts both.
func TestProcessProposalFollowsAccountsAddedAndKeysRotatedEarlierInTheBlock(t *testing.T) {
	c := newChain(t)
	c.block()
	newKey := keyFor("clerk/next")
	rotate := c.tx(treasuryClerk, rotateKey(treasuryClerk.addr, newKey))
	after := c.txWith(txArgs{signer: treasuryClerk, signWith: &newKey}, rotateKey(treasuryClerk.addr, keyFor("clerk/next2")))
	newcomer := keyFor("newcomer")
	add := c.tx(treasuryAdmin, addMember(newcomer, roleAdmin))
	byNewcomer := c.tx(newcomer, grantRole(treasuryClerk.addr, roleAuditor))
	txs := [][]byte{rotate, after, add, byNewcomer}
	require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(txs...))
	require.Equal(t, txs, c.prepareProposal(txs...))
	for _, r := range c.block(txs...).TxResults {
		requireOK(t, r)
	}
	require.Equal(t, uint64(2), c.account(treasuryClerk.addr).KeyRotations)
	require.Equal(t, []agencyv1.Role{roleTreasury, roleAuditor}, c.account(treasuryClerk.addr).Roles)
}

// A proposer cannot fill a block with transactions no execution could
// accept: from a signer that does not exist at its point of the block, or
// signed with a key the signer does not hold there. Before, any
// transaction from an unknown signer passed, and so did any transaction
// whose signer appeared in a rotate_key of the same proposal, valid or
// not. PrepareProposal drops exactly these, so an honest proposer's block
// is accepted.
func TestProcessProposalRejectsSignersThatDoNotExistAtTheirPointOfTheBlock(t *testing.T) {
	c := newChain(t)
	c.block()
	newKey, newcomer := keyFor("clerk/next"), keyFor("newcomer")
	timeout := uint64(c.height) + 20
	used := c.txWith(txArgs{signer: treasuryClerk, nonce: 4242, timeout: timeout}, rotateKey(treasuryClerk.addr, taxAdmin))
	res := c.block(used).TxResults[0]
	requireCode(t, agency.ErrKeyInUse, res.Codespace, res.Code, res.Log) // spending nonce 4242

	rotate := c.tx(treasuryClerk, rotateKey(treasuryClerk.addr, newKey))
	add := c.tx(treasuryAdmin, addMember(newcomer, roleAuditor))
	withNewKey := c.txWith(txArgs{signer: treasuryClerk, signWith: &newKey}, revokeRole(treasuryClerk.addr, roleAuditor))
	withOldKey := c.tx(treasuryClerk, revokeRole(treasuryClerk.addr, roleAuditor))
	withStrangerKey := c.txWith(txArgs{signer: treasuryClerk, signWith: &stranger}, revokeRole(treasuryClerk.addr, roleAuditor))
	byNewcomer := c.tx(newcomer, revokeRole(treasuryClerk.addr, roleAuditor))
	byStranger := c.tx(stranger, revokeRole(treasuryClerk.addr, roleAuditor))
	replayedRotate := c.txWith(txArgs{signer: treasuryClerk, nonce: 4242, timeout: timeout}, rotateKey(treasuryClerk.addr, newKey))
	addWithoutRole := c.tx(treasuryClerk, addMember(newcomer, roleAuditor))

	for _, tt := range []struct {
		name string
		txs  [][]byte
		junk int // index of the transaction that must not be in a block
	}{
		{"unknown signer", [][]byte{add, byStranger}, 1},
		{"new key before its rotation", [][]byte{withNewKey, rotate}, 0},
		{"old key after its rotation", [][]byte{rotate, withOldKey}, 1},
		{"another key for a signer rotating in the block", [][]byte{rotate, withStrangerKey}, 1},
		{"member before it is added", [][]byte{byNewcomer, add}, 0},
		{"new key after a rotation that cannot authenticate (replayed nonce)", [][]byte{replayedRotate, withNewKey}, 1},
		{"member added by a signer without the admin role", [][]byte{addWithoutRole, byNewcomer}, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, abci.ResponseProcessProposal_REJECT, c.processProposal(tt.txs...))
			honest := slices.Delete(slices.Clone(tt.txs), tt.junk, tt.junk+1)
			require.Equal(t, honest, c.prepareProposal(tt.txs...), "PrepareProposal drops the junk")
			require.Equal(t, abci.ResponseProcessProposal_ACCEPT, c.processProposal(honest...))
		})
	}
}

func TestPrepareProposalDropsUndecodableBadlySignedAndUnknownAndRespectsMaxTxBytes(t *testing.T) {
	c := newChain(t)
	c.block()
	var good [][]byte
	for i := 0; i < 10; i++ {
		good = append(good, c.tx(treasuryAdmin, addMember(keyFor("m"+string(rune('a'+i))))))
	}
	unknown := c.tx(stranger, rotateKey(stranger.addr, keyFor("s")))
	badSig := c.txWith(txArgs{signer: treasuryAdmin, signWith: &stranger}, grantRole(treasuryClerk.addr, roleAuditor))

	prepare := func(maxBytes int64, txs ...[]byte) [][]byte {
		res, err := c.app.PrepareProposal(context.Background(), &abci.RequestPrepareProposal{MaxTxBytes: maxBytes, Txs: txs, Height: c.height + 1})
		require.NoError(t, err)
		require.NoError(t, cmttypes.ToTxs(res.Txs).Validate(maxBytes), "CometBFT refuses a proposal over MaxTxBytes")
		return res.Txs
	}

	got := prepare(1<<20, good[0], []byte("garbage"), badSig, unknown, good[1])
	require.Equal(t, [][]byte{good[0], good[1]}, got, "garbage, the bad signature and the unknown signer dropped, order kept")

	// CometBFT counts each transaction with its protobuf framing, as
	// types.ComputeProtoSizeForTxs does.
	var total int64
	for _, tx := range good[:5] {
		total += cmttypes.ComputeProtoSizeForTxs([]cmttypes.Tx{tx})
	}
	require.Equal(t, good[:5], prepare(total, good...))
	require.Equal(t, good[:4], prepare(total-1, good...))
	require.Empty(t, prepare(10, good...))
}

// Every single-record answer carries an ICS23 proof against the app hash of
// the height it was read at: existence for a present record, non-existence
// for an absent one. A changed value or a false claim of absence fails.
func TestQueryProofsVerifyAgainstCommittedAppHash(t *testing.T) {
	c := newChain(t)
	c.block()
	newcomer := keyFor("newcomer")
	requireOK(t, c.block(c.tx(treasuryAdmin, addMember(newcomer))).TxResults[0])
	c.block()

	prove := func(path string, data []byte, height int64) (*abci.ResponseQuery, *ics23.CommitmentProof) {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: path, Data: data, Height: height, Prove: true})
		require.NoError(t, err)
		require.NotNil(t, res.ProofOps, res.Log)
		require.Len(t, res.ProofOps.Ops, 1)
		op := res.ProofOps.Ops[0]
		require.Equal(t, api.ProofOpType, op.Type)
		require.Equal(t, res.Key, op.Key)
		p := &ics23.CommitmentProof{}
		require.NoError(t, p.Unmarshal(op.Data))
		return res, p
	}

	for _, tt := range []struct {
		name    string
		path    string
		data    []byte
		height  int64
		present bool
	}{
		{"present account", api.PathAccount, treasuryAdmin.addr, 0, true},
		{"account added at height 2", api.PathAccount, newcomer.addr, 2, true},
		{"account absent at height 1", api.PathAccount, newcomer.addr, 1, false},
		{"absent account", api.PathAccount, stranger.addr, 0, false},
		{"agency", api.PathAgency, []byte(agTax), 0, true},
		{"params", api.PathParams, nil, 0, true},
		{"raw key", api.PathKey, api.PubKeyKey(newcomer.pub), 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, p := prove(tt.path, tt.data, tt.height)
			want := tt.height
			if want == 0 {
				want = c.height
			}
			require.Equal(t, want, res.Height)
			root := c.hashes[res.Height]
			if !tt.present {
				requireCode(t, app.ErrNotFound, res.Codespace, res.Code, res.Log)
				require.Nil(t, res.Value)
				require.NoError(t, client.VerifyProof(root, res.Key, nil, p))
				require.Error(t, client.VerifyProof(root, res.Key, []byte("forged"), p), "absence proof accepted as presence")
				return
			}
			require.Zero(t, res.Code, res.Log)
			require.NotEmpty(t, res.Value)
			require.NoError(t, client.VerifyProof(root, res.Key, res.Value, p))
			tampered := append([]byte(nil), res.Value...)
			tampered[len(tampered)-1] ^= 1
			require.Error(t, client.VerifyProof(root, res.Key, tampered, p), "tampered value")
			require.Error(t, client.VerifyProof(root, res.Key, nil, p), "claimed absence of a present key")
			require.Error(t, client.VerifyProof(c.hashes[1], res.Key, res.Value, p), "other height's app hash")
		})
	}

	t.Run("members list, each entry proved", func(t *testing.T) {
		res, err := c.app.Query(context.Background(), &abci.RequestQuery{Path: api.PathMembers, Data: listData(agTreasury), Prove: true})
		require.NoError(t, err)
		require.Zero(t, res.Code, res.Log)
		list := &appv1.ProvedList{}
		require.NoError(t, proto.Unmarshal(res.Value, list))
		require.Len(t, list.Entries, 4)
		for _, e := range list.Entries {
			p := &ics23.CommitmentProof{}
			require.NoError(t, p.Unmarshal(e.Proof))
			require.NoError(t, client.VerifyProof(c.hashes[c.height], e.Key, e.Value, p))
		}
	})
}

func TestQueryRefusals(t *testing.T) {
	c := newChain(t)
	c.block()
	for _, tt := range []struct {
		name string
		req  abci.RequestQuery
		want *module.Error
		log  string
	}{
		{"unknown path", abci.RequestQuery{Path: "/nope"}, app.ErrUnknownQuery, `"/nope"`},
		{"future height", abci.RequestQuery{Path: api.PathParams, Height: 9}, app.ErrInvalidQuery, "height 9 is not committed"},
		{"short address", abci.RequestQuery{Path: api.PathAccount, Data: []byte{1}}, app.ErrInvalidQuery, "an address is 20 bytes"},
		{"bad agency id", abci.RequestQuery{Path: api.PathAgency, Data: []byte("Bad/ID")}, agency.ErrInvalidAgencyID, ""},
		{"empty raw key", abci.RequestQuery{Path: api.PathKey}, app.ErrInvalidQuery, "give the state key"},
		{"unknown agency", abci.RequestQuery{Path: api.PathAgency, Data: []byte("nope")}, app.ErrNotFound, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.app.Query(context.Background(), &tt.req)
			require.NoError(t, err)
			requireCode(t, tt.want, res.Codespace, res.Code, res.Log, tt.log)
		})
	}
}

// The signer record a handler sees must be the account as the
// transaction's earlier messages left it: rotating a key after granting
// oneself a role must keep the role, and rotating twice must leave exactly
// one key pointing at the account.
func TestMessagesOfOneTransactionSeeEachOthersWrites(t *testing.T) {
	c := newChain(t)
	c.block()
	k1, k2 := keyFor("admin/k1"), keyFor("admin/k2")
	res := c.block(c.tx(treasuryAdmin, grantRole(treasuryAdmin.addr, roleAuditor), rotateKey(treasuryAdmin.addr, k1), rotateKey(treasuryAdmin.addr, k2)))
	requireOK(t, res.TxResults[0])

	acc := c.account(treasuryAdmin.addr)
	require.Equal(t, []agencyv1.Role{roleAdmin, roleAuditor}, acc.Roles, "role granted by message 0")
	require.Equal(t, []byte(k2.pub), acc.PubKey)
	require.Equal(t, uint64(2), acc.KeyRotations)
	for _, k := range []testKey{treasuryAdmin, k1} {
		r := c.query(api.PathKey, api.PubKeyKey(k.pub))
		requireCode(t, app.ErrNotFound, r.Codespace, r.Code, r.Log) // no longer the key of any account
	}
}
