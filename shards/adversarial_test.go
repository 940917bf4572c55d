package shards_test

// Misuse, faults and huge inputs against the sharded structures: each case
// that once hung or panicked now returns an error. Every operation that
// could hang runs under testutil.Within, so a regression fails fast.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// TestBatchPanicReported: a write that panics while a batch is applied
// makes Commit return an error matching ErrPanicked for that write only
// (the others applied), instead of hanging.
func TestBatchPanicReported(t *testing.T) {
	_, tr := startTrie(t, 2)
	shards.SetApplyHook(func(k []byte) {
		if string(k) == "bomb" {
			panic("injected")
		}
	})
	defer shards.SetApplyHook(nil)
	b := tr.Batch()
	for i := range 100 {
		b.Insert(fmt.Appendf(nil, "k%03d", i), 1)
	}
	b.Insert([]byte("bomb"), 2)
	var err error
	testutil.Within(t, "Commit with a panicking write", func() { err = b.Commit(context.Background()) })
	var be *shards.BatchError
	if !errors.Is(err, shards.ErrPanicked) || !errors.As(err, &be) || be.Failed != 1 || be.Errors[0].Index != 100 {
		t.Fatalf("Commit: %v", err)
	}
	if tr.Len() != 100 || tr.Contains([]byte("bomb")) {
		t.Fatalf("Len %d after the batch", tr.Len())
	}
	if _, err := tr.Insert(context.Background(), []byte("bomb"), 1); !errors.Is(err, shards.ErrPanicked) {
		t.Fatalf("Insert of the panicking key: %v", err)
	}
	if _, err := tr.Insert(context.Background(), []byte("fine"), 1); err != nil {
		t.Fatalf("Insert after panics: %v", err)
	}
}

// TestBatchContextEnds: a cancelled context fails the writes of every shard
// not started, which are then absent; the others are applied.
func TestBatchContextEnds(t *testing.T) {
	_, tr := startTrie(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := tr.Batch()
	for i := range 1000 {
		b.Insert(fmt.Appendf(nil, "k%04d", i), 1)
	}
	err := b.Commit(ctx)
	var be *shards.BatchError
	if !errors.Is(err, context.Canceled) || !errors.As(err, &be) || be.Failed != 1000 {
		t.Fatalf("Commit with a cancelled context: %v", err)
	}
	if tr.Len() != 0 {
		t.Fatalf("%d keys applied by a cancelled Commit", tr.Len())
	}
}

// TestSharedRouter: one router value configures two tries on runtimes with
// different worker counts; both answer correctly (Init used to change the
// shared value, and Get then indexed past the shards).
func TestSharedRouter(t *testing.T) {
	sample := [][]byte{[]byte("a"), []byte("m"), []byte("t")}
	for name, r := range map[string]shards.Router{"hash": &shards.HashRouter{}, "range": shards.NewSampleRouter(sample)} {
		t.Run(name, func(t *testing.T) {
			_, t2 := startTrie(t, 2, shards.TrieConfig{Router: r})
			_, t5 := startTrie(t, 5, shards.TrieConfig{Router: r})
			for i := range 200 {
				k := fmt.Appendf(nil, "%c%03d", 'a'+i%26, i)
				for _, tr := range []*shards.Trie[uint64]{t2, t5} {
					if _, err := tr.Insert(context.Background(), k, valueOf(k)); err != nil {
						t.Fatal(err)
					}
				}
			}
			for i := range 200 {
				k := fmt.Appendf(nil, "%c%03d", 'a'+i%26, i)
				for _, tr := range []*shards.Trie[uint64]{t2, t5} {
					if v, ok := tr.Get(k); !ok || v != valueOf(k) {
						t.Fatalf("%s: %x %v", k, v, ok)
					}
				}
			}
		})
	}
}

// badRouter answers a shard that does not exist.
type badRouter struct{}

func (badRouter) Init(int) error   { return nil }
func (badRouter) Route([]byte) int { return 99 }
func (badRouter) Ordered() bool    { return false }

// TestCustomRouterOutOfRange: a Router that answers a missing shard gets
// ErrRouter on writes and "absent" on reads, never a panic.
func TestCustomRouterOutOfRange(t *testing.T) {
	_, tr := startTrie(t, 2, shards.TrieConfig{Router: badRouter{}})
	if _, err := tr.Insert(context.Background(), []byte("k"), 1); !errors.Is(err, shards.ErrRouter) {
		t.Fatalf("Insert: %v", err)
	}
	if _, ok := tr.Get([]byte("k")); ok || tr.Contains([]byte("k")) {
		t.Fatal("found a key never written")
	}
	b := tr.Batch()
	b.Insert([]byte("k"), 1)
	if err := b.Commit(context.Background()); !errors.Is(err, shards.ErrRouter) {
		t.Fatalf("Commit: %v", err)
	}
}

// TestPoolBytesOutOfArena: offsets inside a valid shard but outside its
// arena, and huge sizes, return ErrBadOffset instead of panicking.
func TestPoolBytesOutOfArena(t *testing.T) {
	_, p := startPool(t, 2)
	off, err := p.Alloc(context.Background(), 0, 64)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		off  shards.Offset
		size int
	}{
		{off, 1 << 40},
		{off, int(^uint(0) >> 1)},
		{off | 1<<50, 64},
		{shards.Offset(1)<<52 | 1<<45, 8},
		{off, -1},
	} {
		if _, err := p.Bytes(c.off, c.size); !errors.Is(err, shards.ErrBadOffset) {
			t.Errorf("Bytes(%#x, %d): %v", uint64(c.off), c.size, err)
		}
	}
}

