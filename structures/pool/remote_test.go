package pool

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// TestThreadLocalRemoteFrees hammers the remote path of ThreadLocal's free
// check (a block freed through a cache other than its owner's, or through
// the ThreadLocal): g goroutines, each with its own Cache, allocate blocks
// of 1 to 1024 bytes (bits inside one bitmap word, straddling two, or a
// cross entry) and fill them with their tag; then every block is freed by
// two freers at once, each a random goroutine through its own cache or
// through the ThreadLocal, each trying a size of another class first. No
// block is allocated while they free, so no offset is reused within a
// round; the next round allocates from what came back (local lists,
// inboxes, batches, the central pool), and each round one goroutine closes
// its cache while the others may still be freeing its blocks. Conservation,
// every round: every block is freed exactly once (one nil over its two
// freers), no size of another class is accepted, InUse is 0 once every
// cache has flushed, and the blocks of the next round are disjoint (every
// tag intact).
func TestThreadLocalRemoteFrees(t *testing.T) {
	rounds, per := 8, 400
	if raceEnabled {
		rounds, per = 4, 120
	}
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 16} {
		t.Run(fmt.Sprint("g=", g), func(t *testing.T) { remoteFrees(t, g, rounds, per) })
	}
}

// inParallel runs f(0..g-1) on g goroutines and returns the first error.
func inParallel(g int, f func(w int) error) error {
	errs := make(chan error, g)
	var wg sync.WaitGroup
	for w := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- f(w)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// otherClass returns a size of a class next to size's (16-byte units,
// classes up to 1024 bytes).
func otherClass(size int, r *rand.Rand) int {
	c := (size + 15) / 16
	if c > 1 && (c == 64 || r.IntN(2) == 0) {
		return 16 * (c - 1)
	}
	return 16 * (c + 1)
}

func remoteFrees(t *testing.T, g, rounds, per int) {
	cfg := testConfig()
	cfg.MaxBytes = 64 << 20
	p, err := NewThreadLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	caches := make([]*Cache, g)
	for w := range caches {
		caches[w] = p.NewCache()
	}
	defer func() {
		for _, q := range caches {
			q.Close()
		}
	}()
	type freeJob struct {
		block   int
		central bool // through the ThreadLocal, not the freer's cache
	}
	for round := range rounds {
		blocks := make([][]liveBlock, g)
		err := inParallel(g, func(w int) error {
			r := rand.New(rand.NewPCG(uint64(w), uint64(round)))
			for i := range per {
				size := 1 + r.IntN(1024)
				off, err := caches[w].Alloc(size)
				if err != nil {
					return err
				}
				tag := uint64(round)<<48 | uint64(w)<<32 | uint64(i)
				fillPattern(p.Bytes(off, size), tag)
				blocks[w] = append(blocks[w], liveBlock{off, size, tag})
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		all := slices.Concat(blocks...)
		for _, b := range all {
			if err := checkPattern(p.Bytes(b.off, b.size), b.tag); err != nil {
				t.Fatalf("round %d: block %#x (%d B) overwritten, blocks overlap: %v", round, uint64(b.off), b.size, err)
			}
		}
		byOff := slices.Clone(all)
		slices.SortFunc(byOff, func(a, b liveBlock) int { return int(a.off) - int(b.off) })
		for i := 1; i < len(byOff); i++ {
			if a, b := byOff[i-1], byOff[i]; a.off+Offset((a.size+15)&^15) > b.off {
				t.Fatalf("round %d: blocks %#x (%d B) and %#x overlap", round, uint64(a.off), a.size, uint64(b.off))
			}
		}
		// Two freers per block, in a random order per freer.
		jobs := make([][]freeJob, g)
		rng := rand.New(rand.NewPCG(uint64(g), uint64(round)))
		for i := range all {
			for range 2 {
				w := rng.IntN(g)
				jobs[w] = append(jobs[w], freeJob{i, rng.IntN(4) == 0})
			}
		}
		closer := round % g
		freed := make([]atomic.Int32, len(all))
		err = inParallel(g, func(w int) error {
			r := rand.New(rand.NewPCG(uint64(w), 7+uint64(round)))
			r.Shuffle(len(jobs[w]), func(i, j int) { jobs[w][i], jobs[w][j] = jobs[w][j], jobs[w][i] })
			for _, j := range jobs[w] {
				b := all[j.block]
				var via Pool = caches[w]
				if j.central {
					via = p
				}
				wrong := otherClass(b.size, r)
				if err := via.Free(b.off, wrong); !errors.Is(err, ErrInvalidFree) {
					return fmt.Errorf("block %#x (%d B) freed with %d B: %v", uint64(b.off), b.size, wrong, err)
				}
				switch err := via.Free(b.off, b.size); {
				case err == nil:
					freed[j.block].Add(1)
				case !errors.Is(err, ErrInvalidFree):
					return fmt.Errorf("block %#x (%d B): %v", uint64(b.off), b.size, err)
				}
			}
			if w == closer {
				caches[w].Close() // its blocks still being freed go to the central pool
			} else {
				caches[w].Flush()
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		caches[closer] = p.NewCache()
		for i := range freed {
			if n := freed[i].Load(); n != 1 {
				t.Fatalf("round %d: block %#x (%d B) freed %d times", round, uint64(all[i].off), all[i].size, n)
			}
		}
		if s := p.Stats(); s.InUse != 0 || s.Allocs != s.Frees {
			t.Fatalf("round %d: every block freed once, but InUse %d, Allocs %d, Frees %d", round, s.InUse, s.Allocs, s.Frees)
		}
	}
}

// TestThreadLocalOwnerRemoteRace: a block's owner frees it through its own
// cache (the fast path) while another goroutine, released at the same
// instant, frees it through its cache or through the ThreadLocal (the
// remote path), round after round, for a block inside one bitmap word, one
// that straddles two, and a crossing one: exactly one free succeeds each
// round, and the pool's InUse is 0 at the end.
func TestThreadLocalOwnerRemoteRace(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs two Ps for the frees to overlap")
	}
	rounds := 20000 // a round takes a few microseconds; a race window, nanoseconds
	if raceEnabled {
		rounds = 1000
	}
	for _, central := range []bool{false, true} {
		t.Run(fmt.Sprint("central=", central), func(t *testing.T) { ownerRemoteRace(t, central, rounds) })
	}
}

func ownerRemoteRace(t *testing.T, central bool, rounds int) {
	cfg := testConfig()
	cfg.MaxBytes = 16 << 20
	p, err := NewThreadLocal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	owner := p.NewCache()
	defer owner.Close()
	// The remote goroutine spins for its jobs (a channel would park it and
	// wake it on the owner's P, one free after the other): round r's job
	// is published by seq = r+1, its result by done = r+1.
	var (
		seq, done, start atomic.Int64
		jobOff           atomic.Uint64
		jobSize          atomic.Int64
		result           error
		wg               sync.WaitGroup
	)
	const quit = -1
	wg.Add(1)
	go func() {
		defer wg.Done()
		q := p.NewCache()
		defer q.Close()
		var via Pool = q
		if central {
			via = p
		}
		r := rand.New(rand.NewPCG(1, 2))
		for n := int64(1); ; n++ {
			if spinUntil(&seq, n) == quit {
				return
			}
			spinStart(&start, 2*n, r.IntN(16))
			result = via.Free(Offset(jobOff.Load()), int(jobSize.Load()))
			done.Store(n) // release: publishes result
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			seq.Store(quit)
			wg.Wait()
		}
	}
	defer stop()
	rng := rand.New(rand.NewPCG(3, 4))
	// 48 B blocks from a fresh span: every eleventh straddles two words.
	sizes := []int{64, 48, 520, 48, 520}
	for r := range int64(rounds) {
		size := sizes[r%int64(len(sizes))]
		off, err := owner.Alloc(size)
		if err != nil {
			t.Fatal(err)
		}
		jobOff.Store(uint64(off))
		jobSize.Store(int64(size))
		seq.Store(r + 1)                           // release: publishes the job
		spinStart(&start, 2*(r+1), rng.IntN(1024)) // the owner's path is the shorter one
		mine := owner.Free(off, size)
		spinUntil(&done, r+1)
		theirs := result
		ok := 0
		for _, err := range []error{mine, theirs} {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, ErrInvalidFree):
				t.Fatal(err)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d of two racing frees of %#x (%d B) succeeded (owner %v, remote %v)", r, ok, uint64(off), size, mine, theirs)
		}
	}
	stop() // the remote cache is closed: its counters are in
	if s := owner.Stats(); s.InUse != 0 {
		t.Fatalf("InUse %d after every block was freed once", s.InUse)
	}
}

// spinUntil spins until v is at least want or negative (yielding now and
// then, so that it cannot starve the goroutine it waits for) and returns
// it.
func spinUntil(v *atomic.Int64, want int64) int64 {
	for i := 0; ; i++ {
		if x := v.Load(); x >= want || x < 0 { // acquire: what the writer published before
			return x
		}
		if i%1000 == 999 {
			runtime.Gosched()
		}
	}
}

// spinStart counts the caller in and spins until both of the round whose
// count ends at want are in (the two frees start together), then idles for
// delay loads: the two paths differ in length, so a jitter lets their
// checks overlap in some rounds.
func spinStart(start *atomic.Int64, want int64, delay int) {
	start.Add(1)
	spinUntil(start, want)
	for range delay {
		start.Load()
	}
}
