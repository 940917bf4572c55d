package shards_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

func startTrie(t *testing.T, workers int, cfg ...shards.TrieConfig) (*testRuntime, *shards.Trie[uint64]) {
	t.Helper()
	tr := mustTrie[uint64](cfg...)
	rt, err := startRT(workers, tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background()) })
	return rt, tr
}

// valueOf is the only value ever written under key: readers check that what
// they read is it (no torn or phantom values).
func valueOf(key []byte) uint64 { return shards.Hash(key) | 1 }

func collect(seq func(func([]byte, uint64) bool)) (keys []string, vals []uint64) {
	for k, v := range seq {
		keys = append(keys, string(k))
		vals = append(vals, v)
	}
	return
}

func routers() map[string]func() shards.Router {
	return map[string]func() shards.Router{
		"hash": func() shards.Router { return &shards.HashRouter{} },
		"range": func() shards.Router {
			var sample [][]byte
			for g := range 8 {
				for i := 0; i < 500; i += 50 {
					sample = append(sample, fmt.Appendf(nil, "w%02d/k%05d", g, i))
				}
			}
			return shards.NewSampleRouter(sample)
		},
	}
}

// TestTrieConcurrentWritersReadersScanners: writer goroutines insert and
// delete their own keys through the sharded trie while readers Get and
// scanners iterate; readers only ever see the one value of a key, scans are
// strictly ascending; the final contents equal the model.
func TestTrieConcurrentWritersReadersScanners(t *testing.T) {
	for name, mk := range routers() {
		for _, workers := range workerCounts() {
			t.Run(fmt.Sprintf("router=%s/workers=%d", name, workers), func(t *testing.T) {
				rt, tr := startTrie(t, workers, shards.TrieConfig{Router: mk()})
				const writers = 8
				perWriter := 300 / scale
				var wg sync.WaitGroup
				var stop atomic.Bool
				model := make([]map[string]uint64, writers)
				for g := range writers {
					model[g] = map[string]uint64{}
					wg.Add(1)
					go func() {
						defer wg.Done()
						ctx := context.Background()
						for i := range perWriter {
							k := fmt.Appendf(nil, "w%02d/k%05d", g, i)
							added, err := tr.Insert(ctx, k, valueOf(k))
							if err != nil || !added {
								t.Errorf("Insert %s: added=%v err=%v", k, added, err)
								return
							}
							model[g][string(k)] = valueOf(k)
							if v, ok := tr.Get(k); !ok || v != valueOf(k) {
								t.Errorf("Get after Insert %s: %v %v", k, v, ok)
							}
							if i%3 == 0 {
								old, found, err := tr.Delete(ctx, k)
								if err != nil || !found || old != valueOf(k) {
									t.Errorf("Delete %s: %v %v %v", k, old, found, err)
								}
								delete(model[g], string(k))
								if tr.Contains(k) {
									t.Errorf("Contains after Delete %s", k)
								}
							}
						}
					}()
				}
				var readers sync.WaitGroup
				for r := range 4 {
					readers.Add(1)
					go func() {
						defer readers.Done()
						for i := 0; !stop.Load(); i++ {
							k := fmt.Appendf(nil, "w%02d/k%05d", (i+r)%writers, i%perWriter)
							if v, ok := tr.Get(k); ok && v != valueOf(k) {
								t.Errorf("Get %s = %x, never written", k, v)
								return
							}
							if i%50 == 0 {
								var prev []byte
								for k, v := range tr.Prefix(fmt.Appendf(nil, "w%02d/", r)) {
									if prev != nil && bytes.Compare(prev, k) >= 0 {
										t.Errorf("scan out of order: %q then %q", prev, k)
										return
									}
									if v != valueOf(k) {
										t.Errorf("scan %s = %x", k, v)
									}
									prev = append(prev[:0], k...)
								}
							}
						}
					}()
				}
				wg.Wait()
				stop.Store(true)
				readers.Wait()

				want := map[string]uint64{}
				for _, m := range model {
					maps.Copy(want, m)
				}
				keys, vals := collect(tr.All())
				wantKeys := slices.Sorted(maps.Keys(want))
				if !slices.Equal(keys, wantKeys) {
					t.Fatalf("All: %d keys, want %d", len(keys), len(wantKeys))
				}
				for i, k := range keys {
					if vals[i] != want[k] {
						t.Fatalf("All: %s = %x", k, vals[i])
					}
				}
				if tr.Len() != len(want) {
					t.Fatalf("Len %d, want %d", tr.Len(), len(want))
				}
				// Prefix and Seek against the model.
				for _, p := range []string{"", "w03/", "w03/k001", "w07/k0029", "zz"} {
					got, _ := collect(tr.Prefix([]byte(p)))
					var exp []string
					for _, k := range wantKeys {
						if strings.HasPrefix(k, p) {
							exp = append(exp, k)
						}
					}
					if !slices.Equal(got, exp) {
						t.Fatalf("Prefix(%q): %d keys, want %d", p, len(got), len(exp))
					}
					sk, _ := collect(tr.Seek([]byte(p)))
					i, _ := slices.BinarySearch(wantKeys, p)
					if !slices.Equal(sk, wantKeys[i:]) {
						t.Fatalf("Seek(%q): %d keys, want %d", p, len(sk), len(wantKeys)-i)
					}
				}
				var stKeys int
				for _, s := range tr.Stats() {
					stKeys += s.Trie.Keys
				}
				if stKeys != len(want) {
					t.Fatalf("Stats keys %d, want %d", stKeys, len(want))
				}
				_ = rt
			})
		}
	}
}

