package trie

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	radix "github.com/armon/go-radix"
	iradix "github.com/hashicorp/go-immutable-radix/v2"
	"github.com/tidwall/btree"

	"github.com/zipora-go/zipora/internal/testutil"
)

// Benchmark workloads (DESIGN.md): keys-seq and keys-shuf are the 1,000,000
// keys key_%06d in ascending and in a fixed pseudo-random order; paths are
// file-system style keys with long shared prefixes, in generation order.
// Values are 8-byte (uint64). One benchmark op is one key.

const benchKeys = 1_000_000

var workloads = sync.OnceValue(func() map[string]keyList {
	seq := make([][]byte, benchKeys)
	for i := range seq {
		seq[i] = fmt.Appendf(nil, "key_%06d", i)
	}
	shuf := append([][]byte(nil), seq...)
	r := rand.New(rand.NewPCG(6, 6))
	r.Shuffle(len(shuf), func(i, j int) { shuf[i], shuf[j] = shuf[j], shuf[i] })
	return map[string]keyList{"keys-seq": packKeys(seq), "keys-shuf": packKeys(shuf), "paths": packKeys(pathKeys(benchKeys / 2))}
})

// keyList holds a workload's keys in one pointer-free buffer, so that the
// million keys do not make every GC cycle of the benchmark scan a million
// pointers (which would tax every implementation alike).
type keyList struct {
	buf  []byte
	ends []uint32
}

func packKeys(keys [][]byte) keyList {
	var l keyList
	for _, k := range keys {
		l.buf = append(l.buf, k...)
		l.ends = append(l.ends, uint32(len(l.buf)))
	}
	return l
}

func (l keyList) len() int { return len(l.ends) }

func (l keyList) at(i int) []byte {
	lo := uint32(0)
	if i > 0 {
		lo = l.ends[i-1]
	}
	return l.buf[lo:l.ends[i]:l.ends[i]]
}

// pathKeys generates n distinct hierarchical paths, in an order that is
// neither sorted nor random (directories interleave).
func pathKeys(n int) [][]byte {
	tops := []string{"/usr/share/doc", "/home/engineering/projects", "/var/lib/containers/storage/overlay", "/srv/data/warehouse/partitions"}
	mids := []string{"alpha-service", "billing", "catalog-indexer", "data-pipeline", "edge-gateway", "frontend", "geo", "hr-portal", "inventory", "jobs"}
	subs := []string{"src/main/java/com/example", "internal/storage", "docs/reference", "test/fixtures/golden", "build/output", "vendor/modules"}
	out := make([][]byte, n)
	for i := range out {
		t, m, s := tops[i%len(tops)], mids[(i/len(tops))%len(mids)], subs[(i/(len(tops)*len(mids)))%len(subs)]
		out[i] = fmt.Appendf(nil, "%s/%s/%s/pkg%03d/file-%06d.dat", t, m, s, (i/7)%500, i)
	}
	return out
}

// store is the benchmark's view of an ordered map implementation.
type store interface {
	insert(k []byte, v uint64)
	get(k []byte) (uint64, bool)
	// iterate calls f for keys in order (map: unordered) until f is false.
	iterate(f func(k []byte, v uint64) bool)
}

type trieStore struct{ t *Trie[uint64] }

func (s trieStore) insert(k []byte, v uint64) {
	if _, err := s.t.Insert(k, v); err != nil {
		panic(err)
	}
}
func (s trieStore) get(k []byte) (uint64, bool) { return s.t.Get(k) }
func (s trieStore) iterate(f func([]byte, uint64) bool) {
	for k, v := range s.t.All() {
		if !f(k, v) {
			return
		}
	}
}

type mapStore map[string]uint64

func (s mapStore) insert(k []byte, v uint64)   { s[string(k)] = v }
func (s mapStore) get(k []byte) (uint64, bool) { v, ok := s[string(k)]; return v, ok }
func (s mapStore) iterate(f func([]byte, uint64) bool) {
	for k, v := range s {
		if !f(unsafe.Slice(unsafe.StringData(k), len(k)), v) {
			return
		}
	}
}

type btItem struct {
	k string
	v uint64
}

type btreeStore struct{ t *btree.BTreeG[btItem] }

func (s btreeStore) insert(k []byte, v uint64) { s.t.Set(btItem{string(k), v}) }
func (s btreeStore) get(k []byte) (uint64, bool) {
	// Safety: the lookup key is only compared, never retained.
	it, ok := s.t.Get(btItem{k: unsafe.String(unsafe.SliceData(k), len(k))})
	return it.v, ok
}
func (s btreeStore) iterate(f func([]byte, uint64) bool) {
	s.t.Scan(func(it btItem) bool { return f(unsafe.Slice(unsafe.StringData(it.k), len(it.k)), it.v) })
}

