package api

import (
	"fmt"
	"strconv"

	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// MaxClearancePeriods bounds the periods one clearance statement covers
// (ten years of months), so a query reads a bounded number of keys.
const MaxClearancePeriods = 120

// Period is a parsed tax period: a year, a quarter or a month of a year.
type Period struct {
	Kind  taxv1.PeriodKind
	Year  int
	Index int // quarter 1-4 or month 1-12; 0 for a year
}

// ParsePeriod reads "2026", "2026-Q3" or "2026-09". Years run from 1900 to
// 9999. Its errors wrap ErrPeriod.
func ParsePeriod(s string) (Period, error) {
	bad := func() (Period, error) {
		return Period{}, refuse(ErrPeriod, "%s is not a tax period; write a year (2026), a quarter (2026-Q3) or a month (2026-09)", Quote(s))
	}
	if len(s) < 4 || !digits(s[:4]) {
		return bad()
	}
	year, _ := strconv.Atoi(s[:4])
	if year < 1900 {
		return bad()
	}
	switch {
	case len(s) == 4:
		return Period{Kind: taxv1.PeriodKind_PERIOD_KIND_YEAR, Year: year}, nil
	case len(s) == 7 && s[4] == '-' && s[5] == 'Q' && s[6] >= '1' && s[6] <= '4':
		return Period{Kind: taxv1.PeriodKind_PERIOD_KIND_QUARTER, Year: year, Index: int(s[6] - '0')}, nil
	case len(s) == 7 && s[4] == '-' && digits(s[5:]):
		m, _ := strconv.Atoi(s[5:])
		if m < 1 || m > 12 {
			return bad()
		}
		return Period{Kind: taxv1.PeriodKind_PERIOD_KIND_MONTH, Year: year, Index: m}, nil
	}
	return bad()
}

func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// String writes the period in the form ParsePeriod reads.
func (p Period) String() string {
	switch p.Kind {
	case taxv1.PeriodKind_PERIOD_KIND_QUARTER:
		return fmt.Sprintf("%04d-Q%d", p.Year, p.Index)
	case taxv1.PeriodKind_PERIOD_KIND_MONTH:
		return fmt.Sprintf("%04d-%02d", p.Year, p.Index)
	}
	return fmt.Sprintf("%04d", p.Year)
}

func (p Period) perYear() int {
	switch p.Kind {
	case taxv1.PeriodKind_PERIOD_KIND_QUARTER:
		return 4
	case taxv1.PeriodKind_PERIOD_KIND_MONTH:
		return 12
	}
	return 1
}

// ordinal numbers periods of one kind consecutively.
func (p Period) ordinal() int {
	if p.Kind == taxv1.PeriodKind_PERIOD_KIND_YEAR {
		return p.Year
	}
	return p.Year*p.perYear() + p.Index - 1
}

func (p Period) next() Period {
	if p.Kind == taxv1.PeriodKind_PERIOD_KIND_YEAR {
		p.Year++
		return p
	}
	p.Index++
	if p.Index > p.perYear() {
		p.Year, p.Index = p.Year+1, 1
	}
	return p
}

// PeriodKindName is the short name of a period kind ("quarter"); a number
// no kind has is written as the number.
func PeriodKindName(k taxv1.PeriodKind) string {
	return EnumName(k, PeriodKindPrefix)
}

// CheckPeriodKind parses period and checks it is of kind, the period kind
// of tax type taxType. Its errors wrap ErrPeriod or ErrPeriodKind.
func CheckPeriodKind(period string, kind taxv1.PeriodKind, taxType string) error {
	p, err := ParsePeriod(period)
	if err != nil {
		return err
	}
	if p.Kind != kind {
		return refuse(ErrPeriodKind, "%s is a %s; %s is assessed by %s (e.g. %s)", period, PeriodKindName(p.Kind), taxType, PeriodKindName(kind), examplePeriod(kind))
	}
	return nil
}

func examplePeriod(k taxv1.PeriodKind) string {
	switch k {
	case taxv1.PeriodKind_PERIOD_KIND_QUARTER:
		return "2026-Q3"
	case taxv1.PeriodKind_PERIOD_KIND_MONTH:
		return "2026-09"
	}
	return "2026"
}

// PeriodRange lists the periods from..to inclusive: the periods a
// clearance answer covers, one payer total each. Both must be of kind (the
// tax type's), from not after to, and at most MaxClearancePeriods apart.
// Its errors wrap ErrPeriod, ErrPeriodKind or ErrPeriodRange.
func PeriodRange(from, to string, kind taxv1.PeriodKind, taxType string) ([]string, error) {
	if err := CheckPeriodKind(from, kind, taxType); err != nil {
		return nil, err
	}
	if err := CheckPeriodKind(to, kind, taxType); err != nil {
		return nil, err
	}
	a, _ := ParsePeriod(from)
	b, _ := ParsePeriod(to)
	n := b.ordinal() - a.ordinal() + 1
	switch {
	case n < 1:
		return nil, refuse(ErrPeriodRange, "%s is after %s; give the earlier period first", from, to)
	case n > MaxClearancePeriods:
		return nil, refuse(ErrPeriodRange, "%s to %s is %d periods; a statement covers at most %d", from, to, n, MaxClearancePeriods)
	}
	out := make([]string, 0, n)
	for p := a; len(out) < n; p = p.next() {
		out = append(out, p.String())
	}
	return out, nil
}
