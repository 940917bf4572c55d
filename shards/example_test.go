package shards_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

// A sharded trie registered with a runtime: a write is applied under its
// shard's ownership word by the calling goroutine (or by the goroutine
// holding the word, before the call returns) and is visible on return;
// reads are lock-free from any goroutine.
func ExampleTrie() {
	ctx := context.Background()
	idx, err := shards.NewTrie[int](shards.TrieConfig{})
	if err != nil {
		panic(err)
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, idx)
	if err != nil {
		panic(err)
	}
	defer rt.Stop(ctx)

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

// Worker-local allocation: a task allocates from its own worker's shard; a
// block freed on another worker is returned to its owning shard at once.
func ExamplePool() {
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

// Example_inShort is the README's "In short" snippet, line for line
// (between the markers in inShort; TestREADMEInShort compares them), so
// that the front page's code compiles and runs.
func Example_inShort() {
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

// TestREADMEInShort: the README's "In short" snippet is inShort's body, up
// to white space. Until README.md carries the compilable snippet (the one
// with "{ ... }" is the old one), the test says so and skips.
func TestREADMEInShort(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## In short\n\n```go\n")
	snippet, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatal("README.md has no go block under \"## In short\"")
	}
	if strings.Contains(snippet, "{ ... }") {
		t.Skip("README.md still has the snippet that does not compile: replace it with the body of inShort in shards/example_test.go")
	}
	src, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(string(src), "// README \"In short\" begins\n")
	body, _, _ = strings.Cut(body, "\t// README \"In short\" ends")
	if norm(snippet) != norm(body) {
		t.Fatalf("README.md's \"In short\" is not Example_inShort's code:\n--- README\n%s\n--- inShort\n%s", norm(snippet), norm(body))
	}
}

// norm trims each line and folds runs of blanks: gofmt aligns comments.
func norm(s string) string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		out = append(out, strings.Join(strings.Fields(l), " "))
	}
	return strings.Join(out, "\n")
}

// A consistent cut of a sharded trie: every write that returned before
// Snapshot is in it, none that started after. Writers pause only while
// every shard's word is taken and each shard's trie snapshotted.
func ExampleTrie_Snapshot() {
	ctx := context.Background()
	idx, err := shards.NewTrie[int](shards.TrieConfig{})
	if err != nil {
		panic(err)
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, idx)
	if err != nil {
		panic(err)
	}
	defer rt.Stop(ctx)
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
