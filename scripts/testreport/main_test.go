package main

import (
	"bytes"
	"strings"
	"testing"
)

const run = `{"Action":"start","Package":"p/a"}
{"Action":"run","Package":"p/a","Test":"TestOK"}
{"Action":"output","Package":"p/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"pass","Package":"p/a","Test":"TestOK"}
{"Action":"run","Package":"p/a","Test":"TestBrowser"}
{"Action":"output","Package":"p/a","Test":"TestBrowser","Output":"    screen_test.go:35: chromium is not installed\n"}
{"Action":"output","Package":"p/a","Test":"TestBrowser","Output":"--- SKIP: TestBrowser (0.00s)\n"}
{"Action":"skip","Package":"p/a","Test":"TestBrowser"}
{"Action":"output","Package":"p/a","Output":"ok  \tp/a\t0.1s\n"}
{"Action":"pass","Package":"p/a"}
`

const fail = `{"Action":"run","Package":"p/b","Test":"TestBad"}
{"Action":"output","Package":"p/b","Test":"TestBad","Output":"    b_test.go:9: want 2, got 3\n"}
{"Action":"fail","Package":"p/b","Test":"TestBad"}
{"Action":"output","Package":"p/b","Output":"FAIL\tp/b\t0.2s\n"}
{"Action":"fail","Package":"p/b"}
`

func TestSkipsAreListedWithTheirReasons(t *testing.T) {
	var out bytes.Buffer
	failed, err := report(strings.NewReader(run), &out)
	if err != nil || failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	s := out.String()
	if !strings.Contains(s, "ok  \tp/a") {
		t.Errorf("package line missing:\n%s", s)
	}
	if !strings.Contains(s, "1 tests skipped") || !strings.Contains(s, "SKIP p/a TestBrowser: screen_test.go:35: chromium is not installed") {
		t.Errorf("skip summary missing:\n%s", s)
	}
	if strings.Contains(s, "TestOK") {
		t.Errorf("a passing test's output was printed:\n%s", s)
	}
}

func TestFailuresPrintTheirOutputAndFailTheRun(t *testing.T) {
	var out bytes.Buffer
	failed, err := report(strings.NewReader(fail), &out)
	if err != nil || !failed {
		t.Fatalf("failed=%v err=%v", failed, err)
	}
	if !strings.Contains(out.String(), "--- FAIL: TestBad (p/b)") || !strings.Contains(out.String(), "want 2, got 3") {
		t.Errorf("failure not reported:\n%s", out.String())
	}
}

func TestEmptyInputIsAnError(t *testing.T) {
	if _, err := report(strings.NewReader("build failed\n"), &bytes.Buffer{}); err == nil {
		t.Fatal("a run with no results passed")
	}
}
