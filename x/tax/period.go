package tax

import (
	"github.com/tallyledger/tally/api"
	taxv1 "github.com/tallyledger/tally/proto/tally/tax/v1"
)

// Period is a parsed tax period: a year, a quarter or a month of a year.
type Period = api.Period

// MaxClearancePeriods bounds the periods one clearance statement covers.
const MaxClearancePeriods = api.MaxClearancePeriods

// ParsePeriod reads "2026", "2026-Q3" or "2026-09" (api.ParsePeriod),
// refusing anything else with ErrInvalidPeriod.
func ParsePeriod(s string) (Period, error) {
	p, err := api.ParsePeriod(s)
	return p, coded(err)
}

// PeriodRange lists the periods from..to inclusive (api.PeriodRange),
// refusing a period of another kind, a reversed or too long range with
// this module's codes.
func PeriodRange(from, to string, kind taxv1.PeriodKind, taxType string) ([]string, error) {
	periods, err := api.PeriodRange(from, to, kind, taxType)
	return periods, coded(err)
}

func checkPeriodKind(period string, kind taxv1.PeriodKind, taxType string) error {
	return coded(api.CheckPeriodKind(period, kind, taxType))
}

// KindName is the short name of a period kind ("quarter").
func KindName(k taxv1.PeriodKind) string { return api.PeriodKindName(k) }

// ParsePeriodKind reads "year", "quarter" or "month" (api.ParsePeriodKind),
// refusing another with ErrInvalidPeriodKind.
func ParsePeriodKind(s string) (taxv1.PeriodKind, error) {
	k, err := api.ParsePeriodKind(s)
	if err != nil {
		return 0, ErrInvalidPeriodKind.Wrapf("%v", err)
	}
	return k, nil
}
