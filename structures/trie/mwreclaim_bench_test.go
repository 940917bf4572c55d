package trie

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// BenchmarkMemoryAfterDeletes (issue 19 case 8): what stays reserved
// after 95% of the keys are deleted at random, for Concurrent at
// MultiWriteMultiRead (after Reclaim) and for what a Go user would write
// instead, a map[string]uint64 behind a sync.RWMutex (after runtime.GC; Go
// maps never shrink), side by side in one run. Each op builds both from
// 200k keys by 4 goroutines, deletes 95%, gives memory back and measures
// the Go heap in use (runtime.MemStats.HeapAlloc after a GC, less the
// baseline before building). Metrics: trie-B/key and map-B/key (heap bytes
// per live key), ratio = trie / map, reclaim-ms (the trie's Reclaim).
func BenchmarkMemoryAfterDeletes(b *testing.B) {
	const n, g = 200000, 4
	key := func(i int) string { return fmt.Sprintf("key-%08d", uint64(i)*2654435761%(1<<32)) }
	keys := make([]string, n)
	for i := range keys {
		keys[i] = key(i)
	}
	gone := func(i int) bool { return i%20 != 0 }
	live := 0
	for i := range n {
		if !gone(i) {
			live++
		}
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	each := func(f func(i int)) {
		var wg sync.WaitGroup
		for w := range g {
			wg.Go(func() {
				for i := w; i < n; i += g {
					f(i)
				}
			})
		}
		wg.Wait()
	}
	var trieB, mapB float64
	b.ReportAllocs()
	b.StopTimer() // only Reclaim is timed
	for range b.N {
		base := heap()
		c := mustNewC(primitives.MultiWriteMultiRead)
		each(func(i int) {
			if _, err := c.Insert([]byte(keys[i]), uint64(i)); err != nil {
				panic(err)
			}
		})
		each(func(i int) {
			if gone(i) {
				c.Delete([]byte(keys[i]))
			}
		})
		b.StartTimer()
		if err := c.Reclaim(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		trieB += float64(heap() - base)
		runtime.KeepAlive(c)
		c = nil

		base = heap()
		var mu sync.RWMutex
		m := map[string]uint64{}
		each(func(i int) {
			k := string([]byte(keys[i])) // the map owns its key, as the trie does
			mu.Lock()
			m[k] = uint64(i)
			mu.Unlock()
		})
		each(func(i int) {
			if gone(i) {
				mu.Lock()
				delete(m, keys[i])
				mu.Unlock()
			}
		})
		mapB += float64(heap() - base)
		runtime.KeepAlive(m)
	}
	runs := float64(b.N)
	reclaimNs := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(trieB/runs/float64(live), "trie-B/key")
	b.ReportMetric(mapB/runs/float64(live), "map-B/key")
	b.ReportMetric(trieB/mapB, "ratio")
	b.ReportMetric(reclaimNs/runs/1e6, "reclaim-ms")
}
