package gov

import (
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/tallyledger/tally/api"
	agencyv1 "github.com/tallyledger/tally/proto/tally/agency/v1"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
	"github.com/tallyledger/tally/store"
	"github.com/tallyledger/tally/x/agency"
	"github.com/tallyledger/tally/x/module"
)

// Param is one entry of the parameter registry: a scalar field of a params
// record that a module owns. Governance changes the field; the module's own
// Validate decides whether the whole record is still sound, so a module's
// rules about its params live in one place whoever writes them.
type Param struct {
	// Name is "<module>.<field>", as proposals and queries spell it.
	Name        string
	Description string
	// Key is the state key of the owning module's params record.
	Key []byte
	// Default returns the record as it is before genesis writes one.
	Default func() proto.Message
	// Field is the record's field this parameter is.
	Field protoreflect.Name
	// Validate checks the whole record after the change.
	Validate func(proto.Message) error
}

// Registry is the set of parameters governance may change, in the order
// they were registered. It is fixed when the app is wired.
type Registry struct{ params []Param }

// NewRegistry returns a registry of params; a duplicate name or a field
// the record does not have is a wiring bug and panics at start-up.
func NewRegistry(params ...Param) *Registry {
	seen := map[string]bool{}
	for _, p := range params {
		if seen[p.Name] {
			panic(fmt.Sprintf("gov: parameter %s registered twice", p.Name))
		}
		seen[p.Name] = true
		fd := p.Default().ProtoReflect().Descriptor().Fields().ByName(p.Field)
		if fd == nil || fd.IsList() || fd.IsMap() {
			panic(fmt.Sprintf("gov: parameter %s names no scalar field %s", p.Name, p.Field))
		}
	}
	return &Registry{params: params}
}

// Names lists the registered parameter names.
func (r *Registry) Names() []string {
	out := make([]string, len(r.params))
	for i, p := range r.params {
		out[i] = p.Name
	}
	return out
}

func (r *Registry) find(name string) (Param, error) {
	if r != nil {
		for _, p := range r.params {
			if p.Name == name {
				return p, nil
			}
		}
	}
	return Param{}, ErrUnknownParam.Wrapf("no parameter %s; parameters are %s", api.Quote(name), strings.Join(r.Names(), ", "))
}

// Lookup returns the registry entry for name.
func (r *Registry) Lookup(name string) (Param, error) { return r.find(name) }

func load(kv store.KV, p Param) (proto.Message, error) {
	return module.Params(kv, p.Key, p.Default)
}

// Get returns a parameter's current value as text.
func (r *Registry) Get(kv store.KV, name string) (string, error) {
	p, err := r.find(name)
	if err != nil {
		return "", err
	}
	m, err := load(kv, p)
	if err != nil {
		return "", err
	}
	fd := m.ProtoReflect().Descriptor().Fields().ByName(p.Field)
	return fmt.Sprint(m.ProtoReflect().Get(fd).Interface()), nil
}

// List returns every parameter with its current value.
func (r *Registry) List(kv store.KV) (*govv1.ParamList, error) {
	out := &govv1.ParamList{}
	for _, p := range r.params {
		v, err := r.Get(kv, p.Name)
		if err != nil {
			return nil, err
		}
		out.Params = append(out.Params, &govv1.ParamValue{Name: p.Name, Value: v, Description: p.Description})
	}
	return out, nil
}

// Set parses value for the parameter's type, checks the owning module's
// record with it, and writes the record. Nothing is written on error.
func (r *Registry) Set(kv store.KV, name, value string) error {
	p, err := r.find(name)
	if err != nil {
		return err
	}
	m, err := load(kv, p)
	if err != nil {
		return err
	}
	fd := m.ProtoReflect().Descriptor().Fields().ByName(p.Field)
	v, err := parseValue(fd, value)
	if err != nil {
		return ErrInvalidParamValue.Wrapf("%s: %v", name, err)
	}
	m.ProtoReflect().Set(fd, v)
	if err := p.Validate(m); err != nil {
		return ErrInvalidParamValue.Wrapf("%s = %s: %v", name, api.Quote(value), err)
	}
	return store.SetProto(kv, p.Key, m)
}

