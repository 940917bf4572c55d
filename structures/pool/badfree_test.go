package pool_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/zipora-go/zipora/structures/pool"
)

// TestBadFreesRefused (case 7 of issue 19): in every build, for NoLocking,
// Mutex, FixedCapacity and LockFree, a free of an offset that starts no
// live block and a double free return ErrInvalidFree and change nothing:
// InUse stays exact and no two live blocks ever share an offset.
func TestBadFreesRefused(t *testing.T) {
	cfg := pool.Config{MaxBytes: 64 << 20}
	levels := map[string]func() (badFreePool, error){
		"nolock": func() (badFreePool, error) { return pool.NewNoLocking(cfg) },
		"mutex":  func() (badFreePool, error) { return pool.NewMutex(cfg) },
		"fixed": func() (badFreePool, error) {
			return pool.NewFixedCapacity(pool.Config{FixedCapacity: 64 << 20})
		},
		"lockfree": func() (badFreePool, error) { return pool.NewLockFree(cfg) },
	}
	for name, mk := range levels {
		t.Run(name, func(t *testing.T) {
			p, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			badFrees(t, p)
		})
	}
}

// badFreePool is a pool level under test.
type badFreePool = pool.Pool

func badFrees(t *testing.T, p badFreePool) {
	rng := rand.New(rand.NewPCG(19, 7))
	live := map[pool.Offset]int{}
	var liveBytes int64
	for range 5000 {
		size := 16 * (1 + rng.IntN(32))
		off, err := p.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := live[off]; dup {
			t.Fatalf("offset %#x handed out twice", off)
		}
		live[off] = size
		liveBytes += int64(size)
	}
	// Random offsets inside the arena: only live block starts are accepted
	// (and those are then freed for real).
	limit := p.Stats().Capacity
	accepted := 0
	for range 20_000 {
		off := pool.Offset(16 * (1 + rng.Int64N(limit/16-1)))
		size := 16 * (1 + rng.IntN(32))
		if want, ok := live[off]; ok {
			size = want
		}
		err := p.Free(off, size)
		if _, ok := live[off]; ok {
			if err != nil {
				t.Fatalf("free of live block %#x: %v", off, err)
			}
			delete(live, off)
			liveBytes -= int64(size)
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

// TestNoLockingTopBlock: the newest bump block is marked lazily and a free
// of it moves the bump pointer back (NoLocking.top); bad frees around it are
// still refused in every build: a double free after the move back, an
// offset inside it that would end at the bump pointer, a free of it once
// a newer block is on top, and a free of the bump pointer itself.
func TestNoLockingTopBlock(t *testing.T) {
	p, err := pool.NewNoLocking(pool.Config{Alignment: 8, MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	bad := func(off pool.Offset, size int) {
		t.Helper()
		if err := p.Free(off, size); !errors.Is(err, pool.ErrInvalidFree) {
			t.Fatalf("Free(%#x, %d) = %v, want ErrInvalidFree", uint64(off), size, err)
		}
	}
	ok := func(off pool.Offset, size int) {
		t.Helper()
		if err := p.Free(off, size); err != nil {
			t.Fatalf("Free(%#x, %d): %v", uint64(off), size, err)
		}
	}
	alloc := func(size int) pool.Offset {
		t.Helper()
		off, err := p.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		return off
	}
	a := alloc(64)
	bad(a+16, 48) // ends where a ends: not a block start
	bad(a+64, 64) // the bump pointer: never handed out
	ok(a, 64)
	bad(a, 64) // double free after the bump pointer moved back
	if got := alloc(64); got != a {
		t.Fatalf("the freed top block was not reused: %#x, want %#x", uint64(got), uint64(a))
	}
	b := alloc(32) // a is marked, b is the top
	bad(b+8, 24)
	ok(a, 64) // below the top: through the bitmap onto the free list
	bad(a, 64)
	ok(b, 32)
	bad(b, 32)
	c := alloc(64) // a again, from its free list: live, not the top
	if c != a {
		t.Fatalf("free-list block not reused: %#x, want %#x", uint64(c), uint64(a))
	}
	d := alloc(32) // b again: the top
	if d != b {
		t.Fatalf("top block not reused: %#x, want %#x", uint64(d), uint64(b))
	}
	e := alloc(8) // d is marked
	ok(d, 32)
	ok(e, 8)
	bad(d, 32)
	bad(e, 8)
	ok(c, 64)
	if s := p.Stats(); s.InUse != 0 || s.Allocs != s.Frees {
		t.Fatalf("after freeing everything: InUse %d, Allocs %d, Frees %d", s.InUse, s.Allocs, s.Frees)
	}
	// TryFree takes the top block the same way (outside the invariants
	// build, where it takes nothing), and refuses the rest.
	f := alloc(16)
	if p.TryFree(f+8, 8) {
		t.Fatal("TryFree accepted an offset inside the top block")
	}
	if !p.TryFree(f, 16) {
		ok(f, 16)
	}
	if p.TryFree(f, 16) {
		t.Fatal("TryFree accepted a double free of the top block")
	}
	bad(f, 16)
}
