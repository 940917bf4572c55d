package pool

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestFastPathsInline: NoLocking's TryAlloc and TryFree fit the compiler's
// inlining budget of 80 (TryAlloc costs 55, TryFree 33 today): a change
// that pushes them over makes every caller's pair two calls again (issue
// 23's NoLocking row).
func TestFastPathsInline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the package with -gcflags=-m")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(goBin, "build", "-gcflags=-m", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, fn := range []string{"TryAlloc", "TryFree"} {
		if !regexp.MustCompile(`can inline \(\*NoLocking\)\.` + fn + `\b`).Match(out) {
			t.Errorf("(*NoLocking).%s is no longer inlinable", fn)
		}
	}
}