// Check reports whether Set would succeed, without writing.
func (r *Registry) Check(kv store.KV, name, value string) error {
	return r.Set(store.NewCache(kv), name, value)
}

func parseValue(fd protoreflect.FieldDescriptor, s string) (protoreflect.Value, error) {
	switch fd.Kind() {
	case protoreflect.Uint32Kind:
		v, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%s is not a whole number from 0 to 4294967295", api.Quote(s))
		}
		return protoreflect.ValueOfUint32(uint32(v)), nil
	case protoreflect.Uint64Kind:
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%s is not a non-negative whole number", api.Quote(s))
		}
		return protoreflect.ValueOfUint64(v), nil
	case protoreflect.Int64Kind:
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%s is not a whole number", api.Quote(s))
		}
		return protoreflect.ValueOfInt64(v), nil
	case protoreflect.Int32Kind:
		v, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%s is not a 32-bit whole number", api.Quote(s))
		}
		return protoreflect.ValueOfInt32(int32(v)), nil
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(s), nil
	case protoreflect.BoolKind:
		v, err := strconv.ParseBool(s)
		if err != nil {
			return protoreflect.Value{}, fmt.Errorf("%s is not true or false", api.Quote(s))
		}
		return protoreflect.ValueOfBool(v), nil
	}
	return protoreflect.Value{}, fmt.Errorf("field type %s cannot be set by governance", fd.Kind())
}

// Fraction is a ratio of whole numbers, num/den with 0 <= num <= den.
type Fraction struct{ Num, Den uint64 }

// maxDenominator keeps products of fractions and counts far from overflow.
const maxDenominator = 1_000_000

// ParseFraction reads "num/den".
func ParseFraction(s string) (Fraction, error) {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return Fraction{}, fmt.Errorf("%s is not a fraction; write it as numerator/denominator, e.g. 2/3", api.Quote(s))
	}
	num, err1 := strconv.ParseUint(n, 10, 64)
	den, err2 := strconv.ParseUint(d, 10, 64)
	if err1 != nil || err2 != nil || den == 0 || den > maxDenominator || num > den {
		return Fraction{}, fmt.Errorf("%s is not a fraction between 0 and 1 with a denominator from 1 to %d", api.Quote(s), maxDenominator)
	}
	return Fraction{num, den}, nil
}

// String writes the fraction as ParseFraction reads it.
func (f Fraction) String() string { return fmt.Sprintf("%d/%d", f.Num, f.Den) }

// Less reports whether f < g.
func (f Fraction) Less(g Fraction) bool { return cmp128(f.Num, g.Den, g.Num, f.Den) < 0 }

// Exceeded reports whether part/whole > f.
func (f Fraction) Exceeded(part, whole uint64) bool { return cmp128(part, f.Den, f.Num, whole) > 0 }

// Reached reports whether part/whole >= f.
func (f Fraction) Reached(part, whole uint64) bool { return cmp128(part, f.Den, f.Num, whole) >= 0 }

// cmp128 compares a*b with c*d without overflow.
func cmp128(a, b, c, d uint64) int {
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	switch {
	case h1 != h2:
		return cmpU(h1, h2)
	default:
		return cmpU(l1, l2)
	}
}

