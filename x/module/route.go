package module

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
)

// Module is what a module hands the application: its name (its query
// paths start with "/<name>/" and its codespace is usually the same), its
// route table, one row per message, and its end-of-block work. The
// application registers it with one line (app.Modules in app/app.go).
type Module struct {
	Name   string
	Routes []Route
	// EndBlock runs after the block's transactions, on a metered context
	// whose budget it must respect (ctx.Exhausted); nil when the module
	// has no end-of-block work. Its writes are dropped if it fails.
	EndBlock func(ctx Context) error
}

// AnyActiveAccount is the Role of a route any active account may send on
// its own behalf (rotating its own key, accepting custody offered to it):
// the handler checks what no role could express.
const AnyActiveAccount = agencyv1.Role_ROLE_UNSPECIFIED

// Route is one row of a module's route table: everything the application
// knows about one message type. It is the only place that message is
// named outside its handler.
type Route struct {
	// Type is the message's protobuf name (tally.agency.v1.MsgAddMember).
	Type protoreflect.FullName
	// Role is the role the signer must hold: the permission table entry,
	// the one place permissions are decided (AnyActiveAccount for none).
	Role agencyv1.Role
	// Validate checks the message without state; it runs in CheckTx and
	// before a block runs the message. Never nil (see Msg).
	Validate func(proto.Message) error
	// Handle runs the message against state.
	Handle func(ctx Context, signer *agencyv1.Account, m proto.Message) error
	// Units is an upper bound of what one message of this type is charged
	// as it runs (the resource meter, store/meter.go), beyond what grows
	// with the message itself: its own bytes, which the application counts
	// as written once, and what UnitsFor adds. A proposer counts every
	// message at its bound before it runs and fills a block only up to
	// max_block_units by that count, so a bound below the real use lets a
	// proposal overfill its block, and its last transactions fail as
	// "block is full". 0 counts the message as a small one (a few reads and
	// one small record written). Its real use is metered as it runs either
	// way.
	Units uint64
	// UnitsFor, when set, is the part of the bound that grows with the
	// message's content beyond its bytes: the children a split makes, the
	// periods a programme schedules. Set it with Growing.
	UnitsFor func(proto.Message) uint64
}

// WithUnits returns the row with its bound set to units (see Route.Units).
func (r Route) WithUnits(units uint64) Route {
	r.Units = units
	return r
}

// Growing returns row r with per added to its bound for each message of
// type M (see Route.UnitsFor): per must be computed from the message alone,
// so that every node counts it the same before the message runs.
func Growing[M proto.Message](r Route, per func(M) uint64) Route {
	r.UnitsFor = func(m proto.Message) uint64 { return per(m.(M)) }
	return r
}

// Msg is the row for message type M: the role it needs, its stateless
// check (nil when it has none) and its handler.
func Msg[M proto.Message](role agencyv1.Role, validate func(M) error, handle func(Context, *agencyv1.Account, M) error) Route {
	var zero M
	r := Route{
		Type:     zero.ProtoReflect().Descriptor().FullName(),
		Role:     role,
		Validate: func(proto.Message) error { return nil },
		Handle:   func(ctx Context, signer *agencyv1.Account, m proto.Message) error { return handle(ctx, signer, m.(M)) },
	}
	if validate != nil {
		r.Validate = func(m proto.Message) error { return validate(m.(M)) }
	}
	return r
}

// ValidateBasic runs the stateless check of msg's row in routes; a message
// no row names passes (it is not this table's to judge). Modules export it
// for their own message types, so tests and clients can check a message
// before sending it.
func ValidateBasic(routes []Route, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok || m == nil {
		return nil
	}
	name := m.ProtoReflect().Descriptor().FullName()
	for _, r := range routes {
		if r.Type == name {
			return r.Validate(m)
		}
	}
	return nil
}

// Table is every registered module's routes by message type.
type Table struct {
	modules []Module
	byType  map[protoreflect.FullName]*Route
}

// NewTable indexes the modules' routes. Two rows for one message type, or
// two modules of one name, are a wiring mistake reported at start-up.
func NewTable(modules ...Module) (*Table, error) {
	t := &Table{modules: modules, byType: map[protoreflect.FullName]*Route{}}
	names := map[string]bool{}
	for mi := range modules {
		m := &modules[mi]
		if m.Name == "" || names[m.Name] {
			return nil, fmt.Errorf("module %d: name %q is empty or registered twice", mi, m.Name)
		}
		names[m.Name] = true
		for ri := range m.Routes {
			r := &m.Routes[ri]
			if r.Type == "" || r.Validate == nil || r.Handle == nil {
				return nil, fmt.Errorf("module %s: route %d is incomplete; build rows with module.Msg", m.Name, ri)
			}
			if _, dup := t.byType[r.Type]; dup {
				return nil, fmt.Errorf("module %s: message %s already has a route", m.Name, r.Type)
			}
			t.byType[r.Type] = r
		}
	}
	return t, nil
}

// Route returns the row for a message, by its type.
func (t *Table) Route(m proto.Message) (*Route, bool) {
	if m == nil {
		return nil, false
	}
	r, ok := t.byType[m.ProtoReflect().Descriptor().FullName()]
	return r, ok
}

// Modules returns the registered modules in registration order.
func (t *Table) Modules() []Module { return t.modules }
