package app

import (
	"google.golang.org/protobuf/proto"

	abci "github.com/cometbft/cometbft/abci/types"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/module"
)

// moduleRoutes are a built-in module's query paths, answered by the app
// with proofs (a.single, a.list). Its messages and end-of-block work are
// in its route table (x/<module>/routes.go, registered in
// builtinModules).
type moduleRoutes struct {
	// name is the module's name; its query paths start with "/<name>/".
	name string
	// query answers the module's query paths at a committed height (nil
	// when the module has none). Use a.single and a.list for proofs.
	query func(a *App, q Query) (*abci.ResponseQuery, error)
}

// Query is one read of committed state.
type Query struct {
	Path string
	// Data is the query data; for a listing (api.Page), the ListRequest's
	// arg, with its after and limit in After and Limit.
	Data   []byte
	Height int64
	Prove  bool
	// After is where a listing's page starts: after this key (the
	// previous page's next_key), or at the start when empty.
	After []byte
	// Limit is the most records a listing's page holds (api.PageLimit).
	Limit int
}

// routes lists the built-in modules' query paths, in the order modules
// are wired.
var routes = []moduleRoutes{
	agencyRoutes,
	fundsRoutes,
	benefitsRoutes,
	taxRoutes,
	provenanceRoutes,
	govRoutes,
}

// sumField is the oneof of txv1.Msg that carries the one message.
var sumField = (&txv1.Msg{}).ProtoReflect().Descriptor().Oneofs().ByName("sum")

// inner is the message a txv1.Msg envelope carries (nil when empty).
func inner(msg *txv1.Msg) proto.Message {
	r := msg.ProtoReflect()
	fd := r.WhichOneof(sumField)
	if fd == nil {
		return nil
	}
	return r.Get(fd).Message().Interface()
}

// builtinTable is the route table of the modules every node runs, for
// RequiredRole, which needs no App.
var builtinTable = func() *module.Table {
	var a App
	a.wireKeepers()
	t, err := module.NewTable(a.builtinModules()...)
	if err != nil {
		panic(err) // a wiring mistake in this file's package, found at start-up
	}
	return t
}()

// RequiredRole is the permission table: the role each message of the
// built-in modules needs. It is the one place permissions are decided
// (each module's route table, x/<module>/routes.go); handlers add only
// checks that depend on the target (same agency, custodian of the item,
// ...). A message type no module owns is refused.
func RequiredRole(msg *txv1.Msg) (agencyv1.Role, bool) { return requiredRole(builtinTable, msg) }

func requiredRole(t *module.Table, msg *txv1.Msg) (agencyv1.Role, bool) {
	if r, ok := t.Route(inner(msg)); ok {
		return r.Role, true
	}
	return 0, false
}

// validateBasic runs the owning module's stateless checks on a message,
// and returns its route.
func (a *App) validateBasic(msg *txv1.Msg) (*module.Route, error) {
	m := inner(msg)
	r, ok := a.table.Route(m)
	if !ok {
		return nil, ErrInvalidMessage.Wrapf("message has no content or is of a type this node does not know (%T); is the node up to date?", msg.Sum)
	}
	return r, r.Validate(m)
}

// route hands a message to the module that owns it.
func (a *App) route(ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error {
	m := inner(msg)
	r, ok := a.table.Route(m)
	if !ok {
		return ErrInvalidMessage.Wrapf("no handler for message %T", msg.Sum)
	}
	return r.Handle(ctx, signer, m)
}
