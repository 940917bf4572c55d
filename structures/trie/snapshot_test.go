package trie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// collectSnap gathers an iteration into a map, checking strictly ascending
// order.
func collectSnap(t testing.TB, seq iter.Seq2[[]byte, int]) map[string]int {
	t.Helper()
	m := map[string]int{}
	var last []byte
	first := true
	for k, v := range seq {
		if !first && bytes.Compare(last, k) >= 0 {
			t.Fatalf("keys out of order: %q then %q", last, k)
		}
		first = false
		last = append(last[:0], k...)
		m[string(k)] = v
	}
	return m
}

// checkSnapshot verifies every read of s against want.
func checkSnapshot(t testing.TB, s *Snapshot[int], want map[string]int, probe [][]byte) {
	t.Helper()
	if got := collectSnap(t, s.All()); !maps.Equal(got, want) {
		t.Fatalf("snapshot All: %d keys, want %d (%s)", len(got), len(want), diffMaps(got, want))
	}
	if s.Len() != len(want) {
		t.Fatalf("snapshot Len %d, want %d", s.Len(), len(want))
	}
	for _, k := range probe {
		v, ok := s.Get(k)
		wv, wok := want[string(k)]
		if ok != wok || v != wv || s.Contains(k) != wok {
			t.Fatalf("snapshot Get(%q) = %d, %v; want %d, %v", k, v, ok, wv, wok)
		}
	}
	for _, p := range [][]byte{nil, []byte("a"), []byte("k1"), []byte("k2"), []byte("zz")} {
		got := collectSnap(t, s.Prefix(p))
		for k, v := range want {
			if bytes.HasPrefix([]byte(k), p) && got[k] != v {
				t.Fatalf("snapshot Prefix(%q) lacks %q", p, k)
			}
		}
		n := 0
		for k := range want {
			if bytes.HasPrefix([]byte(k), p) {
				n++
			}
		}
		if n != len(got) {
			t.Fatalf("snapshot Prefix(%q): %d keys, want %d", p, len(got), n)
		}
		seek := collectSnap(t, s.Seek(p))
		rng := collectSnap(t, s.Range(p, []byte("k2")))
		for k, v := range want {
			if (k >= string(p)) != (seek[k] == v && hasKey(seek, k)) {
				t.Fatalf("snapshot Seek(%q) wrong at %q", p, k)
			}
			if (k >= string(p) && k < "k2") != hasKey(rng, k) {
				t.Fatalf("snapshot Range(%q, k2) wrong at %q", p, k)
			}
		}
	}
}

func hasKey(m map[string]int, k string) bool { _, ok := m[k]; return ok }

