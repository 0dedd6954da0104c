package api

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Code is one refusal the chain can give: codespace and code identify it
// for machines (state and transaction results keep only these two), Desc
// says what it means to people. It is what x/module.Register records.
type Code struct {
	Codespace string
	Code      uint32
	Desc      string
}

// Codes lists every code the node registers (app and every module),
// ordered by codespace and code. The list is generated from the node's
// registry (codes_table.go; `go test ./api -run TestCodeTable -update`
// rewrites it and docs/errors.md), and TestCodeTable fails if a code is
// registered that is not here or the other way round, so a client names
// any code without importing the state machine.
func Codes() []Code { return slices.Clone(codeTable[:]) }

// LookupCode finds codespace/code in Codes.
func LookupCode(codespace string, code uint32) (Code, bool) {
	i, ok := slices.BinarySearchFunc(codeTable[:], Code{Codespace: codespace, Code: code}, compareCodes)
	if !ok {
		return Code{}, false
	}
	return codeTable[i], true
}

// compareCodes orders codes by codespace, then code.
func compareCodes(a, b Code) int {
	if c := strings.Compare(a.Codespace, b.Codespace); c != 0 {
		return c
	}
	return cmp.Compare(a.Code, b.Code)
}

// Describe renders a code kept in state or in a transaction result as
// "codespace/code: description". State records codes, never error text,
// so that rewording a message changes no app hash; queries, the CLI and
// the explorer show the text through Describe. A code not in Codes
// (recorded by other software) is shown bare. Zero is no code: "".
func Describe(codespace string, code uint32) string {
	if code == 0 {
		return ""
	}
	if c, ok := LookupCode(codespace, code); ok {
		return fmt.Sprintf("%s/%d: %s", c.Codespace, c.Code, c.Desc)
	}
	return fmt.Sprintf("%s/%d", codespace, code)
}

// DescribeCodes adds, to a record rendered as a JSON object (protojson),
// the message of each code it keeps: beside "<name>_codespace" and
// "<name>_code" it sets "<name>" to Describe's text, so a reader sees why
// without looking the code up.
func DescribeCodes(record map[string]any) {
	for key, v := range record {
		name, ok := strings.CutSuffix(key, "_codespace")
		if !ok {
			name, ok = strings.CutSuffix(key, "Codespace") // protojson's camelCase names
		}
		space, isString := v.(string)
		if !ok || !isString {
			continue
		}
		code, _ := record[name+"_code"].(float64)
		if c, found := record[name+"Code"].(float64); found {
			code = c
		}
		if text := Describe(space, uint32(code)); text != "" {
			record[name] = text
		}
	}
}
