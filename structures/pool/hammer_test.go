package pool

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
)

// concurrentLevel is a pool shared by goroutines; handle returns what one
// goroutine uses (the pool itself, or a cache for ThreadLocal) and a
// function to call when that goroutine is done.
type concurrentLevel struct {
	name   string
	make   func(Config) (Pool, error)
	handle func(p Pool) (Pool, func())
}

func sharedHandle(p Pool) (Pool, func()) { return p, func() {} }

var concurrentLevels = []concurrentLevel{
	{"mutex", func(c Config) (Pool, error) { return NewMutex(c) }, sharedHandle},
	{"lockfree", func(c Config) (Pool, error) { return NewLockFree(c) }, sharedHandle},
	{"fixed", func(c Config) (Pool, error) { c.FixedCapacity = c.MaxBytes; return NewFixedCapacity(c) }, sharedHandle},
	{"threadlocal", func(c Config) (Pool, error) { return NewThreadLocal(c) }, cacheHandle},
	{"threadlocal-shared", func(c Config) (Pool, error) { return NewThreadLocal(c) }, sharedHandle},
}

func cacheHandle(p Pool) (Pool, func()) {
	q := p.(*ThreadLocal).NewCache()
	return q, q.Close
}

// hammer runs g goroutines doing random allocs and frees with pattern
// checks; a quarter of the frees are of blocks another goroutine allocated,
// handed over through a channel.
func hammer(t *testing.T, l concurrentLevel, g, ops int) {
	cfg := testConfig()
	cfg.MaxBytes = 64 << 20
	p, err := l.make(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exchange := make(chan liveBlock, 64)
	errs := make(chan error, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, done := l.handle(p)
			defer done()
			errs <- hammerWorker(h, cfg, uint64(w), ops, exchange)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Blocks left in the exchange: free them from here.
	h, done := l.handle(p)
	for len(exchange) > 0 {
		lb := <-exchange
		if err := checkPattern(h.Bytes(lb.off, lb.size), lb.tag); err != nil {
			t.Fatalf("block %#x corrupted: %v", uint64(lb.off), err)
		}
		if err := h.Free(lb.off, lb.size); err != nil {
			t.Fatal(err)
		}
	}
	done()
	s := p.Stats()
	if s.InUse != 0 || s.Allocs != s.Frees {
		t.Fatalf("after freeing everything: %+v", s)
	}
}

func hammerWorker(p Pool, cfg Config, id uint64, ops int, exchange chan liveBlock) error {
	r := rand.New(rand.NewPCG(id, 7))
	var live []liveBlock
	tag := id << 32
	free := func(lb liveBlock) error {
		if err := checkPattern(p.Bytes(lb.off, lb.size), lb.tag); err != nil {
			return fmt.Errorf("worker %d: block %#x size %d corrupted: %v", id, uint64(lb.off), lb.size, err)
		}
		if err := p.Free(lb.off, lb.size); err != nil {
			return fmt.Errorf("worker %d: Free(%#x, %d): %v", id, uint64(lb.off), lb.size, err)
		}
		return nil
	}
	for range ops {
		switch k := r.IntN(100); {
		case k < 50 || len(live) == 0:
			size := 1 + r.IntN(256)
			if r.IntN(50) == 0 {
				size = 1 + r.IntN(cfg.MaxFastBlock)
			} else if r.IntN(400) == 0 {
				size = cfg.MaxFastBlock + 1 + r.IntN(3*cfg.ChunkSize)
			}
			off, err := p.Alloc(size)
			if err != nil {
				return fmt.Errorf("worker %d: Alloc(%d): %v", id, size, err)
			}
			tag++
			fillPattern(p.Bytes(off, size), tag)
			live = append(live, liveBlock{off, size, tag})
		case k < 80:
			i := r.IntN(len(live))
			if err := free(live[i]); err != nil {
				return err
			}
			live[i] = live[len(live)-1]
			live = live[:len(live)-1]
		case k < 90:
			i := len(live) - 1
			select {
			case exchange <- live[i]:
				live = live[:i]
			default:
			}
		default:
			select {
			case lb := <-exchange:
				if err := free(lb); err != nil {
					return err
				}
			default:
			}
		}
	}
	for _, lb := range live {
		if err := free(lb); err != nil {
			return err
		}
	}
	return nil
}

func TestHammer(t *testing.T) {
	total := 400000
	if raceEnabled {
		total = 20000
	}
	for _, l := range concurrentLevels {
		for _, g := range []int{1, runtime.GOMAXPROCS(0), 64} {
			t.Run(fmt.Sprintf("%s/g=%d", l.name, g), func(t *testing.T) {
				hammer(t, l, g, max(total/g, 200))
			})
		}
	}
}

// TestSameClassContention drives every goroutine through one size class, so
// that pops race with pops and pushes of the same blocks (the ABA and stale
// link cases of the Treiber stacks).
func TestSameClassContention(t *testing.T) {
	iters := 20000
	if raceEnabled {
		iters = 3000
	}
	for _, l := range concurrentLevels {
		t.Run(l.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxBytes = 16 << 20
			p, err := l.make(cfg)
			if err != nil {
				t.Fatal(err)
			}
			g := max(4, 2*runtime.GOMAXPROCS(0))
			var wg sync.WaitGroup
			errs := make(chan error, g)
			for w := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					h, done := l.handle(p)
					defer done()
					var blocks [3]liveBlock
					for i := range iters {
						for j := range blocks {
							off, err := h.Alloc(24)
							if err != nil {
								errs <- err
								return
							}
							blocks[j] = liveBlock{off, 24, uint64(w)<<40 | uint64(i)<<2 | uint64(j)}
							fillPattern(h.Bytes(off, 24), blocks[j].tag)
						}
						for _, j := range [3]int{1, 0, 2} {
							lb := blocks[j]
							if err := checkPattern(h.Bytes(lb.off, 24), lb.tag); err != nil {
								errs <- fmt.Errorf("block %#x: %v", uint64(lb.off), err)
								return
							}
							if err := h.Free(lb.off, 24); err != nil {
								errs <- err
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}
