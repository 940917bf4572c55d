package pool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
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
	err = inParallel(g, func(w int) error {
		h, done := l.handle(p)
		defer done()
		return hammerWorker(h, cfg, uint64(w), ops, exchange)
	})
	if err != nil {
		t.Fatal(err)
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
	eachLevelAt(t, []int{1, runtime.GOMAXPROCS(0), 64}, func(t *testing.T, l concurrentLevel, g int) {
		hammer(t, l, g, max(total/g, 200))
	})
}

// eachLevelAt runs test on every concurrent level at each goroutine count.
func eachLevelAt(t *testing.T, gs []int, test func(*testing.T, concurrentLevel, int)) {
	for _, l := range concurrentLevels {
		for _, g := range gs {
			t.Run(fmt.Sprintf("%s/g=%d", l.name, g), func(t *testing.T) { test(t, l, g) })
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

// TestRacingBadFrees attacks the free check (issue 19 case 7): g
// goroutines free the same live blocks, each in its own order, each block
// with its own size and with sizes of other classes (smaller, larger,
// straddling bitmap words), while g more goroutines free blocks of their
// own that lie between them (the same bitmap words change under the
// attack). Nothing is allocated during the attack, so no freed offset is
// reused. Conservation: every block is freed exactly once (one nil per
// block over all goroutines, every other call ErrInvalidFree), InUse is 0
// after, and what is allocated next never overlaps.
func TestRacingBadFrees(t *testing.T) {
	blocks := 3000
	if raceEnabled {
		blocks = 600
	}
	eachLevelAt(t, []int{1, runtime.GOMAXPROCS(0), 16}, func(t *testing.T, l concurrentLevel, g int) {
		racingBadFrees(t, l, g, blocks)
	})
}

func racingBadFrees(t *testing.T, l concurrentLevel, g, n int) {
	cfg := testConfig()
	cfg.MaxBytes = 64 << 20
	p, err := l.make(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h, done := l.handle(p)
	rng := rand.New(rand.NewPCG(uint64(g), 23))
	// Victims and the bystanders' blocks alternate, so they share words.
	live := make([]liveBlock, n)
	own := make([][]liveBlock, g)
	for i := range live {
		for j, b := range []*liveBlock{&live[i], nil} {
			size := 8 * (1 + rng.IntN(160)) // up to 80 units of 16 B: one, two or three words
			off, err := h.Alloc(size)
			if err != nil {
				t.Fatal(err)
			}
			if j == 0 {
				*b = liveBlock{off, size, 0}
			} else {
				own[i%g] = append(own[i%g], liveBlock{off, size, 0})
			}
		}
	}
	done()
	freed := make([]atomic.Int32, n)
	var wg sync.WaitGroup
	errs := make(chan error, 2*g)
	for w := range g {
		wg.Add(2)
		go func() { // an attacker: every victim, in its own order
			defer wg.Done()
			q, done := l.handle(p)
			defer done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for _, i := range r.Perm(n) {
				lb := live[i]
				for _, size := range []int{lb.size + 16*(1+r.IntN(3)), max(1, lb.size-16), lb.size} {
					err := q.Free(lb.off, size)
					switch own := (size+15)/16 == (lb.size+15)/16; {
					case err == nil && own:
						freed[i].Add(1)
					case err == nil:
						errs <- fmt.Errorf("block %#x (%d B) freed with %d B", uint64(lb.off), lb.size, size)
						return
					case !errors.Is(err, ErrInvalidFree):
						errs <- fmt.Errorf("block %#x with %d B: %v", uint64(lb.off), size, err)
						return
					}
				}
			}
		}()
		go func() { // a bystander: its own blocks, between the victims
			defer wg.Done()
			q, done := l.handle(p)
			defer done()
			for _, lb := range own[w] {
				if err := q.Free(lb.off, lb.size); err != nil {
					errs <- fmt.Errorf("bystander free %#x: %v", uint64(lb.off), err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range freed {
		if c := freed[i].Load(); c != 1 {
			t.Fatalf("block %d (%#x, %d B) freed %d times", i, uint64(live[i].off), live[i].size, c)
		}
	}
	q, done := l.handle(p)
	defer done()
	if s := q.Stats(); s.InUse != 0 {
		t.Fatalf("InUse %d after every block was freed once", s.InUse)
	}
	seen := map[Offset]bool{}
	for range 2 * n {
		off, err := q.Alloc(48)
		if err != nil {
			t.Fatal(err)
		}
		if seen[off] {
			t.Fatalf("offset %#x handed out twice", uint64(off))
		}
		seen[off] = true
	}
}

// TestDoubleFreeRace: two goroutines released at once free the same
// block of 33 units (it crosses out of its first bitmap word: its cross
// entry records it), round after round: exactly one free succeeds each
// round (the entry's CAS picks it).
func TestDoubleFreeRace(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps for the frees to overlap")
	}
	rounds := 5000
	if raceEnabled {
		rounds = 500
	}
	for _, l := range concurrentLevels {
		t.Run(l.name, func(t *testing.T) { doubleFreeRace(t, l, rounds) })
	}
}

func doubleFreeRace(t *testing.T, l concurrentLevel, rounds int) {
	cfg := testConfig()
	cfg.MaxBytes = 16 << 20
	p, err := l.make(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		off   Offset
		start *atomic.Int32 // both workers spin until it is 2: they start together
	}
	jobs := [2]chan job{make(chan job, 1), make(chan job, 1)}
	results := make(chan error, 2)
	var wg sync.WaitGroup
	for w := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, done := l.handle(p)
			defer done()
			for j := range jobs[w] {
				j.start.Add(1)
				for i := 0; j.start.Load() < 2; i++ {
					if i > 1000 { // the other is not running: let it
						runtime.Gosched()
					}
				}
				results <- q.Free(j.off, 520)
			}
		}()
	}
	defer wg.Wait()
	defer close(jobs[1])
	defer close(jobs[0])
	h, done := l.handle(p)
	defer done()
	for r := range rounds {
		off, err := h.Alloc(520) // 33 units of 16 B: always two bitmap words
		if err != nil {
			t.Fatal(err)
		}
		start := new(atomic.Int32)
		jobs[0] <- job{off, start}
		jobs[1] <- job{off, start}
		ok := 0
		for range 2 {
			switch err := <-results; {
			case err == nil:
				ok++
			case !errors.Is(err, ErrInvalidFree):
				t.Fatal(err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of two racing frees of %#x succeeded", r, ok, uint64(off))
		}
	}
}
