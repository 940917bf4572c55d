package trie

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/zipora-go/zipora/internal/workload"
	"github.com/zipora-go/zipora/primitives"
)

// cworkloads are the benchmark key sets (internal/workload), each copied
// into one pointer-free buffer so the million keys cost the GC no scanning.
var cworkloads = sync.OnceValue(func() map[string][][]byte {
	pack := func(keys [][]byte) [][]byte {
		buf := make([]byte, 0, 16*len(keys))
		for _, k := range keys {
			buf = append(buf, k...)
		}
		off := 0
		for i, k := range keys {
			keys[i] = buf[off : off+len(k) : off+len(k)]
			off += len(k)
		}
		return keys
	}
	const n = 1_000_000
	return map[string][][]byte{"keys-seq": pack(workload.KeysSeq(n)), "keys-shuf": pack(workload.KeysShuf(n, 1))}
})

// Concurrent benchmarks (issue 7): the two concurrent forms side by side
// with the single-owner trie behind a sync.RWMutex, xsync.Map (unordered,
// an upper bound) and sync.Map, on the 1,000,000 keys key_%06d in ascending
// (keys-seq) and shuffled (keys-shuf) order. One op is one key; the
// GOMAXPROCS goroutines (-cpu) share the keys through an atomic cursor in
// chunks of 64.
//
//	op=insert  every key inserted once into an empty structure (b.N > 1M:
//	           a fresh structure per million, rebuilt off the clock)
//	op=batch   as insert, 64 keys per writer token / lock acquisition
//	           (onewriter: one WithWriter publication per 64 keys)
//	op=get     lookups in a full structure; reports bytes/key of the
//	           structure (Go heap after GC, arena included)
//	op=mixed   90% lookups, 10% replacing inserts, in a full structure
//
// BenchmarkConcurrentTrieReaders measures lookups by GOMAXPROCS readers
// while one more goroutine inserts and deletes other keys without pause.

type cimpl interface {
	insert(k []byte, v uint64) bool
	get(k []byte) (uint64, bool)
	del(k []byte)
	// batch inserts keys[lo:hi] under one lock / publication.
	batch(keys [][]byte, lo, hi int)
}

type ctrie struct{ c *Concurrent[uint64] }

func (t ctrie) insert(k []byte, v uint64) bool {
	added, err := t.c.Insert(k, v)
	if err != nil {
		panic(err)
	}
	return added
}
func (t ctrie) get(k []byte) (uint64, bool) { return t.c.Get(k) }
func (t ctrie) del(k []byte) {
	if _, _, err := t.c.Delete(k); err != nil {
		panic(err)
	}
}
func (t ctrie) batch(keys [][]byte, lo, hi int) {
	err := t.c.WithWriter(context.Background(), func(w *Writer[uint64]) error {
		for i := lo; i < hi; i++ {
			if _, err := w.Insert(keys[i], uint64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
}

type rwtrie struct {
	mu sync.RWMutex
	t  *Trie[uint64]
}

func (t *rwtrie) insert(k []byte, v uint64) bool {
	t.mu.Lock()
	added, err := t.t.Insert(k, v)
	t.mu.Unlock()
	if err != nil {
		panic(err)
	}
	return added
}
func (t *rwtrie) get(k []byte) (uint64, bool) {
	t.mu.RLock()
	v, ok := t.t.Get(k)
	t.mu.RUnlock()
	return v, ok
}
func (t *rwtrie) del(k []byte) {
	t.mu.Lock()
	t.t.Delete(k)
	t.mu.Unlock()
}
func (t *rwtrie) batch(keys [][]byte, lo, hi int) {
	t.mu.Lock()
	for i := lo; i < hi; i++ {
		if _, err := t.t.Insert(keys[i], uint64(i)); err != nil {
			panic(err)
		}
	}
	t.mu.Unlock()
}

// bstr views k as a string for a lookup that does not keep it.
func bstr(k []byte) string { return unsafe.String(unsafe.SliceData(k), len(k)) }

type xmap struct{ m *xsync.Map[string, uint64] }

func (m xmap) insert(k []byte, v uint64) bool {
	_, loaded := m.m.LoadAndStore(string(k), v)
	return !loaded
}
func (m xmap) get(k []byte) (uint64, bool) { return m.m.Load(bstr(k)) }
func (m xmap) del(k []byte)                { m.m.Delete(bstr(k)) }
func (m xmap) batch(keys [][]byte, lo, hi int) {
	for i := lo; i < hi; i++ {
		m.insert(keys[i], uint64(i))
	}
}

type smap struct{ m *sync.Map }

func (m smap) insert(k []byte, v uint64) bool {
	_, loaded := m.m.Swap(string(k), v)
	return !loaded
}
func (m smap) get(k []byte) (uint64, bool) {
	v, ok := m.m.Load(bstr(k))
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}
func (m smap) del(k []byte) { m.m.Delete(bstr(k)) }
func (m smap) batch(keys [][]byte, lo, hi int) {
	for i := lo; i < hi; i++ {
		m.insert(keys[i], uint64(i))
	}
}

var cimpls = []struct {
	name string
	mk   func() cimpl
}{
	{"onewriter", func() cimpl { return ctrie{mustNewC(primitives.OneWriteMultiRead)} }},
	{"multiwriter", func() cimpl { return ctrie{mustNewC(primitives.MultiWriteMultiRead)} }},
	{"rwmutex", func() cimpl { return &rwtrie{t: mustNew[uint64]()} }},
	{"xsync", func() cimpl { return xmap{xsync.NewMap[string, uint64]()} }},
	{"syncmap", func() cimpl { return smap{new(sync.Map)} }},
}

func mustNewC(l primitives.Level) *Concurrent[uint64] {
	c, err := NewConcurrent[uint64](l, Config{})
	if err != nil {
		panic(err)
	}
	return c
}

// parallel runs f(lo, hi) over [0, n) on GOMAXPROCS goroutines taking
// chunks of 64 indices from a shared cursor.
func parallel(n int, f func(lo, hi int)) {
	const chunk = 64
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				f(lo, min(lo+chunk, n))
			}
		})
	}
	wg.Wait()
}