type radixStore struct{ t *radix.Tree }

func (s radixStore) insert(k []byte, v uint64) { s.t.Insert(string(k), v) }
func (s radixStore) get(k []byte) (uint64, bool) {
	// Safety: the lookup key is only compared, never retained.
	v, ok := s.t.Get(unsafe.String(unsafe.SliceData(k), len(k)))
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}
func (s radixStore) iterate(f func([]byte, uint64) bool) {
	s.t.Walk(func(k string, v any) bool { return !f(unsafe.Slice(unsafe.StringData(k), len(k)), v.(uint64)) })
}

// iradixStore bulk-loads through one transaction (mutating in place, the
// fastest way to build an immutable radix tree) and reads the committed tree.
type iradixStore struct {
	txn  *iradix.Txn[uint64]
	tree *iradix.Tree[uint64]
}

func (s *iradixStore) insert(k []byte, v uint64) { s.txn.Insert(k, v) }
func (s *iradixStore) commit()                   { s.tree = s.txn.Commit() }
func (s *iradixStore) get(k []byte) (uint64, bool) {
	return s.tree.Get(k)
}
func (s *iradixStore) iterate(f func([]byte, uint64) bool) {
	it := s.tree.Root().Iterator()
	for k, v, ok := it.Next(); ok; k, v, ok = it.Next() {
		if !f(k, v) {
			return
		}
	}
}

var impls = []struct {
	name string
	new  func() store
}{
	{"trie", func() store { return trieStore{mustNew[uint64]()} }},
	{"map", func() store { return mapStore{} }},
	{"btree", func() store {
		return btreeStore{btree.NewBTreeGOptions(func(a, b btItem) bool { return a.k < b.k }, btree.Options{NoLocks: true})}
	}},
	{"radix", func() store { return radixStore{radix.New()} }},
	{"iradix", func() store { return &iradixStore{txn: iradix.New[uint64]().Txn()} }},
}

// build inserts keys into a fresh store and returns it with the heap bytes
// it holds per key after a GC (arena chunks are heap memory too).
func build(newStore func() store, keys keyList) (store, float64) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	s := newStore()
	for i := range keys.len() {
		s.insert(keys.at(i), uint64(i))
	}
	if c, ok := s.(*iradixStore); ok {
		c.commit()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	return s, float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(keys.len())
}

// reportRates reports keys/s (wall clock) and the process CPU time per key
// since cpu0 (one op is one key).
func reportRates(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	if cpu := testutil.ProcessCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/key")
	}
}

func BenchmarkTrie(b *testing.B) {
	wl := workloads()
	for _, impl := range impls {
		for _, wname := range []string{"keys-seq", "keys-shuf", "paths"} {
			keys := wl[wname]
			prefix := fmt.Sprintf("impl=%s/workload=%s/", impl.name, wname)
			b.Run(prefix+"op=insert", func(b *testing.B) {
				b.ReportAllocs()
				s := impl.new()
				j := 0
				cpu0 := testutil.ProcessCPU()
				for i := 0; b.Loop(); i++ {
					if j == keys.len() {
						b.StopTimer()
						s, j = impl.new(), 0
						b.StartTimer()
					}
					s.insert(keys.at(j), uint64(i))
					j++
				}
				b.StopTimer()
				reportRates(b, cpu0)
				s = nil
				_, bpk := build(impl.new, keys)
				b.ReportMetric(bpk, "bytes/key")
			})
			// get and iterate share one build.
			var s store
			var bpk float64
			b.Run(prefix+"op=get", func(b *testing.B) {
				s, bpk = build(impl.new, keys)
				b.ReportAllocs()
				j := 0
				cpu0 := testutil.ProcessCPU()
				for b.Loop() {
					if j == keys.len() {
						j = 0
					}
					if _, ok := s.get(keys.at(j)); !ok {
						b.Fatalf("key %q missing", keys.at(j))
					}
					j++
				}
				reportRates(b, cpu0)
				b.ReportMetric(bpk, "bytes/key")
			})
			b.Run(prefix+"op=iterate", func(b *testing.B) {
				if s == nil {
					s, bpk = build(impl.new, keys) // op=get filtered out
					runtime.GC()
					b.ResetTimer()
				}
				b.ReportAllocs()
				n := 0
				var sum uint64
				cpu0 := testutil.ProcessCPU()
				for n < b.N {
					s.iterate(func(k []byte, v uint64) bool {
						sum += v + uint64(len(k))
						n++
						return n < b.N
					})
				}
				reportRates(b, cpu0)
				b.ReportMetric(bpk, "bytes/key")
				if sum == 0 {
					b.Fatal("iterated nothing")
				}
			})
		}
	}
}

