package trie

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// BenchmarkMultiWriter (issue 12, multi-writer allocation): Concurrent at
// MultiWriteMultiRead against the single-owner Trie behind a sync.RWMutex,
// side by side in one loop, both driven by GOMAXPROCS goroutines (-cpu)
// that take chunks of 64 keys from a shared cursor. Each round builds both
// from empty on the same keys, alternating every 16,384 keys (which one goes
// first alternates too), so that both see the same load of a shared
// machine; times are wall-clock per slice (parallel throughput has no
// thread-CPU equivalent), summed per side. One op is one key. Metrics:
// mw-Mkeys/s, rw-Mkeys/s and ratio = mw / rw.
//
//	op=insert  every key inserted once into an empty structure
//	op=get     lookups of every key in the full structures (built off the
//	           clock)
//
// Workloads: key_%06d ascending (keys-seq) and shuffled (keys-shuf), and the
// word list /usr/share/dict/words (words; skipped when absent).
func BenchmarkMultiWriter(b *testing.B) {
	sets := benchSets()
	const slice = 16384
	for _, set := range sets {
		for _, op := range []string{"insert", "get"} {
			b.Run("workload="+set.name+"/op="+op, func(b *testing.B) {
				if set.keys == nil {
					b.Skip("/usr/share/dict/words is absent (install wamerican-insane)")
				}
				var mt, rt time.Duration
				for done := 0; done < b.N; {
					keys := set.keys[:min(len(set.keys), b.N-done)]
					mw := ctrie{mustNewC(primitives.MultiWriteMultiRead)}
					rw := &rwtrie{t: mustNew[uint64]()}
					var impls [2]cimpl = [2]cimpl{mw, rw}
					if op == "get" {
						b.StopTimer()
						for _, im := range impls {
							parallel(len(keys), func(lo, hi int) {
								for i := lo; i < hi; i++ {
									im.insert(keys[i], uint64(i))
								}
							})
						}
						b.StartTimer()
					}
					for lo := 0; lo < len(keys); lo += slice {
						part := keys[lo:min(lo+slice, len(keys))]
						for j := range 2 {
							side := (lo/slice + j) & 1
							im := impls[side]
							t0 := time.Now()
							if op == "insert" {
								parallel(len(part), func(a, z int) {
									for i := a; i < z; i++ {
										im.insert(part[i], uint64(i))
									}
								})
							} else {
								var miss atomic.Int64
								parallel(len(part), func(a, z int) {
									for i := a; i < z; i++ {
										if _, ok := im.get(part[i]); !ok {
											miss.Add(1)
										}
									}
								})
								if miss.Load() != 0 {
									b.Fatalf("%d keys missing", miss.Load())
								}
							}
							d := time.Since(t0)
							if side == 0 {
								mt += d
							} else {
								rt += d
							}
						}
					}
					done += len(keys)
				}
				b.ReportMetric(float64(b.N)/mt.Seconds()/1e6, "mw-Mkeys/s")
				b.ReportMetric(float64(b.N)/rt.Seconds()/1e6, "rw-Mkeys/s")
				b.ReportMetric(rt.Seconds()/mt.Seconds(), "ratio")
			})
		}
	}
}

// TestMultiWriterSlots: writers on many goroutines use more than one writer
// slot (64 goroutines), grow the readers' chunk view concurrently (small chunks), and free
// nodes and value slots that other slots allocated (overlapping keys, each
// inserted and deleted by different goroutines); afterwards every node,
// byte and value slot is accounted for (checkConcurrent, summed over the
// slots), and after Reclaim the published statistics are exact.
func TestMultiWriterSlots(t *testing.T) {
	for _, g := range hammerCounts() {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			c := newC[int](t, primitives.MultiWriteMultiRead, Config{Pool: pool.Config{Alignment: 8, ChunkSize: 4096}})
			const keys = 4000
			var wg sync.WaitGroup
			for w := range g {
				wg.Go(func() {
					for i := range keys {
						k := fmt.Appendf(nil, "slot/%d", (i*7+w*13)%keys)
						if w%2 == 0 {
							if _, err := c.Insert(k, i); err != nil {
								t.Error(err)
								return
							}
						} else if _, _, err := c.Delete(k); err != nil {
							t.Error(err)
							return
						}
						if _, ok := c.Get(k); ok && i%97 == 0 {
							runtime.Gosched()
						}
					}
				})
			}
			wg.Wait()
			mustCheck(t, c)
			used := 0
			for i := range c.slots {
				if c.slots[i].w.vhanded > 0 || c.slots[i].w.core.nodes != 0 {
					used++
				}
			}
			if g >= 64 && used < 2 { // stack hashes of 64 goroutines all naming one slot: 4^-63
				t.Errorf("%d goroutines used %d writer slots of %d", g, used, len(c.slots))
			}
			if err := c.Reclaim(t.Context()); err != nil {
				t.Fatal(err)
			}
			if p := c.ReclaimStats().Pending; p != 0 {
				t.Fatalf("after Reclaim: %d pending", p)
			}
			s := c.Stats()
			nodes, bytes := 0, 0
			for i := range c.slots {
				nodes += c.slots[i].w.core.nodes
				bytes += c.slots[i].w.core.mem.bytesInUse()
			}
			if s.Nodes != nodes || s.ArenaBytes != bytes {
				t.Fatalf("Stats %+v, slots hold %d nodes, %d bytes", s, nodes, bytes)
			}
		})
	}
}
