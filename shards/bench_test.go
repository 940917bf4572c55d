package shards_test

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/zipora-go/zipora/internal/workload"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

var benchKeys = flag.Int("bench.keys", 1_000_000, "keys in the shards benchmark workloads")

// benchMap is one implementation under benchmark: a concurrent ordered (or,
// for xsync, unordered) map from keys to uint64.
type benchMap interface {
	insert(key []byte, v uint64)
	batch(keys [][]byte, v uint64) // insert keys as one batch
	get(key []byte) (uint64, bool)
	close()
}

type shardedImpl struct {
	rt      *testRuntime
	t       *shards.Trie[uint64]
	batches sync.Pool // of *shards.Batch[uint64]: reused, as a caller would
}

// newSharded registers a sharded trie as a runtime with the zero Config
// would (one shard per GOMAXPROCS), through the tests' testRuntime.
func newSharded(cfg ...shards.TrieConfig) benchMap {
	t := mustTrie[uint64](cfg...)
	rt, err := startRT(0, t)
	if err != nil {
		panic(err)
	}
	return &shardedImpl{rt: rt, t: t}
}

func (s *shardedImpl) insert(k []byte, v uint64) {
	if _, err := s.t.Insert(context.Background(), k, v); err != nil {
		panic(err)
	}
}

func (s *shardedImpl) batch(keys [][]byte, v uint64) {
	b, _ := s.batches.Get().(*shards.Batch[uint64])
	if b == nil {
		b = s.t.Batch()
	}
	defer s.batches.Put(b)
	for _, k := range keys {
		b.Insert(k, v)
	}
	if err := b.Commit(context.Background()); err != nil {
		panic(err)
	}
}
func (s *shardedImpl) get(k []byte) (uint64, bool) { return s.t.Get(k) }
func (s *shardedImpl) close()                      { _ = s.rt.Stop(context.Background()) }

// rwmutexImpl is one single-owner trie behind a sync.RWMutex.
type rwmutexImpl struct{ l *lockedShard[uint64] }

func (r rwmutexImpl) insert(k []byte, v uint64) {
	if _, err := r.l.Insert(k, v); err != nil {
		panic(err)
	}
}

func (r rwmutexImpl) batch(keys [][]byte, v uint64) {
	if _, err := r.l.InsertBatch(keys, v); err != nil {
		panic(err)
	}
}
func (r rwmutexImpl) get(k []byte) (uint64, bool) { return r.l.Get(k) }
func (r rwmutexImpl) close()                      {}

// multiwriterImpl is one unsharded multi-writer concurrent trie written by
// every goroutine directly.
type multiwriterImpl struct{ c *trie.Concurrent[uint64] }

func newMultiwriter() benchMap {
	c, err := trie.NewConcurrent[uint64](primitives.MultiWriteMultiRead, trie.Config{})
	if err != nil {
		panic(err)
	}
	return multiwriterImpl{c}
}

func (m multiwriterImpl) insert(k []byte, v uint64) {
	if _, err := m.c.Insert(k, v); err != nil {
		panic(err)
	}
}

func (m multiwriterImpl) batch(keys [][]byte, v uint64) {
	for _, k := range keys {
		m.insert(k, v)
	}
}
func (m multiwriterImpl) get(k []byte) (uint64, bool) { return m.c.Get(k) }
func (m multiwriterImpl) close()                      {}

type xsyncImpl struct{ m *xsync.Map[string, uint64] }

func (x xsyncImpl) insert(k []byte, v uint64) { x.m.Store(string(k), v) }
func (x xsyncImpl) batch(keys [][]byte, v uint64) {
	for _, k := range keys {
		x.m.Store(string(k), v)
	}
}
func (x xsyncImpl) get(k []byte) (uint64, bool) { return x.m.Load(string(k)) }
func (x xsyncImpl) close()                      {}

var benchImpls = []struct {
	name string
	make func() benchMap
}{
	{"sharded", func() benchMap { return newSharded() }},
	{"sharded-range", func() benchMap {
		// Shard boundaries from a sample of the workload's keys.
		sample := workload.KeysShuf(*benchKeys, 7)[:min(*benchKeys, 4096)]
		return newSharded(shards.TrieConfig{Router: shards.NewSampleRouter(sample)})
	}},
	{"multiwriter", newMultiwriter},
	{"rwmutex", func() benchMap { return rwmutexImpl{newLockedShard[uint64]()} }},
	{"xsync", func() benchMap { return xsyncImpl{xsync.NewMap[string, uint64]()} }},
}

const benchBatch = 1024

// benchInserts inserts one key per call from parallelism goroutines per P;
// one op is one key.
func benchInserts(b *testing.B, mk func() benchMap, keys [][]byte, parallelism int) {
	m := mk()
	defer m.close()
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			m.insert(keys[int(i)%len(keys)], uint64(i))
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// benchInsertReaders: 2 goroutines insert b.N keys between them while 8
// goroutines Get without pause until the inserts are done (how a new user
// tries a concurrent index). keys/s counts the inserts, gets/s the reads.
// The writers start first and the readers once both run: 8 CPU-bound
// readers started first would hold both Ps for whole scheduler quanta
// before a writer ran at all, and a short run would measure only that.
func benchInsertReaders(b *testing.B, mk func() benchMap, keys [][]byte) {
	m := mk()
	defer m.close()
	const writers, readers = 2, 8
	var next, gets atomic.Int64
	var stop atomic.Bool
	var rg, wg, running sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	running.Add(writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			running.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				m.insert(keys[int(i)%len(keys)], uint64(i))
			}
		}()
	}
	running.Wait()
	for r := range readers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			n := int64(0)
			for i := r; !stop.Load(); i += 7 {
				m.get(keys[i%len(keys)])
				n++
			}
			gets.Add(n)
		}()
	}
	wg.Wait()
	b.StopTimer()
	stop.Store(true)
	rg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	b.ReportMetric(float64(gets.Load())/b.Elapsed().Seconds(), "gets/s")
}

