package pool_test

import (
	"cmp"
	"errors"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/structures/pool"
)

// TestBadFreesRefused (case 7 of issue 19): in every build, for every
// level (ThreadLocal both through the pool and through a cache), a free of
// an offset that starts no live block and a double free return
// ErrInvalidFree and change nothing: InUse stays exact and no two live
// blocks ever share an offset.
func TestBadFreesRefused(t *testing.T) { onEveryLevel(t, badFrees) }

// badFreePool is a pool level under test.
type badFreePool = pool.Pool

// badFreeLevels returns a constructor of every level (64 MiB each).
func badFreeLevels() map[string]func() (badFreePool, error) {
	cfg := pool.Config{MaxBytes: 64 << 20}
	return map[string]func() (badFreePool, error){
		"nolock": func() (badFreePool, error) { return pool.NewNoLocking(cfg) },
		"mutex":  func() (badFreePool, error) { return pool.NewMutex(cfg) },
		"fixed": func() (badFreePool, error) {
			return pool.NewFixedCapacity(pool.Config{FixedCapacity: 64 << 20})
		},
		"lockfree":    func() (badFreePool, error) { return pool.NewLockFree(cfg) },
		"threadlocal": func() (badFreePool, error) { return pool.NewThreadLocal(cfg) },
		"cache": func() (badFreePool, error) {
			p, err := pool.NewThreadLocal(cfg)
			if err != nil {
				return nil, err
			}
			return p.NewCache(), nil
		},
	}
}

// TestWrongSizeFreesRefused (case 7 of issue 19): in every build and every
// level, a free of a live block with the size of another class, smaller or
// larger, with the block's bits in one bitmap word or across words, and
// with a claimed end past its chunk, returns ErrInvalidFree and changes
// nothing: the block is then freed with its own size, InUse stays exact,
// and no two live blocks share memory.
func TestWrongSizeFreesRefused(t *testing.T) { onEveryLevel(t, wrongSizeFrees) }

// onEveryLevel runs test on a fresh pool of every level (badFreeLevels).
func onEveryLevel(t *testing.T, test func(*testing.T, badFreePool)) {
	for name, mk := range badFreeLevels() {
		t.Run(name, func(t *testing.T) {
			p, err := mk()
			if err != nil {
				t.Fatal(err)
			}
			test(t, p)
		})
	}
}

func wrongSizeFrees(t *testing.T, p badFreePool) {
	rng := rand.New(rand.NewPCG(19, 77))
	type block struct {
		off  pool.Offset
		size int
	}
	var live []block
	var liveBytes int64
	// Sizes of 1 to 300 units (16 B each): one-word and multi-word blocks,
	// every position in a word.
	for range 3000 {
		size := 16 * (1 + rng.IntN(300))
		if rng.IntN(4) == 0 {
			size = 16 * (1 + rng.IntN(4))
		}
		off, err := p.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, block{off, size})
		liveBytes += int64(size)
	}
	refused := 0
	for i, b := range live {
		// A smaller and a larger class, by one unit and by many; and the
		// largest small class (its claimed end usually lies beyond the
		// block's neighbours or the chunk).
		wrong := []int{b.size + 16, b.size + 16*(1+rng.IntN(64)), 64 << 10}
		if b.size > 16 {
			wrong = append(wrong, b.size-16, 16*(1+rng.IntN(b.size/16-1)))
		}
		for _, w := range wrong {
			if err := p.Free(b.off, w); !errors.Is(err, pool.ErrInvalidFree) {
				t.Fatalf("block %d (%#x, %d bytes) freed with %d bytes: %v", i, uint64(b.off), b.size, w, err)
			}
			refused++
		}
	}
	if got := p.Stats().InUse; got != liveBytes {
		t.Fatalf("InUse %d after refused frees, want %d", got, liveBytes)
	}
	// Every block is still live and frees with its own size, once.
	rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	for _, b := range live[:len(live)/2] {
		if err := p.Free(b.off, b.size); err != nil {
			t.Fatalf("free of %#x (%d bytes) after refused wrong-size frees: %v", uint64(b.off), b.size, err)
		}
		if err := p.Free(b.off, b.size); !errors.Is(err, pool.ErrInvalidFree) {
			t.Fatalf("double free of %#x: %v", uint64(b.off), err)
		}
		liveBytes -= int64(b.size)
	}
	live = live[len(live)/2:]
	// Reallocating what was freed never overlaps a block still live.
	type span struct{ lo, hi pool.Offset }
	var spans []span
	for _, b := range live {
		spans = append(spans, span{b.off, b.off + pool.Offset(b.size)})
	}
	for range 1500 {
		size := 16 * (1 + rng.IntN(300))
		off, err := p.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, span{off, off + pool.Offset(size)})
		liveBytes += int64(size)
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.lo, b.lo) })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			t.Fatalf("live blocks overlap: [%#x, %#x) and [%#x, %#x)", uint64(spans[i-1].lo), uint64(spans[i-1].hi), uint64(spans[i].lo), uint64(spans[i].hi))
		}
	}
	if got := p.Stats().InUse; got != liveBytes {
		t.Fatalf("InUse %d, want %d", got, liveBytes)
	}
	t.Logf("%d wrong-size frees refused", refused)
}

