package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test waits for each node's Close, which waits for raft's Shutdown
// (its goroutines) and closes the transports. One pair of raft's
// goroutines is ignored: a leadership transfer started by the leader loop
// (the balancer asks for one) is not joined by Shutdown, and when the
// loop exits first, its goroutine stays blocked sending the result
// (raft v1.7.2, raft.go leadershipTransfer; seen 1 in 12 -race runs of
// TestRestartFromSnapshot). IgnoreCurrent: the ants pool (imported
// through shards) starts its default pool's goroutines at init, before
// any test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/hashicorp/raft.(*Raft).leadershipTransfer"),
		goleak.IgnoreTopFunction("github.com/hashicorp/raft.(*Raft).leaderLoop.func2"))
}
