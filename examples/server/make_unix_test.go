//go:build unix

package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestMakeServeCtrlC (issue 19, case 15): `make serve` runs the built
// server, so a clean stop on SIGINT is a clean make: exit 0 when only the
// server gets the signal (make ignoring it, as in a background job), and
// no "Error" line when make is interrupted too (Ctrl-C in a terminal;
// make then stops on the signal itself, as make does). Under `go run`, the
// first exited 2 with "Error 1", the second printed "Error 1".
func TestMakeServeCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server with make")
	}
	for _, c := range []struct {
		name      string
		ignoreInt bool
	}{{"only-the-server", true}, {"terminal", false}} {
		t.Run(c.name, func(t *testing.T) {
			m := testutil.StartMake(t, "../..", nil, c.ignoreInt, "serve", "ADDR=127.0.0.1:0", "WORDS=", "BIN="+t.TempDir(), "SERVEFLAGS=-workers 2")
			m.WaitOutput("msg=listening")
			m.Interrupt()
			code, sig, out := m.Wait()
			if c.ignoreInt && (code != 0 || sig != 0) || !c.ignoreInt && sig != syscall.SIGINT && code != 0 {
				t.Errorf("make exit %d, signal %v:\n%s", code, sig, out)
			}
			if strings.Contains(out, "Error") || !strings.Contains(out, `msg="final stats"`) {
				t.Errorf("output:\n%s", out)
			}
		})
	}
}
