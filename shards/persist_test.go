package shards_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
	"github.com/zipora-go/zipora/structures/trie"
)

func u64() trie.Codec[uint64] { return trie.Uint64Codec() }

func fillTrie(t *testing.T, tr *shards.Trie[uint64], prefix string, n int, val func(int) uint64) {
	t.Helper()
	b := tr.Batch()
	for i := range n {
		b.Insert(fmt.Appendf(nil, "%s/k%05d", prefix, i), val(i))
	}
	if err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestShardedSaveLoad: a sharded trie saved and loaded into sharded tries
// of other shard counts and routers, and into a plain trie, holds the same
// pairs; the old contents are gone; the loaded trie takes writes.
func TestShardedSaveLoad(t *testing.T) {
	ctx := context.Background()
	_, src := startTrie(t, 3, shards.TrieConfig{Router: routers()["range"]()})
	fillTrie(t, src, "w01", 700, func(i int) uint64 { return uint64(i) * 3 })
	fillTrie(t, src, "w05", 300, func(i int) uint64 { return uint64(i) + 1 })
	var buf bytes.Buffer
	if _, err := src.Save(ctx, &buf, u64()); err != nil {
		t.Fatal(err)
	}
	wantK, wantV := collect(src.All())
	// The range-routed save (the shards' snapshots one after another) and
	// the hash-routed one (merged) write the same bytes.
	_, hashed := startTrie(t, 3)
	fillTrie(t, hashed, "w01", 700, func(i int) uint64 { return uint64(i) * 3 })
	fillTrie(t, hashed, "w05", 300, func(i int) uint64 { return uint64(i) + 1 })
	var hbuf bytes.Buffer
	if _, err := hashed.Save(ctx, &hbuf, u64()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hbuf.Bytes(), buf.Bytes()) {
		t.Fatalf("range-routed save: %d bytes, hash-routed: %d, unlike", buf.Len(), hbuf.Len())
	}
	for name, mk := range routers() {
		for _, workers := range []int{1, 2, 4} {
			_, dst := startTrie(t, workers, shards.TrieConfig{Router: mk()})
			fillTrie(t, dst, "old", 50, func(int) uint64 { return 7 })
			if err := dst.Load(ctx, bytes.NewReader(buf.Bytes()), u64()); err != nil {
				t.Fatalf("%s/%d: %v", name, workers, err)
			}
			k, v := collect(dst.All())
			if !slices.Equal(k, wantK) || !slices.Equal(v, wantV) || dst.Len() != len(wantK) {
				t.Fatalf("%s/%d: %d keys after load, want %d", name, workers, len(k), len(wantK))
			}
			if _, ok := dst.Get([]byte("old/k00001")); ok {
				t.Fatalf("%s/%d: old key survived the load", name, workers)
			}
			if v, ok := dst.Get([]byte("w01/k00010")); !ok || v != 30 {
				t.Fatalf("%s/%d: Get = %d, %v", name, workers, v, ok)
			}
			if _, err := dst.Insert(ctx, []byte("new"), 1); err != nil {
				t.Fatal(err)
			}
			if _, found, err := dst.Delete(ctx, []byte("w05/k00000")); !found || err != nil {
				t.Fatalf("delete after load: %v %v", found, err)
			}
			if dst.Len() != len(wantK) {
				t.Fatalf("Len %d after one insert and one delete, want %d", dst.Len(), len(wantK))
			}
		}
	}
	plain, err := trie.Load(bytes.NewReader(buf.Bytes()), u64(), trie.Config{})
	if err != nil || plain.Len() != len(wantK) {
		t.Fatal(plain.Len(), err)
	}
}

// TestShardedLoadErrors: a corrupt stream, a cancelled ctx, a stopped or
// unstarted trie: an error and the contents unchanged.
func TestShardedLoadErrors(t *testing.T) {
	ctx := context.Background()
	rt, tr := startTrie(t, 2)
	fillTrie(t, tr, "keep", 200, func(i int) uint64 { return uint64(i) })
	var buf bytes.Buffer
	if _, err := tr.Save(ctx, &buf, u64()); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	wantK, _ := collect(tr.All())
	unchanged := func(what string) {
		t.Helper()
		if k, _ := collect(tr.All()); !slices.Equal(k, wantK) {
			t.Fatalf("%s: contents changed", what)
		}
	}
	bad := slices.Clone(good)
	bad[len(bad)/2] ^= 0x10
	if err := tr.Load(ctx, bytes.NewReader(bad), u64()); !errors.Is(err, trie.ErrCorrupt) {
		t.Fatalf("corrupt: %v", err)
	}
	unchanged("corrupt")
	if err := tr.Load(ctx, bytes.NewReader(good[:len(good)-1]), u64()); !errors.Is(err, trie.ErrCorrupt) {
		t.Fatalf("truncated: %v", err)
	}
	unchanged("truncated")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tr.Load(cctx, bytes.NewReader(good), u64()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	unchanged("cancelled")
	if _, err := tr.Save(cctx, &bytes.Buffer{}, u64()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled save: %v", err)
	}
	// A shard's memory cap hit mid-load.
	_, capped := startTrie(t, 2, shards.TrieConfig{Trie: trie.Config{Pool: pool.Config{MaxBytes: 256 << 10, Alignment: 16}}})
	fillTrie(t, capped, "c", 10, func(int) uint64 { return 1 })
	var big bytes.Buffer
	if _, err := trie.Save(&big, func(yield func([]byte, uint64) bool) {
		for i := range 60000 {
			if !yield(fmt.Appendf(nil, "big%08d", i), uint64(i)) {
				return
			}
		}
	}, u64()); err != nil {
		t.Fatal(err)
	}
	if err := capped.Load(ctx, &big, u64()); !errors.Is(err, pool.ErrExhausted) {
		t.Fatalf("cap: %v", err)
	}
	if capped.Len() != 10 {
		t.Fatalf("capped trie changed: %d keys", capped.Len())
	}
	if err := mustTrie[uint64]().Load(ctx, bytes.NewReader(good), u64()); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("not started: %v", err)
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tr.Load(ctx, bytes.NewReader(good), u64()); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("stopped: %v", err)
	}
	unchanged("stopped")
}

// TestShardedLoadUnderTraffic: writers and readers run while Load
// replaces the contents. Readers of a key present in both the old and the
// new contents always find it, with the old or the new value; every write
// acknowledged after Load returned is in the final contents; every key of
// the stream is there unless a writer deleted it.
func TestShardedLoadUnderTraffic(t *testing.T) {
	for name, mk := range routers() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, tr := startTrie(t, 4, shards.TrieConfig{Router: mk()})
			fillTrie(t, tr, "w03", 400, func(int) uint64 { return 1 }) // old value 1
			// The stream: the same keys with value 2, and more.
			_, other := startTrie(t, 2)
			fillTrie(t, other, "w03", 400, func(int) uint64 { return 2 })
			fillTrie(t, other, "w06", 400, func(int) uint64 { return 2 })
			var stream bytes.Buffer
			if _, err := other.Save(ctx, &stream, u64()); err != nil {
				t.Fatal(err)
			}
			var loaded atomic.Bool
			var stop atomic.Bool
			var wg sync.WaitGroup
			for r := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						k := fmt.Appendf(nil, "w03/k%05d", (i*7+r)%400)
						v, ok := tr.Get(k)
						if !ok || v != 1 && v != 2 {
							t.Errorf("Get(%s) = %d, %v during the load", k, v, ok)
							return
						}
					}
				}()
			}
			// Each writer records the keys whose Insert started after Load
			// returned, and signals once it has 50 of them.
			after := make([][]string, 3)
			var enough sync.WaitGroup
			for w := range 3 {
				wg.Add(1)
				enough.Add(1)
				go func() {
					defer wg.Done()
					signalled := false
					for i := 0; !stop.Load(); i++ {
						post := loaded.Load()
						k := fmt.Sprintf("w0%d/x%06d", w, i)
						if _, err := tr.Insert(ctx, []byte(k), 9); err != nil {
							t.Error(err)
							break
						}
						if post {
							after[w] = append(after[w], k)
						}
						if len(after[w]) == 50 {
							enough.Done()
							signalled = true
						}
					}
					if !signalled {
						enough.Done()
					}
				}()
			}
			testutil.Within(t, "load under traffic", func() {
				if err := tr.Load(ctx, bytes.NewReader(stream.Bytes()), u64()); err != nil {
					t.Error(err)
				}
			})
			loaded.Store(true)
			testutil.Within(t, "writes after the load", enough.Wait)
			stop.Store(true)
			wg.Wait()
			for w := range 3 {
				for _, k := range after[w] {
					if v, ok := tr.Get([]byte(k)); !ok || v != 9 {
						t.Fatalf("write %s acknowledged after the load is missing", k)
					}
				}
			}
			for k, v := range other.All() {
				if got, ok := tr.Get(k); !ok || got != v {
					t.Fatalf("stream key %s: %d, %v", k, got, ok)
				}
			}
		})
	}
}

// TestShardedSaveUnderWrites: Save while writers change the trie writes a
// valid stream (the merged walk stays strictly ascending) holding every
// key present for the whole save.
func TestShardedSaveUnderWrites(t *testing.T) {
	for name, mk := range routers() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			_, tr := startTrie(t, 3, shards.TrieConfig{Router: mk()})
			fillTrie(t, tr, "w02", 2000, func(i int) uint64 { return uint64(i) })
			var stop atomic.Bool
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !stop.Load(); i++ {
						k := fmt.Appendf(nil, "w0%d/churn%04d", 4+g, i%500)
						if i%2 == 0 {
							tr.Insert(ctx, k, 1)
						} else {
							tr.Delete(ctx, k)
						}
					}
				}()
			}
			for range 3 {
				var buf bytes.Buffer
				if _, err := tr.Save(ctx, &buf, u64()); err != nil {
					t.Fatal(err)
				}
				got, err := trie.Load(&buf, u64(), trie.Config{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range 2000 {
					if v, ok := got.Get(fmt.Appendf(nil, "w02/k%05d", i)); !ok || v != uint64(i) {
						t.Fatalf("stable key %d missing", i)
					}
				}
			}
			stop.Store(true)
			wg.Wait()
		})
	}
}
