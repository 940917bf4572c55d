package pool

import (
	"errors"
	"fmt"
	"math"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// Adversarial tests for the process budget (issue 13 case 10): shared
// pools of every concurrent level race for a small budget.

// allocUnder allocates size bytes from p under a process budget: it
// records in over a held count above budget seen right after, and writes
// the block's first and last byte. got is false on ErrExhausted; stop is
// true (and t failed) on any other error.
func allocUnder(t *testing.T, p Pool, size int, budget int64, over *atomic.Int64) (off Offset, got, stop bool) {
	off, err := p.Alloc(size)
	if held := processHeld.Load(); held > budget {
		over.Store(held)
	}
	if err != nil {
		if !errors.Is(err, ErrExhausted) {
			t.Errorf("Alloc(%d): %v", size, err)
			return 0, false, true
		}
		return 0, false, false
	}
	b := p.Bytes(off, size)
	b[0], b[size-1] = 1, 1
	return off, true, false
}

// TestBudgetRace: goroutines allocate and free huge and small blocks from
// shared pools (Mutex, LockFree, ThreadLocal) and a private NoLocking
// each, against a budget of a few chunks. The budget is never exceeded,
// every refusal is ErrExhausted, every block handed out is usable (written
// and read back), and once everything is freed and collected the budget is
// whole again.
func TestBudgetRace(t *testing.T) {
	const chunk = 64 << 10
	const budget = 24 * chunk
	for _, g := range []int{1, goruntime.GOMAXPROCS(0), 64} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			withBudget(t, budget)
			cfg := Config{ChunkSize: chunk, MaxFastBlock: 4 << 10, Alignment: 16}
			var shared []Pool
			for _, mk := range []func(Config) (Pool, error){
				func(c Config) (Pool, error) { return NewMutex(c) },
				func(c Config) (Pool, error) { return NewLockFree(c) },
				func(c Config) (Pool, error) { return NewThreadLocal(c) },
			} {
				p, err := mk(cfg)
				if err != nil {
					t.Fatal(err)
				}
				shared = append(shared, p)
			}
			rounds := 3000
			if raceEnabled {
				rounds = 600
			}
			var over, exhausted atomic.Int64
			var wg sync.WaitGroup
			for gi := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					own, err := NewNoLocking(cfg)
					if err != nil {
						t.Error(err)
						return
					}
					pools := append([]Pool{own}, shared...)
					type block struct {
						p    Pool
						off  Offset
						size int
					}
					var live []block
					for k := range max(rounds/g, 20) {
						p := pools[(gi+k)%len(pools)]
						size := 1 + (gi*31+k*17)%(3*chunk) // small and huge
						off, got, stop := allocUnder(t, p, size, budget, &over)
						if stop {
							return
						}
						if got {
							live = append(live, block{p, off, size})
						} else {
							exhausted.Add(1)
						}
						if len(live) > 4 || !got && len(live) > 0 {
							x := live[0]
							live = live[1:]
							if b := x.p.Bytes(x.off, x.size); len(b) != x.size {
								t.Errorf("Bytes: %d bytes, want %d", len(b), x.size)
							}
							if err := x.p.Free(x.off, x.size); err != nil {
								t.Errorf("Free: %v", err)
								return
							}
						}
					}
					for _, x := range live {
						if err := x.p.Free(x.off, x.size); err != nil {
							t.Errorf("Free: %v", err)
						}
					}
				}()
			}
			wg.Wait()
			if o := over.Load(); o != 0 {
				t.Fatalf("the budget of %d bytes held %d", budget, o)
			}
			t.Logf("%d allocations refused with ErrExhausted", exhausted.Load())
			goruntime.KeepAlive(shared)
			shared = nil
			waitBudget(t, 0)
		})
	}
}

// TestHugeSizes: sizes past every limit are refused with an error, never a
// panic or an attempt to allocate.
func TestHugeSizes(t *testing.T) {
	withBudget(t, 8<<20)
	p, err := NewMutex(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{math.MaxInt, math.MaxInt32 + 1, 9 << 20} {
		if _, err := p.Alloc(size); !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrExhausted) {
			t.Fatalf("Alloc(%d): %v, want ErrTooLarge or ErrExhausted", size, err)
		}
	}
	if _, err := (Config{MaxBytes: math.MaxInt64}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("MaxBytes past the addressing limit: %v", err)
	}
}

// TestBudgetCaches: goroutines with their own ThreadLocal caches allocate
// against a small budget and free each other's blocks (remote frees),
// closing their caches while others still free blocks they handed out.
// Every block is freed exactly once without error, the budget is never
// exceeded, and every refusal is ErrExhausted.
func TestBudgetCaches(t *testing.T) {
	const chunk = 64 << 10
	const budget = 16 * chunk
	for _, g := range []int{1, goruntime.GOMAXPROCS(0), 16} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			withBudget(t, budget)
			tl, err := NewThreadLocal(Config{ChunkSize: chunk, MaxFastBlock: 4 << 10})
			if err != nil {
				t.Fatal(err)
			}
			type block struct {
				off  Offset
				size int
			}
			handoff := make(chan block, 64)
			var over atomic.Int64
			var wg sync.WaitGroup
			for gi := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q := tl.NewCache()
					defer q.Close()
					free := func(b block) {
						if err := q.Free(b.off, b.size); err != nil {
							t.Errorf("Free(%#x, %d): %v", b.off, b.size, err)
						}
					}
					for k := range 400 {
						size := 16 + (gi*13+k*29)%(4<<10)
						if k%50 == 7 {
							size = 2 * chunk // huge
						}
						off, got, stop := allocUnder(t, q, size, budget, &over)
						if stop {
							return
						}
						if got {
							select {
							case handoff <- block{off, size}:
							default:
								free(block{off, size})
							}
						}
						select {
						case b := <-handoff:
							free(b)
						default:
						}
						if k%64 == 0 {
							q.Flush()
						}
					}
				}()
			}
			wg.Wait()
			close(handoff)
			q := tl.NewCache()
			for b := range handoff {
				if err := q.Free(b.off, b.size); err != nil {
					t.Fatalf("Free after the owners closed: %v", err)
				}
			}
			q.Close()
			if o := over.Load(); o != 0 {
				t.Fatalf("the budget of %d bytes held %d", budget, o)
			}
			if st := tl.Stats(); st.InUse != 0 {
				t.Fatalf("%d bytes still in use after every block was freed", st.InUse)
			}
		})
	}
}
