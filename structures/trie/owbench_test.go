package trie

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

// Issue 12 benchmarks: the one-writer form against the single-owner Trie,
// side by side in one loop: each b.N round builds both from empty on the
// same keys, alternating every 4,096 keys (so that both see the same load
// of a shared machine), and ratios come from one run. Times are the
// benchmark thread's CPU time (threadCPU), not wall-clock time: on the
// shared 2-core machine wall-clock ratios of one run varied 0.2–3.6×. One op is one key. Metrics: trie-Mkeys/s, cw-Mkeys/s and
// ratio = cw / trie.
//
//	mode=insert     per-key Concurrent.Insert (in place, published per key)
//	                vs Trie.Insert
//	mode=mw-insert  per-key Concurrent.Insert at MultiWriteMultiRead, one
//	                goroutine, vs Trie.Insert
//	mode=session    WithWriter sessions of 1,024 Writer.Insert (copy-on-write,
//	                one atomic publication per session) vs Trie.Insert
//	mode=inplace    LockWriter sessions of 1,024 Writer.InsertNow (in place,
//	                each visible at once) vs Trie.Insert
//
// Workloads: key_%06d ascending (keys-seq) and shuffled (keys-shuf), and the
// word list /usr/share/dict/words (words; skipped when absent).

// dictWords returns the distinct lines of /usr/share/dict/words, in file
// order, packed in one buffer, or nil when the file is absent.
func dictWords() [][]byte {
	f, err := os.Open("/usr/share/dict/words")
	if err != nil {
		return nil
	}
	defer f.Close()
	seen := map[string]bool{}
	var buf []byte
	var ends []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := bytes.TrimSpace(sc.Bytes())
		if len(w) == 0 || seen[string(w)] {
			continue
		}
		seen[string(w)] = true
		buf = append(buf, w...)
		ends = append(ends, len(buf))
	}
	keys := make([][]byte, len(ends))
	start := 0
	for i, e := range ends {
		keys[i] = buf[start:e:e]
		start = e
	}
	return keys
}

// benchSet is a named key set of the issue-12 benchmarks.
type benchSet struct {
	name string
	keys [][]byte // nil: absent (words without the word list)
}

// benchSets returns keys-seq, keys-shuf and words.
func benchSets() []benchSet {
	wl := cworkloads()
	return []benchSet{{"keys-seq", wl["keys-seq"]}, {"keys-shuf", wl["keys-shuf"]}, {"words", dictWords()}}
}

func BenchmarkOneWriter(b *testing.B) {
	sets := benchSets()
	const session = 1024
	insert := func(c *Concurrent[uint64], keys [][]byte) {
		for i, k := range keys {
			if _, err := c.Insert(k, uint64(i)); err != nil {
				panic(err)
			}
		}
	}
	modes := []struct {
		name  string
		run   func(c *Concurrent[uint64], keys [][]byte)
		level primitives.Level
	}{
		{name: "insert", run: insert},
		{name: "mw-insert", run: insert, level: primitives.MultiWriteMultiRead},
		{name: "session", run: func(c *Concurrent[uint64], keys [][]byte) {
			for lo := 0; lo < len(keys); lo += session {
				err := c.WithWriter(context.Background(), func(w *Writer[uint64]) error {
					for i, k := range keys[lo:min(lo+session, len(keys))] {
						if _, err := w.Insert(k, uint64(i)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					panic(err)
				}
			}
		}},
		{name: "inplace", run: func(c *Concurrent[uint64], keys [][]byte) {
			for lo := 0; lo < len(keys); lo += session {
				w, err := c.LockWriter(context.Background())
				if err != nil {
					panic(err)
				}
				for i, k := range keys[lo:min(lo+session, len(keys))] {
					if _, err := w.InsertNow(k, uint64(i)); err != nil {
						panic(err)
					}
				}
				w.Unlock()
			}
		}},
	}
	for _, set := range sets {
		for _, m := range modes {
			b.Run("workload="+set.name+"/mode="+m.name, func(b *testing.B) {
				if set.keys == nil {
					b.Skip("/usr/share/dict/words is absent (install wamerican-insane)")
				}
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				var tt, ct time.Duration
				const step = 4 * session
				for done := 0; done < b.N; {
					keys := set.keys[:min(len(set.keys), b.N-done)]
					t := mustNew[uint64]()
					l := m.level
					if l == 0 {
						l = primitives.OneWriteMultiRead
					}
					c := mustNewC(l)
					for lo := 0; lo < len(keys); lo += step {
						part := keys[lo:min(lo+step, len(keys))]
						start := threadCPU()
						for i, k := range part {
							if _, err := t.Insert(k, uint64(i)); err != nil {
								panic(err)
							}
						}
						mid := threadCPU()
						m.run(c, part)
						ct += threadCPU() - mid
						tt += mid - start
					}
					done += len(keys)
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
