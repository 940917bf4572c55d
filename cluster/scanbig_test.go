package cluster_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/zipora-go/zipora/cluster"
)

// TestScanBiggerThanFrame: a linearizable scan through a follower whose
// answer would not fit one frame (three values of 22 MiB: 66 MiB) returns
// the pairs that fit and more, at once (before: the follower refused the
// leader's 66 MiB answer as a protocol error, counted it as an unreachable
// leader and asked again until ctx ended: 15 s, then "no leader ... i/o
// timeout"). A limit over MaxScanLimit is taken as MaxScanLimit (before:
// ErrProtocol). At full size only without -race and -short (the values
// cost a few hundred MiB across three nodes); TestScanBytesBound checks
// the same bound small.
func TestScanBiggerThanFrame(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("66 MiB of values on three nodes: not under -race or -short")
	}
	nodes := tcpNodes(t, func(i int, cfg *cluster.Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = time.Second, time.Second, time.Second/2
		cfg.BalanceInterval = cluster.NoBalance
	})
	checkScanBound(t, nodes, 22<<20, 2)
}

// TestScanBytesBound is TestScanBiggerThanFrame with the bound lowered to
// 1 MiB and values of 400 KB.
func TestScanBytesBound(t *testing.T) {
	// Restored by a cleanup registered before the nodes' (cleanups run
	// last-in first-out): the nodes' goroutines read the bound until
	// they are closed.
	t.Cleanup(cluster.SetScanBytes(1 << 20))
	nodes := tcpNodes(t, func(i int, cfg *cluster.Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = hb, hb, hb/2
		cfg.BalanceInterval = cluster.NoBalance
	})
	checkScanBound(t, nodes, 400_000, 2)
}

// checkScanBound puts three values of size bytes through t0 (the leader of
// every range), then scans them through a follower and on the leader:
// want pairs and more, promptly.
func checkScanBound(t *testing.T, nodes []*cluster.Node, size, want int) {
	t.Helper()
	v := bytes.Repeat([]byte("v"), size)
	for i := range 3 {
		k := fmt.Sprintf("big%d", i) // range 0: [..h)
		idem(t, "put "+k, func() error { _, err := nodes[0].Put(ctxFor(t, settle), []byte(k), v); return err })
	}
	for i, nd := range []*cluster.Node{nodes[1], nodes[0]} {
		start := time.Now()
		kvs, more, err := nd.Scan(ctxFor(t, settle), []byte("big"), nil, cluster.MaxScanLimit+1, cluster.Linearizable)
		if err != nil || len(kvs) != want || !more || kvs[0].Value != string(v) {
			t.Fatalf("scan on node %d: %d pairs, more %v, %v after %v", 1-i, len(kvs), more, err, time.Since(start))
		}
		// The rest, from the last key returned.
		rest, more, err := nd.Scan(ctxFor(t, settle), []byte("big"), kvs[len(kvs)-1].Key, cluster.MaxScanLimit, cluster.Linearizable)
		if err != nil || len(rest) != 3-want || more {
			t.Fatalf("the rest on node %d: %d pairs, more %v, %v", 1-i, len(rest), more, err)
		}
	}
}
