package pool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

func mustNoLocking(t testing.TB, cfg Config) *NoLocking {
	t.Helper()
	p, err := NewNoLocking(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNoLockingBasic(t *testing.T) {
	p := mustNoLocking(t, testConfig())
	a, err := p.Alloc(10)
	if err != nil || a == Nil {
		t.Fatalf("Alloc: %#x %v", uint64(a), err)
	}
	b, _ := p.Alloc(10)
	if a == b {
		t.Fatal("two allocs returned the same block")
	}
	copy(p.Bytes(a, 10), "0123456789")
	if string(p.Bytes(a, 10)) != "0123456789" {
		t.Fatal("Bytes does not keep data")
	}
	if err := p.Free(a, 10); err != nil {
		t.Fatal(err)
	}
	c, _ := p.Alloc(16) // same class as 10 at alignment 16: reuses a
	if c != a {
		t.Fatalf("freed block not reused: got %#x want %#x", uint64(c), uint64(a))
	}
	if *(*byte)(p.Ptr(b)) != 0 {
		t.Fatal("fresh block not zeroed")
	}
}

func TestBadInput(t *testing.T) {
	for _, l := range levels {
		t.Run(l.name, func(t *testing.T) {
			cfg := testConfig()
			p, err := l.make(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{0, -1, -1 << 40} {
				if _, err := p.Alloc(n); !errors.Is(err, ErrInvalidSize) {
					t.Errorf("Alloc(%d) = %v, want ErrInvalidSize", n, err)
				}
			}
			if _, err := p.Alloc(int(cfg.MaxBytes) + 1); !errors.Is(err, ErrTooLarge) {
				t.Errorf("Alloc(MaxBytes+1) = %v, want ErrTooLarge", err)
			}
			if _, err := p.Alloc(int(cfg.MaxBytes)); !errors.Is(err, ErrExhausted) {
				t.Errorf("Alloc(MaxBytes) = %v, want ErrExhausted", err)
			}
			small, _ := p.Alloc(40)
			huge, err := p.Alloc(5000)
			if err != nil {
				t.Fatal(err)
			}
			fillPattern(p.Bytes(small, 40), 1)
			fillPattern(p.Bytes(huge, 5000), 2)
			bad := []struct {
				off  Offset
				size int
			}{
				{Nil, 40}, {small + 3, 40}, {1 << 50, 40}, {small, 0}, {small, -5},
				{huge, 4999}, {huge, 5001}, {huge + 16, 4000}, {huge + 16, 2000}, {1 << 50, 2000},
			}
			for _, b := range bad {
				if err := p.Free(b.off, b.size); err == nil {
					t.Errorf("Free(%#x, %d) accepted", uint64(b.off), b.size)
				}
			}
			if invariants {
				for _, b := range []struct {
					off  Offset
					size int
				}{{small, 80}, {small + 16, 16}, {huge, 40}} {
					if err := p.Free(b.off, b.size); !errors.Is(err, ErrInvalidFree) {
						t.Errorf("invariants: Free(%#x, %d) = %v, want ErrInvalidFree", uint64(b.off), b.size, err)
					}
				}
			}
			if err := checkPattern(p.Bytes(small, 40), 1); err != nil {
				t.Error("small block corrupted by bad frees:", err)
			}
			if err := checkPattern(p.Bytes(huge, 5000), 2); err != nil {
				t.Error("huge block corrupted by bad frees:", err)
			}
			if err := p.Free(huge, 5000); err != nil {
				t.Fatal(err)
			}
			if err := p.Free(huge, 5000); !errors.Is(err, ErrInvalidFree) {
				t.Errorf("double free of huge block = %v", err)
			}
			if err := p.Free(small, 40); err != nil {
				t.Fatal(err)
			}
			if invariants {
				if err := p.Free(small, 40); !errors.Is(err, ErrInvalidFree) {
					t.Errorf("invariants: double free of small block = %v", err)
				}
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{PerformanceOptimized(), MemoryOptimized(), Realtime(), {}} {
		if _, err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	v, _ := Config{FixedCapacity: 10 << 20}.Validate()
	if v.ChunkSize != 2<<20 || v.MaxBytes != 10<<20 {
		t.Errorf("derived chunk size: %+v", v)
	}
	for _, c := range []Config{
		{Alignment: 12}, {Alignment: 4}, {Alignment: 8192},
		{MaxFastBlock: 100, Alignment: 16}, {MaxFastBlock: 2 << 20},
		{ChunkSize: 3000}, {ChunkSize: 1 << 31}, {ChunkSize: 16 << 10, MaxFastBlock: 64 << 10},
		{MaxBytes: -1}, {MaxBytes: 1 << 60}, {MaxBytes: 4 << 10},
		{FixedCapacity: -1}, {FixedCapacity: 1<<20 + 8, ChunkSize: 64 << 10},
		{FixedCapacity: 1 << 20, MaxBytes: 2 << 20},
		{MaxFastBlock: 1 << 20, Alignment: 8},
	} {
		if _, err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: err = %v, want ErrInvalidConfig", c, err)
		}
		if _, err := NewNoLocking(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewNoLocking(%+v): err = %v", c, err)
		}
	}
}

func TestHugeReuse(t *testing.T) {
	for _, l := range levels {
		t.Run(l.name, func(t *testing.T) {
			cfg := testConfig()
			p, _ := l.make(cfg)
			// Alloc and free huge blocks of varying sizes many times: the
			// capacity must stay bounded (reused or returned, not leaked).
			var peak int64
			for i := range 2000 {
				size := cfg.MaxFastBlock + 1 + (i*7919)%(3*cfg.ChunkSize)
				a, err := p.Alloc(size)
				if err != nil {
					t.Fatal(i, err)
				}
				b, err := p.Alloc(size / 2)
				if err != nil {
					t.Fatal(i, err)
				}
				fillPattern(p.Bytes(a, size), uint64(i))
				if err := p.Free(a, size); err != nil {
					t.Fatal(err)
				}
				if err := p.Free(b, size/2); err != nil {
					t.Fatal(err)
				}
				st := p.Stats()
				peak = max(peak, st.Capacity-st.Untouched)
			}
			if peak > 16*int64(cfg.ChunkSize) {
				t.Errorf("memory in use peaked at %d bytes for blocks below %d", peak, 3*cfg.ChunkSize)
			}
			s := p.Stats()
			if s.InUse != 0 || s.HugeCount != 0 || s.HugeBytes != 0 {
				t.Errorf("after freeing everything: %+v", s)
			}
		})
	}
}

func TestGrowthToMaxBytes(t *testing.T) {
	for _, l := range levels {
		t.Run(l.name, func(t *testing.T) {
			cfg := testConfig()
			p, _ := l.make(cfg)
			var offs []Offset
			for {
				off, err := p.Alloc(1000)
				if errors.Is(err, ErrExhausted) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				offs = append(offs, off)
			}
			s := p.Stats()
			if s.Capacity != cfg.MaxBytes {
				t.Errorf("exhausted at capacity %d, want MaxBytes %d", s.Capacity, cfg.MaxBytes)
			}
			if s.Utilization() < 0.9 {
				t.Errorf("utilization %.2f at exhaustion with one size", s.Utilization())
			}
			for _, off := range offs {
				if err := p.Free(off, 1000); err != nil {
					t.Fatal(err)
				}
			}
			// Recovery: the freed blocks serve a smaller size class.
			for range len(offs) {
				if _, err := p.Alloc(500); err != nil {
					t.Fatal("after freeing everything:", err)
				}
			}
		})
	}
}

func TestZeroOffsetReserved(t *testing.T) {
	cfg := testConfig()
	p := mustNoLocking(t, cfg)
	// Fill the first chunk completely: no block may start at 0.
	for range 2 * cfg.ChunkSize / cfg.Alignment {
		off, err := p.Alloc(cfg.Alignment)
		if err != nil {
			t.Fatal(err)
		}
		if off == Nil {
			t.Fatal("Alloc returned the nil offset")
		}
	}
	// A huge block first in a fresh pool: slot 0 is a huge region.
	q := mustNoLocking(t, cfg)
	off, err := q.Alloc(cfg.ChunkSize)
	if err != nil || off == Nil {
		t.Fatalf("huge first: %#x %v", uint64(off), err)
	}
	fillPattern(q.Bytes(off, cfg.ChunkSize), 3)
}

func TestNoLockingReset(t *testing.T) {
	p := mustNoLocking(t, testConfig())
	m := newModel(t, p, testConfig())
	m.run(rand.New(rand.NewPCG(5, 5)), 300)
	p.Reset()
	if s := p.Stats(); s != (Stats{Level: LevelNoLocking}) {
		t.Fatalf("after Reset: %+v", s)
	}
	m = newModel(t, p, testConfig())
	m.run(rand.New(rand.NewPCG(6, 6)), 300)
	m.freeAll()
}

// TestNoLockingSharedBytes: one goroutine reads blocks through SharedBytes
// while the owner keeps allocating (growing the arena by many chunks); the
// reader always sees the pattern the owner wrote before handing the offset
// over, and the race detector sees no race on the chunk table.
func TestNoLockingSharedBytes(t *testing.T) {
	p, err := NewNoLocking(Config{ChunkSize: 4 << 10, MaxFastBlock: 1 << 10, Alignment: 8})
	if err != nil {
		t.Fatal(err)
	}
	type handed struct {
		off Offset
		id  byte
	}
	ch := make(chan handed, 64)
	done := make(chan error)
	go func() {
		for h := range ch {
			for i, c := range p.SharedBytes(h.off, 256) {
				if c != h.id^byte(i) {
					done <- fmt.Errorf("block %d byte %d = %d", h.id, i, c)
					for range ch {
					}
					return
				}
			}
		}
		done <- nil
	}()
	for i := range 2000 {
		off, err := p.Alloc(256)
		if err != nil {
			t.Fatal(err)
		}
		b := p.Bytes(off, 256)
		for j := range b {
			b[j] = byte(i) ^ byte(j)
		}
		ch <- handed{off, byte(i)}
	}
	close(ch)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Stats().Chunks < 100 {
		t.Fatalf("the arena grew to only %d chunks", p.Stats().Chunks)
	}
}

// TestNoLockingTrySharedBytes: ranges inside a chunk are returned, ranges
// past a chunk's end, past the last chunk, or of a size <= 0 or huge are
// refused instead of panicking.
func TestNoLockingTrySharedBytes(t *testing.T) {
	p, err := NewNoLocking(Config{ChunkSize: 4 << 10, MaxFastBlock: 1 << 10, Alignment: 8})
	if err != nil {
		t.Fatal(err)
	}
	off, err := p.Alloc(64)
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := p.TrySharedBytes(off, 64); !ok || len(b) != 64 || cap(b) != 64 {
		t.Fatalf("a live block: %d bytes, %v", len(b), ok)
	}
	for _, c := range []struct {
		off  Offset
		size int
	}{{off, 0}, {off, -1}, {off, 4 << 10}, {off, int(^uint(0) >> 1)}, {off + 1<<20, 8}, {Offset(1) << 50, 8}} {
		if b, ok := p.TrySharedBytes(c.off, c.size); ok || b != nil {
			t.Errorf("TrySharedBytes(%#x, %d) = %d bytes, %v", uint64(c.off), c.size, len(b), ok)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("SharedBytes outside the arena did not panic")
		}
	}()
	p.SharedBytes(off, 4<<10)
}

// TestNoLockingCounters: Stats counts every block handed out (by TryAlloc
// or Alloc) and every block taken back (by TryFree or Free) exactly once,
// and InUse is their bytes, after every operation: the unmarked top block's
// allocation is counted late (when it is marked) or as a pair (when TryFree
// or Free moves the bump pointer back), never twice or not at all.
func TestNoLockingCounters(t *testing.T) {
	for _, align := range []int{8, 16} {
		t.Run(fmt.Sprintf("align=%d", align), func(t *testing.T) {
			cfg := testConfig()
			cfg.Alignment = align
			p := mustNoLocking(t, cfg)
			r := rand.New(rand.NewPCG(uint64(align), 7))
			type block struct {
				off  Offset
				size int
			}
			var live []block
			var allocs, frees uint64
			var inUse int64
			check := func(op string) {
				t.Helper()
				s := p.Stats()
				if s.Allocs != allocs || s.Frees != frees || s.InUse != inUse {
					t.Fatalf("after %s: Allocs %d Frees %d InUse %d, want %d %d %d", op, s.Allocs, s.Frees, s.InUse, allocs, frees, inUse)
				}
			}
			for i := range 20000 {
				switch k := r.IntN(10); {
				case k < 5 || len(live) == 0:
					size := 1 + r.IntN(cfg.MaxFastBlock)
					if k == 0 {
						size = cfg.MaxFastBlock + 1 + r.IntN(cfg.ChunkSize) // huge
					}
					op := "Alloc"
					off := Nil
					if k%2 == 1 {
						off = p.TryAlloc(size)
					}
					if off != Nil {
						op = "TryAlloc"
					} else {
						var err error
						if off, err = p.Alloc(size); errors.Is(err, ErrExhausted) {
							check(op + " (exhausted)")
							continue
						} else if err != nil {
							t.Fatal(err)
						}
					}
					live = append(live, block{off, size})
					allocs++
					inUse += int64(p.BlockSize(size))
					check(op)
					if r.IntN(4) == 0 { // an alloc/free pair
						live = live[:len(live)-1]
						// A size of another class is refused, the top
						// or not, and changes no count (a refused Free
						// marks the top: it is no longer the top).
						if wrong := size + cfg.Alignment; r.IntN(2) == 0 && (wrong <= cfg.MaxFastBlock || size > cfg.MaxFastBlock) {
							op = "a refused free"
							if p.TryFree(off, wrong) {
								t.Fatalf("TryFree(%#x, %d) of a %d-byte block accepted", uint64(off), wrong, size)
							}
							if err := p.Free(off, wrong); !errors.Is(err, ErrInvalidFree) {
								t.Fatalf("Free(%#x, %d) of a %d-byte block: %v, want ErrInvalidFree", uint64(off), wrong, size, err)
							}
							check(op)
						}
						if !p.TryFree(off, size) {
							if op == "TryAlloc" && !invariants {
								t.Fatalf("TryFree of the block TryAlloc just returned (%#x, %d) refused", uint64(off), size)
							}
							if err := p.Free(off, size); err != nil { // not the top
								t.Fatal(err)
							}
						}
						frees++
						inUse -= int64(p.BlockSize(size))
						check("the pair's free")
						if p.TryFree(off, size) {
							t.Fatalf("TryFree(%#x, %d) accepted a double free", uint64(off), size)
						}
						if err := p.Free(off, size); !errors.Is(err, ErrInvalidFree) {
							t.Fatalf("Free(%#x, %d) of a freed block: %v, want ErrInvalidFree", uint64(off), size, err)
						}
						check("a double free")
					}
				default:
					j := len(live) - 1 // mostly the newest: the top block
					if r.IntN(3) == 0 {
						j = r.IntN(len(live))
					}
					b := live[j]
					live = append(live[:j], live[j+1:]...)
					op := "Free"
					if i%2 == 0 && p.TryFree(b.off, b.size) {
						op = "TryFree"
					} else if err := p.Free(b.off, b.size); err != nil {
						t.Fatal(err)
					}
					frees++
					inUse -= int64(p.BlockSize(b.size))
					check(op)
				}
			}
			p.Reset()
			allocs, frees, inUse = 0, 0, 0
			check("Reset")
		})
	}
}
