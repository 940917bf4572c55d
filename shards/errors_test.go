package shards_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
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
		"ErrTooManyShards": shards.ErrTooManyShards,
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
	must("Pool.Attach", p.Attach(nil, shards.MaxPoolShards+1), shards.ErrTooManyShards)

	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2}, tr)
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
	_, err = tr.Insert(context.Background(), []byte("k"), "v")
	must("Insert after Stop", err, runtime.ErrStopped)
	testutil.CheckErrors(t, errs)
}
