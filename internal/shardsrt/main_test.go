package shardsrt_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The runtime's blocking pool (ants) starts its default pool when its
// package is initialized; those goroutines exist before any test runs and
// never exit, so only they are ignored. The shards package's own tests
// ignore nothing.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }
