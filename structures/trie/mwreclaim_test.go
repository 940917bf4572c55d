package trie

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// smallChunks is a pool configuration with the smallest chunks the
// concurrent forms allow (256 KiB), so that tests see many chunks, and
// the pool package's 16-byte alignment (the thresholds below were set
// with it).
func smallChunks() Config { return Config{Pool: pool.Config{ChunkSize: 256 << 10, Alignment: 16}} }

// mwNodeStats returns the multi-writer node pool's statistics.
func (c *Concurrent[V]) mwNodeStats() pool.Stats { return c.slots[0].w.core.mem.lf.Stats() }

// runEach runs f(0..g-1) on g goroutines and waits for them.
func runEach(g int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range g {
		wg.Go(func() { f(i) })
	}
	wg.Wait()
}

// TestMultiWriterReclaimReleasesChunks: a multi-writer trie emptied by
// deletes gives every node chunk back at Reclaim (issue 19 case 8: it kept
// 4 MiB of chunks with 0 keys), and grows again afterwards into reused
// chunk slots, every key readable.
func TestMultiWriterReclaimReleasesChunks(t *testing.T) {
	const g = 4
	per := 25000
	if raceEnabled || testing.Short() {
		per = 2000
	}
	c := newC[int](t, primitives.MultiWriteMultiRead, smallChunks())
	c.mwr.noCompact = true // the trim path alone (a compaction would give the chunks back too)
	key := func(i, j int) []byte { return fmt.Appendf(nil, "k%d-%07d", i, j*7919%1000003) }
	fill := func(n int) {
		runEach(g, func(i int) {
			for j := range n {
				if _, err := c.Insert(key(i, j), i<<32|j); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	empty := func(n int) {
		runEach(g, func(i int) {
			for j := range n {
				if v, found, err := c.Delete(key(i, j)); err != nil || !found || v != i<<32|j {
					t.Errorf("Delete(%q) = %d, %v, %v", key(i, j), v, found, err)
					return
				}
			}
		})
	}
	ctx := context.Background()
	testutil.Within(t, "filling and emptying a multi-writer trie", func() {
		for round := range 3 {
			fill(per)
			if t.Failed() {
				return
			}
			full := c.Stats()
			empty(per)
			if err := c.Reclaim(ctx); err != nil {
				t.Fatal(err)
			}
			s, ps := c.Stats(), c.mwNodeStats()
			t.Logf("round %d: %d keys: arena %d bytes in use of %d; emptied and reclaimed: %+v", round, g*per, full.ArenaBytes, full.ArenaCapacity, s)
			if s.Keys != 0 || s.ArenaCapacity != 0 || ps.Capacity != 0 || ps.InUse != 0 {
				t.Fatalf("round %d: emptied trie after Reclaim: %+v, pool %+v", round, s, ps)
			}
		}
		// Refill part of it: the chunks come back, every key reads.
		fill(per / 2)
		for i := range g {
			for j := range per / 2 {
				if v, ok := c.Get(key(i, j)); !ok || v != i<<32|j {
					t.Fatalf("Get(%q) = %d, %v after regrowth", key(i, j), v, ok)
				}
			}
		}
	})
	mustCheck(t, c)
}

// TestMultiWriterReclaimHammer: readers and writers run while two other
// goroutines call Reclaim in a loop (chunks released and their slots
// reused under them). Conservation: every stable key (inserted first, never
// deleted) reads with its value throughout; every key a writer inserted
// and has not deleted reads with its value from that writer; a value read
// for any key was written for that key; at the end Len and a walk agree
// with the writers' counts, and an emptied trie gives every chunk back.
//
// With compact set every Reclaim also compacts (copies the tree into a
// fresh pool and drops the old one), so writers meet obsolete nodes and
// restart, and readers cross from one pool to the other.
//
// At OneWriteMultiRead the same runs with the writers taking the writer
// role in turn: node compactions and value moves happen under readers.
func TestMultiWriterReclaimHammer(t *testing.T) {
	for _, compact := range []bool{false, true} {
		for _, g := range []int{1, runtime.GOMAXPROCS(0), 16} {
			t.Run(fmt.Sprintf("compact=%v/g=%d", compact, g), func(t *testing.T) {
				testutil.Within(t, "a multi-writer hammer across Reclaim", func() {
					reclaimHammer(t, primitives.MultiWriteMultiRead, g, compact)
				})
			})
		}
	}
}

func TestOneWriterReclaimHammer(t *testing.T) {
	for _, g := range []int{1, runtime.GOMAXPROCS(0)} {
		t.Run(fmt.Sprintf("g=%d", g), func(t *testing.T) {
			testutil.Within(t, "a one-writer hammer across Reclaim", func() {
				reclaimHammer(t, primitives.OneWriteMultiRead, g, false)
			})
		})
	}
}

func reclaimHammer(t *testing.T, l primitives.Level, g int, compact bool) {
	stable, per, rounds := 3000, 1500, 3
	if raceEnabled || testing.Short() {
		stable, per, rounds = 400, 300, 2 // scaled down: the race detector slows it ~10x
	}
	per = max(per*4/g, 100)
	c := newC[uint64](t, l, smallChunks())
	c.mwr.force = compact // before any goroutine: read under the writer slots
	skey := func(i int) []byte { return fmt.Appendf(nil, "s%06d", i*7919%100003) }
	wkey := func(w, i int) []byte { return fmt.Appendf(nil, "w%02d-%06d", w, i*104729%1000003) }
	enc := func(kind, a, b int) uint64 { return uint64(kind)<<56 | uint64(a)<<32 | uint64(b) }
	for i := range stable {
		if _, err := c.Insert(skey(i), enc(1, 0, i)); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) { errOnce.Do(func() { firstErr = err; stop.Store(true) }) }
	var bg sync.WaitGroup
	// Readers: stable keys always present; writers' keys, when present,
	// hold their own value.
	for r := range max(g, 2) {
		bg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 3))
			for !stop.Load() {
				i := rng.IntN(stable)
				if v, ok := c.Get(skey(i)); !ok || v != enc(1, 0, i) {
					fail(fmt.Errorf("stable key %q: %#x, %v", skey(i), v, ok))
					return
				}
				w, j := rng.IntN(g), rng.IntN(per)
				if v, ok := c.Get(wkey(w, j)); ok && v&^(0xff<<24) != enc(2, w, j)&^(0xff<<24) {
					fail(fmt.Errorf("key %q holds %#x, written for another key", wkey(w, j), v))
					return
				}
			}
		})
	}
	var reclaims atomic.Int64
	for range 2 { // two at once: Reclaims serialize on the writer slots
		bg.Go(func() {
			for !stop.Load() {
				if err := c.Reclaim(context.Background()); err != nil {
					fail(err)
					return
				}
				reclaims.Add(1)
			}
		})
	}
	live := make([][]bool, g)
	var wg sync.WaitGroup
	for w := range g {
		live[w] = make([]bool, per)
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for round := range rounds {
				for j := range per {
					if stop.Load() {
						return
					}
					v := enc(2, w, j) | uint64(round)<<24
					if _, err := c.Insert(wkey(w, j), v); err != nil {
						fail(err)
						return
					}
					live[w][j] = true
					if got, ok := c.Get(wkey(w, j)); !ok || got != v {
						fail(fmt.Errorf("writer %d: own key %q: %#x, %v", w, wkey(w, j), got, ok))
						return
					}
					if k := rng.IntN(per); live[w][k] && rng.IntN(4) != 0 {
						if _, found, err := c.Delete(wkey(w, k)); err != nil || !found {
							fail(fmt.Errorf("writer %d: Delete(%q) = %v, %v", w, wkey(w, k), found, err))
							return
						}
						live[w][k] = false
					}
				}
				// Most of the round goes: whole chunks become free.
				for j := range per {
					if live[w][j] && j%8 != 0 {
						if _, found, err := c.Delete(wkey(w, j)); err != nil || !found {
							fail(fmt.Errorf("writer %d: Delete(%q) = %v, %v", w, wkey(w, j), found, err))
							return
						}
						live[w][j] = false
					}
				}
			}
		})
	}
	wg.Wait()
	stop.Store(true)
	bg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	n := stable
	for w := range g {
		for j, ok := range live[w] {
			if !ok {
				continue
			}
			n++
			if v, found := c.Get(wkey(w, j)); !found || v&^(0xff<<24) != enc(2, w, j) {
				t.Fatalf("key %q: %#x, %v", wkey(w, j), v, found)
			}
		}
	}
	if c.Len() != n {
		t.Fatalf("Len %d, want %d", c.Len(), n)
	}
	mustCheck(t, c)
	t.Logf("%d reclaims; %+v", reclaims.Load(), c.Stats())
	if compact && reclaims.Load() > 1 && c.Stats().Compactions == 0 {
		t.Fatalf("%d forced compactions, none done", reclaims.Load())
	}
	for i := range stable {
		if _, found, err := c.Delete(skey(i)); err != nil || !found {
			t.Fatalf("Delete(%q) = %v, %v", skey(i), found, err)
		}
	}
	for w := range g {
		for j, ok := range live[w] {
			if ok {
				if _, found, err := c.Delete(wkey(w, j)); err != nil || !found {
					t.Fatalf("Delete(%q) = %v, %v", wkey(w, j), found, err)
				}
			}
		}
	}
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); l == primitives.MultiWriteMultiRead && s.ArenaCapacity != 0 || s.ValueBytes > 6*valChunkBytes[uint64]() { // valWorth: 2 × (0 keys: 1 chunk) + 4
		t.Fatalf("emptied trie keeps %d bytes of node chunks and %d of values: %+v", s.ArenaCapacity, s.ValueBytes, s)
	}
	mustCheck(t, c)
}

// valChunkBytes is the size of one value chunk.
func valChunkBytes[V any]() int { return int(unsafe.Sizeof(valChunk[V]{})) }

// TestMultiWriterCompaction: after deleting 95% of the keys at random (no
// chunk is left wholly free), Reclaim compacts the node pool: capacity
// within twice the live bytes plus four chunks (issue 19 case 8's bound),
// every remaining key readable, the old pool dropped.
func TestMultiWriterCompaction(t *testing.T) {
	const g = 4
	per := 50000
	if testing.Short() {
		per = 6000 // scaled down, still over the bound before Reclaim
	}
	if raceEnabled {
		per = 2000 // the race detector slows it ~10x; Compactions still checked
	}
	c := newC[int](t, primitives.MultiWriteMultiRead, smallChunks())
	key := func(i, j int) []byte { return fmt.Appendf(nil, "k%d-%07d", i, j*7919%1000003) }
	testutil.Within(t, "compacting a multi-writer trie", func() {
		runEach(g, func(i int) {
			for j := range per {
				if _, err := c.Insert(key(i, j), i<<32|j); err != nil {
					t.Error(err)
					return
				}
			}
		})
		runEach(g, func(i int) {
			for j := range per {
				if j%20 != 0 {
					if _, found, err := c.Delete(key(i, j)); err != nil || !found {
						t.Errorf("Delete(%q) = %v, %v", key(i, j), found, err)
						return
					}
				}
			}
		})
		if t.Failed() {
			return
		}
		before := c.mwNodeStats()
		if err := c.Reclaim(context.Background()); err != nil {
			t.Fatal(err)
		}
		s, ps := c.Stats(), c.mwNodeStats()
		t.Logf("%d keys left of %d: node pool %d bytes in use of %d before Reclaim; after: %+v, pool %+v", s.Keys, g*per, before.InUse, before.Capacity, s, ps)
		chunk := int64(256 << 10)
		bound := 2*ps.InUse + 4*chunk
		if s.Compactions != 1 && before.Capacity > bound || c.dropPending || ps.Capacity > bound || int64(s.ArenaCapacity) != ps.Capacity {
			t.Fatalf("after Reclaim: %+v, pool %+v, old pool pending %v: want one compaction, capacity <= 2x in use + 4 chunks", s, ps, c.dropPending)
		}
		for i := range g {
			for j := 0; j < per; j += 20 {
				if v, ok := c.Get(key(i, j)); !ok || v != i<<32|j {
					t.Fatalf("Get(%q) = %d, %v after compaction", key(i, j), v, ok)
				}
			}
		}
		// The compacted trie takes writes again.
		runEach(g, func(i int) {
			for j := range per / 10 {
				if _, err := c.Insert(key(i+g, j), j); err != nil {
					t.Error(err)
					return
				}
			}
		})
	})
	mustCheck(t, c)
}

// mwForceCompact runs Reclaim with a compaction whatever the
// fragmentation.
func (c *Concurrent[V]) mwForceCompact() error {
	c.lockSlots()
	c.mwr.force = true
	c.unlockSlots()
	err := c.Reclaim(context.Background())
	c.lockSlots()
	c.mwr.force = false
	c.unlockSlots()
	return err
}

// TestMultiWriterCompactFaultInjection: a multi-writer compaction whose
// k-th node copy fails leaves the trie unchanged (same contents, same
// pool, valid, nodes unlocked) for every k.
func TestMultiWriterCompactFaultInjection(t *testing.T) {
	testCompactFaultInjection(t, primitives.MultiWriteMultiRead, (*Concurrent[int]).mwForceCompact)
}

// TestValueStoreCompaction: after 95% of the keys are deleted at random,
// Reclaim moves the live values down and shrinks the value directory to
// what the live keys need (issue 19 case 8: 8 MB stayed reserved for 50k
// keys after deleting 95% of 1M), at both levels; every remaining key
// reads its value, and the trie grows again.
func TestValueStoreCompaction(t *testing.T) {
	for _, l := range concurrentLevels {
		t.Run(l.String(), func(t *testing.T) {
			n := 200000
			if raceEnabled || testing.Short() {
				n = 20000
			}
			c := newC[uint64](t, l)
			key := func(i int) []byte { return fmt.Appendf(nil, "v%08d", uint64(i)*2654435761%(1<<32)) }
			keep := func(i int) bool { return i*7919%20 == 0 }
			testutil.Within(t, "compacting the value store", func() {
				const g = 4
				runEach(g, func(w int) {
					for i := w; i < n; i += g {
						if _, err := c.Insert(key(i), uint64(i)); err != nil {
							t.Error(err)
							return
						}
					}
				})
				runEach(g, func(w int) {
					for i := w; i < n; i += g {
						if !keep(i) {
							if _, found, err := c.Delete(key(i)); err != nil || !found {
								t.Errorf("Delete(%q) = %v, %v", key(i), found, err)
								return
							}
						}
					}
				})
				if t.Failed() {
					return
				}
				before := c.Stats()
				if err := c.Reclaim(context.Background()); err != nil {
					t.Fatal(err)
				}
				s := c.Stats()
				t.Logf("%d keys of %d: value store %d bytes before Reclaim, %d after (%+v)", s.Keys, n, before.ValueBytes, s.ValueBytes, s)
				live := (s.Keys + 1<<valChunkBits - 1) >> valChunkBits
				if s.ValueBytes > (2*live+4)*valChunkBytes[uint64]() {
					t.Fatalf("value store %d bytes (%d chunks) for %d keys after Reclaim, want <= %d chunks", s.ValueBytes, s.ValueBytes/valChunkBytes[uint64](), s.Keys, 2*live+4)
				}
				for i := range n {
					if v, ok := c.Get(key(i)); ok != keep(i) || ok && v != uint64(i) {
						t.Fatalf("Get(%q) = %d, %v after the value store shrank", key(i), v, ok)
					}
				}
				for i := n; i < n+n/10; i++ {
					if _, err := c.Insert(key(i), uint64(i)); err != nil {
						t.Fatal(err)
					}
				}
			})
			mustCheck(t, c)
		})
	}
}

