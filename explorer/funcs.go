package explorer

import (
	"fmt"
	"github.com/tallyledger/tally/client"
	"html/template"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// funcs are the templates' helpers. None returns unescaped chain text:
// the only template.HTML values are the SVG builders', which escape.
var funcs = template.FuncMap{
	"short":  shortRef,
	"named":  named,
	"plural": plural,
	"events": eventWords,
	"every": func(v any) string {
		n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
		return periodWords(n)
	},
	"pounds":   poundsAny,
	"field":    field,
	"items":    items,
	"fields":   sortedFields,
	"str":      func(v any) string { return fmt.Sprint(v) },
	"pathesc":  url.PathEscape,
	"queryesc": url.QueryEscape,
	"unix": func(v any) string {
		n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64)
		if err != nil || n == 0 {
			return ""
		}
		return time.Unix(n, 0).UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"ago": func(t time.Time) string {
		return t.UTC().Format("15:04:05")
	},
	"lower":    strings.ToLower,
	"trimenum": trimEnum,
	"show":     show,
	"join":     strings.Join,
	"pct": func(a, b int64) int64 {
		if b == 0 {
			return 0
		}
		return a * 100 / b
	},
	"gt0": func(v any) bool {
		n, _ := strconv.ParseFloat(fmt.Sprint(v), 64)
		return n > 0
	},
	"chart":   func(c chartSVG) template.HTML { return template.HTML(c) },
	"sankeyh": func(c sankeySVG) template.HTML { return template.HTML(c) },
	"graph":   func(c lineageSVG) template.HTML { return template.HTML(c) },
}

// named shows a record's field by the name written beside it
// ("<field>_name", names.go), else its value, shortened when it is a long
// hex reference.
func named(m map[string]any, k string) string {
	if n, ok := m[k+"_name"].(string); ok && n != "" {
		return n
	}
	return shortRef(fmt.Sprint(field(m, k)))
}

// shortRef shortens a long pseudonymous reference or hash for display;
// the full value is kept for the copy button.
func shortRef(s string) string {
	if len(s) <= 16 {
		return s
	}
	return s[:8] + "…" + s[len(s)-6:]
}

// pounds formats minor units as £1,234.56.
func pounds(p uint64) string { return client.Pounds(p) }

func poundsAny(v any) string {
	if v == nil || fmt.Sprint(v) == "" {
		return pounds(0) // protojson omits zero amounts
	}
	n, err := strconv.ParseUint(fmt.Sprint(v), 10, 64)
	if err != nil {
		return fmt.Sprint(v)
	}
	return pounds(n)
}

// field reads a key of a decoded record (protojson writes 64-bit numbers
// as strings; absent zero values read as ""). Pages speak words: an enum
// reads as the words beside it ("<k>_formatted"), while an amount stays
// pence for pounds to format.
func field(m map[string]any, k string) any {
	if m == nil {
		return ""
	}
	if w, ok := m[k+"_formatted"]; ok && !client.AmountFields[k] {
		return w
	}
	v, ok := m[k]
	if !ok {
		return ""
	}
	return v
}

// items reads a list field of a decoded record, a list of enums as its
// words; nil when absent.
func items(m map[string]any, k string) []any {
	if w, ok := m[k+"_formatted"].([]any); ok {
		return w
	}
	l, _ := m[k].([]any)
	return l
}

type kv struct {
	K string
	V any
}

// sortedFields lists a record's fields for the generic record table: a
// field with a name beside it shows the name, an amount shows pounds, a
// period its length in words; the helper fields themselves are not rows.
func sortedFields(m map[string]any) []kv {
	var out []kv
	for k, v := range m {
		if base, ok := strings.CutSuffix(k, "_name"); ok && m[base] != nil {
			continue
		}
		if base, ok := strings.CutSuffix(k, "_formatted"); ok && m[base] != nil {
			continue
		}
		switch {
		case m[k+"_name"] != nil:
			v = m[k+"_name"]
		case m[k+"_formatted"] != nil:
			v = m[k+"_formatted"]
		case k == "period_seconds":
			v = periodWords(toInt(v))
		}
		out = append(out, kv{strings.ReplaceAll(k, "_", " "), v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

func toInt(v any) int64 {
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	return n
}

// show formats one field of a record: times in words, enum names short.
func show(k string, v any) string {
	if strings.HasSuffix(k, " unix") || strings.HasSuffix(k, "_unix") {
		if n, err := strconv.ParseInt(fmt.Sprint(v), 10, 64); err == nil && n > 0 {
			return time.Unix(n, 0).UTC().Format("2006-01-02 15:04:05 UTC")
		}
	}
	return plain(v)
}

// plain writes a record's value as words rather than Go syntax: nested
// records as "name (field: value, ...)", lists joined with commas, numbers
// in full, and enum names short. A transaction's body once showed
// "[map[grant_role:map[…]]]".
func plain(v any) string {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 1 {
			if sub, ok := x[keys[0]].(map[string]any); ok { // a oneof: the message kind, then its fields
				return strings.ReplaceAll(keys[0], "_", " ") + " (" + plain(sub) + ")"
			}
		}
		parts := make([]string, 0, len(keys))
		for _, f := range sortedFields(x) {
			parts = append(parts, f.K+": "+plain(f.V))
		}
		return strings.Join(parts, ", ")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, plain(e))
		}
		return strings.Join(parts, "; ")
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		if x {
			return "yes"
		}
		return "no"
	default:
		return trimEnum(v)
	}
}

func trimEnum(v any) string {
	s := fmt.Sprint(v)
	for _, p := range []string{"ITEM_STATUS_", "EVENT_TYPE_", "STATUS_", "KIND_", "ROLE_", "PAYMENT_STATUS_", "PAYMENT_KIND_", "PERIOD_KIND_", "PROPOSAL_STATUS_", "VOTE_OPTION_", "MANDATE_"} {
		if strings.HasPrefix(s, p) {
			return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(s, p), "_", " "))
		}
	}
	return s
}
