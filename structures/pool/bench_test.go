package pool

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Benchmarks of the issue: alloc+free pairs per level and per peer (make,
// sync.Pool) at 64, 512 and 4096 bytes, on one goroutine and under
// RunParallel; and the allocate-N-then-free-all workload per goroutine.
//
// How each level is shared under RunParallel: Mutex, LockFree and
// FixedCapacity are one pool for every goroutine; ThreadLocal is one pool
// with one Cache per goroutine; NoLocking is one pool per goroutine (the way
// a shard owner uses it: it is not safe to share).

var benchSizes = []int{64, 512, 4096}

// benchImpl gives each goroutine an allocator: alloc returns a handle,
// free takes it back.
type benchImpl struct {
	name string
	// newShared returns the state shared by all goroutines of one run;
	// newLocal a goroutine's allocator on it.
	newShared func() any
	newLocal  func(shared any, size int) any
}

// allocator is one goroutine's allocator: a *NoLocking, *Mutex, *LockFree,
// *FixedCapacity or *Cache (called through their concrete types, as their
// users do), or a peer.
type allocator interface {
	alloc(size int) (Offset, error)
	free(off Offset, size int)
}

// loop counts benchmark iterations: b.N of them, or RunParallel's pb.Next
// (a direct method call, cheaper than a func value in the loop).
type loop struct {
	pb *testing.PB
	n  int
}

func (l *loop) next() bool {
	if l.pb != nil {
		return l.pb.Next()
	}
	l.n--
	return l.n >= 0
}

// pairs runs alloc+free pairs of size while l.next returns true, calling the
// concrete type's methods directly (no interface call in the loop).
func pairs(a any, size int, l loop) error {
	switch p := a.(type) {
	case *NoLocking:
		for l.next() {
			off, err := p.Alloc(size)
			if err != nil {
				return err
			}
			p.Free(off, size)
		}
	case *Mutex:
		for l.next() {
			off, err := p.Alloc(size)
			if err != nil {
				return err
			}
			p.Free(off, size)
		}
	case *LockFree:
		for l.next() {
			off, err := p.Alloc(size)
			if err != nil {
				return err
			}
			p.Free(off, size)
		}
	case *FixedCapacity:
		for l.next() {
			off, err := p.Alloc(size)
			if err != nil {
				return err
			}
			p.Free(off, size)
		}
	case *Cache:
		for l.next() {
			off, err := p.Alloc(size)
			if err != nil {
				return err
			}
			p.Free(off, size)
		}
	case allocator:
		for l.next() {
			off, err := p.alloc(size)
			if err != nil {
				return err
			}
			p.free(off, size)
		}
	default:
		panic(fmt.Sprintf("no allocator: %T", a))
	}
	return nil
}

// poolAllocator wraps a Pool for the workload benchmark.
type poolAllocator struct{ p Pool }

func (a poolAllocator) alloc(size int) (Offset, error) { return a.p.Alloc(size) }
func (a poolAllocator) free(off Offset, size int)      { a.p.Free(off, size) }

func asAllocator(a any) allocator {
	if p, ok := a.(Pool); ok {
		return poolAllocator{p}
	}
	return a.(allocator)
}

// makeAlloc is the make([]byte) peer: it keeps the slices it allocates in a
// small ring (so the compiler cannot drop them) and leaves them to the GC.
type makeAlloc struct {
	ring [64][]byte
	i    int
}

func (a *makeAlloc) alloc(size int) (Offset, error) {
	a.ring[a.i%len(a.ring)] = make([]byte, size)
	a.i++
	return Offset(a.i), nil
}
func (a *makeAlloc) free(Offset, int) {}

// syncPoolAlloc is the sync.Pool peer: Get a *[]byte of the size, Put it
// back on free.
type syncPoolAlloc struct {
	sp   *sync.Pool
	held []*[]byte
}

func (a *syncPoolAlloc) alloc(size int) (Offset, error) {
	b := a.sp.Get().(*[]byte)
	a.held = append(a.held, b)
	return Offset(len(a.held)), nil
}

func (a *syncPoolAlloc) free(Offset, int) {
	n := len(a.held) - 1
	a.sp.Put(a.held[n])
	a.held = a.held[:n]
}

var benchCfg = PerformanceOptimized()

func fixedBenchCfg() Config {
	c := PerformanceOptimized()
	c.FixedCapacity = 64 << 20
	return c
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var benchImpls = []benchImpl{
	{"level=nolock", func() any { return nil }, func(any, int) any { return must(NewNoLocking(benchCfg)) }},
	{"level=mutex", func() any { return must(NewMutex(benchCfg)) }, func(s any, _ int) any { return s }},
	{"level=lockfree", func() any { return must(NewLockFree(benchCfg)) }, func(s any, _ int) any { return s }},
	{"level=threadlocal", func() any { return must(NewThreadLocal(benchCfg)) }, func(s any, _ int) any {
		return s.(*ThreadLocal).NewCache()
	}},
	{"level=fixed", func() any { return must(NewFixedCapacity(fixedBenchCfg())) }, func(s any, _ int) any { return s }},
	{"impl=make", func() any { return nil }, func(any, int) any { return &makeAlloc{} }},
	{"impl=syncpool", func() any { return new(sync.Map) }, func(s any, size int) any {
		sp, _ := s.(*sync.Map).LoadOrStore(size, &sync.Pool{New: func() any {
			b := make([]byte, size)
			return &b
		}})
		return &syncPoolAlloc{sp: sp.(*sync.Pool)}
	}},
}

func BenchmarkPool(b *testing.B) {
	for _, impl := range benchImpls {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/size=%d/g=1", impl.name, size), func(b *testing.B) {
				a := impl.newLocal(impl.newShared(), size)
				b.ReportAllocs()
				b.ResetTimer()
				if err := pairs(a, size, loop{n: b.N}); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpairs/s")
			})
			b.Run(fmt.Sprintf("%s/size=%d/g=par", impl.name, size), func(b *testing.B) {
				shared := impl.newShared()
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					if err := pairs(impl.newLocal(shared, size), size, loop{pb: pb}); err != nil {
						b.Error(err)
					}
				})
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpairs/s")
			})
		}
	}
}