// TestMultiWriterReclaimContextEnds: a reader inside the trie across a
// multi-writer Reclaim's second wait makes it return ctx's error with the
// old pool and the released chunk slots still held back; the reader keeps
// reading the old tree correctly, and once it has left the next Reclaim
// drops the old pool and makes the slots reusable.
func TestMultiWriterReclaimContextEnds(t *testing.T) {
	c := newC[int](t, primitives.MultiWriteMultiRead, smallChunks())
	const n = 20000
	key := func(i int) []byte { return fmt.Appendf(nil, "c%07d", i*7919%1000003) }
	for i := range n {
		if _, err := c.Insert(key(i), i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if i%50 != 0 {
			if _, found, err := c.Delete(key(i)); err != nil || !found {
				t.Fatalf("Delete(%q) = %v, %v", key(i), found, err)
			}
		}
	}
	if err := c.WaitReaders(context.Background()); err != nil {
		t.Fatal(err)
	}
	inside, resume, done := make(chan struct{}), make(chan struct{}), make(chan int)
	go func() {
		seen := 0
		for k, v := range c.All() {
			if seen == 0 {
				close(inside)
				<-resume
			}
			if string(k) != string(key(v)) {
				t.Errorf("iteration: %q holds the value of %q", k, key(v))
			}
			seen++
		}
		done <- seen
	}()
	<-inside
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	testutil.Within(t, "a Reclaim whose context ends", func() {
		// What Reclaim does after its first wait (the reader entered
		// after it): compaction and value moves, then the second wait.
		if err := c.mwReclaimAll(ctx, func() {}); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("mwReclaimAll with a reader inside = %v, want the deadline", err)
		}
	})
	if !c.dropPending || c.Stats().Compactions != 1 {
		t.Fatalf("after the cut-short Reclaim: old pool pending %v, %+v", c.dropPending, c.Stats())
	}
	close(resume)
	if got := <-done; got != n/50 {
		t.Fatalf("the reader inside saw %d keys of %d", got, n/50)
	}
	testutil.Within(t, "the next Reclaim", func() {
		if err := c.Reclaim(context.Background()); err != nil {
			t.Error(err)
		}
	})
	s := c.Stats()
	if c.dropPending || c.mwr.held || c.vc.limit.Load() != 0 || s.ArenaCapacity > 2*s.ArenaBytes+4*(256<<10) {
		t.Fatalf("after the next Reclaim: old pool pending %v, slots held %v, value limit %d, %+v", c.dropPending, c.mwr.held, c.vc.limit.Load(), s)
	}
	for i := 0; i < n; i += 50 {
		if v, ok := c.Get(key(i)); !ok || v != i {
			t.Fatalf("Get(%q) = %d, %v", key(i), v, ok)
		}
	}
	mustCheck(t, c)
}