func diffMaps(got, want map[string]int) string {
	for k, v := range want {
		if gv, ok := got[k]; !ok || gv != v {
			return fmt.Sprintf("key %q: got %d,%v want %d", k, gv, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("extra key %q=%d", k, v)
		}
	}
	return "equal"
}

// snapKeys is a key universe with shared prefixes, inline leaves, dense and
// sparse nodes.
func snapKeys(n int) [][]byte {
	ks := make([][]byte, 0, n)
	for i := range n {
		switch i % 4 {
		case 0:
			ks = append(ks, fmt.Appendf(nil, "k1/%d", i))
		case 1:
			ks = append(ks, fmt.Appendf(nil, "k2/%05d/x", i))
		case 2:
			ks = append(ks, []byte{'a', byte(i), byte(i >> 8)})
		default:
			ks = append(ks, fmt.Appendf(nil, "k1/%d/tail", i/4))
		}
	}
	return ks
}

// bothLevels runs f at each concurrent level.
func bothLevels(t *testing.T, f func(t *testing.T, l primitives.Level)) {
	for _, l := range concurrentLevels {
		t.Run(l.String(), func(t *testing.T) { f(t, l) })
	}
}

// fillSnap inserts keys[i] = i and returns the model.
func fillSnap(t testing.TB, c *Concurrent[int], keys [][]byte) map[string]int {
	t.Helper()
	m := map[string]int{}
	for i, k := range keys {
		if _, err := c.Insert(k, i); err != nil {
			t.Fatal(err)
		}
		m[string(k)] = i
	}
	return m
}

// randomWrite deletes (one time in three) or inserts v under a random key
// of keys, in c and in model.
func randomWrite(t testing.TB, c *Concurrent[int], r *rand.Rand, keys [][]byte, model map[string]int, v int) {
	t.Helper()
	k := keys[r.IntN(len(keys))]
	if r.IntN(3) == 0 {
		if _, _, err := c.Delete(k); err != nil {
			t.Fatal(err)
		}
		delete(model, string(k))
		return
	}
	if _, err := c.Insert(k, v); err != nil {
		t.Fatal(err)
	}
	model[string(k)] = v
}

func mustSnap(t testing.TB, c *Concurrent[int]) *Snapshot[int] {
	t.Helper()
	s, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSnapshotBasic(t *testing.T) { bothLevels(t, testSnapshotBasic) }

func testSnapshotBasic(t *testing.T, l primitives.Level) {
	c := newC[int](t, l)
	keys := snapKeys(3000)
	model := fillSnap(t, c, keys[:2000])
	s := mustSnap(t, c)
	old := maps.Clone(model)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 6000 {
		randomWrite(t, c, r, keys, model, -i)
	}
	checkSnapshot(t, s, old, keys)
	if got := collectSnap(t, c.All()); !maps.Equal(got, model) {
		t.Fatalf("live trie: %s", diffMaps(got, model))
	}
	st := c.Stats()
	if st.Snapshots != 1 || st.SnapshotBytes == 0 {
		t.Fatalf("Stats with a snapshot open: %d snapshots, %d bytes", st.Snapshots, st.SnapshotBytes)
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
	if _, ok := s.Get(keys[0]); ok || s.Len() != 0 || len(collectSnap(t, s.All())) != 0 {
		t.Fatal("a closed snapshot is not empty")
	}
	st = c.Stats()
	if st.Snapshots != 0 || st.SnapshotBytes != 0 {
		t.Fatalf("Stats after Close: %d snapshots, %d bytes", st.Snapshots, st.SnapshotBytes)
	}
	if open, held, _ := c.snapInfo(); open != 0 || held != 0 {
		t.Fatalf("after Close: %d open, %d held", open, held)
	}
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotMany opens and closes many snapshots interleaved with writes
// (per-key, in place, and batches) in one goroutine; each must hold the
// model as it was when taken until it is closed.
func TestSnapshotMany(t *testing.T) { bothLevels(t, testSnapshotMany) }

func testSnapshotMany(t *testing.T, l primitives.Level) {
	c := newC[int](t, l)
	keys := snapKeys(800)
	model := map[string]int{}
	type open struct {
		s    *Snapshot[int]
		want map[string]int
	}
	var snaps []open
	r := rand.New(rand.NewPCG(3, 4))
	steps := 3000
	if raceEnabled {
		steps = 1000
	}
	for step := range steps {
		switch x := r.IntN(20); {
		case x < 2:
			s, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, open{s, maps.Clone(model)})
		case x < 4 && len(snaps) > 0:
			i := r.IntN(len(snaps))
			checkSnapshot(t, snaps[i].s, snaps[i].want, keys[:50])
			snaps[i].s.Close()
			snaps = slices.Delete(snaps, i, i+1)
		case x < 5:
			err := c.WithWriter(context.Background(), func(w *Writer[int]) error {
				for range 20 {
					k := keys[r.IntN(len(keys))]
					if r.IntN(2) == 0 {
						if _, _, err := w.Delete(k); err != nil {
							return err
						}
						delete(model, string(k))
					} else {
						if _, err := w.Insert(k, step); err != nil {
							return err
						}
						model[string(k)] = step
					}
				}
				if r.IntN(3) == 0 { // a snapshot from the holder sees the batch
					s, err := w.Snapshot()
					if err != nil {
						return err
					}
					snaps = append(snaps, open{s, maps.Clone(model)})
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		case x < 6:
			if err := c.Reclaim(context.Background()); err != nil {
				t.Fatal(err)
			}
		default:
			randomWrite(t, c, r, keys, model, step)
		}
		if step%500 == 0 {
			if err := c.checkConcurrent(); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
	}
	for _, o := range snaps {
		checkSnapshot(t, o.s, o.want, keys[:50])
		o.s.Close()
	}
	if open, held, _ := c.snapInfo(); open != 0 || held != 0 {
		t.Fatalf("after closing all: %d open, %d held", open, held)
	}
	if got := collectSnap(t, c.All()); !maps.Equal(got, model) {
		t.Fatalf("live trie: %s", diffMaps(got, model))
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotAcrossReclaim keeps a snapshot open while churn fragments the
// arena and Reclaim runs: nothing the snapshot reaches moves or is freed,
// and compaction happens once it is closed.
func TestSnapshotAcrossReclaim(t *testing.T) { bothLevels(t, testSnapshotAcrossReclaim) }

func testSnapshotAcrossReclaim(t *testing.T, l primitives.Level) {
	c := newC[int](t, l, Config{Pool: pool.Config{ChunkSize: 16 << 10, Alignment: 16}})
	n := 40000
	if raceEnabled {
		n = 16000
	}
	keys := snapKeys(n)
	want := fillSnap(t, c, keys)
	s := mustSnap(t, c)
	for round := range 2 {
		for i, k := range keys {
			if i%8 != 0 {
				if _, _, err := c.Delete(k); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := c.Reclaim(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			if i%8 != 0 {
				if _, err := c.Insert(k, i+round); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := c.Reclaim(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	for i, k := range keys {
		if i%8 != 0 {
			c.Delete(k)
		}
	}
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Compactions != 0 {
		t.Fatal("compacted while a snapshot was open")
	}
	checkSnapshot(t, s, want, keys[:200])
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Compactions == 0 && l == primitives.OneWriteMultiRead {
		t.Fatalf("no compaction after the snapshot closed: %+v", c.Stats())
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotCleanup drops a snapshot without Close: the garbage
// collector closes it and the writer gives its memory back.
func TestSnapshotCleanup(t *testing.T) { bothLevels(t, testSnapshotCleanup) }

func testSnapshotCleanup(t *testing.T, l primitives.Level) {
	c := newC[int](t, l)
	keys := snapKeys(500)
	for i, k := range keys {
		c.Insert(k, i)
	}
	func() {
		s, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Len()
	}()
	for i, k := range keys {
		c.Insert(k, -i)
	}
	if c.Stats().SnapshotBytes == 0 {
		t.Fatal("nothing held for the open snapshot")
	}
	testutil.Within(t, "the cleanup of a dropped snapshot", func() {
		for c.Stats().Snapshots != 0 {
			runtime.GC()
			runtime.Gosched()
		}
	})
	c.Insert(keys[0], 1) // the writer sweeps (the cleanup may also have)
	if st := c.Stats(); st.SnapshotBytes != 0 {
		t.Fatalf("held after the cleanup: %d bytes", st.SnapshotBytes)
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotModel is the model-based test under concurrency, at both
// levels: writers (two goroutines, each owning every second key) apply ops
// (per-key writes, in-place writes under LockWriter, batches), each
// announcing its op i in its started counter before and in its applied
// counter after it; snapshotters take snapshots, keep them open while the
// writers go on, and check that, for each writer, the snapshot's keys of
// that writer equal the writer's model at one op inside [applied before,
// started after]; readers read the live trie and Reclaim runs meanwhile.
func TestSnapshotModel(t *testing.T) {
	for _, l := range concurrentLevels {
		t.Run(l.String(), func(t *testing.T) { testSnapshotModel(t, l) })
	}
}

// snapOp is one op of a model test's writer: writes to keys[keys[j]] of
// vals[j], or a delete where vals[j] < 0.
type snapOp struct {
	keys []int
	vals []int
}

// snapWriterLog is one writer's ops and counters.
type snapWriterLog struct {
	log              []snapOp // log[i]: op i (1-based), appended before started.Store(i)
	started, applied atomic.Int64
}

func testSnapshotModel(t *testing.T, level primitives.Level) {
	defer goleak.VerifyNone(t)
	const writers = 2
	ops := 10000
	if testing.Short() || raceEnabled {
		ops = 3000
	}
	c, err := NewConcurrent[int](level, Config{})
	if err != nil {
		t.Fatal(err)
	}
	keys := snapKeys(1500)
	wl := make([]*snapWriterLog, writers)
	for g := range wl {
		wl[g] = &snapWriterLog{log: make([]snapOp, 1)}
	}
	var taken atomic.Int64
	type result struct {
		lo, hi []int64
		got    map[string]int
	}
	var mu sync.Mutex
	var results []result
	done := make(chan struct{})
	var wg, wwg sync.WaitGroup
	errc := make(chan error, 16)
	for g := range writers {
		wwg.Add(1)
		go func() { // a writer of keys g, g+writers, ...
			defer wwg.Done()
			w := wl[g]
			r := rand.New(rand.NewPCG(5, uint64(g)))
			for i := 1; i <= ops || taken.Load() < 40; i++ { // at least 40 snapshots, however fast the writers
				n := 1
				kind := r.IntN(10)
				if kind == 0 && level == primitives.OneWriteMultiRead {
					n = 1 + r.IntN(30) // a batch is published at once (at MultiWriteMultiRead each write is on its own)
				}
				o := snapOp{}
				for range n {
					o.keys = append(o.keys, r.IntN(len(keys)/writers)*writers+g)
					if r.IntN(3) == 0 {
						o.vals = append(o.vals, -1)
					} else {
						o.vals = append(o.vals, i)
					}
				}
				w.log = append(w.log, o)
				w.started.Store(int64(i))
				if err := applySnapOp(c, keys, o, kind); err != nil {
					errc <- err
					return
				}
				w.applied.Store(int64(i))
			}
		}()
	}
	go func() { wwg.Wait(); close(done) }()
	for g := range 2 { // snapshotters
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			type open struct {
				s      *Snapshot[int]
				lo, hi []int64
			}
			var snaps []open
			check := func(i int) {
				o := snaps[i]
				got := collectSnap(t, o.s.All())
				if o.s.Len() != len(got) {
					errc <- fmt.Errorf("snapshot Len %d, its All yields %d keys", o.s.Len(), len(got))
				}
				k := keys[r.IntN(len(keys))]
				v, ok := o.s.Get(k)
				if gv, gok := got[string(k)]; gv != v || gok != ok {
					errc <- fmt.Errorf("snapshot Get(%q) = %d,%v, its All says %d,%v", k, v, ok, gv, gok)
				}
				mu.Lock()
				results = append(results, result{o.lo, o.hi, got})
				mu.Unlock()
				o.s.Close()
				snaps = slices.Delete(snaps, i, i+1)
			}
			for {
				select {
				case <-done:
					for len(snaps) > 0 {
						check(0)
					}
					return
				default:
				}
				if len(snaps) < 4 && r.IntN(2) == 0 {
					o := open{lo: make([]int64, writers), hi: make([]int64, writers)}
					for g, w := range wl {
						o.lo[g] = w.applied.Load()
					}
					var err error
					if o.s, err = c.Snapshot(); err != nil {
						errc <- err
						return
					}
					for g, w := range wl {
						o.hi[g] = w.started.Load()
					}
					taken.Add(1)
					snaps = append(snaps, o)
				} else if len(snaps) > 0 {
					check(r.IntN(len(snaps)))
				} else {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a live reader, and Reclaim while snapshots are open
		defer wg.Done()
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			for range c.Prefix([]byte("k1")) {
			}
			c.Get(keys[0])
			if n%8 == 0 {
				if err := c.Reclaim(context.Background()); err != nil {
					errc <- err
					return
				}
			}
		}
	}()
	testutil.Within(t, "the snapshot model test", func() { wg.Wait(); wwg.Wait() })
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(results) < 40 {
		t.Fatalf("only %d snapshots checked", len(results))
	}
	for g, w := range wl {
		idx := map[string]int{}
		for i, k := range keys {
			idx[string(k)] = i
		}
		mine := func(k string) bool { return idx[k]%writers == g }
		slices.SortFunc(results, func(a, b result) int { return int(a.lo[g] - b.lo[g]) })
		model := map[string]int{}
		at := 0
		for _, res := range results {
			for at < int(res.lo[g]) {
				at++
				applyModel(model, keys, w.log[at])
			}
			got := map[string]int{}
			for k, v := range res.got {
				if mine(k) {
					got[k] = v
				}
			}
			if !matchSomeState(model, got, keys, w.log, res.lo[g], res.hi[g]) {
				t.Fatalf("writer %d: a snapshot taken between its ops %d and %d matches no model state in between (%d of its keys)", g, res.lo[g], res.hi[g], len(got))
			}
		}
	}
	// A close that finds the writer busy leaves the sweep to the writer's
	// next publication or Reclaim (the last close may come after the last
	// write): Reclaim sweeps.
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if open, held, _ := c.snapInfo(); open != 0 || held != 0 {
		t.Fatalf("after the test and Reclaim: %d open, %d held", open, held)
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// applySnapOp applies o to c: a batch (kind 0), in place under LockWriter
// (kind 1), or Insert/Delete.
func applySnapOp(c *Concurrent[int], keys [][]byte, o snapOp, kind int) error {
	switch kind {
	case 0:
		return c.WithWriter(context.Background(), func(w *Writer[int]) error {
			for j, ki := range o.keys {
				if o.vals[j] < 0 {
					if _, _, err := w.Delete(keys[ki]); err != nil {
						return err
					}
				} else if _, err := w.Insert(keys[ki], o.vals[j]); err != nil {
					return err
				}
			}
			return nil
		})
	case 1:
		w, err := c.LockWriter(context.Background())
		if err != nil {
			return err
		}
		defer w.Unlock()
		if o.vals[0] < 0 {
			_, _, err = w.DeleteNow(keys[o.keys[0]])
		} else {
			_, err = w.InsertNow(keys[o.keys[0]], o.vals[0])
		}
		return err
	}
	var err error
	if o.vals[0] < 0 {
		_, _, err = c.Delete(keys[o.keys[0]])
	} else {
		_, err = c.Insert(keys[o.keys[0]], o.vals[0])
	}
	return err
}

// applyModel applies o to model.
func applyModel(model map[string]int, keys [][]byte, o snapOp) {
	for j, ki := range o.keys {
		if o.vals[j] < 0 {
			delete(model, string(keys[ki]))
		} else {
			model[string(keys[ki])] = o.vals[j]
		}
	}
}

// matchSomeState reports whether got equals model (the state after op lo)
// or the state after one of the ops lo+1..hi of log, tracking the keys that
// differ incrementally.
func matchSomeState(model, got map[string]int, keys [][]byte, log []snapOp, lo, hi int64) bool {
	mis := map[string]bool{}
	for k, v := range model {
		if gv, ok := got[k]; !ok || gv != v {
			mis[k] = true
		}
	}
	for k := range got {
		if _, ok := model[k]; !ok {
			mis[k] = true
		}
	}
	m := maps.Clone(model)
	for i := lo + 1; len(mis) > 0 && i <= hi; i++ {
		o := log[i]
		applyModel(m, keys, o)
		for _, ki := range o.keys {
			k := string(keys[ki])
			gv, gok := got[k]
			mv, mok := m[k]
			if gok == mok && gv == mv {
				delete(mis, k)
			} else {
				mis[k] = true
			}
		}
	}
	return len(mis) == 0
}

// TestSnapshotFault injects node allocation failures into writes made while
// snapshots are open (the copy-on-write path, cowPath, and the in-place
// and batch writes after it): a failed write leaves the trie as it was,
// the snapshots keep their contents, and the bookkeeping balances.
func TestSnapshotFault(t *testing.T) { bothLevels(t, testSnapshotFault) }

func testSnapshotFault(t *testing.T, l primitives.Level) {
	keys := faultKeys()
	r := rand.New(rand.NewPCG(8, 9))
	rounds := 40
	if raceEnabled {
		rounds = 15
	}
	for round := range rounds {
		c := newC[int](t, l)
		model := map[string]int{}
		for _, k := range keys[:len(keys)/2] {
			v := r.IntN(100)
			if _, err := c.Insert(k, v); err != nil {
				t.Fatal(err)
			}
			model[string(k)] = v
		}
		s1, _ := c.Snapshot()
		want1 := maps.Clone(model)
		for step := range 60 {
			if step == 20 {
				s1.Close()
			}
			s2, _ := c.Snapshot()
			want2 := maps.Clone(model)
			op := faultOps(r, keys, l)
			for k := 1; ; k++ {
				n := 0
				c.setFailAlloc(func() bool { n++; return n == k })
				m := maps.Clone(model)
				err := op.run(c, m)
				c.setFailAlloc(nil)
				if err != nil {
					if !errors.Is(err, errInjected) {
						t.Fatalf("round %d %s: %v", round, op.name, err)
					}
					model = m // the writes that succeeded (a batch publishes those)
					if got := collectSnap(t, c.All()); !maps.Equal(got, model) {
						t.Fatalf("round %d %s failed at allocation %d and changed the trie: %s", round, op.name, k, diffMaps(got, model))
					}
					if err := c.checkConcurrent(); err != nil {
						t.Fatalf("round %d %s failed at allocation %d: %v", round, op.name, k, err)
					}
					continue
				}
				model = m
				break
			}
			if got := collectSnap(t, c.All()); !maps.Equal(got, model) {
				t.Fatalf("round %d %s: %s", round, op.name, diffMaps(got, model))
			}
			checkSnapshot(t, s2, want2, keys)
			if step < 20 {
				checkSnapshot(t, s1, want1, keys)
			}
			s2.Close()
		}
		if err := c.checkConcurrent(); err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzSnapshot drives a trie of each form with inserts, deletes (per key
// and in batches), snapshots taken and closed, and Reclaim, from the fuzz
// input over a small alphabet (shared prefixes, empty and 0x00 keys);
// every open snapshot must keep the model it was taken at, checked with
// every read on each step that closes one.
func FuzzSnapshot(f *testing.F) {
	f.Add([]byte{0, 3, 'a', 'b', 'c', 4, 0, 0, 2, 'a', 'b', 1, 3, 'a', 'b', 'c', 5, 0, 2, 2, 'a', 'b'})
	f.Add([]byte{4, 0, 0, 0, 1, 0, 0, 1, 'x', 4, 1, 1, 0, 3, 1, 0, 5, 0, 5, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, l := range concurrentLevels {
			fuzzSnapshot(t, l, data)
		}
	})
}

func fuzzSnapshot(t *testing.T, l primitives.Level, data []byte) {
	c := newC[int](t, l)
	model := map[string]int{}
	type open struct {
		s    *Snapshot[int]
		want map[string]int
	}
	var snaps []open
	var probe [][]byte
	next := func() []byte {
		if len(data) == 0 {
			return nil
		}
		n := min(int(data[0])%9, len(data)-1)
		k := make([]byte, n)
		for i := range k {
			k[i] = []byte{0, 'a', 'b', 'c', 0xff}[data[1+i]%5]
		}
		data = data[1+n:]
		probe = append(probe, k)
		return k
	}
	for step := 0; len(data) > 0 && step < 400; step++ {
		op := data[0] % 8
		data = data[1:]
		switch op {
		case 0, 1:
			k := next()
			if _, err := c.Insert(k, step); err != nil {
				t.Fatal(err)
			}
			model[string(k)] = step
		case 2:
			k := next()
			if _, _, err := c.Delete(k); err != nil {
				t.Fatal(err)
			}
			delete(model, string(k))
		case 3:
			k1, k2 := next(), next()
			err := c.WithWriter(context.Background(), func(w *Writer[int]) error {
				if _, err := w.Insert(k1, step); err != nil {
					return err
				}
				_, _, err := w.Delete(k2)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			model[string(k1)] = step
			delete(model, string(k2))
		case 4:
			s, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			snaps = append(snaps, open{s, maps.Clone(model)})
		case 5:
			if len(snaps) > 0 {
				i := step % len(snaps)
				checkSnapshot(t, snaps[i].s, snaps[i].want, probe)
				snaps[i].s.Close()
				snaps = slices.Delete(snaps, i, i+1)
			}
		case 6:
			if err := c.Reclaim(context.Background()); err != nil {
				t.Fatal(err)
			}
		default:
			for _, o := range snaps {
				if got := collectSnap(t, o.s.All()); !maps.Equal(got, o.want) {
					t.Fatalf("step %d: snapshot changed: %s", step, diffMaps(got, o.want))
				}
			}
		}
	}
	for _, o := range snaps {
		checkSnapshot(t, o.s, o.want, probe)
		o.s.Close()
	}
	if got := collectSnap(t, c.All()); !maps.Equal(got, model) {
		t.Fatalf("live trie: %s", diffMaps(got, model))
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotCloseRacesReads closes snapshots while goroutines read them:
// every read sees the snapshot's contents whole or (after Close) nothing,
// never freed memory (the race build poisons reclaimed nodes and readers
// check them), while a writer keeps changing the trie.
func TestSnapshotCloseRacesReads(t *testing.T) { bothLevels(t, testSnapshotCloseRacesReads) }

func testSnapshotCloseRacesReads(t *testing.T, l primitives.Level) {
	c := newC[int](t, l)
	keys := snapKeys(400)
	fillSnap(t, c, keys)
	rounds := 200
	if raceEnabled {
		rounds = 50
	}
	testutil.Within(t, "snapshots closed under readers", func() {
		r := rand.New(rand.NewPCG(11, 12))
		for round := range rounds {
			want := collectSnap(t, c.All())
			s := mustSnap(t, c)
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for g := range 3 {
				wg.Go(func() {
					for i := 0; ; i++ {
						got := collectSnap(t, s.All())
						if len(got) != 0 && !maps.Equal(got, want) {
							errs <- fmt.Errorf("round %d reader %d: a partial snapshot: %s", round, g, diffMaps(got, want))
							return
						}
						k := keys[(i*7+g)%len(keys)]
						if v, ok := s.Get(k); ok && v != want[string(k)] {
							errs <- fmt.Errorf("round %d: Get(%q) = %d, want %d", round, k, v, want[string(k)])
							return
						}
						if len(got) == 0 && s.Len() == 0 {
							return // closed
						}
					}
				})
			}
			for range 20 {
				randomWrite(t, c, r, keys, maps.Clone(want), round)
			}
			s.Close()
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
				return
			}
		}
	})
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotManyOpen keeps 300 snapshots open at once, a few writes
// apart, then closes them in random order: each keeps its contents, the
// held memory is bounded by what the writes replaced and all comes back.
func TestSnapshotManyOpen(t *testing.T) { bothLevels(t, testSnapshotManyOpen) }

func testSnapshotManyOpen(t *testing.T, l primitives.Level) {
	c := newC[int](t, l)
	keys := snapKeys(600)
	model := fillSnap(t, c, keys)
	r := rand.New(rand.NewPCG(13, 14))
	type open struct {
		s    *Snapshot[int]
		want map[string]int
	}
	var snaps []open
	for i := range 300 {
		snaps = append(snaps, open{mustSnap(t, c), maps.Clone(model)})
		for range 5 {
			randomWrite(t, c, r, keys, model, i)
		}
	}
	if st := c.Stats(); st.Snapshots != 300 || st.SnapshotBytes == 0 {
		t.Fatalf("Stats: %d snapshots, %d bytes held", st.Snapshots, st.SnapshotBytes)
	}
	r.Shuffle(len(snaps), func(i, j int) { snaps[i], snaps[j] = snaps[j], snaps[i] })
	for i, o := range snaps {
		if i%10 == 0 {
			checkSnapshot(t, o.s, o.want, keys[:40])
		} else if got := collectSnap(t, o.s.All()); !maps.Equal(got, o.want) {
			t.Fatalf("snapshot %d: %s", i, diffMaps(got, o.want))
		}
		o.s.Close()
	}
	c.Insert(keys[0], 0) // the writer sweeps
	if st := c.Stats(); st.Snapshots != 0 || st.SnapshotBytes != 0 {
		t.Fatalf("after closing all: %d snapshots, %d bytes held", st.Snapshots, st.SnapshotBytes)
	}
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.checkConcurrent(); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotReadAllocs: reads of a snapshot allocate nothing (Get,
// Contains, Len, a steady-state range loop), as the live trie's do.
func TestSnapshotReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := newC[int](t, primitives.OneWriteMultiRead)
	keys := snapKeys(500)
	fillSnap(t, c, keys)
	s := mustSnap(t, c)
	defer s.Close()
	c.Insert(keys[1], -1)
	sum := 0
	if n := testing.AllocsPerRun(100, func() {
		v, _ := s.Get(keys[1])
		sum += v + s.Len()
		if s.Contains(keys[2]) {
			sum++
		}
		for _, v := range s.Prefix([]byte("k1/1")) {
			sum += v
		}
	}); n != 0 {
		t.Fatalf("%v allocations per snapshot read", n)
	}
}

// TestSnapshotLayout: the snapshot flag every allocation reads is not on
// the cache line of the statistics every multi-writer slot writes, and
// the multi-writer gate's mode word is on a line of its own.
func TestSnapshotLayout(t *testing.T) {
	var c Concurrent[int]
	const line = uintptr(primitives.CacheLineSize)
	on := unsafe.Offsetof(c.snap) + unsafe.Offsetof(c.snap.on)
	if on/line == (unsafe.Offsetof(c.pending)+7)/line {
		t.Fatalf("snap.on (offset %d) shares a cache line with the slots' statistics (pending at %d)", on, unsafe.Offsetof(c.pending))
	}
	mode := unsafe.Offsetof(c.msnap) + unsafe.Offsetof(c.msnap.mode)
	if wd := unsafe.Offsetof(c.msnap) + unsafe.Offsetof(c.msnap.wdom); wd-mode < line {
		t.Fatalf("the gate's mode word and its epoch domain are %d bytes apart", wd-mode)
	}
}

// TestSnapshotMultiWriterCompactsAfterClose: while a multi-writer snapshot
// is open Reclaim moves and releases nothing; once it is closed and its
// held memory reclaimed, the snapshot-mode writer's state is folded back
// (mwSnapFold) and Reclaim compacts again; snapshots still work after.
func TestSnapshotMultiWriterCompactsAfterClose(t *testing.T) {
	c := newC[int](t, primitives.MultiWriteMultiRead)
	keys := snapKeys(3000)
	model := fillSnap(t, c, keys)
	s := mustSnap(t, c)
	want := maps.Clone(model)
	r := rand.New(rand.NewPCG(15, 16))
	for i := range 2000 {
		randomWrite(t, c, r, keys, model, i)
	}
	if err := c.mwForceCompact(); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Compactions != 0 {
		t.Fatal("compacted while a snapshot was open")
	}
	checkSnapshot(t, s, want, keys[:100])
	s.Close()
	for range 2 { // the first frees what the snapshot held, the second may compact
		if err := c.mwForceCompact(); err != nil {
			t.Fatal(err)
		}
	}
	if c.Stats().Compactions == 0 {
		t.Fatal("no compaction after the last snapshot closed")
	}
	if got := collectSnap(t, c.All()); !maps.Equal(got, model) {
		t.Fatalf("after the compaction: %s", diffMaps(got, model))
	}
	mustCheck(t, c)
	s = mustSnap(t, c)
	want = maps.Clone(model)
	for i := range 500 {
		randomWrite(t, c, r, keys, model, -i)
	}
	checkSnapshot(t, s, want, keys[:100])
	s.Close()
	mustCheck(t, c)
}
