package pool

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// checkIdentity fails t when s's parts do not add up to its capacity.
func checkIdentity(t *testing.T, what string, s Stats) {
	t.Helper()
	if s.Capacity != s.InUse+s.Free+s.Untouched+s.Fragment || s.Free < 0 || s.Untouched < 0 || s.Fragment < 0 {
		t.Fatalf("%s: identity broken: %+v", what, s)
	}
}

// TestLockFreeTrim: chunks whose blocks are all free go back (issue 19
// case 8: the multi-writer trie kept every chunk it ever had), chunks with
// a live block stay, offsets in released chunks are refused, and the pool
// grows again afterwards.
func TestLockFreeTrim(t *testing.T) {
	cfg := testConfig() // 8 KiB chunks
	p, err := NewLockFree(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{16, 48, 112, 512, 1024}
	var live []liveBlock
	tag := uint64(0)
	for p.Stats().Chunks < 12 {
		size := sizes[len(live)%len(sizes)]
		off, err := p.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		tag++
		fillPattern(p.Bytes(off, size), tag)
		live = append(live, liveBlock{off, size, tag})
	}
	before := p.Stats()
	// Keep the blocks of chunks 2 and 5; free the rest.
	var kept []liveBlock
	var freed Offset
	for _, lb := range live {
		if ci := lb.off >> 13; ci == 2 || ci == 5 {
			kept = append(kept, lb)
			continue
		}
		if err := p.Free(lb.off, lb.size); err != nil {
			t.Fatal(err)
		}
		freed = lb.off
	}
	if len(kept) == 0 {
		t.Fatal("no block in chunks 2 and 5")
	}
	n := p.Trim()
	s := p.Stats()
	checkIdentity(t, "after Trim", s)
	if n < before.Chunks-3 || s.Chunks != before.Chunks-n || s.Capacity != int64(s.Chunks)*int64(cfg.ChunkSize) {
		t.Fatalf("Trim released %d of %d chunks, 2 kept by live blocks (+1 the shared chunk may keep): %+v", n, before.Chunks, s)
	}
	if p.Trim() != 0 {
		t.Fatal("second Trim released more")
	}
	for _, lb := range kept {
		if err := checkPattern(p.Bytes(lb.off, lb.size), lb.tag); err != nil {
			t.Fatalf("live block %#x changed by Trim: %v", uint64(lb.off), err)
		}
	}
	if ci := freed >> 13; ci != 2 && ci != 5 {
		if err := p.Free(freed, 16); !errors.Is(err, ErrInvalidFree) {
			t.Fatalf("free in a released chunk: %v", err)
		}
	}
	// The pool serves every size again, from reused slots.
	for range 500 {
		off, err := p.Alloc(1024)
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, liveBlock{off, 1024, 0})
	}
	for _, lb := range kept {
		if err := p.Free(lb.off, lb.size); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.Trim(); n == 0 {
		t.Fatal("nothing released after freeing everything")
	}
	if s := p.Stats(); s.Capacity != 0 || s.InUse != 0 || s.Chunks != 0 {
		t.Fatalf("after freeing everything and Trim: %+v", s)
	}
}

// TestLockFreeTrimHold: slots released by TrimHold are not reused until
// ReuseHeld.
func TestLockFreeTrimHold(t *testing.T) {
	p, err := NewLockFree(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var offs []Offset
	for p.Stats().Chunks < 4 {
		off, err := p.Alloc(512)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	limit := offs[len(offs)-1]>>13 + 1
	for _, off := range offs {
		if err := p.Free(off, 512); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.TrimHold(); n != 4 {
		t.Fatalf("TrimHold released %d of 4 chunks", n)
	}
	off, err := p.Alloc(512)
	if err != nil {
		t.Fatal(err)
	}
	if off>>13 < limit {
		t.Fatalf("a held slot was reused: block %#x", uint64(off))
	}
	if n := p.ReuseHeld(); n != 4 {
		t.Fatalf("ReuseHeld returned %d slots, want 4", n)
	}
	if err := p.Free(off, 512); err != nil {
		t.Fatal(err)
	}
	p.Trim()
	off, err = p.Alloc(512)
	if err != nil {
		t.Fatal(err)
	}
	if off>>13 >= limit {
		t.Fatalf("no reused slot after ReuseHeld: block %#x", uint64(off))
	}
}

// TestLockFreeTrimHammer: Trim runs in a loop while goroutines allocate,
// fill, check and free blocks (a quarter handed to another goroutine):
// every live block keeps its contents, every free is accepted, and once
// everything is freed one more Trim gives every chunk back.
func TestLockFreeTrimHammer(t *testing.T) {
	total := 200000
	if raceEnabled {
		total = 20000
	}
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 32} {
		for _, hold := range []bool{false, true} {
			t.Run(fmt.Sprintf("g=%d/hold=%v", g, hold), func(t *testing.T) {
				cfg := testConfig()
				cfg.MaxBytes = 64 << 20
				p, err := NewLockFree(cfg)
				if err != nil {
					t.Fatal(err)
				}
				exchange := make(chan liveBlock, 64)
				errs := make(chan error, g)
				var done atomic.Bool
				var trims, released int
				var tw sync.WaitGroup
				tw.Add(1)
				go func() {
					defer tw.Done()
					for !done.Load() {
						if hold {
							released += p.TrimHold()
							p.ReuseHeld()
						} else {
							released += p.Trim()
						}
						trims++
						runtime.Gosched()
					}
				}()
				var wg sync.WaitGroup
				for w := range g {
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs <- hammerWorker(p, cfg, uint64(w), max(total/g, 200), exchange)
					}()
				}
				wg.Wait()
				done.Store(true)
				tw.Wait()
				close(errs)
				for err := range errs {
					if err != nil {
						t.Fatal(err)
					}
				}
				for len(exchange) > 0 {
					lb := <-exchange
					if err := checkPattern(p.Bytes(lb.off, lb.size), lb.tag); err != nil {
						t.Fatalf("block %#x corrupted: %v", uint64(lb.off), err)
					}
					if err := p.Free(lb.off, lb.size); err != nil {
						t.Fatal(err)
					}
				}
				p.Trim()
				s := p.Stats()
				t.Logf("%d trims released %d chunks; after: %+v", trims, released, s)
				checkIdentity(t, "after the hammer", s)
				if s.InUse != 0 || s.Allocs != s.Frees || s.Chunks != 0 || s.Capacity != 0 {
					t.Fatalf("after freeing everything and Trim (%d trims released %d chunks): %+v", trims, released, s)
				}
			})
		}
	}
}
