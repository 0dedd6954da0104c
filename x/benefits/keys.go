package benefits

var keyParams = []byte("bf/params")