func TestTrieBatch(t *testing.T) {
	_, tr := startTrie(t, 3)
	b := tr.Batch()
	for i := range 1000 {
		k := fmt.Appendf(nil, "b%04d", i)
		b.Insert(k, valueOf(k))
	}
	long := bytes.Repeat([]byte("x"), trie.MaxKeyLen+1)
	b.Insert(long, 1) // index 1000 fails
	for i := 0; i < 1000; i += 2 {
		b.Delete(fmt.Appendf(nil, "b%04d", i))
	}
	b.Insert(append([]byte("y"), long...), 2) // index 1501 fails
	if b.Len() != 1502 {
		t.Fatalf("Len %d", b.Len())
	}
	err := b.Commit(context.Background())
	if !errors.Is(err, trie.ErrKeyTooLong) {
		t.Fatalf("Commit: %v, want ErrKeyTooLong", err)
	}
	var failed []int
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var we *shards.WriteError
		if !errors.As(e, &we) {
			t.Fatalf("not a WriteError: %v", e)
		}
		failed = append(failed, we.Index)
	}
	slices.Sort(failed)
	if !slices.Equal(failed, []int{1000, 1501}) {
		t.Fatalf("failed writes %v, want [1000 1501]", failed)
	}
	if tr.Len() != 500 || b.Len() != 0 {
		t.Fatalf("Len %d after the batch (want 500), batch left %d", tr.Len(), b.Len())
	}
	for i := range 1000 {
		k := fmt.Appendf(nil, "b%04d", i)
		if _, ok := tr.Get(k); ok != (i%2 == 1) {
			t.Fatalf("%s present=%v", k, ok)
		}
	}
	// One tenure per chunk (512 writes) of each shard's writes.
	var writes uint64
	for _, s := range tr.Stats() {
		writes += s.Writes
		if want := (s.Writes + 511) / 512; s.Tenures != want {
			t.Fatalf("shard %d: %d tenures for %d writes, want %d (one per chunk of 512)", s.Shard, s.Tenures, s.Writes, want)
		}
	}
	if writes != 1502 {
		t.Fatalf("%d writes, want 1502", writes)
	}
}

