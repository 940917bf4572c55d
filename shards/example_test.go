package shards_test

import (
	"context"
	"fmt"

	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

// A sharded trie registered with a runtime: writes go to the owning worker
// and return once applied; reads are lock-free from any goroutine.
func ExampleTrie() {
	ctx := context.Background()
	idx := shards.NewTrie[int]()
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, idx)
	if err != nil {
		panic(err)
	}
	defer rt.Stop(ctx)

	if _, err := idx.Insert(ctx, []byte("usr/lib/libc.so"), 1); err != nil {
		panic(err)
	}
	b := idx.Batch() // one message per shard
	b.Insert([]byte("usr/lib/libm.so"), 2)
	b.Insert([]byte("usr/bin/go"), 3)
	b.Insert([]byte("etc/hosts"), 4)
	if err := b.Commit(ctx); err != nil {
		panic(err)
	}

	v, ok := idx.Get([]byte("usr/bin/go"))
	fmt.Println(v, ok)
	for k, v := range idx.Prefix([]byte("usr/lib/")) { // ordered across shards
		fmt.Println(string(k), v)
	}
	// Output:
	// 3 true
	// usr/lib/libc.so 1
	// usr/lib/libm.so 2
}

// Worker-local allocation: a task allocates from its own worker's shard; a
// block freed on another worker is returned to its owning shard at once.
func ExamplePool() {
	ctx := context.Background()
	mem, err := shards.NewPool(pool.MemoryOptimized())
	if err != nil {
		panic(err)
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, mem)
	if err != nil {
		panic(err)
	}
	off, err := runtime.Call(ctx, rt, 0, func(w *runtime.Worker) (shards.Offset, error) {
		off, err := mem.Alloc(w, 64)
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
	_, err = runtime.Call(ctx, rt, 1, func(w *runtime.Worker) (struct{}, error) {
		return struct{}{}, mem.Free(w, off, 64)
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