// BenchmarkTrieSet measures the set form (V = struct{}: no value storage)
// on the same workloads, reporting the arena bytes per key of the mutable
// trie and of its frozen copy.
func BenchmarkTrieSet(b *testing.B) {
	wl := workloads()
	for _, wname := range []string{"keys-seq", "keys-shuf", "paths"} {
		keys := wl[wname]
		b.Run("workload="+wname+"/op=insert", func(b *testing.B) {
			b.ReportAllocs()
			var t *Trie[struct{}]
			j := keys.len()
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				if j == keys.len() {
					b.StopTimer()
					t, j = mustNew[struct{}](), 0
					b.StartTimer()
				}
				if _, err := t.Insert(keys.at(j), struct{}{}); err != nil {
					b.Fatal(err)
				}
				j++
			}
			b.StopTimer()
			reportRates(b, cpu0)
			full := mustNew[struct{}]()
			for i := range keys.len() {
				if _, err := full.Insert(keys.at(i), struct{}{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(full.Stats().BytesPerKey, "bytes/key")
			b.ReportMetric(full.Freeze().Stats().BytesPerKey, "frozen-bytes/key")
		})
	}
}

// frozenStore reads a Frozen copy (values packed in key order, nodes laid
// out in key order).
type frozenStore struct{ f *Frozen[uint64] }

func (s frozenStore) insert([]byte, uint64)       { panic("frozen") }
func (s frozenStore) get(k []byte) (uint64, bool) { return s.f.Get(k) }
func (s frozenStore) iterate(f func([]byte, uint64) bool) {
	for k, v := range s.f.All() {
		if !f(k, v) {
			return
		}
	}
}

// setStore is the set form: no value storage (get and iterate yield 0).
type setStore struct{ t *Trie[uint64] }

func (s setStore) insert(k []byte, v uint64) {
	if _, err := s.t.Insert(k, v); err != nil {
		panic(err)
	}
}
func (s setStore) get(k []byte) (uint64, bool) { return 1, s.t.Contains(k) }
func (s setStore) iterate(f func([]byte, uint64) bool) {
	for k := range s.t.All() {
		if !f(k, 1) {
			return
		}
	}
}

// BenchmarkTrieForms measures lookups and ordered iteration of the set form
// (WithoutValues) and of a Frozen copy, which show where the mutable map
// form's time goes on scattered layouts (the value slot fetch and node
// placement).
func BenchmarkTrieForms(b *testing.B) {
	wl := workloads()
	forms := []struct {
		name  string
		build func(keys keyList) store
	}{
		{"set", func(keys keyList) store {
			s := setStore{mustNew[uint64](Config{NoValues: true})}
			for i := range keys.len() {
				s.insert(keys.at(i), 0)
			}
			return s
		}},
		{"frozen", func(keys keyList) store {
			t := mustNew[uint64]()
			for i := range keys.len() {
				if _, err := t.Insert(keys.at(i), uint64(i)); err != nil {
					b.Fatal(err)
				}
			}
			return frozenStore{t.Freeze()}
		}},
	}
	for _, form := range forms {
		for _, wname := range []string{"keys-seq", "keys-shuf", "paths"} {
			keys := wl[wname]
			s := form.build(keys)
			b.Run(fmt.Sprintf("form=%s/workload=%s/op=get", form.name, wname), func(b *testing.B) {
				j := 0
				cpu0 := testutil.ProcessCPU()
				for b.Loop() {
					if j == keys.len() {
						j = 0
					}
					if _, ok := s.get(keys.at(j)); !ok {
						b.Fatalf("key %q missing", keys.at(j))
					}
					j++
				}
				reportRates(b, cpu0)
			})
			b.Run(fmt.Sprintf("form=%s/workload=%s/op=iterate", form.name, wname), func(b *testing.B) {
				n := 0
				cpu0 := testutil.ProcessCPU()
				for n < b.N {
					s.iterate(func([]byte, uint64) bool {
						n++
						return n < b.N
					})
				}
				reportRates(b, cpu0)
			})
		}
	}
}
