package api

import "strconv"

// MaxDecimalDigits is the most digits a decimal number of the contract
// (an id, a count) may have: a uint64 has at most 20.
const MaxDecimalDigits = 20

// ParseDecimal parses a decimal number of at most MaxDecimalDigits digits.
// A longer input is refused before strconv reads it: strconv's error
// (NumError) copies its whole input, so a query argument of 1 MiB would
// cost a copy of 1 MiB only to be refused. Leading zeros count as digits.
func ParseDecimal[T string | []byte](s T) (uint64, bool) {
	if len(s) == 0 || len(s) > MaxDecimalDigits {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s), 10, 64)
	return n, err == nil
}
