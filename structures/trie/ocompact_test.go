package trie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// TestChurnCompaction: insert/delete churn at OneWriteMultiRead with
// concurrent readers (that check every value they find), then Reclaim:
// the arena's capacity comes back to at most twice the live nodes' bytes
// plus four chunks (issue 12: 4 MiB with the default chunks; 256 KiB
// chunks here, so that a short churn fragments past the bound), through a
// compaction when the churn left it fragmented; the trie keeps every live key. Three cycles, so that both
// arenas serve as the compaction target and an arena is reused after its
// reset.
func TestChurnCompaction(t *testing.T) {
	c := newC[[]byte](t, primitives.OneWriteMultiRead, Config{Pool: pool.Config{Alignment: 8, ChunkSize: 256 << 10}})
	chunk := int(c.mask + 1)
	live, rounds := 10000, 4
	if raceEnabled || testing.Short() {
		live, rounds = 2000, 4
	}
	// Keys of varied lengths spread nodes over many size classes.
	key := func(i int) []byte {
		return fmt.Appendf(nil, "churn/%d/%s/%d", i%97, bytes.Repeat([]byte{'x'}, i%23), i)
	}
	for i := range live {
		if _, err := c.Insert(key(i), key(i)); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var next atomic.Int64 // the lowest live index
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for !stop.Load() {
				i := int(next.Load()) + rng.IntN(live)
				if v, ok := c.Get(key(i)); ok && !bytes.Equal(v, key(i)) {
					t.Errorf("Get(%q) = %q", key(i), v)
					return
				}
			}
		})
	}
	compactions := 0
	for cycle := range 3 {
		for round := range rounds {
			base := (cycle*rounds + round) * live
			for i := base; i < base+live; i++ {
				// Replace the live window: delete the oldest key, insert a
				// new one; a third of the deletes go through batches.
				if i%3 == 0 {
					err := c.WithWriter(context.Background(), func(w *Writer[[]byte]) error {
						if _, found, err := w.Delete(key(i)); err != nil || !found {
							return fmt.Errorf("Delete(%q) = %v, %v", key(i), found, err)
						}
						_, err := w.Insert(key(i+live), key(i+live))
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				} else {
					if _, found, err := c.Delete(key(i)); err != nil || !found {
						t.Fatalf("Delete(%q) = %v, %v", key(i), found, err)
					}
					if _, err := c.Insert(key(i+live), key(i+live)); err != nil {
						t.Fatal(err)
					}
				}
				next.Store(int64(i + 1))
			}
		}
		before := c.Stats()
		if err := c.Reclaim(context.Background()); err != nil {
			t.Fatal(err)
		}
		s := c.Stats()
		t.Logf("cycle %d: capacity %d, in use %d before Reclaim; after: capacity %d, in use %d, compactions %d",
			cycle, before.ArenaCapacity, before.ArenaBytes, s.ArenaCapacity, s.ArenaBytes, s.Compactions)
		if s.ArenaCapacity > 2*s.ArenaBytes+4*chunk {
			t.Fatalf("cycle %d: capacity %d > 2 × %d live + 4 chunks of %d after Reclaim", cycle, s.ArenaCapacity, s.ArenaBytes, chunk)
		}
		compactions = s.Compactions
		if s.Keys != live {
			t.Fatalf("Len %d, want %d", s.Keys, live)
		}
		mustCheck(t, c)
	}
	stop.Store(true)
	wg.Wait()
	if compactions == 0 && !raceEnabled {
		t.Fatal("no compaction ran: the churn did not fragment the arena (the test checks nothing)")
	}
	lo := int(next.Load())
	for i := lo; i < lo+live; i++ {
		if v, ok := c.Get(key(i)); !ok || !bytes.Equal(v, key(i)) {
			t.Fatalf("after the churn, Get(%q) = %q, %v", key(i), v, ok)
		}
	}
}

// forceCompact compacts now (what Reclaim does when the arena is
// fragmented), whatever the fragmentation, and drops the old arena once
// readers have left it (its readers never wait for the writer role, so
// waiting under the role is safe here).
func (c *Concurrent[V]) forceCompact() error {
	if err := c.lockWriter(context.Background()); err != nil {
		return err
	}
	defer c.unlockWriter()
	c.epoch.Synchronize()
	c.w.reclaim(true)
	if err := c.compact(); err != nil {
		return err
	}
	c.epoch.Synchronize()
	c.tryDrop()
	return nil
}

// TestCompactUnderReaders: compactions back and forth between the two
// arenas while readers look up and iterate, and a writer inserts between
// them: readers always find every stable key with its value, and the trie
// stays valid.
func TestCompactUnderReaders(t *testing.T) {
	c := newC[int](t, primitives.OneWriteMultiRead)
	const stable = 3000
	for i := range stable {
		if _, err := c.Insert(fmt.Appendf(nil, "st/%05d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for n := 0; !stop.Load(); n++ {
				if n%50 == 0 {
					got := 0
					for k, v := range c.Prefix([]byte("st/")) {
						if string(k) != fmt.Sprintf("st/%05d", v) {
							t.Errorf("iteration: %q = %d", k, v)
							return
						}
						got++
					}
					if got != stable {
						t.Errorf("iteration saw %d stable keys, want %d", got, stable)
						return
					}
					continue
				}
				i := rng.IntN(stable)
				if v, ok := c.Get(fmt.Appendf(nil, "st/%05d", i)); !ok || v != i {
					t.Errorf("Get(st/%05d) = %d, %v", i, v, ok)
					return
				}
			}
		})
	}
	for round := range 6 {
		for i := range 500 {
			k := fmt.Appendf(nil, "mv/%d/%d", round, i)
			if _, err := c.Insert(k, -1); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.forceCompact(); err != nil {
			t.Fatal(err)
		}
		mustCheck(t, c)
	}
	stop.Store(true)
	wg.Wait()
	if s := c.Stats(); s.Compactions != 6 || s.Keys != stable+6*500 {
		t.Fatalf("stats after 6 compactions: %+v", s)
	}
}

// BenchmarkChurnCapacity: the issue-12 churn figure. One op replaces one
// key (delete the oldest, insert a new one) in a window of 25,000 live keys
// (default 1 MiB chunks) while two readers look keys up; then Reclaim.
// Both levels; both compact (the multi-writer form since issue 19 case 8,
// mwcompact.go) when the arena is fragmented enough. It reports the arena
// capacity before and after Reclaim and the live node bytes, in MiB, and
// capacity-after / live.
func BenchmarkChurnCapacity(b *testing.B) {
	for _, l := range concurrentLevels {
		b.Run("level="+l.String(), func(b *testing.B) { benchChurnCapacity(b, l) })
	}
}

func benchChurnCapacity(b *testing.B, l primitives.Level) {
	c := mustNewC(l)
	const live = 25000
	key := func(i int) []byte {
		return fmt.Appendf(nil, "churn/%d/%s/%d", i%97, bytes.Repeat([]byte{'x'}, i%23), i)
	}
	for i := range live {
		if _, err := c.Insert(key(i), uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	var next atomic.Int64
	for r := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for !stop.Load() {
				c.Get(key(int(next.Load()) + rng.IntN(live)))
			}
		})
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := c.Delete(key(i)); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Insert(key(i+live), uint64(i)); err != nil {
			b.Fatal(err)
		}
		next.Store(int64(i + 1))
	}
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	before := c.Stats()
	if err := c.Reclaim(context.Background()); err != nil {
		b.Fatal(err)
	}
	after := c.Stats()
	const mib = 1 << 20
	b.ReportMetric(float64(before.ArenaCapacity)/mib, "cap-before-MiB")
	b.ReportMetric(float64(after.ArenaCapacity)/mib, "cap-after-MiB")
	b.ReportMetric(float64(after.ArenaBytes)/mib, "live-MiB")
	b.ReportMetric(float64(after.ArenaCapacity)/float64(after.ArenaBytes), "cap/live")
}