func TestTrieLifecycleErrors(t *testing.T) {
	tr := mustTrie[uint64]()
	ctx := context.Background()
	if _, err := tr.Insert(ctx, []byte("a"), 1); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("Insert before Start: %v", err)
	}
	if _, _, err := tr.Delete(ctx, []byte("a")); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("Delete before Start: %v", err)
	}
	b := tr.Batch()
	b.Insert([]byte("pre"), 7) // collected before Start, routed at Commit
	if _, ok := tr.Get([]byte("a")); ok || tr.Len() != 0 || tr.Contains([]byte("a")) {
		t.Fatal("reads before Start found something")
	}
	rt, err := startRT(2, tr)
	if err != nil {
		t.Fatal(err)
	}
	b.Insert([]byte("post"), 8)
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Insert(ctx, []byte("a"), 1); err != nil {
		t.Fatal(err)
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Insert(ctx, []byte("b"), 2); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Insert after Stop: %v", err)
	}
	b.Insert([]byte("c"), 3)
	if err := b.Commit(ctx); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Commit after Stop: %v", err)
	}
	keys, _ := collect(tr.All())
	if !slices.Equal(keys, []string{"a", "post", "pre"}) {
		t.Fatalf("contents after Stop: %q", keys)
	}
	// A stopped trie registers again, its data kept: with another shard
	// count (keys move) and with the same one (shards reused).
	for _, workers := range []int{1, 3, 3} {
		rt2, err := startRT(workers, tr)
		if err != nil {
			t.Fatalf("Start again with %d workers: %v", workers, err)
		}
		if _, err := startRT(1, tr); err == nil {
			t.Fatal("a trie attached to two running runtimes")
		}
		for _, k := range []string{"a", "post", "pre"} {
			if v, ok := tr.Get([]byte(k)); !ok || v == 0 {
				t.Fatalf("workers=%d: %s lost after re-registration", workers, k)
			}
		}
		if _, err := tr.Insert(ctx, []byte("again"), 9); err != nil {
			t.Fatal(err)
		}
		if err := rt2.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}
	keys, _ = collect(tr.All())
	if !slices.Equal(keys, []string{"a", "again", "post", "pre"}) {
		t.Fatalf("contents after re-registration: %q", keys)
	}
}

// TestTrieStopWithWritesInFlight: Stop races inserting goroutines; every
// insert either returned nil and is present, or returned ErrStopped and is
// absent — none is lost silently.
func TestTrieStopWithWritesInFlight(t *testing.T) {
	for round := range 10 {
		tr := mustTrie[uint64]()
		rt, err := startRT(2, tr)
		if err != nil {
			t.Fatal(err)
		}
		const goroutines, per = 8, 200
		results := make([][]error, goroutines)
		var wg sync.WaitGroup
		var started atomic.Int64
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					k := fmt.Appendf(nil, "g%d/%d", g, i)
					_, err := tr.Insert(context.Background(), k, valueOf(k))
					results[g] = append(results[g], err)
					started.Add(1)
				}
			}()
		}
		for started.Load() < int64(100+round*50) {
			runtimeGosched()
		}
		if err := rt.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		applied := 0
		for g := range goroutines {
			for i, err := range results[g] {
				k := fmt.Appendf(nil, "g%d/%d", g, i)
				_, ok := tr.Get(k)
				switch {
				case err == nil && !ok:
					t.Fatalf("%s acknowledged but missing", k)
				case err != nil && !errors.Is(err, shards.ErrClosed):
					t.Fatalf("%s: %v", k, err)
				case err != nil && ok:
					t.Fatalf("%s refused but present", k)
				}
				if ok {
					applied++
				}
			}
		}
		if tr.Len() != applied {
			t.Fatalf("Len %d, applied %d", tr.Len(), applied)
		}
	}
}

