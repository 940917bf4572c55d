package primitives_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// pingPonger is one wake-to-run mechanism between two goroutines: ping wakes
// the partner, waitPong sleeps until the partner answered round i.
type pingPonger interface {
	ping(i uint32)
	waitPing(i uint32)
	pong(i uint32)
	waitPong(i uint32)
}

type futexPP struct{ a, b primitives.Futex }

func (p *futexPP) ping(i uint32) { p.a.Store(i); p.a.Wake(1) }
func (p *futexPP) waitPing(i uint32) {
	for v := p.a.Load(); v != i; v = p.a.Load() {
		_ = p.a.Wait(v, 0)
	}
}
func (p *futexPP) pong(i uint32) { p.b.Store(i); p.b.Wake(1) }
func (p *futexPP) waitPong(i uint32) {
	for v := p.b.Load(); v != i; v = p.b.Load() {
		_ = p.b.Wait(v, 0)
	}
}

type parkerPP struct{ a, b primitives.Parker }

func (p *parkerPP) ping(uint32)     { p.a.Unpark() }
func (p *parkerPP) waitPing(uint32) { p.a.Park(0) }
func (p *parkerPP) pong(uint32)     { p.b.Unpark() }
func (p *parkerPP) waitPong(uint32) { p.b.Park(0) }

type goParkerPP struct{ a, b primitives.GoParker }

func (p *goParkerPP) ping(uint32)     { p.a.Unpark() }
func (p *goParkerPP) waitPing(uint32) { p.a.Park(0) }
func (p *goParkerPP) pong(uint32)     { p.b.Unpark() }
func (p *goParkerPP) waitPong(uint32) { p.b.Park(0) }

type chanPP struct{ a, b chan struct{} }

func (p *chanPP) ping(uint32)     { p.a <- struct{}{} }
func (p *chanPP) waitPing(uint32) { <-p.a }
func (p *chanPP) pong(uint32)     { p.b <- struct{}{} }
func (p *chanPP) waitPong(uint32) { <-p.b }

type condPP struct {
	mu           sync.Mutex
	c            *sync.Cond
	ping_, pong_ uint32
}

func (p *condPP) ping(i uint32) { p.mu.Lock(); p.ping_ = i; p.c.Broadcast(); p.mu.Unlock() }
func (p *condPP) waitPing(i uint32) {
	p.mu.Lock()
	for p.ping_ != i {
		p.c.Wait()
	}
	p.mu.Unlock()
}
func (p *condPP) pong(i uint32) { p.mu.Lock(); p.pong_ = i; p.c.Broadcast(); p.mu.Unlock() }
func (p *condPP) waitPong(i uint32) {
	p.mu.Lock()
	for p.pong_ != i {
		p.c.Wait()
	}
	p.mu.Unlock()
}

// BenchmarkWake measures a wake-to-run round trip between two goroutines
// (ping, the partner wakes and answers, the pinger wakes), both unlocked and
// both locked to OS threads as the runtime's workers are.
func BenchmarkWake(b *testing.B) {
	impls := []struct {
		name string
		make func() pingPonger
	}{
		{"futex", func() pingPonger { return new(futexPP) }},
		{"parker", func() pingPonger { return new(parkerPP) }},
		{"goparker", func() pingPonger { return new(goParkerPP) }},
		{"chan", func() pingPonger { return &chanPP{make(chan struct{}, 1), make(chan struct{}, 1)} }},
		{"cond", func() pingPonger { p := new(condPP); p.c = sync.NewCond(&p.mu); return p }},
	}
	for _, locked := range []bool{false, true} {
		for _, impl := range impls {
			b.Run(fmt.Sprintf("impl=%s/locked=%v", impl.name, locked), func(b *testing.B) {
				p := impl.make()
				done := make(chan struct{})
				n := uint32(b.N)
				go func() {
					defer close(done)
					if locked {
						runtime.LockOSThread()
						defer runtime.UnlockOSThread()
					}
					for i := uint32(1); i <= n; i++ {
						p.waitPing(i)
						p.pong(i)
					}
				}()
				if locked {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := uint32(1); i <= n; i++ {
					p.ping(i)
					p.waitPong(i)
				}
				b.StopTimer()
				<-done
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "roundtrips/s")
			})
		}
	}
}

type plainCounters struct {
	// Eight unpadded counters side by side: one per goroutine, sharing lines.
	v [8]atomic.Int64
}

// BenchmarkCounter compares a hot counter updated from every P: a plain
// atomic shared by all, a padded Counter per goroutine slot next to its
// neighbours (no false sharing), and one StripedCounter shared by all.
func BenchmarkCounter(b *testing.B) {
	b.Run("impl=atomic", func(b *testing.B) {
		var c atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
		if c.Load() != int64(b.N) {
			b.Fatalf("count %d, want %d", c.Load(), b.N)
		}
	})
	b.Run("impl=unpadded-per-goroutine", func(b *testing.B) {
		var cs plainCounters
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			c := &cs.v[next.Add(1)%8]
			for pb.Next() {
				c.Add(1)
			}
		})
	})
	b.Run("impl=padded-per-goroutine", func(b *testing.B) {
		var cs [8]primitives.Counter
		var next atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			c := &cs[next.Add(1)%8]
			for pb.Next() {
				c.Add(1)
			}
		})
	})
	b.Run("impl=striped", func(b *testing.B) {
		c := primitives.NewStripedCounter(0)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
		if c.Value() != int64(b.N) {
			b.Fatalf("count %d, want %d", c.Value(), b.N)
		}
	})
}

// BenchmarkVersionSeqRead measures an optimistic read of a two-word value,
// with and without a concurrent writer.
func BenchmarkVersionSeqRead(b *testing.B) {
	for _, writer := range []bool{false, true} {
		b.Run(fmt.Sprintf("writer=%v", writer), func(b *testing.B) {
			var seq primitives.VersionSeq
			var x, y atomic.Uint64
			var stop atomic.Bool
			var wg sync.WaitGroup
			if writer {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := uint64(0); !stop.Load(); i++ {
						seq.WriteBegin()
						x.Store(i)
						y.Store(i)
						seq.WriteEnd()
						runtime.Gosched()
					}
				}()
			}
			b.ReportAllocs()
			b.ResetTimer()
			var retries int
			b.RunParallel(func(pb *testing.PB) {
				r := 0
				for pb.Next() {
					for {
						s := seq.ReadBegin()
						a, c := x.Load(), y.Load()
						if !seq.ReadRetry(s) {
							if a != c {
								panic("torn read")
							}
							break
						}
						r++
					}
				}
				_ = r
			})
			b.StopTimer()
			stop.Store(true)
			wg.Wait()
			_ = retries
		})
	}
}

// BenchmarkReadPin compares the two ways a reader protects what it reads:
// an EpochDomain guard and a TokenManager reader token.
func BenchmarkReadPin(b *testing.B) {
	b.Run("impl=epoch", func(b *testing.B) {
		var d primitives.EpochDomain
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d.Enter().Exit()
			}
		})
	})
	b.Run("impl=token", func(b *testing.B) {
		m, _ := primitives.NewTokenManager(primitives.OneWriteMultiRead)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				r, _ := m.Reader()
				r.Release()
			}
		})
	})
}
