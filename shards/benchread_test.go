package shards_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/tidwall/btree"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/internal/workload"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// Ordered-read peers of BenchmarkShardedTrie: each runs the loop a Go user
// would write for a prefix query, a seek and a full scan, stopping after
// limit keys (limit < 0: no limit), and returns the keys read and a
// checksum of their values.
type readMap interface {
	prefix(p []byte, limit int) (n int, sum uint64)
	seek(k []byte, limit int) (n int, sum uint64)
	close()
}

type shardedRead struct {
	rt *testRuntime
	t  *shards.Trie[uint64]
}

func newShardedRead(keys [][]byte, cfg ...shards.TrieConfig) readMap {
	t := mustTrie[uint64](cfg...)
	rt, err := startRT(0, t)
	if err != nil {
		panic(err)
	}
	b := t.Batch()
	for i, k := range keys {
		b.Insert(k, uint64(i))
		if b.Len() == benchBatch || i == len(keys)-1 {
			if err := b.Commit(context.Background()); err != nil {
				panic(err)
			}
		}
	}
	return &shardedRead{rt, t}
}

func (s *shardedRead) prefix(p []byte, limit int) (n int, sum uint64) {
	for _, v := range s.t.Prefix(p) {
		sum += v
		if n++; n == limit {
			break
		}
	}
	return n, sum
}

func (s *shardedRead) seek(k []byte, limit int) (n int, sum uint64) {
	for _, v := range s.t.Seek(k) {
		sum += v
		if n++; n == limit {
			break
		}
	}
	return n, sum
}
func (s *shardedRead) close() { _ = s.rt.Stop(context.Background()) }

// lockedRead is one trie.Trie behind a sync.RWMutex, the read lock held
// for the query.
type lockedRead struct {
	mu sync.RWMutex
	t  *trie.Trie[uint64]
}

func newLockedRead(keys [][]byte) readMap {
	l := &lockedRead{t: newPlainTrie[uint64]()}
	for i, k := range keys {
		if _, err := l.t.Insert(k, uint64(i)); err != nil {
			panic(err)
		}
	}
	return l
}

func (l *lockedRead) prefix(p []byte, limit int) (n int, sum uint64) {
	l.mu.RLock()
	for _, v := range l.t.Prefix(p) {
		sum += v
		if n++; n == limit {
			break
		}
	}
	l.mu.RUnlock()
	return n, sum
}

func (l *lockedRead) seek(k []byte, limit int) (n int, sum uint64) {
	l.mu.RLock()
	for _, v := range l.t.Seek(k) {
		sum += v
		if n++; n == limit {
			break
		}
	}
	l.mu.RUnlock()
	return n, sum
}
func (l *lockedRead) close() {}

// btreeRead is a tidwall/btree BTreeG with its own (default) RWMutex.
type btItem struct {
	k string
	v uint64
}

type btreeRead struct{ t *btree.BTreeG[btItem] }

func newBtreeRead(keys [][]byte) readMap {
	t := btree.NewBTreeG(func(a, b btItem) bool { return a.k < b.k })
	for i, k := range keys {
		t.Set(btItem{string(k), uint64(i)})
	}
	return btreeRead{t}
}

func (s btreeRead) prefix(p []byte, limit int) (n int, sum uint64) {
	// Safety: the pivot and prefix are only compared, never retained.
	ps := unsafe.String(unsafe.SliceData(p), len(p))
	s.t.Ascend(btItem{k: ps}, func(it btItem) bool {
		if len(it.k) < len(ps) || it.k[:len(ps)] != ps {
			return false
		}
		sum += it.v
		n++
		return n != limit
	})
	return n, sum
}

func (s btreeRead) seek(k []byte, limit int) (n int, sum uint64) {
	// Safety: the pivot is only compared, never retained.
	s.t.Ascend(btItem{k: unsafe.String(unsafe.SliceData(k), len(k))}, func(it btItem) bool {
		sum += it.v
		n++
		return n != limit
	})
	return n, sum
}
func (s btreeRead) close() {}

// iradixRead is an immutable radix tree: writers would commit a new root
// under a mutex; each read loads the current root (a snapshot) once.
type iradixRead struct {
	root atomic.Pointer[iradix.Tree[uint64]]
}

func newIradixRead(keys [][]byte) readMap {
	txn := iradix.New[uint64]().Txn()
	for i, k := range keys {
		txn.Insert(k, uint64(i))
	}
	s := &iradixRead{}
	s.root.Store(txn.Commit())
	return s
}

