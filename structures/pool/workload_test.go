package pool

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestWorkloadsComplete runs the benchmark workloads (each goroutine
// allocates n blocks, touches each, then frees them all) on every level at
// 1, 2 and 4 goroutines: every level grows to fit, and FixedCapacity (16
// MiB here) reports ErrExhausted cleanly when it is full and recovers. The
// counts are a twentieth under -race.
func TestWorkloadsComplete(t *testing.T) {
	scale := 1
	if raceEnabled {
		scale = 20
	}
	type level struct {
		name string
		new  func() (Pool, error)
	}
	cfg := PerformanceOptimized()
	fixed := cfg
	fixed.FixedCapacity = 16 << 20
	for _, l := range []level{
		{"nolock", func() (Pool, error) { return NewNoLocking(cfg) }},
		{"mutex", func() (Pool, error) { return NewMutex(cfg) }},
		{"lockfree", func() (Pool, error) { return NewLockFree(cfg) }},
		{"threadlocal", func() (Pool, error) { return NewThreadLocal(cfg) }},
		{"fixed", func() (Pool, error) { return NewFixedCapacity(fixed) }},
	} {
		for _, w := range []struct{ n, size int }{{1000, 64}, {10000, 512}, {100000, 4096}} {
			for _, g := range []int{1, 2, 4} {
				t.Run(fmt.Sprintf("%s/%dx%d/g=%d", l.name, w.n/scale, w.size, g), func(t *testing.T) {
					var pools []Pool
					var shared Pool
					for range g {
						if l.name == "nolock" || shared == nil {
							p, err := l.new()
							if err != nil {
								t.Fatal(err)
							}
							shared = p
						}
						if tl, ok := shared.(*ThreadLocal); ok {
							pools = append(pools, tl.NewCache())
						} else {
							pools = append(pools, shared)
						}
					}
					var wg sync.WaitGroup
					errs := make(chan error, g)
					for i := range g {
						wg.Add(1)
						go func() {
							defer wg.Done()
							errs <- workloadRounds(pools[i], w.n/scale, w.size, 2, l.name == "fixed")
						}()
					}
					wg.Wait()
					close(errs)
					for err := range errs {
						if err != nil {
							t.Fatal(err)
						}
					}
					for _, p := range pools {
						if c, ok := p.(*Cache); ok {
							c.Close()
						}
					}
					if s := shared.Stats(); s.InUse != 0 {
						t.Fatalf("in use after the workload: %+v", s)
					}
				})
			}
		}
	}
}

func workloadRounds(p Pool, n, size, rounds int, mayExhaust bool) error {
	offs := make([]Offset, 0, n)
	for r := range rounds {
		for range n {
			off, err := p.Alloc(size)
			if mayExhaust && errors.Is(err, ErrExhausted) {
				break
			}
			if err != nil {
				return fmt.Errorf("round %d, block %d: %w", r, len(offs), err)
			}
			b := p.Bytes(off, size)
			b[0], b[size-1] = byte(r), byte(len(offs))
			offs = append(offs, off)
		}
		for _, off := range offs {
			if err := p.Free(off, size); err != nil {
				return err
			}
		}
		offs = offs[:0]
	}
	return nil
}