// TestReclaimBesideWritingIterator: a goroutine iterates the one-writer
// trie and inserts from inside the loop while another calls Reclaim, which
// used to hold the writer role while it waited for readers: the iterating
// goroutine, a reader waiting for the role, never finished. A Reclaim whose
// context ends while it waits returns the context's error.
func TestReclaimBesideWritingIterator(t *testing.T) {
	c := newC[int](t, primitives.OneWriteMultiRead)
	for i := range 100 {
		if _, err := c.Insert(fmt.Appendf(nil, "seed%03d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	inside := make(chan struct{})
	var reclaimed atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for range c.All() {
			close(inside)
			for i := 0; i < 20_000 && !reclaimed.Load(); i++ {
				if _, err := c.Insert(fmt.Appendf(nil, "in-loop%06d", i), i); err != nil {
					t.Error(err)
					return
				}
			}
			return
		}
	})
	<-inside
	testutil.Within(t, "Reclaim beside a writing iterator", func() {
		if err := c.Reclaim(context.Background()); err != nil {
			t.Error(err)
		}
		reclaimed.Store(true)
		wg.Wait()
	})
	// From inside an iteration (its own reader guard), Reclaim returns
	// ErrSelfWait (where long readers are recorded; elsewhere when its
	// context ends).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range c.All() {
		cancel()
		err := c.Reclaim(ctx)
		if trackReaders && !errors.Is(err, ErrSelfWait) || !trackReaders && err != context.Canceled {
			t.Fatalf("Reclaim inside an iteration: %v", err)
		}
		break
	}
}
