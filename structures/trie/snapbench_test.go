package trie

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"github.com/zipora-go/zipora/primitives"
)

// Snapshot benchmarks (issue 20), side by side with go-immutable-radix on
// the same million keys (keys-shuf: key_%06d in a fixed random order):
//
//   - take: Snapshot then Close on a 1M-key one-writer trie (one op: one
//     snapshot);
//   - scan: a full ordered scan (one op: one key) of the quiet trie, of a
//     snapshot open while 100k writes changed the live trie after it, and
//     of iradix's committed tree (its root iterator);
//   - write: per-key overwrites of random existing keys (one op: one
//     write): no snapshot, one snapshot open for the whole run, a fresh
//     snapshot every 64k writes (the previous closed: a periodic save),
//     and iradix's per-key write (Tree.Insert: a transaction committed
//     per key, which is what gives it snapshots); bytes/key is the memory
//     after the run (trie: arena + values, held snapshot memory included;
//     iradix: heap growth over the build, both trees of the last write).

// snapBench is the shared 1M-key data: a one-writer trie and an iradix
// tree over the same keys (built once per benchmark binary).
var snapBench = sync.OnceValues(func() (*Concurrent[uint64], *iradix.Tree[uint64]) {
	keys := workloads()["keys-shuf"]
	c, err := NewConcurrent[uint64](primitives.OneWriteMultiRead)
	if err != nil {
		panic(err)
	}
	txn := iradix.New[uint64]().Txn()
	for i := range keys.len() {
		if _, err := c.Insert(keys.at(i), uint64(i)); err != nil {
			panic(err)
		}
		txn.Insert(keys.at(i), uint64(i))
	}
	return c, txn.Commit()
})

// iradixBytes is the heap an iradix tree of the million keys holds per key.
var iradixBytes = sync.OnceValue(func() float64 {
	_, b := build(func() store { return &iradixStore{txn: iradix.New[uint64]().Txn()} }, workloads()["keys-shuf"])
	return b
})

func BenchmarkSnapshot(b *testing.B) {
	keys := workloads()["keys-shuf"]
	c, tree := snapBench()
	b.Run("take/trie", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s, err := c.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	scan := func(b *testing.B, all func(yield func([]byte, uint64) bool)) {
		b.ReportAllocs()
		n, sink := 0, uint64(0)
		for n < b.N {
			all(func(k []byte, v uint64) bool {
				sink += v
				n++
				return n < b.N
			})
		}
		runtime.KeepAlive(sink)
	}
	b.Run("scan/trie-quiet", func(b *testing.B) { scan(b, c.All()) })
	b.Run("scan/trie-snapshot", func(b *testing.B) {
		s, err := c.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		r := rand.New(rand.NewPCG(1, 1))
		for range 100_000 { // the live trie moves on: the snapshot keeps the old nodes
			i := r.IntN(keys.len())
			c.Insert(keys.at(i), uint64(i)+1)
		}
		b.ResetTimer()
		scan(b, s.All())
	})
	b.Run("scan/iradix", func(b *testing.B) {
		scan(b, func(yield func([]byte, uint64) bool) {
			it := tree.Root().Iterator()
			for k, v, ok := it.Next(); ok && yield(k, v); k, v, ok = it.Next() {
			}
		})
	})
	write := func(b *testing.B, every int) {
		b.ReportAllocs()
		var s *Snapshot[uint64]
		r := rand.New(rand.NewPCG(2, 2))
		n := 0
		for b.Loop() {
			if every > 0 && n%every == 0 {
				if s != nil {
					s.Close()
				}
				var err error
				if s, err = c.Snapshot(); err != nil {
					b.Fatal(err)
				}
			}
			n++
			i := r.IntN(keys.len())
			if _, err := c.Insert(keys.at(i), uint64(n)); err != nil {
				b.Fatal(err)
			}
		}
		st := c.Stats()
		b.ReportMetric(float64(st.ArenaBytes+st.ValueBytes)/float64(st.Keys), "bytes/key")
		b.ReportMetric(float64(st.SnapshotBytes)/float64(st.Keys), "snap-bytes/key")
		if s != nil {
			s.Close()
		}
	}
	b.Run("write/trie-none", func(b *testing.B) { write(b, 0) })
	b.Run("write/trie-open", func(b *testing.B) { write(b, 1<<62) })
	b.Run("write/trie-every64k", func(b *testing.B) { write(b, 1<<16) })
	b.Run("write/iradix", func(b *testing.B) {
		b.ReportAllocs()
		t := tree
		r := rand.New(rand.NewPCG(2, 2))
		n := 0
		for b.Loop() {
			n++
			i := r.IntN(keys.len())
			t, _, _ = t.Insert(keys.at(i), uint64(n))
		}
		b.ReportMetric(iradixBytes(), "bytes/key")
	})
}