// TestThreadLocalRemoteDoubleFree: a block freed through a cache that does
// not own it waits in that cache's batch for its owner; a second free of
// it, through the same cache, another cache or the pool, is refused in
// every build (it would otherwise link the block twice into the chain).
func TestThreadLocalRemoteDoubleFree(t *testing.T) {
	p, err := pool.NewThreadLocal(pool.Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := p.NewCache(), p.NewCache(), p.NewCache()
	defer a.Close()
	defer b.Close()
	defer c.Close()
	var offs []pool.Offset
	for range 10 {
		off, err := a.Alloc(48)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	for i, off := range offs {
		if err := b.Free(off, 48); err != nil {
			t.Fatal(err)
		}
		for _, q := range []pool.Pool{b, c, p, a} {
			if err := q.Free(off, 48); !errors.Is(err, pool.ErrInvalidFree) {
				t.Fatalf("block %d: second free through %T: %v", i, q, err)
			}
		}
	}
	b.Flush()
	seen := map[pool.Offset]bool{}
	for range 20 {
		off, err := a.Alloc(48)
		if err != nil {
			t.Fatal(err)
		}
		if seen[off] {
			t.Fatalf("offset %#x handed out twice", uint64(off))
		}
		seen[off] = true
	}
}

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

// FuzzFreeChecks drives every level with allocations, frees of live blocks
// with their own or another size, and frees of arbitrary offsets: a free
// must be accepted exactly when it names a live block with a size of its
// class, and live blocks never overlap. Byte 0 picks the level; each 3-byte
// record is one operation.
func FuzzFreeChecks(f *testing.F) {
	f.Add([]byte{0, 0, 0, 64, 0, 1, 0, 0x40, 0, 16, 0x40, 0, 0})
	f.Add([]byte{1, 0, 2, 0, 0, 0, 31, 0x41, 0, 31, 0x41, 0, 1, 0x80, 0x10, 0})
	f.Add([]byte{4, 0, 0, 200, 0, 3, 0, 0x40, 1, 0, 0x40, 0, 0, 0xc0, 0, 0})
	f.Add([]byte{5, 0, 1, 255, 0, 0, 1, 0x42, 0, 15, 0x80, 0, 0x20, 0x40, 0, 0})
	levels := badFreeLevels()
	names := slices.Sorted(maps.Keys(levels))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		if len(data) > 3*1000 {
			data = data[:3*1000]
		}
		p, err := levels[names[int(data[0])%len(names)]]()
		if err != nil {
			t.Fatal(err)
		}
		class := func(size int) int { return (size + 15) / 16 } // units of the default 16-byte alignment
		live := map[pool.Offset]int{}
		var order []pool.Offset // live offsets, for picking by index
		var inUse int64
		drop := func(off pool.Offset) {
			inUse -= int64(16 * class(live[off]))
			delete(live, off)
			i := slices.Index(order, off)
			order[i] = order[len(order)-1]
			order = order[:len(order)-1]
		}
		for rec := data[1:]; len(rec) >= 3; rec = rec[3:] {
			v := int(rec[1])<<8 | int(rec[2])
			switch op := rec[0] >> 6; {
			case op == 0 || len(order) == 0 && op != 3:
				size := 1 + v%(4<<10)
				off, err := p.Alloc(size)
				if err != nil {
					t.Fatal(err)
				}
				if _, dup := live[off]; dup {
					t.Fatalf("offset %#x handed out twice", uint64(off))
				}
				live[off] = size
				order = append(order, off)
				inUse += int64(16 * class(size))
			case op == 1 || op == 2:
				// A live block, freed with its size plus a delta
				// (rec[0]'s low bits, signed; 0 is its own size).
				off := order[v%len(order)]
				size := live[off]
				d := int(int8(rec[0]<<2)) >> 2 * 8
				if op == 2 {
					d *= 16
				}
				claimed := size + d
				err := p.Free(off, claimed)
				switch {
				case claimed > 0 && class(claimed) == class(size):
					if err != nil {
						t.Fatalf("free of %#x (%d bytes) with %d: %v", uint64(off), size, claimed, err)
					}
					drop(off)
				case claimed <= 0:
					if !errors.Is(err, pool.ErrInvalidSize) {
						t.Fatalf("free of %#x with size %d: %v", uint64(off), claimed, err)
					}
				default:
					if !errors.Is(err, pool.ErrInvalidFree) {
						t.Fatalf("free of %#x (%d bytes) with %d: %v", uint64(off), size, claimed, err)
					}
				}
			default:
				// An arbitrary offset near the start of the arena.
				off := pool.Offset(v) * pool.Offset(1+rec[0]&0x3f)
				size := 1 + int(rec[2])*8
				err := p.Free(off, size)
				if want, ok := live[off]; ok && class(want) == class(size) {
					if err != nil {
						t.Fatalf("free of live %#x (%d bytes) with %d: %v", uint64(off), want, size, err)
					}
					drop(off)
				} else if !errors.Is(err, pool.ErrInvalidFree) {
					t.Fatalf("free of %#x with %d (no such live block): %v", uint64(off), size, err)
				}
			}
		}
		if got := p.Stats().InUse; got != inUse {
			t.Fatalf("InUse %d, want %d", got, inUse)
		}
		slices.Sort(order)
		for i := 1; i < len(order); i++ {
			if prev := order[i-1]; prev+pool.Offset(16*class(live[prev])) > order[i] {
				t.Fatalf("live blocks overlap: %#x (%d bytes) and %#x", uint64(prev), live[prev], uint64(order[i]))
			}
		}
		for _, off := range order {
			if err := p.Free(off, live[off]); err != nil {
				t.Fatal(err)
			}
		}
	})
}
