package shards_test

import (
	"context"
	"fmt"

	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

// A sharded trie on its own: built with a shard count, usable at once,
// closed when done. A write is applied under its shard's ownership word by
// the calling goroutine (or by the goroutine holding the word, before the
// call returns) and is visible on return; reads are lock-free from any
// goroutine. (Registered with runtime.Start instead, a Trie is sized to
// one shard per worker and ended by Stop: see the runtime package's
// examples.)
func ExampleTrie() {
	ctx := context.Background()
	idx, err := shards.NewTrie[int](shards.TrieConfig{Shards: 2})
	if err != nil {
		panic(err)
	}
	defer idx.Close()

	if _, err := idx.Insert(ctx, []byte("usr/lib/libc.so"), 1); err != nil {
		panic(err)
	}
	b := idx.Batch() // many writes, one publication per shard
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

// A sharded pool on its own: a block allocated from shard 0 and freed by
// another goroutine goes back to shard 0 at once. After Close, frees still
// work (nothing is lost) and allocations are refused.
func ExamplePool() {
	ctx := context.Background()
	mem, err := shards.NewPool(shards.PoolConfig{Shards: 2, Pool: pool.MemoryOptimized()})
	if err != nil {
		panic(err)
	}
	off, err := mem.Alloc(ctx, 0, 64)
	if err != nil {
		panic(err)
	}
	b, _ := mem.Bytes(off, 64)
	copy(b, "hello from shard 0")
	done := make(chan error)
	go func() { done <- mem.Free(ctx, off, 64) }() // any goroutine frees
	if err := <-done; err != nil {
		panic(err)
	}
	mem.Close()
	_, err = mem.Alloc(ctx, 1, 64)
	st, _ := mem.Stats(ctx)
	fmt.Println("owner:", off.Shard(), "in use:", st.InUse(), "frees on shard 0:", st.Shards[0].Frees)
	fmt.Println(err)
	// Output:
	// owner: 0 in use: 0 frees on shard 0: 1
	// shards: closed
}

// A consistent cut of a sharded trie: every write that returned before
// Snapshot is in it, none that started after. Writers pause only while
// every shard's word is taken and each shard's trie snapshotted.
func ExampleTrie_Snapshot() {
	ctx := context.Background()
	idx, err := shards.NewTrie[int](shards.TrieConfig{Shards: 2})
	if err != nil {
		panic(err)
	}
	defer idx.Close()
	for i, k := range []string{"a", "b", "c", "d"} {
		idx.Insert(ctx, []byte(k), i)
	}

	cut, err := idx.Snapshot(ctx)
	if err != nil {
		panic(err)
	}
	defer cut.Close()
	idx.Delete(ctx, []byte("a"))
	idx.Insert(ctx, []byte("e"), 4)

	for k, v := range cut.All() { // merged in key order across the shards
		fmt.Print(string(k), "=", v, " ")
	}
	fmt.Println("| cut:", cut.Len(), "live:", idx.Len())
	// Output: a=0 b=1 c=2 d=3 | cut: 4 live: 4
}
