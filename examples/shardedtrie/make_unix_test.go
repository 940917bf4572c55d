//go:build unix

package main

import (
	"os"
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
	if code != 0 || sig != 0 || strings.Contains(out, "Error") || !strings.Contains(out, "ingested 2 lines, 2 distinct keys") ||
		!strings.Contains(out, "(interrupted") || !strings.Contains(out, `2 keys with prefix "ap"`) {
		t.Errorf("make exit %d, signal %v:\n%s", code, sig, out)
	}
}
