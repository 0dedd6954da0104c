package explorer

import (
	"strconv"

	"github.com/tallyledger/tally/api"
	govv1 "github.com/tallyledger/tally/proto/tally/gov/v1"
)

// mandateOf reads, with a proof at the snap's height, the mandate grant a
// record names (its "mandate" field): the statutory power the record's act
// was done under. nil when the record names none or the grant cannot be
// read (the page then shows the bare id).
func (sn *snap) mandateOf(record map[string]any) map[string]any {
	id, ok := record["mandate"]
	if !ok {
		return nil
	}
	s := strconvAny(id)
	if s == "" || s == "0" {
		return nil
	}
	g := &govv1.MandateGrant{}
	if err := sn.record(api.PathGovMandate, []byte(s), g); err != nil {
		return map[string]any{"id": s}
	}
	return protoMap(g)
}

func strconvAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	}
	return ""
}