// BenchmarkNoLockingInline is the NoLocking alloc+free pair three ways: via=inline
// through the inlinable TryAlloc/TryFree (falling back to Alloc/Free), the
// way the trie's hot loops and a caller holding a *NoLocking call it;
// via=concrete through Alloc/Free on the *NoLocking; via=interface through
// the Pool interface (what the Rust anchor kit's Go side does today).
func BenchmarkNoLockingInline(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("size=%d/via=inline", size), func(b *testing.B) {
			p := must(NewNoLocking(benchCfg))
			b.ReportAllocs()
			for b.Loop() {
				off := p.TryAlloc(size)
				if off == Nil {
					off, _ = p.Alloc(size)
				}
				if !p.TryFree(off, size) {
					p.Free(off, size)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpairs/s")
		})
		b.Run(fmt.Sprintf("size=%d/via=concrete", size), func(b *testing.B) {
			p := must(NewNoLocking(benchCfg))
			b.ReportAllocs()
			for b.Loop() {
				off, _ := p.Alloc(size)
				p.Free(off, size)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpairs/s")
		})
		b.Run(fmt.Sprintf("size=%d/via=interface", size), func(b *testing.B) {
			var p Pool = must(NewNoLocking(benchCfg))
			b.ReportAllocs()
			for b.Loop() {
				off, _ := p.Alloc(size)
				p.Free(off, size)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpairs/s")
		})
	}
}

// BenchmarkPoolWorkload: each of g goroutines allocates n blocks of size
// bytes, then frees them all; one op is one such round on every goroutine.
// One untimed round first lets the pools grow (and sync.Pool fill), so the
// figures are the steady state; the growth itself is a first round's cost.
// ErrExhausted (FixedCapacity, 64 MiB) is counted, not fatal: the round
// frees what it got, and Mpairs/s counts the pairs that happened.
func BenchmarkPoolWorkload(b *testing.B) {
	workloads := []struct{ n, size int }{{1000, 64}, {10000, 512}, {100000, 4096}}
	for _, impl := range benchImpls {
		for _, w := range workloads {
			for _, g := range []int{1, 2, 4} {
				b.Run(fmt.Sprintf("%s/n=%dx%d/g=%d", impl.name, w.n, w.size, g), func(b *testing.B) {
					shared := impl.newShared()
					allocs := make([]allocator, g)
					for i := range allocs {
						allocs[i] = asAllocator(impl.newLocal(shared, w.size))
					}
					var exhausted, done atomic.Int64
					round := func(a allocator, offs []Offset) []Offset {
						for range w.n {
							off, err := a.alloc(w.size)
							if errors.Is(err, ErrExhausted) {
								exhausted.Add(1)
								break
							}
							if err != nil {
								b.Error(err)
								break
							}
							offs = append(offs, off)
						}
						done.Add(int64(len(offs)))
						for j := len(offs) - 1; j >= 0; j-- {
							a.free(offs[j], w.size)
						}
						return offs[:0]
					}
					run := func(rounds int) time.Duration {
						start := time.Now()
						var wg sync.WaitGroup
						for i := range g {
							wg.Add(1)
							go func() {
								defer wg.Done()
								a := allocs[i]
								offs := make([]Offset, 0, w.n)
								for range rounds {
									offs = round(a, offs)
								}
							}()
						}
						wg.Wait()
						return time.Since(start)
					}
					b.StopTimer()
					run(1) // warm-up
					exhausted.Store(0)
					done.Store(0)
					b.StartTimer()
					el := run(b.N)
					b.ReportMetric(float64(done.Load())/el.Seconds()/1e6, "Mpairs/s")
					b.ReportMetric(float64(exhausted.Load())/float64(b.N), "exhausted/op")
				})
			}
		}
	}
}
