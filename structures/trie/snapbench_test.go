package trie

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	iradix "github.com/hashicorp/go-immutable-radix/v2"

	"github.com/zipora-go/zipora/primitives"
)

// Snapshot benchmarks (issue 20), side by side with go-immutable-radix on
// the same million keys (keys-shuf: key_%06d in a fixed random order).
// BenchmarkSnapshot/take: Snapshot then Close on a 1M-key one-writer trie
// (one op: one snapshot). BenchmarkSnapshotSideBySide: scans and per-key
// writes, see there.

// snapBench is the shared 1M-key data: a one-writer trie and an iradix
// tree over the same keys (built once per benchmark binary).
var snapBench = sync.OnceValues(func() (*Concurrent[uint64], *iradix.Tree[uint64]) {
	keys := workloads()["keys-shuf"]
	c, err := NewConcurrent[uint64](primitives.OneWriteMultiRead, Config{})
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
	c, _ := snapBench()
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
	b.Run("take/trie-mw", func(b *testing.B) { // multi-writer: enters and leaves snapshot mode each time
		keys := workloads()["keys-shuf"]
		m := mustNewC(primitives.MultiWriteMultiRead)
		for i := range keys.len() {
			if _, err := m.Insert(keys.at(i), uint64(i)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			s, err := m.Snapshot()
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}

// BenchmarkSnapshotSideBySide runs the compared sides in alternating
// slices of one loop (which goes first alternates), so that every side
// sees the same load of a shared machine; the time of each side is summed
// over its slices. One op is one key on every side. Metrics: ns/key per
// side and the ratios the goals name.
//
//	scan:  quiet (the live trie, no snapshot), snapshot (a snapshot of a
//	       second identical trie, open while 100k random writes changed
//	       it), iradix (the committed tree's iterator);
//	write: per-key overwrites of the same random keys: none (no
//	       snapshot), open (one snapshot open for the whole run), every64k
//	       (a fresh snapshot every 65,536 writes, the previous closed),
//	       iradix (Tree.Insert per key). bytes/key per side after the run
//	       (trie: arena + values including what snapshots hold; iradix: the
//	       heap of its build).
func BenchmarkSnapshotSideBySide(b *testing.B) {
	keys := workloads()["keys-shuf"]
	c, tree := snapBench()
	mkAt := func(l primitives.Level) *Concurrent[uint64] {
		c := mustNewC(l)
		for i := range keys.len() {
			if _, err := c.Insert(keys.at(i), uint64(i)); err != nil {
				b.Fatal(err)
			}
		}
		return c
	}
	mk := func() *Concurrent[uint64] { return mkAt(primitives.OneWriteMultiRead) }
	c2 := mk()
	const slice = 1 << 14
	type side struct {
		name string
		run  func(lo, hi int) // ops lo..hi-1
		t    time.Duration
	}
	loop := func(b *testing.B, sides []*side) {
		b.ResetTimer()
		for lo := 0; lo < b.N; lo += slice {
			hi := min(lo+slice, b.N)
			for j := range sides {
				sd := sides[(lo/slice+j)%len(sides)]
				t0 := time.Now()
				sd.run(lo, hi)
				sd.t += time.Since(t0)
			}
		}
		b.StopTimer()
		for _, sd := range sides {
			b.ReportMetric(float64(sd.t.Nanoseconds())/float64(b.N), sd.name+"-ns/key")
		}
	}
	b.Run("scan", func(b *testing.B) {
		s, err := c2.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		r := rand.New(rand.NewPCG(1, 1))
		for range 100_000 { // the live trie moves on: the snapshot keeps the old nodes
			i := r.IntN(keys.len())
			c2.Insert(keys.at(i), uint64(i)+1)
		}
		var sink uint64
		var curs []*Cursor[uint64]
		defer func() { // a cursor holds its trie's epoch guard: left open, it would stop reclamation for the later benchmarks
			for _, cur := range curs {
				cur.Close()
			}
		}()
		cursor := func(start func(cur *Cursor[uint64])) func(lo, hi int) {
			cur := new(Cursor[uint64])
			curs = append(curs, cur)
			start(cur)
			return func(lo, hi int) {
				for range hi - lo {
					_, v, ok := cur.Next()
					if !ok {
						start(cur)
					}
					sink += v
				}
			}
		}
		it := tree.Root().Iterator()
		sides := []*side{
			{name: "quiet", run: cursor(func(cur *Cursor[uint64]) { cur.Seek(c, nil) })},
			{name: "snapshot", run: cursor(func(cur *Cursor[uint64]) { cur.SeekSnapshot(s, nil) })},
			{name: "iradix", run: func(lo, hi int) {
				for range hi - lo {
					_, v, ok := it.Next()
					if !ok {
						it = tree.Root().Iterator()
					}
					sink += v
				}
			}},
		}
		loop(b, sides)
		b.ReportMetric(float64(sides[0].t)/float64(sides[1].t), "snapshot/quiet")
		b.ReportMetric(float64(sides[2].t)/float64(sides[1].t), "iradix/snapshot")
		runtime.KeepAlive(sink)
	})
	b.Run("write", func(b *testing.B) {
		r := rand.New(rand.NewPCG(2, 2))
		idx := make([]int32, b.N)
		for i := range idx {
			idx[i] = int32(r.IntN(keys.len()))
		}
		c3 := mk()
		open, err := c2.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		defer open.Close()
		var every *Snapshot[uint64]
		t := tree
		write := func(c *Concurrent[uint64], hook func(i int)) func(lo, hi int) {
			return func(lo, hi int) {
				for i := lo; i < hi; i++ {
					if hook != nil {
						hook(i)
					}
					if _, err := c.Insert(keys.at(int(idx[i])), uint64(i)); err != nil {
						panic(err)
					}
				}
			}
		}
		sides := []*side{
			{name: "none", run: write(c, nil)},
			{name: "open", run: write(c2, nil)},
			{name: "every64k", run: write(c3, func(i int) {
				if i%(1<<16) == 0 {
					if every != nil {
						every.Close()
					}
					every, _ = c3.Snapshot()
				}
			})},
			{name: "iradix", run: func(lo, hi int) {
				for i := lo; i < hi; i++ {
					t, _, _ = t.Insert(keys.at(int(idx[i])), uint64(i))
				}
			}},
		}
		loop(b, sides)
		if every != nil {
			every.Close()
		}
		b.ReportMetric(float64(sides[0].t)/float64(sides[1].t), "open/none")
		b.ReportMetric(float64(sides[0].t)/float64(sides[2].t), "every64k/none")
		b.ReportMetric(float64(sides[3].t)/float64(sides[1].t), "iradix/open")
		for _, x := range []struct {
			name string
			c    *Concurrent[uint64]
		}{{"none", c}, {"open", c2}} {
			st := x.c.Stats()
			b.ReportMetric(float64(st.ArenaBytes+st.ValueBytes)/float64(st.Keys), x.name+"-bytes/key")
		}
		b.ReportMetric(iradixBytes(), "iradix-bytes/key")
	})
	b.Run("write-mw", func(b *testing.B) {
		// The multi-writer form, GOMAXPROCS goroutines (-cpu) overwriting
		// random keys: none (no snapshot, writers in parallel), open (one
		// snapshot open: writers serialize, snapmw.go).
		r := rand.New(rand.NewPCG(3, 3))
		idx := make([]int32, b.N)
		for i := range idx {
			idx[i] = int32(r.IntN(keys.len()))
		}
		m1, m2 := mkAt(primitives.MultiWriteMultiRead), mkAt(primitives.MultiWriteMultiRead)
		open, err := m2.Snapshot()
		if err != nil {
			b.Fatal(err)
		}
		defer open.Close()
		write := func(c *Concurrent[uint64]) func(lo, hi int) {
			return func(lo, hi int) {
				parallel(hi-lo, func(a, z int) {
					for i := lo + a; i < lo+z; i++ {
						if _, err := c.Insert(keys.at(int(idx[i])), uint64(i)); err != nil {
							panic(err)
						}
					}
				})
			}
		}
		sides := []*side{{name: "none", run: write(m1)}, {name: "open", run: write(m2)}}
		loop(b, sides)
		b.ReportMetric(float64(sides[0].t)/float64(sides[1].t), "open/none")
	})
}
