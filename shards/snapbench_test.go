package shards_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkTrieSnapshot (issue 20): the consistent cut of a sharded trie
// (one shard per worker, the zero runtime Config: GOMAXPROCS workers) of
// 100k keys, taken while writers run, and what it costs them. One op is
// one Snapshot then Close.
//
//	writers=0  a quiet trie: the cut alone
//	writers=N  N goroutines insert random keys without pause meanwhile
//
// Metrics: pause-us (mean writer pause: from the first shard's word held
// to the release, TrieSnapshot.Pause), pause-max-us and pause-p99-us, and
// writes/s of the writers during the run beside writes/s of the same
// writers in a run of the same length with no snapshots (base-writes/s),
// so that the cost of the cuts to the writers shows as their ratio.
func BenchmarkTrieSnapshot(b *testing.B) {
	const n = 100_000
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key_%06d", i)
	}
	for _, writers := range []int{0, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			tr := mustTrie[uint64]()
			rt, err := startRT(0, tr)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Stop(context.Background())
			ctx := context.Background()
			for i, k := range keys {
				if _, err := tr.Insert(ctx, k, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
			// writes runs the writers until stop closes and returns their
			// writes.
			writes := func(stop <-chan struct{}) func() int64 {
				var total atomic.Int64
				var wg sync.WaitGroup
				for g := range writers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						r := rand.New(rand.NewPCG(uint64(g), 1))
						var c int64
						for {
							select {
							case <-stop:
								total.Add(c)
								return
							default:
							}
							for range 64 {
								i := r.IntN(n)
								if _, err := tr.Insert(ctx, keys[i], uint64(c)); err != nil {
									panic(err)
								}
								c++
							}
						}
					}()
				}
				return func() int64 { wg.Wait(); return total.Load() }
			}
			pauses := make([]time.Duration, 0, b.N)
			stop := make(chan struct{})
			wait := writes(stop)
			b.ResetTimer()
			for b.Loop() {
				ts, err := tr.Snapshot(ctx)
				if err != nil {
					b.Fatal(err)
				}
				pauses = append(pauses, ts.Pause())
				ts.Close()
			}
			el := b.Elapsed()
			close(stop)
			w := wait()
			b.StopTimer()
			if writers > 0 {
				stop := make(chan struct{})
				wait := writes(stop)
				<-time.After(el) // the base run lasts as long as the measured one
				close(stop)
				base := wait()
				b.ReportMetric(float64(w)/el.Seconds(), "writes/s")
				b.ReportMetric(float64(base)/el.Seconds(), "base-writes/s")
			}
			slices.Sort(pauses)
			var sum time.Duration
			for _, p := range pauses {
				sum += p
			}
			us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
			b.ReportMetric(us(sum)/float64(len(pauses)), "pause-us")
			b.ReportMetric(us(pauses[len(pauses)*99/100]), "pause-p99-us")
			b.ReportMetric(us(pauses[len(pauses)-1]), "pause-max-us")
		})
	}
}