// TestTrieManySingleWriters: many goroutines write single keys at once
// (Insert, then Delete of every other key); every write is applied exactly
// once — added and found reported once per key — and the shards counted
// every write, in no more messages than writes.
func TestTrieManySingleWriters(t *testing.T) {
	for _, goroutines := range []int{1, runtime.GOMAXPROCS(0), 64} {
		_, tr := startTrie(t, 2)
		per := 400 / scale
		var added, found atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx := context.Background()
				for i := range per {
					k := fmt.Appendf(nil, "c%02d/%04d", g, i)
					a, err := tr.Insert(ctx, k, valueOf(k))
					if err != nil {
						t.Error(err)
						return
					}
					if a {
						added.Add(1)
					}
					if i%2 == 1 {
						old, f, err := tr.Delete(ctx, k)
						if err != nil || !f || old != valueOf(k) {
							t.Errorf("Delete %s: %x %v %v", k, old, f, err)
							return
						}
						found.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		want := goroutines * per
		if added.Load() != int64(want) || found.Load() != int64(want/2) || tr.Len() != want-want/2 {
			t.Fatalf("goroutines=%d: added %d found %d len %d, want %d %d %d",
				goroutines, added.Load(), found.Load(), tr.Len(), want, want/2, want-want/2)
		}
		var messages, writes uint64
		for _, s := range tr.Stats() {
			messages += s.Tenures
			writes += s.Writes
		}
		if writes != uint64(want+want/2) || messages > writes {
			t.Fatalf("goroutines=%d: %d writes in %d messages, want %d writes", goroutines, writes, messages, want+want/2)
		}
		t.Logf("goroutines=%d: %d writes in %d messages", goroutines, writes, messages)
	}
}

func TestTrieWriteWithCancelledContext(t *testing.T) {
	_, tr := startTrie(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Insert(ctx, []byte("k"), 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Insert with a cancelled context: %v", err)
	}
	if tr.Contains([]byte("k")) {
		t.Fatal("a write refused for its context was applied")
	}
	// A context that ends while the write waits: either it was applied
	// (nil) or the context error is returned, and the key is then present
	// or not, but the trie stays consistent and usable.
	for i := range 50 {
		ctx, cancel := context.WithCancel(context.Background())
		k := fmt.Appendf(nil, "late%d", i)
		go cancel()
		_, err := tr.Insert(ctx, k, 2)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if err == nil && !tr.Contains(k) {
			t.Fatalf("%s acknowledged but missing", k)
		}
	}
	if _, err := tr.Insert(context.Background(), []byte("after"), 3); err != nil || !tr.Contains([]byte("after")) {
		t.Fatalf("Insert after cancellations: %v", err)
	}
}

// TestTrieReclaimAfterChurn: after inserting many keys and deleting most of
// them from several goroutines while readers run, Reclaim brings every
// shard's arena back within twice its live bytes plus four 1 MiB chunks,
// and every remaining key is intact.
func TestTrieReclaimAfterChurn(t *testing.T) {
	_, tr := startTrie(t, 2)
	ctx := context.Background()
	const writers = 4
	per := 300_000 / scale / scale // a fragmented arena without -race
	var stop atomic.Bool
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		for i := 0; !stop.Load(); i++ {
			k := fmt.Appendf(nil, "w%d/%07d", i%writers, i%per)
			if v, ok := tr.Get(k); ok && v != valueOf(k) {
				t.Errorf("%s: %x", k, v)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := tr.Batch()
			for i := range per {
				k := fmt.Appendf(nil, "w%d/%07d", g, i)
				b.Insert(k, valueOf(k))
				if b.Len() == 512 {
					if err := b.Commit(ctx); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if err := b.Commit(ctx); err != nil {
				t.Error(err)
			}
			for i := range per {
				if i%20 != 0 {
					if _, _, err := tr.Delete(ctx, fmt.Appendf(nil, "w%d/%07d", g, i)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	rg.Wait()
	before := tr.Stats()
	if err := tr.Reclaim(ctx); err != nil {
		t.Fatal(err)
	}
	for i, st := range tr.Stats() {
		live := st.Trie.ArenaBytes
		if limit := 2*live + 4<<20; st.Trie.ArenaCapacity > limit {
			t.Errorf("shard %d: capacity %d after Reclaim (was %d), live %d: over 2x live + 4 MiB", i, st.Trie.ArenaCapacity, before[i].Trie.ArenaCapacity, live)
		}
		if before[i].Trie.ArenaCapacity > 2*live+4<<20 && st.Trie.Compactions == 0 {
			t.Errorf("shard %d: fragmented (capacity %d, live %d) but not compacted", i, before[i].Trie.ArenaCapacity, live)
		}
		t.Logf("shard %d: capacity %d -> %d, live %d, compactions %d", i, before[i].Trie.ArenaCapacity, st.Trie.ArenaCapacity, live, st.Trie.Compactions)
	}
	if want := writers * ((per + 19) / 20); tr.Len() != want {
		t.Fatalf("Len %d, want %d", tr.Len(), want)
	}
	for g := range writers {
		for i := 0; i < per; i += 20 {
			k := fmt.Appendf(nil, "w%d/%07d", g, i)
			if v, ok := tr.Get(k); !ok || v != valueOf(k) {
				t.Fatalf("%s lost after Reclaim", k)
			}
		}
	}
}
