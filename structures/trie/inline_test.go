package trie

import (
	"os/exec"
	"regexp"
	"testing"
)

// TestOneWriterFastPathsInline: the one writer's per-key insert relies on
// small helpers inlining into it (issue 23: the call chain around
// Concurrent.Insert cost more instructions than its locked operations):
// the role's CAS (lockFree) into owInsertOne, checkInsert into Insert,
// markFresh into newValueLeaf, storeOwStats into publish. Generic methods
// are compiled where they are instantiated, so the check builds
// internal/inlinecheck, which instantiates them, with -gcflags=-m.
func TestOneWriterFastPathsInline(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a package with -gcflags=-m")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(goBin, "build", "-gcflags=-m", "./internal/inlinecheck").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -gcflags=-m: %v\n%s", err, out)
	}
	for _, c := range []struct{ file, fn string }{
		{"owform", `\(\*Concurrent\[go\.shape\.uint64\]\)\.lockFree`},
		{"concurrent", `\(\*Concurrent\[go\.shape\.uint64\]\)\.checkInsert`},
		{"cmem", `\(\*wstate\[go\.shape\.uint64\]\)\.markFresh`},
		{"owform", `\(\*wstate\[go\.shape\.uint64\]\)\.storeOwStats`},
	} {
		re := regexp.MustCompile(c.file + `\.go:\d+:\d+: inlining call to trie\.` + c.fn + `\n`)
		if !re.Match(out) {
			t.Errorf("%s no longer inlines into %s.go", c.fn, c.file)
		}
	}
}
