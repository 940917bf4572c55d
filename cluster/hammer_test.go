package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/internal/testutil"
)

// TestBatchAtomicHammer: writers (1, GOMAXPROCS, 16 of them) each write
// one value to all ten keys of a group in one batch (one range: one log
// entry, one publication); readers scan the group on every node, stale and
// linearizable, all the while. Conservation law: every scan sees the ten
// keys with one and the same value — never a batch in part — and the final
// value is a writer's last acknowledged batch (or one whose outcome was
// unknown: an election under this load can depose a leader mid-commit).
func TestBatchAtomicHammer(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	nodes := []*cluster.Node{c.nodes["n1"], c.nodes["n2"], c.nodes["n3"]}
	const group = 10
	keys := make([][]byte, group)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "j-acct-%02d", i)
	}
	batch := func(v string) []cluster.Op {
		ops := make([]cluster.Op, group)
		for i, k := range keys {
			ops[i] = cluster.Op{Key: k, Value: []byte(v)}
		}
		return ops
	}
	if _, err := nodes[0].Batch(ctxFor(t, settle), batch("init")); err != nil {
		t.Fatal(err)
	}
	// Stale scans on a follower see nothing until it applied the batch.
	for _, nd := range nodes {
		testutil.Eventually(t, nd.ID()+" applied the first batch", settle, func() bool {
			kvs, _, _ := nd.Scan(ctxFor(t, opWait), []byte("j-acct-"), nil, 100, cluster.Stale)
			return len(kvs) == group
		})
	}
	for _, writers := range []int{1, runtime.GOMAXPROCS(0), 16} {
		t.Run(fmt.Sprint(writers, "-writers"), func(t *testing.T) {
			var stop atomic.Bool
			var wg sync.WaitGroup
			var scans, acked atomic.Int64
			last := make([]string, writers) // each writer's last acknowledged value
			var maybe sync.Map              // values of batches whose outcome is unknown
			for w := range writers {
				wg.Go(func() {
					nd := nodes[w%3]
					for i := 0; i < 40 && !stop.Load(); i++ {
						v := fmt.Sprintf("w%d-%d", w, i)
						ctx, cancel := context.WithTimeout(context.Background(), opWait)
						_, err := nd.Batch(ctx, batch(v))
						cancel()
						if errors.Is(err, cluster.ErrOutcomeUnknown) || errors.Is(err, cluster.ErrNoLeader) {
							// an election under the load (100 ms timeouts,
							// -race): the batch may or may not be applied
							maybe.Store(v, true)
							continue
						}
						if err != nil {
							t.Errorf("batch %s: %v", v, err)
							return
						}
						last[w] = v
						acked.Add(1)
					}
				})
			}
			readers := sync.WaitGroup{}
			for r := range 3 {
				for _, cons := range []cluster.Consistency{cluster.Stale, cluster.Linearizable} {
					readers.Go(func() {
						for !stop.Load() {
							kvs, _, err := nodes[r].Scan(ctxFor(t, opWait), []byte("j-acct-"), nil, 100, cons)
							if err != nil {
								if !errors.Is(err, cluster.ErrNoLeader) {
									t.Errorf("scan: %v", err)
								}
								return
							}
							if len(kvs) != group {
								t.Errorf("scan found %d keys, want %d", len(kvs), group)
								return
							}
							for i, kv := range kvs[1:] {
								if string(kv.Key) != string(keys[i+1]) {
									t.Errorf("scan key %d is %q, want %q", i+1, kv.Key, keys[i+1])
									return
								}
								if kv.Value != kvs[0].Value {
									t.Errorf("a batch seen in part: %s=%q but %s=%q", kvs[0].Key, kvs[0].Value, kv.Key, kv.Value)
									return
								}
							}
							scans.Add(1)
						}
					})
				}
			}
			wg.Wait()
			stop.Store(true)
			readers.Wait()
			r, err := nodes[0].Get(ctxFor(t, opWait), keys[0], cluster.Linearizable)
			if err != nil {
				t.Fatal(err)
			}
			_, ok := maybe.Load(r.Value)
			for _, v := range last {
				ok = ok || v == r.Value
			}
			if !ok {
				t.Errorf("final value %q is neither a writer's last acknowledged batch %v nor one of unknown outcome", r.Value, last)
			}
			if scans.Load() == 0 {
				t.Error("no scan ran alongside the writers")
			}
			t.Logf("%d batches acknowledged, %d whole-group scans", acked.Load(), scans.Load())
		})
	}
}
