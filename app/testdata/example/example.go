// Package example is the module docs/adding-a-module.md walks through: an
// agency's notice board, one notice per agency. It lives under testdata
// because no node runs it; app/module_test.go registers it with one line
// and sends its message through the real application.
package example

import (
	"bytes"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	examplev1 "github.com/tallyledger/tally/proto/tally/example/v1"
	"github.com/tallyledger/tally/x/module"
)

// Codespace is the example module's error namespace.
const Codespace = "example"

// Errors a user can cause through the example module's message.
var (
	ErrInvalidNotice = module.Register(Codespace, 220, "invalid notice")
	ErrSameNotice    = module.Register(Codespace, 221, "the board already shows this notice")
)

// EventNoticePosted is emitted when an agency's notice changes.
const EventNoticePosted = "example.notice_posted"

// maxNoticeBytes bounds a notice: a board line, not a document store.
const maxNoticeBytes = 140

// NoticeKey is where an agency's notice lives: "example/n/<agency id>" →
// the notice text.
func NoticeKey(agencyID string) []byte {
	return api.Key([]byte("example/n"), []byte(agencyID))
}

// Keeper is the example module's state access. It needs no other keeper.
type Keeper struct{}

// Module is the example module's route table: one row per message, with
// the most units it is charged besides its own bytes (a notice read and
// written: about 1,300).
func (k Keeper) Module() module.Module {
	return module.Module{Name: "example", Routes: []module.Route{
		module.Msg(agencyv1.Role_ROLE_ADMIN, validatePostNotice, k.PostNotice).WithUnits(2_000),
	}}
}

func validatePostNotice(m *examplev1.MsgPostNotice) error {
	if len(m.Text) == 0 || len(m.Text) > maxNoticeBytes {
		return ErrInvalidNotice.Wrapf("text is %d bytes; a notice is 1 to %d bytes", len(m.Text), maxNoticeBytes)
	}
	for _, c := range []byte(m.Text) {
		if c < 0x20 || c == 0x7f {
			return ErrInvalidNotice.Wrapf("text has control character 0x%02x; write the notice on one line", c)
		}
	}
	return nil
}

// PostNotice replaces the signer's agency's notice.
func (k Keeper) PostNotice(ctx module.Context, signer *agencyv1.Account, m *examplev1.MsgPostNotice) error {
	key := NoticeKey(signer.AgencyId)
	if bytes.Equal(ctx.Store.Get(key), []byte(m.Text)) {
		return ErrSameNotice.Wrapf("agency %q already shows %q; post a different text", signer.AgencyId, m.Text)
	}
	ctx.Store.Set(key, []byte(m.Text))
	ctx.Emit(EventNoticePosted, module.Indexed("agency", signer.AgencyId))
	return nil
}
