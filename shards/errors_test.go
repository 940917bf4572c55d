package shards_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// TestErrorPrefixOnce walks the package's sentinels and a sample of the
// errors that wrap them (its own and other packages'): each names a
// package once, and errors.Is still matches.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{
		"ErrNotStarted": shards.ErrNotStarted, "ErrPanicked": shards.ErrPanicked,
		"ErrRouter": shards.ErrRouter, "ErrBadOffset": shards.ErrBadOffset,
		"ErrTooManyShards": shards.ErrTooManyShards, "ErrClosed": shards.ErrClosed,
		"ErrNoShard": shards.ErrNoShard, "ErrInvalidConfig": shards.ErrInvalidConfig,
	}
	must := func(name string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %v does not match %v", name, err, target)
		}
		errs[name] = err
	}
	tr := mustTrie[string]()
	_, err := tr.Insert(context.Background(), []byte("k"), "v")
	must("Insert before Start", err, shards.ErrNotStarted)
	p, err := shards.NewPool(shards.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	must("Pool.Attach", p.Attach(shards.MaxPoolShards+1), shards.ErrTooManyShards)

	rt, err := startRT(2, tr)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tr.Insert(context.Background(), bytes.Repeat([]byte{'k'}, trie.MaxKeyLen+1), "v")
	must("Insert too long", err, trie.ErrKeyTooLong)
	err = tr.Load(context.Background(), bytes.NewReader([]byte("no stream here, no stream at all")), trie.StringCodec())
	must("Load garbage", err, trie.ErrNotStream)
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = tr.Insert(ctx, []byte("k"), "v")
	must("Insert after Stop", err, shards.ErrClosed)
	b := tr.Batch()
	b.Insert([]byte("k"), "v")
	must("Commit after Stop", b.Commit(ctx), shards.ErrClosed)
	_, err = tr.Snapshot(ctx)
	must("Snapshot after Stop", err, shards.ErrClosed)
	must("Load after Stop", tr.Load(ctx, bytes.NewReader(nil), trie.StringCodec()), shards.ErrClosed)
	tr.Close()
	must("Attach after Close", tr.Attach(2), shards.ErrClosed)
	_, err = shards.NewTrie[int](shards.TrieConfig{Shards: -1})
	must("NewTrie(Shards -1)", err, shards.ErrInvalidConfig)
	sp, err := shards.NewPool(shards.PoolConfig{Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = sp.Alloc(ctx, 1, 8)
	must("Alloc on a missing shard", err, shards.ErrNoShard)
	shards.SetPoolApplyHook(func(string, int) { panic("boom") })
	_, err = sp.Alloc(ctx, 0, 8)
	shards.SetPoolApplyHook(nil)
	must("Alloc that panicked", err, shards.ErrPanicked)
	sp.Close()
	_, err = sp.Alloc(ctx, 0, 8)
	must("Alloc after Close", err, shards.ErrClosed)
	testutil.CheckErrors(t, errs)
}
