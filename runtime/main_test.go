package runtime_test

import (
	"flag"
	"fmt"
	"os"
	goruntime "runtime"
	"testing"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/runtime"
)

// TestMain runs every test twice: with Goroutines workers (the default
// mode), then with a zero Config.Mode meaning Threads, so that every
// guarantee is checked in both modes. Benchmarks and fuzzing run once (they
// name their modes themselves). ants starts a package-level default pool
// whose goroutines never exit; only what exists before the tests start is
// ignored by the leak check.
func TestMain(m *testing.M) {
	flag.Parse()
	ignore := goleak.IgnoreCurrent()
	code := m.Run()
	if code == 0 && !benchOrFuzz() {
		fmt.Println("--- the same tests with Mode Threads as the default")
		restore := runtime.SetDefaultModeForTest(runtime.Threads)
		code = m.Run()
		restore()
	}
	if code == 0 {
		if err := goleak.Find(ignore); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: errors on successful test run: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// benchOrFuzz reports whether this run benchmarks or fuzzes.
func benchOrFuzz() bool {
	for _, name := range []string{"test.bench", "test.fuzz"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			return true
		}
	}
	return false
}

// goroutineCounts are the hammer sizes every concurrency test runs at.
func goroutineCounts() []int { return []int{1, goruntime.GOMAXPROCS(0), 64} }
