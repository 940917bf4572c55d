package shardsrt_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

// The sharded structures are runtime.Structures.
var (
	_ runtime.Structure = (*shards.Trie[int])(nil)
	_ runtime.Structure = (*shards.Pool)(nil)
)

func workerCounts() []int { return []int{1, goruntime.GOMAXPROCS(0), 8} }

// valueOf is the only value ever written under key.
func valueOf(key []byte) uint64 { return shards.Hash(key) | 1 }

// newTrie returns a Trie sized by the runtime it is registered with.
func newTrie[V any](t testing.TB, cfg shards.TrieConfig) *shards.Trie[V] {
	t.Helper()
	tr, err := shards.NewTrie[V](cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// newPool returns a Pool sized by the runtime it is registered with.
func newPool(t testing.TB) *shards.Pool {
	t.Helper()
	p, err := shards.NewPool(shards.PoolConfig{Pool: pool.MemoryOptimized()})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startPool(t *testing.T, workers int) (*runtime.Runtime, *shards.Pool) {
	t.Helper()
	p := newPool(t)
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: workers}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background()) })
	return rt, p
}

// TestTrieWritesFromTasks: tasks on every worker write keys of every shard,
// their own worker's included, with Insert, Delete and Batch; nothing
// deadlocks and every write is applied.
func TestTrieWritesFromTasks(t *testing.T) {
	for _, capacity := range []int{0, 4} {
		t.Run(fmt.Sprintf("mailbox=%d", capacity), func(t *testing.T) {
			tr := newTrie[uint64](t, shards.TrieConfig{})
			rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, MailboxCapacity: capacity}, tr)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Stop(context.Background())
			const tasks, per = 16, 50
			testutil.Within(t, "writes from tasks", func() {
				err := rt.Each(context.Background(), func(w *runtime.Worker) error {
					for task := range tasks {
						b := tr.Batch()
						for i := range per {
							k := fmt.Appendf(nil, "w%d/t%d/%d", w.ID(), task, i)
							if _, err := tr.Insert(context.Background(), k, valueOf(k)); err != nil {
								return err
							}
							if i%5 == 0 {
								if _, found, err := tr.Delete(context.Background(), k); err != nil || !found {
									return fmt.Errorf("delete %s: %v %v", k, found, err)
								}
							}
							b.Insert(append(k, 'b'), valueOf(k))
						}
						if err := b.Commit(context.Background()); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
			if want := 2 * tasks * (per - per/5 + per); tr.Len() != want {
				t.Fatalf("Len %d, want %d", tr.Len(), want)
			}
		})
	}
}

// TestPoolCrossFreesBoundedMailboxes: tasks on both workers free each
// other's blocks on a runtime with tiny bounded mailboxes; this used to
// deadlock (remote frees were sent home with a blocking SubmitTo).
func TestPoolCrossFreesBoundedMailboxes(t *testing.T) {
	p, err := shards.NewPool(shards.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, MailboxCapacity: 2}, p)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(context.Background())
	const n = 2000
	offs := [2][]shards.Offset{}
	for w := range 2 {
		for range n {
			off, err := p.Alloc(context.Background(), w, 32)
			if err != nil {
				t.Fatal(err)
			}
			offs[w] = append(offs[w], off)
		}
	}
	testutil.Within(t, "cross-worker frees", func() {
		err := rt.Each(context.Background(), func(w *runtime.Worker) error {
			for _, off := range offs[1-w.ID()] { // the other worker's blocks
				if err := p.Free(context.Background(), off, 32); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	st, err := p.Stats(context.Background())
	if err != nil || st.InUse() != 0 {
		t.Fatalf("in use %d after freeing every block: %v", st.InUse(), err)
	}
}

// TestReattachAfterFailedStart: a Start that fails at a later structure's
// Attach leaves the earlier ones detached, usable with the next runtime.
func TestReattachAfterFailedStart(t *testing.T) {
	tr := newTrie[uint64](t, shards.TrieConfig{})
	p, err := shards.NewPool(shards.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := runtime.Start(ctx, runtime.Config{Workers: 2}, tr, p, newTrie[int](t, shards.TrieConfig{Router: shards.NewRangeRouter([]byte("only-one"), []byte("a"))})); err == nil {
		t.Fatal("Start with an invalid router succeeded")
	}
	var rt *runtime.Runtime
	testutil.Within(t, "Start after a failed Start", func() { rt, err = runtime.Start(ctx, runtime.Config{Workers: 2}, tr, p) })
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(ctx)
	testutil.Within(t, "writes after a failed Start", func() {
		if _, err := tr.Insert(ctx, []byte("k"), 1); err != nil {
			t.Error(err)
		}
		if _, err := p.Alloc(ctx, 1, 10); err != nil {
			t.Error(err)
		}
	})
}

// TestStopRacesEverything: Stop races inserts, batches, allocations and
// frees from tasks and outside goroutines; every call returns, with nil or
// ErrStopped, and every acknowledged insert is present.
func TestStopRacesEverything(t *testing.T) {
	for round := range 10 {
		tr := newTrie[uint64](t, shards.TrieConfig{})
		p, _ := shards.NewPool(shards.PoolConfig{})
		rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, MailboxCapacity: 8}, tr, p)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		acked := make([][]string, 4)
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 300 {
					k := fmt.Sprintf("g%d/%d", g, i)
					var err error
					if i%3 == 0 {
						b := tr.Batch()
						b.Insert([]byte(k), 1)
						err = b.Commit(context.Background())
					} else {
						_, err = tr.Insert(context.Background(), []byte(k), 1)
					}
					if err == nil {
						acked[g] = append(acked[g], k)
					} else if !errors.Is(err, runtime.ErrStopped) {
						t.Error(err)
						return
					}
					if off, err := p.Alloc(context.Background(), i%2, 16); err == nil {
						if err := p.Free(context.Background(), off, 16); err != nil {
							t.Error(err)
						}
					} else if !errors.Is(err, runtime.ErrStopped) {
						t.Error(err)
					}
					_ = rt.Submit(func(w *runtime.Worker) { _, _ = tr.Insert(context.Background(), []byte("task"), 1) })
				}
			}()
		}
		if round%2 == 0 {
			goruntime.Gosched()
		}
		testutil.Within(t, "Stop racing writes", func() {
			if err := rt.Stop(context.Background()); err != nil {
				t.Error(err)
			}
			wg.Wait()
		})
		for g := range acked {
			for _, k := range acked[g] {
				if !tr.Contains([]byte(k)) {
					t.Fatalf("round %d: %s acknowledged but missing", round, k)
				}
			}
		}
		if st, err := p.Stats(context.Background()); err != nil || st.InUse() != 0 {
			t.Fatalf("pool in use %d after Stop: %v", st.InUse(), err)
		}
	}
}

// TestPoolCrossWorkerFrees: tasks on every worker allocate blocks, fill
// them with a pattern unique to the block, check the pattern of all their
// live blocks, and hand half of them to another worker to free (a remote
// free, applied on the owning shard by the freeing task itself or by the
// shard's current holder). At the end every block is freed exactly once:
// no bytes in use, every remote free applied, allocs == frees.
func TestPoolCrossWorkerFrees(t *testing.T) {
	for _, workers := range workerCounts() {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			rt, p := startPool(t, workers)
			const rounds, perRound = 40, 50
			var nextID atomic.Uint64
			var wg sync.WaitGroup
			for round := range rounds {
				wg.Add(1)
				err := rt.SubmitTo(round%workers, func(w *runtime.Worker) {
					defer wg.Done()
					type blk struct {
						off  shards.Offset
						size int
						id   uint64
					}
					var mine []blk
					for i := range perRound {
						size := 8 + (i*37)%900
						off, err := p.Alloc(context.Background(), w.ID(), size)
						if err != nil {
							t.Error(err)
							return
						}
						if off.Shard() != w.ID() {
							t.Errorf("block of worker %d names shard %d", w.ID(), off.Shard())
						}
						b, _ := p.Bytes(off, size)
						id := nextID.Add(1)
						fill(b, id)
						mine = append(mine, blk{off, size, id})
					}
					var remote []blk
					for i, k := range mine {
						b, _ := p.Bytes(k.off, k.size)
						if !check(b, k.id) {
							t.Errorf("block %d corrupted", k.id)
						}
						if i%2 == 0 {
							if err := p.Free(context.Background(), k.off, k.size); err != nil {
								t.Error(err)
							}
						} else {
							remote = append(remote, k)
						}
					}
					target := (w.ID() + 1) % workers
					wg.Add(1)
					err := w.Runtime().SubmitTo(target, func(tw *runtime.Worker) {
						defer wg.Done()
						for _, k := range remote {
							// Read on another worker while the owner may be
							// allocating and growing its pool.
							b, err := p.Bytes(k.off, k.size)
							if err != nil || !check(b, k.id) {
								t.Errorf("block %d read on worker %d: err %v", k.id, tw.ID(), err)
							}
							if err := p.Free(context.Background(), k.off, k.size); err != nil {
								t.Error(err)
							}
						}
					})
					if err != nil {
						wg.Done()
						t.Error(err)
					}
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			wg.Wait()
			if err := rt.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			st, err := p.Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			var allocs, frees uint64
			for _, s := range st.Shards {
				allocs += s.Allocs
				frees += s.Frees
			}
			if st.InUse() != 0 || allocs != rounds*perRound || frees != allocs {
				t.Fatalf("in use %d, allocs %d, frees %d", st.InUse(), allocs, frees)
			}
		})
	}
}

// TestPoolStopWithRemoteFreesInFlight: Stop races tasks that free remote
// blocks; every accepted free is applied, every refused task's block stays
// in use, so nothing leaks and nothing is freed twice.
func TestPoolStopWithRemoteFreesInFlight(t *testing.T) {
	for round := range 20 {
		rt, p := startPool(t, 2)
		// Worker 1 allocates; worker 0 frees them remotely in its last tasks.
		offs, err := runtime.Call(context.Background(), rt, 1, func(w *runtime.Worker) ([]shards.Offset, error) {
			var o []shards.Offset
			for range 100 {
				off, err := p.Alloc(context.Background(), w.ID(), 64)
				if err != nil {
					return nil, err
				}
				o = append(o, off)
			}
			return o, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		accepted := 0
		for _, off := range offs {
			if rt.SubmitTo(0, func(w *runtime.Worker) {
				if err := p.Free(context.Background(), off, 64); err != nil {
					t.Error(err)
				}
			}) == nil {
				accepted++
			}
			if accepted == 50+round {
				go rt.Stop(context.Background())
			}
		}
		if err := rt.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		st, err := p.Stats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(100-accepted) * 64; st.InUse() != want {
			t.Fatalf("round %d: %d frees accepted, %d bytes in use, want %d", round, accepted, st.InUse(), want)
		}
	}
}

func fill(b []byte, id uint64) {
	for i := range b {
		b[i] = byte(id>>(8*(i%8))) ^ byte(i)
	}
}

func check(b []byte, id uint64) bool {
	for i := range b {
		if b[i] != byte(id>>(8*(i%8)))^byte(i) {
			return false
		}
	}
	return true
}

// TestRegisteredLifecycle: a runtime sizes the structures registered with
// it (a standalone Trie's keys move to their new shards, a Pool gains
// shards and keeps its blocks) and its Stop ends them; the errors of an
// ended structure match both shards' and the runtime's sentinels; a
// stopped structure registers again, a closed one is refused by Start.
func TestRegisteredLifecycle(t *testing.T) {
	ctx := context.Background()
	tr := newTrie[int](t, shards.TrieConfig{Shards: 3})
	for i := range 100 {
		if _, err := tr.Insert(ctx, fmt.Appendf(nil, "k%d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	p, err := shards.NewPool(shards.PoolConfig{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	kept, err := p.Alloc(ctx, 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, tr, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Stats()); n != 2 || tr.Len() != 100 {
		t.Fatalf("registered with 2 workers: %d shards, %d keys", n, tr.Len())
	}
	st, err := p.Stats(ctx)
	if err != nil || len(st.Shards) != 2 || st.InUse() != 64 {
		t.Fatalf("pool registered with 2 workers: %d shards, %d in use, %v", len(st.Shards), st.InUse(), err)
	}
	_, err = p.Alloc(ctx, 5, 64)
	if !errors.Is(err, shards.ErrNoShard) || !errors.Is(err, runtime.ErrNoShard) {
		t.Fatalf("Alloc on shard 5 of 2: %v", err)
	}
	errs := map[string]error{"Alloc on a missing shard": err}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, errs["Insert after Stop"] = tr.Insert(ctx, []byte("late"), 1)
	b := tr.Batch()
	b.Insert([]byte("late"), 1)
	errs["Commit after Stop"] = b.Commit(ctx)
	_, errs["Alloc after Stop"] = p.Alloc(ctx, 0, 64)
	_, errs["Snapshot after Stop"] = tr.Snapshot(ctx)
	for name, err := range errs {
		if name != "Alloc on a missing shard" && (!errors.Is(err, shards.ErrClosed) || !errors.Is(err, runtime.ErrStopped)) {
			t.Errorf("%s: %v, want shards.ErrClosed and runtime.ErrStopped", name, err)
		}
	}
	testutil.CheckErrors(t, errs)
	if err := p.Free(ctx, kept, 64); err != nil {
		t.Fatalf("Free after Stop: %v", err)
	}
	rt, err = runtime.Start(ctx, runtime.Config{Workers: 3}, tr, p)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Stats()); n != 3 || tr.Len() != 100 {
		t.Fatalf("registered again with 3 workers: %d shards, %d keys", n, tr.Len())
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	if _, err := runtime.Start(ctx, runtime.Config{Workers: 2}, tr); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Start with a closed Trie: %v, want ErrClosed", err)
	}
}