func cmpU(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// DefaultParams are the governance rules of a new chain: a week to vote,
// more than two thirds of the active agencies to pass, two thirds voting.
func DefaultParams() *govv1.Params {
	return &govv1.Params{
		VotingPeriodSeconds:       7 * 24 * 3600,
		PassThreshold:             "2/3",
		Quorum:                    "2/3",
		MaxOpenProposalsPerAgency: 10,
		MinValidators:             MinValidatorsFloor,
		MaxPowerChange:            "1/3",
		MisbehaviourAction:        MisbehaviourPropose,
		MaxValidatorShare:         DefaultMaxValidatorShare,
		VotingKinds:               DefaultVotingKinds(),
		MaxReceiptAmount:          DefaultMaxReceiptAmount,
	}
}

// MinValidatorsFloor is the lowest gov.min_validators may be set to. BFT
// consensus with n validators tolerates f faulty ones only when n >= 3f+1,
// so a set of fewer than four tolerates none: any one validator stopping
// halts it, and any one lying decides alone what is "agreed". Four is
// the fewest that tolerates one fault, and the fewest among which every
// validator can stay below a third of the power.
const MinValidatorsFloor = 4

// DefaultMaxValidatorShare is the default gov.max_validator_share: with
// equal power, any four or more validators satisfy it, and one validator
// stays clear of the third of the power with which it alone could halt
// the chain.
const DefaultMaxValidatorShare = "3/10"

// shareLimit is the bound gov.max_validator_share must stay strictly
// below: a validator holding a third of the power can halt the chain by
// stopping, and with one more faulty peer break safety.
var shareLimit = Fraction{1, 3}

// DefaultVotingKinds are the agency kinds that vote when genesis names
// none: every kind of public body. Businesses are parties the state deals
// with — taxpayers, suppliers, custodians of goods — not part of it, so
// they do not decide who validates or what the rules are.
func DefaultVotingKinds() []agencyv1.Kind {
	var out []agencyv1.Kind
	for k := agencyv1.Kind_KIND_TREASURY; k <= agencyv1.Kind_KIND_DEPARTMENT; k++ {
		out = append(out, k)
	}
	return out
}

// maxValidatorShare is the share cap in force; an empty value, written
// before the parameter existed, means the default.
func maxValidatorShare(p *govv1.Params) (Fraction, error) {
	s := p.MaxValidatorShare
	if s == "" {
		s = DefaultMaxValidatorShare
	}
	return ParseFraction(s)
}

// votingKinds are the agency kinds that vote; an empty list, written
// before the field existed, means the default.
func votingKinds(p *govv1.Params) []agencyv1.Kind {
	if len(p.VotingKinds) == 0 {
		return DefaultVotingKinds()
	}
	return p.VotingKinds
}

// Votes reports whether agencies of kind k vote under params p.
func Votes(p *govv1.Params, k agencyv1.Kind) bool { return slices.Contains(votingKinds(p), k) }

// Values of gov.misbehaviour_action.
const (
	// MisbehaviourPropose opens a proposal to remove a misbehaving
	// validator; the agencies decide.
	MisbehaviourPropose = "propose"
	// MisbehaviourRemove removes a misbehaving validator at the end of the
	// block, within min_validators and max_power_change.
	MisbehaviourRemove = "remove"
)

// misbehaviourMode is the misbehaviour action in force; an empty value,
// written before the parameter existed, means propose.
func misbehaviourMode(p *govv1.Params) string {
	if p.MisbehaviourAction == "" {
		return MisbehaviourPropose
	}
	return p.MisbehaviourAction
}

// maxVotingPeriod bounds how long a proposal can stay open.
const maxVotingPeriod = 366 * 24 * 3600

// ValidateParams checks governance's rules.
func ValidateParams(m proto.Message) error {
	p, ok := m.(*govv1.Params)
	if !ok || p == nil {
		return fmt.Errorf("gov params are missing")
	}
	if p.VotingPeriodSeconds <= 0 || p.VotingPeriodSeconds > maxVotingPeriod {
		return fmt.Errorf("voting_period_seconds must be from 1 to %d (a year)", maxVotingPeriod)
	}
	t, err := ParseFraction(p.PassThreshold)
	if err != nil {
		return fmt.Errorf("pass_threshold: %v", err)
	}
	if t.Less(Fraction{1, 2}) {
		return fmt.Errorf("pass_threshold %s is below 1/2; two contradicting proposals could both pass", t)
	}
	if t.Num == t.Den {
		return fmt.Errorf("pass_threshold 1 could never be exceeded; use at most e.g. 99/100")
	}
	q, err := ParseFraction(p.Quorum)
	if err != nil {
		return fmt.Errorf("quorum: %v", err)
	}
	if q.Num == 0 {
		return fmt.Errorf("quorum must be above 0")
	}
	if p.MaxOpenProposalsPerAgency == 0 {
		return fmt.Errorf("max_open_proposals_per_agency must be at least 1, or no agency could propose")
	}
	if p.MinValidators < MinValidatorsFloor {
		return fmt.Errorf("min_validators %d is below %d: BFT consensus needs 3f+1 validators to tolerate f faults, so fewer than %d tolerate none", p.MinValidators, MinValidatorsFloor, MinValidatorsFloor)
	}
	share, err := maxValidatorShare(p)
	if err != nil {
		return fmt.Errorf("max_validator_share: %v", err)
	}
	if share.Num == 0 || !share.Less(shareLimit) {
		return fmt.Errorf("max_validator_share %s must be above 0 and below 1/3: a validator with a third of the power could halt the chain alone", share)
	}
	seen := map[agencyv1.Kind]bool{}
	for _, k := range p.VotingKinds {
		if _, ok := agencyv1.Kind_name[int32(k)]; !ok || k == agencyv1.Kind_KIND_UNSPECIFIED {
			return fmt.Errorf("voting_kinds: %d is not an agency kind", k)
		}
		if seen[k] {
			return fmt.Errorf("voting_kinds names %s twice", agency.KindName(k))
		}
		seen[k] = true
	}
	c, err := ParseFraction(p.MaxPowerChange)
	if err != nil {
		return fmt.Errorf("max_power_change: %v", err)
	}
	if c.Num == 0 || (Fraction{1, 3}).Less(c) {
		return fmt.Errorf("max_power_change %s must be above 0 and at most 1/3, or the old set could not guarantee safety", c)
	}
	switch p.MisbehaviourAction {
	case "", MisbehaviourPropose, MisbehaviourRemove:
	default:
		return fmt.Errorf("misbehaviour_action %q must be %q (open a removal proposal) or %q (remove at once)", p.MisbehaviourAction, MisbehaviourPropose, MisbehaviourRemove)
	}
	return nil
}

// OwnParams are governance's entries in the registry.
func OwnParams() []Param {
	def := func() proto.Message { return DefaultParams() }
	p := func(field, desc string) Param {
		return Param{Name: "gov." + field, Description: desc, Key: api.GovParamsKey(), Default: def, Field: protoreflect.Name(field), Validate: ValidateParams}
	}
	return []Param{
		p("voting_period_seconds", "how long a proposal is open, in seconds of block time"),
		p("pass_threshold", "fraction of active voting agencies that must vote yes, exceeded strictly (e.g. 2/3)"),
		p("quorum", "fraction of active voting agencies that must vote at all"),
		p("max_open_proposals_per_agency", "open proposals one agency may have at once"),
		p("min_validators", "fewest validators the set may be left with, at least 4 (BFT needs 3f+1)"),
		p("max_power_change", "largest fraction of total power changed in two consecutive blocks"),
		p("misbehaviour_action", "what double signing by a validator leads to: propose (a removal proposal) or remove (at once, within min_validators and max_power_change)"),
		p("max_validator_share", "largest fraction of the total power one validator may hold, below 1/3 (e.g. 3/10)"),
		p("max_receipt_amount", "largest amount of one tax receipt or correction, in minor units (0: the default)"),
	}
}

// Params reads governance's params (defaults before genesis wrote them).
func (Keeper) Params(kv store.KV) (*govv1.Params, error) {
	return module.Params(kv, api.GovParamsKey(), DefaultParams)
}
