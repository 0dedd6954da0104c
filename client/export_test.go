package client

// SetAnswerLimit makes HTTPClient's clients read answers of at most n
// bytes until the test ends.
func SetAnswerLimit(t interface{ Cleanup(func()) }, n int64) {
	old := answerLimit
	answerLimit = n
	t.Cleanup(func() { answerLimit = old })
}
