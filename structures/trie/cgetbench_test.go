package trie

import (
	"runtime"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

// BenchmarkConcurrentGet: lookups in a full Concurrent (both forms) against
// the single-owner Trie's, side by side in one loop (alternating every
// 4,096 keys, thread CPU time as in BenchmarkOneWriter), one goroutine, on
// the million keys key_%06d ascending (keys-seq) and shuffled (keys-shuf).
// Metrics: trie-Mkeys/s, cw-Mkeys/s, ratio = cw / trie.
func BenchmarkConcurrentGet(b *testing.B) {
	wl := cworkloads()
	for _, wname := range []string{"keys-seq", "keys-shuf"} {
		keys := wl[wname]
		t := mustNew[uint64]()
		for i, k := range keys {
			if _, err := t.Insert(k, uint64(i)); err != nil {
				b.Fatal(err)
			}
		}
		for _, l := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
			c := mustNewC(l)
			for i, k := range keys {
				if _, err := c.Insert(k, uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("workload="+wname+"/level="+l.String(), func(b *testing.B) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var tt, ct time.Duration
				const step = 4096
				for done := 0; done < b.N; done += step {
					lo := done % len(keys)
					part := keys[lo:min(lo+step, len(keys))]
					start := threadCPU()
					for _, k := range part {
						if _, ok := t.Get(k); !ok {
							b.Fatal("missing key")
						}
					}
					mid := threadCPU()
					for _, k := range part {
						if _, ok := c.Get(k); !ok {
							b.Fatal("missing key")
						}
					}
					ct += threadCPU() - mid
					tt += mid - start
				}
				tr := float64(b.N) / tt.Seconds() / 1e6
				cr := float64(b.N) / ct.Seconds() / 1e6
				b.ReportMetric(tr, "trie-Mkeys/s")
				b.ReportMetric(cr, "cw-Mkeys/s")
				b.ReportMetric(cr/tr, "ratio")
			})
		}
	}
}