// TestErrorsBounded: errors quote at most 64 bytes of a key, and a huge
// failed batch reports a count, not a line per write.
func TestErrorsBounded(t *testing.T) {
	rt, tr := startTrie(t, 2)
	huge := bytes.Repeat([]byte("x"), trie.MaxKeyLen+100_000)
	b := tr.Batch()
	b.Insert([]byte("ok"), 1)
	b.Insert(huge, 1)
	err := b.Commit(context.Background())
	if !errors.Is(err, trie.ErrKeyTooLong) || len(err.Error()) > 400 || !strings.Contains(err.Error(), fmt.Sprint(len(huge))) {
		t.Fatalf("an over-long key's error (%d bytes): %.300s", len(err.Error()), err)
	}
	if _, err := tr.Insert(context.Background(), huge, 1); !errors.Is(err, trie.ErrKeyTooLong) || len(err.Error()) > 200 {
		t.Fatalf("Insert of an over-long key: %.300v", err)
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	const n = 200_000
	for i := range n {
		b.Insert(fmt.Appendf(nil, "k%07d", i), 1)
	}
	err = b.Commit(context.Background())
	var be *shards.BatchError
	if !errors.Is(err, shards.ErrClosed) || !errors.As(err, &be) || be.Failed != n || len(err.Error()) > 1000 {
		t.Fatalf("a stopped batch of %d: %d-byte error: %.300v", n, len(err.Error()), err)
	}
}

// TestReclaimWhileIteratingWriter: one goroutine iterates the trie and
// inserts from inside the loop while another calls Reclaim. Reclaim used
// to hold a shard's word while it waited for readers; the iterating
// goroutine, a reader waiting for that word, then never finished.
func TestReclaimWhileIteratingWriter(t *testing.T) {
	_, tr := startTrie(t, 2)
	ctx := context.Background()
	for i := range 100 {
		if _, err := tr.Insert(ctx, fmt.Appendf(nil, "seed%03d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	inside := make(chan struct{})
	var reclaimed atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range tr.All() {
			close(inside)
			for i := 0; i < 20_000 && !reclaimed.Load(); i++ {
				if _, err := tr.Insert(ctx, fmt.Appendf(nil, "in-loop%06d", i), 2); err != nil {
					t.Error(err)
					return
				}
			}
			return
		}
	}()
	<-inside
	testutil.Within(t, "Reclaim beside a writing iterator", func() {
		if err := tr.Reclaim(ctx); err != nil {
			t.Error(err)
		}
		reclaimed.Store(true)
		wg.Wait()
	})
}

// TestReclaimInsideIteration: Reclaim (which waits for the readers of each
// shard) called from inside an iteration over the same trie, whose cursors
// hold those readers' guards, returns trie.ErrSelfWait at once instead of
// waiting until ctx ends; after the loop it works.
func TestReclaimInsideIteration(t *testing.T) {
	if a := runtime.GOARCH; runtime.Compiler != "gc" || a != "amd64" && a != "arm64" {
		t.Skip("self-waits of readers are detected on amd64 and arm64 only (trie.ErrSelfWait)")
	}
	_, tr := startTrie(t, 2)
	ctx := context.Background()
	for i := range 100 {
		if _, err := tr.Insert(ctx, fmt.Appendf(nil, "k%03d", i), 1); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Within(t, "Reclaim inside an iteration", func() {
		for range tr.Prefix([]byte("k0")) {
			if err := tr.Reclaim(ctx); !errors.Is(err, trie.ErrSelfWait) {
				t.Errorf("Reclaim inside an iteration: %v, want trie.ErrSelfWait", err)
			}
			break
		}
		if err := tr.Reclaim(ctx); err != nil {
			t.Errorf("Reclaim after the loop: %v", err)
		}
	})
}