// heapInUse is the Go heap in use after a collection (arena chunks are Go
// memory, so it includes the tries' node arenas).
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkConcurrentTrie(b *testing.B) {
	wl := cworkloads()
	for _, im := range cimpls {
		for _, wname := range []string{"keys-seq", "keys-shuf"} {
			keys := wl[wname]
			n := len(keys)
			prefix := fmt.Sprintf("impl=%s/workload=%s", im.name, wname)
			// full is built once per impl and workload for get and mixed.
			var full cimpl
			var bytesPerKey float64
			fill := func() {
				if full != nil {
					return
				}
				before := heapInUse()
				full = im.mk()
				parallel(n, func(lo, hi int) { full.batch(keys, lo, hi) })
				bytesPerKey = float64(heapInUse()-before) / float64(n)
			}
			for _, op := range []string{"insert", "batch"} {
				b.Run(prefix+"/op="+op, func(b *testing.B) {
					b.ReportAllocs()
					var elapsed time.Duration
					for done := 0; done < b.N; {
						m := min(n, b.N-done)
						s := im.mk()
						runtime.GC()
						start := time.Now()
						if op == "insert" {
							parallel(m, func(lo, hi int) {
								for i := lo; i < hi; i++ {
									s.insert(keys[i], uint64(i))
								}
							})
						} else {
							parallel(m, func(lo, hi int) { s.batch(keys, lo, hi) })
						}
						elapsed += time.Since(start)
						done += m
					}
					b.ReportMetric(float64(b.N)/elapsed.Seconds()/1e6, "Mkeys/s")
				})
			}
			b.Run(prefix+"/op=get", func(b *testing.B) {
				fill()
				b.ReportAllocs()
				b.ResetTimer()
				parallel(b.N, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						if _, ok := full.get(keys[i%n]); !ok {
							panic("missing key")
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mkeys/s")
				b.ReportMetric(bytesPerKey, "bytes/key")
			})
			b.Run(prefix+"/op=mixed", func(b *testing.B) {
				fill()
				b.ReportAllocs()
				b.ResetTimer()
				parallel(b.N, func(lo, hi int) {
					for i := lo; i < hi; i++ {
						k := keys[i%n]
						if i%10 == 0 {
							full.insert(k, uint64(i))
						} else if _, ok := full.get(k); !ok {
							panic("missing key")
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mkeys/s")
			})
			full = nil
		}
	}
}

// BenchmarkConcurrentTrieReaders: GOMAXPROCS readers look up keys of a full
// structure while one writer goroutine inserts and deletes other keys.
func BenchmarkConcurrentTrieReaders(b *testing.B) {
	keys := cworkloads()["keys-shuf"]
	n := len(keys) / 2
	for _, im := range cimpls {
		b.Run("impl="+im.name, func(b *testing.B) {
			s := im.mk()
			parallel(n, func(lo, hi int) { s.batch(keys, lo, hi) })
			var stop atomic.Bool
			var writes atomic.Int64
			var wg sync.WaitGroup
			wg.Go(func() {
				for i := 0; !stop.Load(); i++ {
					k := keys[n+i%(len(keys)-n)]
					s.insert(k, uint64(i))
					s.del(k)
					writes.Add(2)
				}
			})
			b.ReportAllocs()
			b.ResetTimer()
			parallel(b.N, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if _, ok := s.get(keys[i%n]); !ok {
						panic("missing key")
					}
				}
			})
			b.StopTimer()
			stop.Store(true)
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mreads/s")
			b.ReportMetric(float64(writes.Load())/b.Elapsed().Seconds()/1e6, "Mwrites/s")
		})
	}
}
