package primitives_test

import (
	"runtime"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// goroutineCounts are the hammer sizes every concurrency test runs at.
func goroutineCounts() []int { return []int{1, runtime.GOMAXPROCS(0), 64} }
