package app

import (
	"google.golang.org/protobuf/proto"

	abci "github.com/cometbft/cometbft/abci/types"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	txv1 "github.com/tallyledger/tally/proto/tally/tx/v1"
	"github.com/tallyledger/tally/x/module"
)

// moduleRoutes is how one module's messages reach it. Each module has a
// file route_<module>.go that fills one in; this list is the whole system.
type moduleRoutes struct {
	// name is the module's name; its query paths start with "/<name>/".
	name string
	// owns reports whether msg is one of this module's messages.
	owns func(msg *txv1.Msg) bool
	// role is the permission table entry for each of the module's messages
	// (anyActiveAccount when any active account may send it).
	role func(msg *txv1.Msg) agencyv1.Role
	// validate checks a message without state.
	validate func(msg *txv1.Msg) error
	// handle runs a message against state.
	handle func(a *App, ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error
	// query answers the module's query paths at a committed height (nil
	// when the module has none). Use a.single and a.list for proofs.
	query func(a *App, q Query) (*abci.ResponseQuery, error)
	// endBlock runs after the block's transactions (nil when the module
	// has no end-of-block work). Its writes are dropped if it fails.
	endBlock func(a *App, ctx module.Context) error
}

// Query is one read of committed state.
type Query struct {
	Path   string
	Data   []byte
	Height int64
	Prove  bool
}

// routes lists every module's messages, in the order modules are wired.
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

func routeFor(msg *txv1.Msg) (moduleRoutes, bool) {
	for _, r := range routes {
		if r.owns != nil && r.owns(msg) {
			return r, true
		}
	}
	return moduleRoutes{}, false
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
	r, ok := routeFor(msg)
	if !ok {
		return 0, false
	}
	return r.role(msg), true
}

// validateBasic runs the owning module's stateless checks on a message.
func (a *App) validateBasic(msg *txv1.Msg) error {
	if m := inner(msg); m != nil {
		if r, ok := a.table.Route(m); ok {
			return r.Validate(m)
		}
	}
	r, ok := routeFor(msg)
	if !ok {
		return ErrInvalidMessage.Wrapf("message has no content or is of a type this node does not know (%T); is the node up to date?", msg.Sum)
	}
	return r.validate(msg)
}

// route hands a message to the module that owns it.
func (a *App) route(ctx module.Context, signer *agencyv1.Account, msg *txv1.Msg) error {
	if m := inner(msg); m != nil {
		if r, ok := a.table.Route(m); ok {
			return r.Handle(ctx, signer, m)
		}
	}
	r, ok := routeFor(msg)
	if !ok {
		return ErrInvalidMessage.Wrapf("no handler for message %T", msg.Sum)
	}
	return r.handle(a, ctx, signer, msg)
}
