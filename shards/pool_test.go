package shards_test

import (
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
)

func workerCounts() []int { return []int{1, runtime.GOMAXPROCS(0), 8} }

func startPool(t *testing.T, workers int) (*testRuntime, *shards.Pool) {
	t.Helper()
	p, err := shards.NewPool(shards.PoolConfig{Pool: pool.MemoryOptimized()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := startRT(workers, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Stop(context.Background()) })
	return rt, p
}

func TestPoolOutsideCallers(t *testing.T) {
	p, _ := shards.NewPool(shards.PoolConfig{})
	if _, err := p.Alloc(context.Background(), 0, 10); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("AllocOn before Start: %v", err)
	}
	rt, err := startRT(2, p)
	if err != nil {
		t.Fatal(err)
	}
	off, err := p.Alloc(context.Background(), 1, 100)
	if err != nil || off.Shard() != 1 {
		t.Fatalf("AllocOn: %v, shard %d", err, off.Shard())
	}
	if _, err := p.Alloc(context.Background(), 5, 100); !errors.Is(err, shards.ErrNoShard) {
		t.Fatalf("AllocOn to a missing shard: %v", err)
	}
	if _, err := p.Alloc(context.Background(), 0, 0); !errors.Is(err, pool.ErrInvalidSize) {
		t.Fatalf("AllocOn(0 bytes): %v", err)
	}
	if _, err := p.Bytes(shards.Offset(99)<<52|off, 100); !errors.Is(err, shards.ErrBadOffset) {
		t.Fatalf("Bytes of a missing shard: %v", err)
	}
	if b, err := p.Bytes(off, 100); err != nil || len(b) != 100 {
		t.Fatalf("Bytes from outside the workers: %v", err)
	}
	if err := p.Free(context.Background(), off, 100); err != nil {
		t.Fatal(err)
	}
	st, err := p.Stats(context.Background())
	if err != nil || st.InUse() != 0 {
		t.Fatalf("stats %v, in use %d", err, st.InUse())
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Alloc(context.Background(), 0, 10); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("AllocOn after Stop: %v", err)
	}
	if _, err := shards.NewPool(shards.PoolConfig{Pool: pool.Config{Alignment: 3}}); !errors.Is(err, pool.ErrInvalidConfig) {
		t.Fatalf("bad config: %v", err)
	}
}
