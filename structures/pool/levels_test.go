package pool

import (
	"errors"
	"testing"
	"unsafe"
)

func TestThreadLocalRemoteFreeReturnsToOwner(t *testing.T) {
	p, err := NewThreadLocal(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.NewCache(), p.NewCache()
	x, err := a.Alloc(40)
	if err != nil {
		t.Fatal(err)
	}
	// Freed through b: held in b's batch for a, not on b's lists.
	if err := b.Free(x, 40); err != nil {
		t.Fatal(err)
	}
	if y, _ := b.Alloc(40); y == x {
		t.Fatal("a block owned by another cache was reused by the cache that freed it")
	}
	b.Flush()
	a.Flush()
	if y, _ := a.Alloc(40); y != x {
		t.Fatalf("owner did not get its block back: got %#x want %#x", uint64(y), uint64(x))
	}

	// A full batch goes back without Flush.
	var offs []Offset
	for range remoteBatch {
		off, err := a.Alloc(64)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	for _, off := range offs {
		if err := b.Free(off, 64); err != nil {
			t.Fatal(err)
		}
	}
	if a.inbox.Load() == 0 {
		t.Fatal("a full batch did not reach the owner's inbox")
	}
	// Freed through the ThreadLocal itself: to the owner's inbox too.
	z, _ := a.Alloc(48)
	a.Flush()
	if err := p.Free(z, 48); err != nil {
		t.Fatal(err)
	}
	a.Flush()
	if y, _ := a.Alloc(48); y != z {
		t.Fatalf("ThreadLocal.Free did not return the block to its owner")
	}
	a.Close()
	b.Close()
	if s := p.Stats(); s.InUse != 2*40+48-40-48+40+48-48 && s.InUse != 40+48 {
		t.Logf("stats after close: %+v", s)
	}
}

func TestThreadLocalClose(t *testing.T) {
	cfg := testConfig()
	p, _ := NewThreadLocal(cfg)
	a, b := p.NewCache(), p.NewCache()
	var live []liveBlock
	for i := range 100 {
		off, err := a.Alloc(100)
		if err != nil {
			t.Fatal(err)
		}
		fillPattern(a.Bytes(off, 100), uint64(i))
		live = append(live, liveBlock{off, 100, uint64(i)})
	}
	// Half freed remotely before the close (some batched in b), half after.
	for _, lb := range live[:50] {
		if err := b.Free(lb.off, 100); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	a.Close() // idempotent
	if _, err := a.Alloc(8); !errors.Is(err, ErrCacheClosed) {
		t.Errorf("Alloc on a closed cache: %v", err)
	}
	if err := a.Free(live[50].off, 100); !errors.Is(err, ErrCacheClosed) {
		t.Errorf("Free on a closed cache: %v", err)
	}
	for _, lb := range live[50:] {
		if err := checkPattern(b.Bytes(lb.off, 100), lb.tag); err != nil {
			t.Fatal("block of a closed cache corrupted:", err)
		}
		if err := b.Free(lb.off, 100); err != nil {
			t.Fatal(err)
		}
	}
	b.Flush()
	s := p.Stats()
	if s.InUse != 0 || s.Allocs != s.Frees {
		t.Fatalf("after close and frees: %+v", s)
	}
	// A new cache reuses the closed cache's id and sees the central blocks.
	c := p.NewCache()
	if c.id != a.id {
		t.Errorf("id not reused: %d vs %d", c.id, a.id)
	}
	for range 200 {
		if _, err := c.Alloc(100); err != nil {
			t.Fatal(err)
		}
	}
	b.Close()
	c.Close()
}

func TestFixedCapacityExhaustionAndRecovery(t *testing.T) {
	cfg := Realtime()
	cfg.FixedCapacity = 4 << 20
	p, err := NewFixedCapacity(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Full() || p.Remaining() != cfg.FixedCapacity {
		t.Fatalf("fresh pool: full %v remaining %d", p.Full(), p.Remaining())
	}
	fill := func(size int) []Offset {
		var offs []Offset
		for {
			off, err := p.Alloc(size)
			if errors.Is(err, ErrExhausted) {
				return offs
			}
			if err != nil {
				t.Fatal(err)
			}
			offs = append(offs, off)
		}
	}
	freeAll := func(offs []Offset, size int) {
		for _, off := range offs {
			if err := p.Free(off, size); err != nil {
				t.Fatal(err)
			}
		}
	}
	for round := range 3 {
		offs := fill(4096)
		if !p.Full() {
			t.Fatal("Full() false after ErrExhausted")
		}
		if used := int64(len(offs)) * 4096; used < cfg.FixedCapacity*9/10 {
			t.Fatalf("round %d: only %d bytes before exhaustion", round, used)
		}
		if p.Remaining() >= 4096*2 {
			t.Errorf("Remaining %d at exhaustion", p.Remaining())
		}
		freeAll(offs, 4096)
		if p.Full() || p.Remaining() != cfg.FixedCapacity {
			t.Fatalf("after freeing: full %v remaining %d", p.Full(), p.Remaining())
		}
	}
	// Huge blocks fill the pool, and once freed their memory serves small
	// blocks of a size never used before.
	huge := fill(1 << 20)
	if len(huge) < 3 {
		t.Fatalf("only %d huge blocks of 1 MiB fit in 4 MiB", len(huge))
	}
	freeAll(huge, 1<<20)
	// Every size gets (nearly) all the memory back in turn.
	for _, size := range []int{2000, 4096, 200, 100 << 10} {
		offs := fill(size)
		if int64(len(offs)*blockSize(&p.cfg, size)) < cfg.FixedCapacity*8/10 {
			t.Fatalf("after churn only %d blocks of %d", len(offs), size)
		}
		freeAll(offs, size)
	}
	if s := p.Stats(); s.Capacity != cfg.FixedCapacity {
		t.Fatalf("capacity changed: %+v", s)
	}
}

func TestFixedCapacityHugeThenSmall(t *testing.T) {
	cfg := Realtime()
	p, _ := NewFixedCapacity(cfg)
	var huge []Offset
	for {
		off, err := p.Alloc(1 << 20)
		if err != nil {
			break
		}
		huge = append(huge, off)
	}
	for _, off := range huge {
		if err := p.Free(off, 1<<20); err != nil {
			t.Fatal(err)
		}
	}
	// Every huge region is back: small blocks fill (almost) everything.
	n := 0
	for {
		if _, err := p.Alloc(1000); err != nil {
			break
		}
		n++
	}
	if int64(n)*1000 < cfg.FixedCapacity*9/10 {
		t.Fatalf("after freeing huge blocks only %d KB of small blocks fit", n)
	}
}

func TestAlignmentInMemory(t *testing.T) {
	for _, align := range []int{8, 16, 64, 4096} {
		cfg := Config{Alignment: align, MaxFastBlock: 8192, ChunkSize: 64 << 10, MaxBytes: 1 << 20}
		for _, l := range levels {
			p, err := l.make(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, size := range []int{1, align + 1, 3 * align, 8192, 9000} {
				off, err := p.Alloc(size)
				if err != nil {
					t.Fatal(err)
				}
				if ptr := uintptr(unsafe.Pointer(&p.Bytes(off, size)[0])); ptr%uintptr(align) != 0 {
					t.Errorf("%s align %d size %d: address %#x", l.name, align, size, ptr)
				}
			}
		}
	}
}

func TestNoLockingTryPaths(t *testing.T) {
	p := mustNoLocking(t, testConfig())
	if off := p.TryAlloc(64); off != Nil {
		t.Fatal("TryAlloc on an empty class list returned a block")
	}
	off, _ := p.Alloc(64)
	if invariants {
		if p.TryFree(off, 64) {
			t.Fatal("TryFree took a block in the invariants build")
		}
		return
	}
	for _, bad := range []struct {
		off  Offset
		size int
	}{{Nil, 64}, {off + 1, 64}, {1 << 40, 64}, {off, 0}, {off, 5000}} {
		if p.TryFree(bad.off, bad.size) {
			t.Errorf("TryFree(%#x, %d) accepted", uint64(bad.off), bad.size)
		}
	}
	if !p.TryFree(off, 64) {
		t.Fatal("TryFree refused a valid block")
	}
	if got := p.TryAlloc(64); got != off {
		t.Fatalf("TryAlloc = %#x, want %#x", uint64(got), uint64(off))
	}
	if p.TryAlloc(0) != Nil || p.TryAlloc(-1) != Nil || p.TryAlloc(5000) != Nil {
		t.Fatal("TryAlloc of a non-small size returned a block")
	}
	s := p.Stats()
	if s.Allocs != 2 || s.Frees != 1 || s.InUse != 64 {
		t.Fatalf("stats %+v", s)
	}
}

func TestStatsIdentities(t *testing.T) {
	for _, l := range levels {
		t.Run(l.name, func(t *testing.T) {
			cfg := testConfig()
			p, _ := l.make(cfg)
			s := p.Stats()
			if s.InUse != 0 || s.Allocs != 0 || s.Utilization() != 0 || s.Fragmentation() != 0 {
				t.Fatalf("fresh pool: %+v", s)
			}
			var offs []Offset
			for range 100 {
				off, _ := p.Alloc(100)
				offs = append(offs, off)
			}
			h, _ := p.Alloc(5000)
			s = p.Stats()
			if s.InUse != 100*112+5008 || s.HugeBytes != 5008 || s.HugeCount != 1 {
				t.Fatalf("stats: %+v", s)
			}
			if s.Capacity != s.InUse+s.Free+s.Untouched+s.Fragment {
				t.Fatalf("identity broken: %+v", s)
			}
			// Nothing freed: the only free memory is the rest of the huge
			// block's region.
			if s.Free != int64(cfg.ChunkSize)-5008 {
				t.Errorf("Free %d with nothing freed: %+v", s.Free, s)
			}
			for _, off := range offs[:50] {
				p.Free(off, 100)
			}
			p.Free(h, 5000)
			s2 := p.Stats()
			if s2.InUse != 50*112 || s2.HugeCount != 0 || s2.Free < 50*112 {
				t.Fatalf("after frees: %+v", s2)
			}
			if s2.Fragmentation() <= s.Fragmentation() || s2.Level != p.Level() {
				t.Errorf("fragmentation did not grow: %v -> %v", s.Fragmentation(), s2.Fragmentation())
			}
		})
	}
}

// TestReclaimServesOtherSizes: after a pool at MaxBytes frees everything,
// a larger size class (which no split can serve) and huge blocks get the
// memory back: NoLocking, Mutex and FixedCapacity give whole free chunks
// back to the arena when they run out.
func TestReclaimServesOtherSizes(t *testing.T) {
	for _, l := range levels {
		switch l.name {
		case "nolock", "mutex", "fixed":
		default:
			continue // LockFree and ThreadLocal reuse freed blocks by class only
		}
		t.Run(l.name, func(t *testing.T) {
			cfg := testConfig()
			p, _ := l.make(cfg)
			fill := func(size int) []Offset {
				var offs []Offset
				for {
					off, err := p.Alloc(size)
					if errors.Is(err, ErrExhausted) {
						return offs
					}
					if err != nil {
						t.Fatal(err)
					}
					offs = append(offs, off)
				}
			}
			for _, size := range []int{100, 1000, 3 * cfg.ChunkSize / 2, 48} {
				offs := fill(size)
				if got := int64(len(offs) * blockSize(&cfg, size)); got < cfg.MaxBytes*7/10 {
					t.Fatalf("size %d: only %d of %d bytes", size, got, cfg.MaxBytes)
				}
				for _, off := range offs {
					if err := p.Free(off, size); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}
