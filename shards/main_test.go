package shards_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The ants package starts its default pool when it is initialized; those
// goroutines exist before any test runs and never exit, so only they are
// ignored.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }
