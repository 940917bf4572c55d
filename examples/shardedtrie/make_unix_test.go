//go:build unix

package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestMakeDemoCtrlC (issue 19, cases 14 and 15): `make demo` reading keys
// from a real pipe that stays open; Ctrl-C (make ignoring it, as in a
// background job) stops the reading, prints the summary, and make exits 0.
func TestMakeDemoCtrlC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example with make")
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	defer pr.Close()
	if _, err := pw.WriteString("apple\napricot\n"); err != nil { // and the pipe stays open
		t.Fatal(err)
	}
	m := testutil.StartMake(t, "../..", pr, true, "demo", "BIN="+t.TempDir(), "DEMOFLAGS=-keys - -workers 2 -prefix ap")
	m.WaitOutput("msg=ingesting")
	m.Interrupt()
	code, sig, out := m.Wait()
	// The signal may come before the two lines are read: whatever was
	// read is committed and counted.
	if code != 0 || sig != 0 || strings.Contains(out, "Error") || !regexp.MustCompile(`ingested ([0-2]) lines, ([0-2]) distinct keys .*\(interrupted`).MatchString(out) {
		t.Errorf("make exit %d, signal %v:\n%s", code, sig, out)
	}
}