func (s *iradixRead) prefix(p []byte, limit int) (n int, sum uint64) {
	it := s.root.Load().Root().Iterator()
	it.SeekPrefix(p)
	for _, v, ok := it.Next(); ok; _, v, ok = it.Next() {
		sum += v
		if n++; n == limit {
			break
		}
	}
	return n, sum
}

func (s *iradixRead) seek(k []byte, limit int) (n int, sum uint64) {
	it := s.root.Load().Root().Iterator()
	it.SeekLowerBound(k)
	for _, v, ok := it.Next(); ok; _, v, ok = it.Next() {
		sum += v
		if n++; n == limit {
			break
		}
	}
	return n, sum
}
func (s *iradixRead) close() {}

var readImpls = []struct {
	name string
	make func(keys [][]byte) readMap
}{
	{"sharded", func(keys [][]byte) readMap { return newShardedRead(keys) }},
	{"sharded-range", func(keys [][]byte) readMap {
		sample := workload.KeysShuf(*benchKeys, 7)[:min(*benchKeys, 4096)]
		if !bytes.HasPrefix(keys[0], []byte("key_")) {
			sample = keys // words: boundaries from the words themselves
		}
		return newShardedRead(keys, shards.TrieConfig{Router: shards.NewSampleRouter(sample)})
	}},
	{"rwmutex", newLockedRead},
	{"btree", newBtreeRead},
	{"iradix", newIradixRead},
}

// queryPrefixLen is the length of the prefix queried for a key of the
// key set: 2 bytes for words (autocomplete), "key_" and 3 digits for
// key_%06d (1000 keys each).
func queryPrefixLen(wl string) int {
	if wl == "words" {
		return 2
	}
	return 7
}

// reportCPU reports the process CPU time per op since cpu0: on the shared
// 2-core machine wall time includes the moments other engineers' jobs
// held the cores, CPU time does not (it still counts lock contention and
// cache misses).
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu := testutil.ProcessCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// benchReads runs the ordered-read ops of every read peer on keys:
// op=prefix10 and op=prefix100 (a prefix query stopped after 10 or 100
// keys, from every goroutine; one op is one query), op=seek (a lower bound
// and the next 10 keys; one op is one query) and op=scan (a full ordered
// scan from one goroutine; one op is one key). keys/query reports the keys
// a query read on average.
func benchReads(b *testing.B, wl string, keys [][]byte) {
	for _, impl := range readImpls {
		var m readMap
		get := func() readMap {
			if m == nil {
				m = impl.make(keys)
			}
			return m
		}
		prefix := "impl=" + impl.name + "/workload=" + wl
		query := func(b *testing.B, f func(m readMap, k []byte) (int, uint64)) {
			m := get()
			var next, read atomic.Int64
			var sink atomic.Uint64
			runtime.GC() // the build's garbage is not this op's
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := testutil.ProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				n, sum := 0, uint64(0)
				for pb.Next() {
					i := next.Add(1)
					c, s := f(m, keys[int(i*7919)%len(keys)])
					n += c
					sum += s
				}
				read.Add(int64(n))
				sink.Add(sum)
			})
			reportCPU(b, cpu0)
			b.ReportMetric(float64(read.Load())/float64(b.N), "keys/query")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "queries/s")
		}
		plen := queryPrefixLen(wl)
		b.Run(prefix+"/op=prefix10", func(b *testing.B) {
			query(b, func(m readMap, k []byte) (int, uint64) { return m.prefix(k[:min(len(k), plen)], 10) })
		})
		b.Run(prefix+"/op=prefix100", func(b *testing.B) {
			query(b, func(m readMap, k []byte) (int, uint64) { return m.prefix(k[:min(len(k), plen)], 100) })
		})
		b.Run(prefix+"/op=seek", func(b *testing.B) {
			query(b, func(m readMap, k []byte) (int, uint64) { return m.seek(k, 10) })
		})
		b.Run(prefix+"/op=scan", func(b *testing.B) {
			m := get()
			runtime.GC()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := testutil.ProcessCPU()
			n := 0
			for n < b.N {
				c, _ := m.seek(nil, b.N-n)
				if c == 0 {
					b.Fatal("scanned nothing")
				}
				n += c
			}
			reportCPU(b, cpu0)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
		if m != nil {
			m.close()
		}
	}
}
