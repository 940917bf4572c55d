package shards_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
	"github.com/zipora-go/zipora/structures/trie"
)

// TestStandaloneTrie: a Trie built with a shard count is usable at once,
// with no runtime, and Close ends its writes, not its reads.
func TestStandaloneTrie(t *testing.T) {
	ctx := context.Background()
	tr, err := shards.NewTrie[int](shards.TrieConfig{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := tr.Insert(ctx, fmt.Appendf(nil, "k%03d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	b := tr.Batch()
	b.Insert([]byte("batch"), -1)
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if n, st := tr.Len(), tr.Stats(); n != 101 || len(st) != 3 {
		t.Fatalf("Len %d, %d shards; want 101, 3", n, len(st))
	}
	snap, err := tr.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Len() != 101 {
		t.Fatalf("snapshot Len %d", snap.Len())
	}
	snap.Close()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := tr.Insert(ctx, []byte("late"), 1); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Insert after Close: %v, want ErrClosed", err)
	}
	if v, ok := tr.Get([]byte("k042")); !ok || v != 42 {
		t.Fatalf("Get after Close = %d, %v", v, ok)
	}
	if err := tr.Attach(2); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Attach after Close: %v, want ErrClosed", err)
	}
}

// TestStandaloneTrieAttached: a standalone Trie registered with a runtime
// is sized by it (keys move to their new shards), ended by its Stop
// (Detach), and may be registered again; Close after that is final.
func TestStandaloneTrieAttached(t *testing.T) {
	ctx := context.Background()
	tr, err := shards.NewTrie[int](shards.TrieConfig{Shards: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		tr.Insert(ctx, fmt.Appendf(nil, "k%03d", i), i)
	}
	if err := tr.Attach(2); err != nil { // what runtime.Start does with 2 workers
		t.Fatal(err)
	}
	if err := tr.Attach(2); err == nil {
		t.Fatal("attached twice")
	}
	if n := len(tr.Stats()); n != 2 || tr.Len() != 200 {
		t.Fatalf("after Attach(2): %d shards, %d keys", n, tr.Len())
	}
	for i := range 200 {
		if v, ok := tr.Get(fmt.Appendf(nil, "k%03d", i)); !ok || v != i {
			t.Fatalf("k%03d = %d, %v after the move", i, v, ok)
		}
	}
	if _, err := tr.Insert(ctx, []byte("new"), 1); err != nil {
		t.Fatal(err)
	}
	tr.Detach() // the runtime's Stop
	if _, err := tr.Insert(ctx, []byte("late"), 1); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Insert after Detach: %v", err)
	}
	if err := tr.Attach(4); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Stats()); n != 4 || tr.Len() != 201 {
		t.Fatalf("after Attach(4): %d shards, %d keys", n, tr.Len())
	}
	tr.Detach()
	tr.Close()
	if err := tr.Attach(4); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Attach after Close: %v", err)
	}
}

// TestNewTrieInvalidConfig: every configuration NewTrie cannot use is an
// error, never a panic.
func TestNewTrieInvalidConfig(t *testing.T) {
	for name, c := range map[string]struct {
		cfg    shards.TrieConfig
		target error
	}{
		"negative shards":   {shards.TrieConfig{Shards: -1}, shards.ErrInvalidConfig},
		"shard trie config": {shards.TrieConfig{Shards: 2, Trie: trie.Config{Pool: pool.Config{Alignment: 3}}}, shards.ErrInvalidConfig},
		"router":            {shards.TrieConfig{Shards: 2, Router: shards.NewRangeRouter([]byte("a"), []byte("b"))}, shards.ErrRouter},
	} {
		if _, err := shards.NewTrie[int](c.cfg); !errors.Is(err, c.target) {
			t.Errorf("%s: %v, want %v", name, err, c.target)
		}
	}
	badTrie := shards.TrieConfig{Trie: trie.Config{Pool: pool.Config{Alignment: 3}}}
	if _, err := shards.NewTrie[int](badTrie); !errors.Is(err, shards.ErrInvalidConfig) || !errors.Is(err, pool.ErrInvalidConfig) {
		t.Errorf("Shards 0, invalid shard trie config: %v, want an error from NewTrie, not from Start", err)
	}
	tr, err := shards.NewTrie[int](shards.TrieConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Insert(context.Background(), []byte("k"), 1); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("Shards 0, not registered: %v, want ErrNotStarted", err)
	}
}

// TestStandalonePool: a Pool built with a shard count allocates at once;
// Close refuses allocations and keeps frees and Bytes working.
func TestStandalonePool(t *testing.T) {
	ctx := context.Background()
	if _, err := shards.NewPool(shards.PoolConfig{Shards: -1}); !errors.Is(err, shards.ErrInvalidConfig) {
		t.Fatalf("Shards -1: %v", err)
	}
	if _, err := shards.NewPool(shards.PoolConfig{Shards: shards.MaxPoolShards + 1}); !errors.Is(err, shards.ErrInvalidConfig) {
		t.Fatalf("Shards over MaxPoolShards: %v", err)
	}
	p, err := shards.NewPool(shards.PoolConfig{Shards: 2, Pool: pool.MemoryOptimized()})
	if err != nil {
		t.Fatal(err)
	}
	var offs []shards.Offset
	for i := range 10 {
		off, err := p.Alloc(ctx, i%2, 64)
		if err != nil {
			t.Fatal(err)
		}
		if off.Shard() != i%2 {
			t.Fatalf("block of shard %d from shard %d", off.Shard(), i%2)
		}
		offs = append(offs, off)
	}
	if _, err := p.Alloc(ctx, 2, 64); !errors.Is(err, shards.ErrNoShard) {
		t.Fatalf("Alloc on shard 2 of 2: %v, want ErrNoShard", err)
	}
	p.Close()
	if _, err := p.Alloc(ctx, 0, 64); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Alloc after Close: %v", err)
	}
	for _, off := range offs {
		if _, err := p.Bytes(off, 64); err != nil {
			t.Fatal(err)
		}
		if err := p.Free(ctx, off, 64); err != nil {
			t.Fatalf("Free after Close: %v", err)
		}
	}
	st, err := p.Stats(ctx)
	if err != nil || st.InUse() != 0 {
		t.Fatalf("in use after every free: %d, %v", st.InUse(), err)
	}
	if err := p.Attach(2); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Attach after Close: %v", err)
	}
}
