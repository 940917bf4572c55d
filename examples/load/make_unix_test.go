//go:build unix

package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestMakeLoadCtrlC (issue 19, case 15): `make load` against a server;
// Ctrl-C (make ignoring it, as in a background job) ends the run early,
// prints the summary, and make exits 0.
func TestMakeLoadCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example with make")
	}
	h, stop := sharded(t)
	defer stop()
	ts := httptest.NewServer(h)
	defer ts.Close()
	m := testutil.StartMake(t, "../..", nil, true, "load", "ADDR="+ts.Listener.Addr().String(), "WORDS=", "BIN="+t.TempDir(),
		"LOADFLAGS=-duration 1h -n 1000 -concurrency 2 -progress 1h")
	m.WaitOutput("load: http://")
	m.Interrupt()
	code, sig, out := m.Wait()
	if code != 0 || sig != 0 || strings.Contains(out, "Error") || !strings.Contains(out, "(interrupted)") {
		t.Errorf("make exit %d, signal %v:\n%s", code, sig, out)
	}
	rows(t, out)
}
