package shards_test

import (
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The leak check ignores nothing: this package starts no goroutine it was
// not asked for, and neither it nor its tests link the runtime (whose ants
// pool starts goroutines when its package is initialized; TestNoRuntime).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNoRuntime: the shards package, and this package's test binary, link
// neither zipora's runtime nor its mailbox nor the ants pool: a program
// that uses only shards starts no goroutine it did not ask for.
func TestNoRuntime(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	for _, args := range [][]string{
		{"list", "-deps", "github.com/zipora-go/zipora/shards"},
		{"list", "-deps", "-test", "github.com/zipora-go/zipora/shards"},
	} {
		out, err := exec.Command(goTool, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 || !strings.Contains(string(out), "github.com/zipora-go/zipora/structures/trie\n") {
			t.Fatalf("go %s: %d packages, no structures/trie: not a dependency list?\n%s", strings.Join(args, " "), len(deps), out)
		}
		for _, d := range deps {
			if d == "github.com/zipora-go/zipora/runtime" || d == "github.com/zipora-go/zipora/mailbox" || strings.HasPrefix(d, "github.com/panjf2000/ants") {
				t.Errorf("go %s lists %s", strings.Join(args, " "), d)
			}
		}
	}
}
