package runtime_test

import (
	goruntime "runtime"
	"testing"

	"go.uber.org/goleak"
)

// ants starts a package-level default pool whose goroutines never exit;
// only what exists before the tests start is ignored.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// goroutineCounts are the hammer sizes every concurrency test runs at.
func goroutineCounts() []int { return []int{1, goruntime.GOMAXPROCS(0), 64} }
