package cluster_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/cluster"
)

// benchCluster starts three durable nodes over loopback TCP, leaders
// spread one range each (the balancer), and preloads n keys.
func benchCluster(b *testing.B, n int) []*cluster.Node {
	b.Helper()
	nodes := tcpNodes(b, func(_ int, cfg *cluster.Config) {
		cfg.Dir, cfg.BalanceInterval = b.TempDir(), 50*time.Millisecond
	})
	ctx := ctxFor(b, time.Minute)
	for deadline := time.Now().Add(30 * time.Second); ; {
		seen := map[string]bool{}
		for _, s := range nodes[0].Status() {
			seen[s.Leader] = true
		}
		if len(seen) == 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond) // waiting for the balancer before timing
	}
	var ops []cluster.Op
	for i := range n {
		ops = append(ops, cluster.Op{Key: key(i), Value: key(i)})
	}
	if _, err := nodes[0].Batch(ctx, ops); err != nil {
		b.Fatal(err)
	}
	return nodes
}

// BenchmarkCluster: requests through all three nodes at once (a third
// served by each range's leader, the rest forwarded), 64 goroutines per
// P (-cpu sets the Ps): durable puts, linearizable and stale gets,
// 100-key scans. The peer is etcd, out of process:
// scripts/cluster/etcd-compare.sh, docs/bench/cluster.md.
func BenchmarkCluster(b *testing.B) {
	const keys = 3000
	nodes := benchCluster(b, keys)
	ctx := context.Background()
	var next atomic.Int64
	run := func(b *testing.B, f func(nd *cluster.Node, i int) error) {
		b.ReportAllocs()
		b.SetParallelism(64)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			nd := nodes[next.Add(1)%3]
			for i := int(next.Add(1)); pb.Next(); i++ {
				if err := f(nd, i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.Run("put", func(b *testing.B) {
		run(b, func(nd *cluster.Node, i int) error { _, err := nd.Put(ctx, key(i%keys), []byte("v")); return err })
	})
	b.Run("get-linearizable", func(b *testing.B) {
		run(b, func(nd *cluster.Node, i int) error {
			_, err := nd.Get(ctx, key(i%keys), cluster.Linearizable)
			return err
		})
	})
	b.Run("get-stale", func(b *testing.B) {
		run(b, func(nd *cluster.Node, i int) error { _, err := nd.Get(ctx, key(i%keys), cluster.Stale); return err })
	})
	b.Run("scan100-linearizable", func(b *testing.B) {
		run(b, func(nd *cluster.Node, i int) error {
			_, _, err := nd.Scan(ctx, key(i % keys)[:2], nil, 100, cluster.Linearizable)
			return err
		})
	})
}
