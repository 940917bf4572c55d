package trie

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestOneWriterFastPathsInline: the one writer's per-key insert relies on
// small helpers inlining into it (issue 23: the call chain around
// Concurrent.Insert cost more instructions than its locked operations):
// the role's CAS (lockFree) into Insert, checkInsert into Insert,
// markFresh into newValueLeaf, storeOwStats into publish; and on the
// readers' side, readerIn (the quiet-free flag) into Get; the unlock's
// Swap through unlockWord into release and releaseOne. Generic methods
// are compiled where they are instantiated, so the check builds
// internal/inlinecheck, which instantiates them, with -gcflags=-m.
func TestOneWriterFastPathsInline(t *testing.T) {
	out := inlineDecisions(t, "./internal/inlinecheck")
	for _, c := range []struct{ file, fn string }{
		{"concurrent", `trie\.\(\*Concurrent\[go\.shape\.uint64\]\)\.lockFree`},
		{"concurrent", `trie\.\(\*Concurrent\[go\.shape\.uint64\]\)\.checkInsert`},
		{"cmem", `trie\.\(\*wstate\[go\.shape\.uint64\]\)\.markFresh`},
		{"owform", `trie\.\(\*wstate\[go\.shape\.uint64\]\)\.storeOwStats`},
		{"concurrent", `trie\.\(\*Concurrent\[go\.shape\.uint64\]\)\.readerIn`},
		{"owform", `trie\.unlockWord`},
		{"cwriter", `trie\.unlockWord`},
		{"cwriter", `atomic\.\(\*Uint64\)\.Swap`},
	} {
		re := regexp.MustCompile(c.file + `\.go:\d+:\d+: inlining call to ` + c.fn + `\n`)
		if !re.Match(out) {
			t.Errorf("%s no longer inlines into %s.go", c.fn, c.file)
		}
	}
}

// inlineDecisions returns the compiler's -m output for pkg (built from
// this package's directory); it skips the test in -short mode or without
// a go command.
func inlineDecisions(t *testing.T, pkg string) []byte {
	t.Helper()
	goBin, err := exec.LookPath("go")
	switch {
	case testing.Short():
		t.Skip("builds a package with -gcflags=-m")
	case err != nil:
		t.Skip("no go command:", err)
	}
	out, err := exec.CommandContext(t.Context(), goBin, "build", "-gcflags=-m", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m %s: %v\n%s", pkg, err, out)
	}
	return out
}
