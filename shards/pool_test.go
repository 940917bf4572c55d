package shards_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	zrt "github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

func workerCounts() []int { return []int{1, runtime.GOMAXPROCS(0), 8} }

func startPool(t *testing.T, workers int) (*zrt.Runtime, *shards.Pool) {
	t.Helper()
	p, err := shards.NewPool(shards.PoolConfig{Pool: pool.MemoryOptimized()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := zrt.Start(context.Background(), zrt.Config{Workers: workers}, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background()) })
	return rt, p
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
				err := rt.SubmitTo(round%workers, func(w *zrt.Worker) {
					defer wg.Done()
					type blk struct {
						off  shards.Offset
						size int
						id   uint64
					}
					var mine []blk
					for i := range perRound {
						size := 8 + (i*37)%900
						off, err := p.Alloc(w, size)
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
							if err := p.Free(w, k.off, k.size); err != nil {
								t.Error(err)
							}
						} else {
							remote = append(remote, k)
						}
					}
					target := (w.ID() + 1) % workers
					wg.Add(1)
					err := w.Runtime().SubmitTo(target, func(tw *zrt.Worker) {
						defer wg.Done()
						for _, k := range remote {
							// Read on another worker while the owner may be
							// allocating and growing its pool.
							b, err := p.Bytes(k.off, k.size)
							if err != nil || !check(b, k.id) {
								t.Errorf("block %d read on worker %d: err %v", k.id, tw.ID(), err)
							}
							if err := p.Free(tw, k.off, k.size); err != nil {
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

func TestPoolOutsideCallers(t *testing.T) {
	p, _ := shards.NewPool(shards.PoolConfig{})
	if _, err := p.AllocOn(context.Background(), 0, 10); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("AllocOn before Start: %v", err)
	}
	rt, err := zrt.Start(context.Background(), zrt.Config{Workers: 2}, p)
	if err != nil {
		t.Fatal(err)
	}
	off, err := p.AllocOn(context.Background(), 1, 100)
	if err != nil || off.Shard() != 1 {
		t.Fatalf("AllocOn: %v, shard %d", err, off.Shard())
	}
	if _, err := p.AllocOn(context.Background(), 5, 100); !errors.Is(err, zrt.ErrNoShard) {
		t.Fatalf("AllocOn to a missing shard: %v", err)
	}
	if _, err := p.AllocOn(context.Background(), 0, 0); !errors.Is(err, pool.ErrInvalidSize) {
		t.Fatalf("AllocOn(0 bytes): %v", err)
	}
	if _, err := p.Bytes(shards.Offset(99)<<52|off, 100); !errors.Is(err, shards.ErrBadOffset) {
		t.Fatalf("Bytes of a missing shard: %v", err)
	}
	if b, err := p.Bytes(off, 100); err != nil || len(b) != 100 {
		t.Fatalf("Bytes from outside the workers: %v", err)
	}
	if err := p.FreeOn(context.Background(), off, 100); err != nil {
		t.Fatal(err)
	}
	st, err := p.Stats(context.Background())
	if err != nil || st.InUse() != 0 {
		t.Fatalf("stats %v, in use %d", err, st.InUse())
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AllocOn(context.Background(), 0, 10); !errors.Is(err, zrt.ErrStopped) {
		t.Fatalf("AllocOn after Stop: %v", err)
	}
	if _, err := shards.NewPool(shards.PoolConfig{Pool: pool.Config{Alignment: 3}}); !errors.Is(err, pool.ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
}

// TestPoolStopWithRemoteFreesInFlight: Stop races tasks that free remote
// blocks; every accepted free is applied, every refused task's block stays
// in use, so nothing leaks and nothing is freed twice.
func TestPoolStopWithRemoteFreesInFlight(t *testing.T) {
	for round := range 20 {
		rt, p := startPool(t, 2)
		// Worker 1 allocates; worker 0 frees them remotely in its last tasks.
		offs, err := zrt.Call(context.Background(), rt, 1, func(w *zrt.Worker) ([]shards.Offset, error) {
			var o []shards.Offset
			for range 100 {
				off, err := p.Alloc(w, 64)
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
			if rt.SubmitTo(0, func(w *zrt.Worker) {
				if err := p.Free(w, off, 64); err != nil {
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
