package runtime_test

import (
	"context"
	"fmt"

	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

// counters is a minimal sharded structure: one counter per worker, each
// written only by tasks on its worker, so no locks and no atomics. Start
// sizes it (Attach); it routes its writes through the runtime it is given.
type counters struct {
	rt     *runtime.Runtime
	shards []int
}

func (c *counters) Attach(shards int) error {
	c.shards = make([]int, shards)
	return nil
}

func (c *counters) Detach() {}

// Add routes the increment of key to its owner and returns the new value.
func (c *counters) Add(ctx context.Context, key int) (int, error) {
	return runtime.Call(ctx, c.rt, key%len(c.shards), func(w *runtime.Worker) (int, error) {
		c.shards[w.ID()]++
		return c.shards[w.ID()], nil
	})
}

func Example() {
	ctx := context.Background()
	c := &counters{}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	c.rt = rt
	for key := range 5 {
		if _, err := c.Add(ctx, key); err != nil {
			fmt.Println(err)
		}
	}
	n, _ := c.Add(ctx, 0)
	fmt.Println("shard 0 after 4 increments:", n)

	// Each reaches every worker (and its shard).
	_ = rt.Each(ctx, func(w *runtime.Worker) error {
		fmt.Printf("worker %d holds %d\n", w.ID(), c.shards[w.ID()])
		return nil
	})
	if err := rt.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	_, err = c.Add(ctx, 1)
	fmt.Println("after Stop:", err)
	// Unordered output:
	// shard 0 after 4 increments: 4
	// worker 0 holds 4
	// worker 1 holds 2
	// after Stop: runtime: stopped
}

func ExampleCall() {
	ctx := context.Background()
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Stop(ctx)
	id, err := runtime.Call(ctx, rt, 1, func(w *runtime.Worker) (int, error) { return w.ID(), nil })
	fmt.Println(id, err)
	// Output: 1 <nil>
}

// ExampleMode: the same tasks on Goroutines workers (the default: ordinary
// goroutines parked in Go's scheduler) and on Threads workers (each locked
// to an OS thread of its own, parked on a futex: for dedicated cores).
func ExampleMode() {
	ctx := context.Background()
	for _, mode := range []runtime.Mode{runtime.Goroutines, runtime.Threads} {
		rt, err := runtime.Start(ctx, runtime.Config{Workers: 2, Mode: mode})
		if err != nil {
			fmt.Println(err)
			return
		}
		sum, err := runtime.Call(ctx, rt, 1, func(w *runtime.Worker) (int, error) { return w.ID() + 41, nil })
		fmt.Println(mode, sum, err)
		if err := rt.Stop(ctx); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// goroutines 42 <nil>
	// threads 42 <nil>
}

// A sharded structure registered with a runtime: Start sizes it (one
// shard per worker) and Stop ends it; meanwhile any goroutine, or any
// task on a worker, writes and reads it. This is the README's "In short"
// snippet, line for line (between the markers in inShort;
// TestREADMEInShort compares them), so that the front page's code
// compiles and runs.
func ExampleStart_shards() {
	if err := inShort(); err != nil {
		panic(err)
	}
	// Output:
	// 3 true
	// usr/bin/go 3
	// usr/lib/libc.so 1
}

func inShort() error {
	// README "In short" begins
	ctx := context.Background()
	idx, err := shards.NewTrie[int](shards.TrieConfig{}) // sized by the runtime: one shard per worker
	if err != nil {
		return err
	}
	rt, err := runtime.Start(ctx, runtime.Config{}, idx) // a worker per usable CPU
	if err != nil {
		return err
	}
	defer rt.Stop(ctx)

	// Applied by this goroutine (or the shard's current writer), visible on return.
	if _, err := idx.Insert(ctx, []byte("usr/lib/libc.so"), 1); err != nil {
		return err
	}
	b := idx.Batch() // many writes, one publication per shard
	b.Insert([]byte("usr/bin/go"), 3)
	if err := b.Commit(ctx); err != nil { // a *shards.BatchError names what failed
		return err
	}

	v, ok := idx.Get([]byte("usr/bin/go")) // lock-free, any goroutine
	fmt.Println(v, ok)
	for k, v := range idx.Prefix([]byte("usr/")) { // ordered across shards
		fmt.Println(string(k), v)
	}
	// README "In short" ends
	return nil
}

// Worker-local allocation: a task allocates from its own worker's shard of
// a registered shards.Pool (locality: the block is first touched on that
// worker's CPU); a block freed by a task on another worker goes back to
// its owning shard at once.
func ExampleCall_shardedPool() {
	ctx := context.Background()
	mem, err := shards.NewPool(shards.PoolConfig{Pool: pool.MemoryOptimized()})
	if err != nil {
		panic(err)
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, mem)
	if err != nil {
		panic(err)
	}
	off, err := runtime.Call(ctx, rt, 0, func(w *runtime.Worker) (shards.Offset, error) {
		off, err := mem.Alloc(ctx, w.ID(), 64)
		if err != nil {
			return 0, err
		}
		b, _ := mem.Bytes(off, 64)
		copy(b, "hello from worker 0")
		return off, nil
	})
	if err != nil {
		panic(err)
	}
	// Freed on worker 1: returned to worker 0's shard.
	_, err = runtime.Call(ctx, rt, 1, func(*runtime.Worker) (struct{}, error) {
		return struct{}{}, mem.Free(ctx, off, 64)
	})
	if err != nil {
		panic(err)
	}
	if err := rt.Stop(ctx); err != nil {
		panic(err)
	}
	st, _ := mem.Stats(ctx)
	fmt.Println("owner:", off.Shard(), "in use after stop:", st.InUse(), "frees on shard 0:", st.Shards[0].Frees)
	// Output: owner: 0 in use after stop: 0 frees on shard 0: 1
}
