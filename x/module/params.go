package module

import (
	"google.golang.org/protobuf/proto"

	"github.com/tallyledger/tally/store"
)

// ErrParamsUnreadable is a parameters record whose stored bytes do not
// decode as its message. No user message can write such bytes (genesis and
// governance validate the whole record before storing it), so it means the
// state was damaged; every reader of every params record refuses with this
// one code rather than run on a guess.
var ErrParamsUnreadable = Register("tx", 81, "parameters record unreadable")

// Params is the one loader of a parameters record (the app's own and each
// module's): the record stored at key, or def() when none is stored yet (a
// module's defaults until genesis writes its record). A record stored as
// store.Present is the message with every field zero, as store.GetProto
// reads it. Bytes that do not decode are ErrParamsUnreadable, naming the
// key.
func Params[P proto.Message](kv store.KV, key []byte, def func() P) (P, error) {
	m := def()
	// GetProto leaves m alone when nothing is stored and replaces it whole
	// (Reset, then decode) when something is: one read, metered as before.
	if _, err := store.GetProto(kv, key, m); err != nil {
		var none P
		return none, ErrParamsUnreadable.Wrapf("%v", err)
	}
	return m, nil
}
