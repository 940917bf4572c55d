package pool_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/zipora-go/zipora/structures/pool"
)

// TestNoLockingBadFreesRefused (case 7 of issue 19): in every build, a
// free of an offset that starts no live block and a double free return
// ErrInvalidFree and change nothing: InUse stays exact and no two live
// blocks ever share an offset.
func TestNoLockingBadFreesRefused(t *testing.T) {
	p, err := pool.NewNoLocking(pool.Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(19, 7))
	live := map[pool.Offset]int{}
	var liveBytes int64
	for range 5000 {
		size := 8 * (1 + rng.IntN(64))
		off, err := p.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := live[off]; dup {
			t.Fatalf("offset %#x handed out twice", off)
		}
		live[off] = size
		liveBytes += int64(p.BlockSize(size))
	}
	// Random offsets inside the arena: only live block starts are accepted
	// (and those are then freed for real).
	limit := p.Stats().Capacity
	accepted := 0
	for range 20_000 {
		off := pool.Offset(8 * (1 + rng.Int64N(limit/8-1)))
		size := 8 * (1 + rng.IntN(64))
		if want, ok := live[off]; ok {
			size = want
		}
		err := p.Free(off, size)
		if _, ok := live[off]; ok {
			if err != nil {
				t.Fatalf("free of live block %#x: %v", off, err)
			}
			delete(live, off)
			liveBytes -= int64(p.BlockSize(size))
			accepted++
			continue
		}
		if !errors.Is(err, pool.ErrInvalidFree) {
			t.Fatalf("free of %#x (no live block starts there): %v", off, err)
		}
	}
	if got := p.Stats().InUse; got != liveBytes {
		t.Fatalf("InUse %d, want %d", got, liveBytes)
	}
	// Double free: refused, and the block is not handed out twice.
	var victim pool.Offset
	for off := range live {
		victim = off
		break
	}
	size := live[victim]
	if err := p.Free(victim, size); err != nil {
		t.Fatal(err)
	}
	delete(live, victim)
	if err := p.Free(victim, size); !errors.Is(err, pool.ErrInvalidFree) {
		t.Fatalf("double free: %v", err)
	}
	a, err := p.Alloc(size)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Alloc(size)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two live blocks at %#x after a double free", a)
	}
	t.Logf("%d random frees accepted (all live block starts)", accepted)
}