// benchLatency: one goroutine inserts one key at a time into an otherwise
// idle map (for the sharded trie: its shards alone, as they are under an
// idle runtime, whose workers are not on the write path) and reports the
// p50 and p90 latency of a single Insert.
func benchLatency(b *testing.B, mk func() benchMap, keys [][]byte) {
	m := mk()
	defer m.close()
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		m.insert(keys[i%len(keys)], uint64(i))
		lat[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[b.N/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[b.N*9/10].Nanoseconds()), "p90-ns")
}

// benchWorkloads are the key sets: key_%06d ascending and shuffled, and a
// real word list when one is installed.
func benchWorkloads(b *testing.B) map[string][][]byte {
	wls := map[string][][]byte{}
	for _, wl := range []string{"keys-seq", "keys-shuf"} {
		wls[wl] = workload.Named(wl, *benchKeys)
	}
	if words, _, err := workload.Words(*benchKeys); err == nil {
		wls["words"] = words
	} else {
		b.Logf("workload=words skipped: %v", err)
	}
	return wls
}

// BenchmarkShardedTrie: every implementation on the same keys, side by side.
// op=insert: one key per call from every goroutine (RunParallel);
// op=insert64: the same from 64 goroutines; op=insert-readers: 2 inserting
// goroutines while 8 read without pause; op=latency: single inserts into an
// idle map, p50/p90; op=batch: batches of 1024 keys; op=get: lookups in a
// full map; op=mixed: 90% get, 10% insert. keys/s counts keys, whatever the
// op. The ordered reads (op=prefix10, prefix100, seek, scan) run after
// the writes of each key set, against their own peers (benchReads).
func BenchmarkShardedTrie(b *testing.B) {
	wls := benchWorkloads(b)
	for _, wl := range []string{"keys-seq", "keys-shuf", "words"} {
		keys, ok := wls[wl]
		if !ok {
			continue
		}
		for _, impl := range benchImpls {
			prefix := fmt.Sprintf("impl=%s/workload=%s", impl.name, wl)
			b.Run(prefix+"/op=insert", func(b *testing.B) { benchInserts(b, impl.make, keys, 1) })
			b.Run(prefix+"/op=insert64", func(b *testing.B) {
				benchInserts(b, impl.make, keys, (64+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))
			})
			b.Run(prefix+"/op=insert-readers", func(b *testing.B) { benchInsertReaders(b, impl.make, keys) })
			b.Run(prefix+"/op=latency", func(b *testing.B) { benchLatency(b, impl.make, keys) })
			b.Run(prefix+"/op=batch", func(b *testing.B) {
				m := impl.make()
				defer m.close()
				var next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				// One op = one key; each goroutine commits whole batches.
				b.RunParallel(func(pb *testing.PB) {
					buf := make([][]byte, 0, benchBatch)
					for pb.Next() {
						i := next.Add(1) - 1
						buf = append(buf, keys[int(i)%len(keys)])
						if len(buf) == benchBatch {
							m.batch(buf, uint64(i))
							buf = buf[:0]
						}
					}
					if len(buf) > 0 {
						m.batch(buf, 0)
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
			})
			// get and mixed share one full map, built once (b.Run calls its
			// function once per round; rebuilding 1M keys each time would
			// dominate the run).
			var full benchMap
			var bytesPerKey float64
			build := func() {
				if full != nil {
					return
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				full = impl.make()
				for i := 0; i < len(keys); i += benchBatch {
					full.batch(keys[i:min(i+benchBatch, len(keys))], uint64(i))
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				bytesPerKey = float64(after.HeapInuse-before.HeapInuse) / float64(len(keys))
			}
			b.Run(prefix+"/op=get", func(b *testing.B) {
				build()
				var next atomic.Int64
				var missing atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					miss := 0
					for pb.Next() {
						i := next.Add(1)
						if _, ok := full.get(keys[int(i)%len(keys)]); !ok {
							miss++
						}
					}
					missing.Add(int64(miss))
				})
				b.StopTimer()
				if missing.Load() != 0 {
					b.Fatalf("%d lookups missed", missing.Load())
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
				b.ReportMetric(bytesPerKey, "bytes/key")
			})
			b.Run(prefix+"/op=mixed", func(b *testing.B) {
				build()
				var next atomic.Int64
				b.ReportAllocs()
				b.ResetTimer()
				// 90% lookups, 10% inserts that replace existing keys.
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := next.Add(1)
						k := keys[int(i*7919)%len(keys)]
						if i%10 == 0 {
							full.insert(k, uint64(i))
						} else {
							full.get(k)
						}
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
			})
			if full != nil {
				full.close()
			}
		}
		benchReads(b, wl, keys)
	}
}
