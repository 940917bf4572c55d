package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test waits for each node's Close, which waits for raft's Shutdown
// (its goroutines) and closes the transports, so no goroutine of raft's
// is ignored. IgnoreCurrent: the ants pool (imported through shards)
// starts its default pool's goroutines at init, before any test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }
