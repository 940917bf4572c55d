package pool

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// lockedCore is Mutex and FixedCapacity: one mutex per size class (the free
// list and a slab that the class bumps through) and one growth mutex g for
// the arena, the shared small chunk and the huge heap. A class takes g only
// to get a new slab. Lock order: a class mutex before g; class mutexes only
// in ascending class order (the exhaustion fallback); tails are pushed with
// no lock held.
type lockedCore struct {
	cls   []lockedClass
	cfg   Config
	flags atomic.Uint32 // flagFull, flagReclaimed

	growth // g guards a, huge, src and the huge counters
}

type lockedClassData struct {
	mu            sync.Mutex
	head          Offset // free list; the link is in the block
	bump, end     Offset // the class's slab
	allocs, frees uint64
}

type lockedClass struct {
	lockedClassData
	_ [(lineSize - unsafe.Sizeof(lockedClassData{})%lineSize) % lineSize]byte
}

func (p *lockedCore) init(cfg Config) {
	p.cfg = cfg
	p.a.init(cfg)
	p.a.trackLive = true
	p.huge.init(&p.a)
	p.cls = make([]lockedClass, cfg.MaxFastBlock/cfg.Alignment)
}

// Bits of lockedCore.flags; any Free clears them all.
const (
	flagFull      = 1 << iota // the last Alloc ran out of memory
	flagReclaimed             // a reclaim ran since the last Free
)

func (p *lockedCore) alloc(size int) (Offset, error) {
	off, err := p.allocOnce(size, false)
	if err != nil && errors.Is(err, ErrExhausted) {
		// First give whole free chunks back (only when something was
		// freed since the last try: a pool that stays full does not walk
		// its lists on every Alloc), then split larger free blocks.
		if p.flags.Load()&flagReclaimed == 0 {
			p.flags.Or(flagReclaimed)
			if p.reclaim() {
				off, err = p.allocOnce(size, false)
			}
		}
		if err != nil {
			off, err = p.allocOnce(size, true)
		}
		if err != nil {
			p.flags.Or(flagFull)
		}
	}
	return off, err
}

// reclaim gives chunks whose blocks are all free back to the arena (see
// reclaimSmall), holding every class mutex (in ascending order) and g.
func (p *lockedCore) reclaim() bool {
	heads := make([]*Offset, len(p.cls))
	slabs := make([]slabRef, 0, len(p.cls)+1)
	for i := range p.cls {
		cl := &p.cls[i]
		cl.mu.Lock()
		defer cl.mu.Unlock()
		heads[i] = &cl.head
		slabs = append(slabs, slabRef{&cl.bump, &cl.end})
	}
	p.g.Lock()
	defer p.g.Unlock()
	slabs = append(slabs, slabRef{&p.src.cur, &p.src.end})
	n := reclaimSmall(&p.a, heads, slabs)
	p.src.chunks -= int64(n)
	return n > 0
}

func (p *lockedCore) allocOnce(size int, split bool) (Offset, error) {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(len(p.cls)) {
		return p.allocHuge(size)
	}
	cl := &p.cls[c]
	n := Offset(c+1) << p.a.alignShift
	cl.mu.Lock()
	off := cl.head
	var tlo, thi Offset
	switch {
	case off != 0:
		cl.head = *(*Offset)(tptr(p.a.pub.Load(), p.a.shift, off))
	case cl.end-cl.bump >= n:
		off = cl.bump
		cl.bump += n
	default:
		var err error
		if off, tlo, thi, err = p.refill(cl, c, split); err != nil {
			cl.mu.Unlock()
			return 0, err
		}
	}
	cl.allocs++
	cl.mu.Unlock()
	if tlo != thi {
		p.pushRange(tlo, thi)
	}
	if invariants {
		trackAlloc(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size)
	}
	markLive(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, uint64(c+1))
	return off, nil
}

// refill gives class c (its mutex held) a new slab and returns its first
// block, plus a range [tlo, thi) to put on the free lists once the class
// mutex is released. When the arena cannot grow and split is set, the slab
// is a free block of a larger class (the largest found, so that one split
// serves many allocations).
func (p *lockedCore) refill(cl *lockedClass, c uint, split bool) (off, tlo, thi Offset, err error) {
	n := Offset(c+1) << p.a.alignShift
	p.g.Lock()
	lo, hi, tlo, thi, err := p.src.carve(&p.a, &p.huge, n, slabBytes(&p.a, n))
	p.g.Unlock()
	if err != nil && split {
		for d := uint(len(p.cls)) - 1; d > c; d-- {
			dl := &p.cls[d] // d > c: the lock order holds
			dl.mu.Lock()
			if b := dl.head; b != 0 {
				// The table is loaded under dl's lock: b may lie in a chunk
				// published after this refill began (allocated and freed
				// meanwhile); a table loaded before could be too short.
				t := p.a.pub.Load() // acquire: every chunk below its length
				dl.head = *(*Offset)(tptr(t, p.a.shift, b))
				dl.mu.Unlock()
				size := Offset(d+1) << p.a.alignShift
				lo, hi, tlo, thi, err = b, b+size/n*n, b+size/n*n, b+size, nil
				break
			}
			dl.mu.Unlock()
		}
	}
	if err != nil {
		return 0, 0, 0, err
	}
	cl.bump, cl.end = lo+n, hi
	return lo, tlo, thi, nil
}

// pushRange puts [lo, hi) on the free lists in pieces of at most
// MaxFastBlock bytes, locking each class in turn.
func (p *lockedCore) pushRange(lo, hi Offset) {
	t := p.a.pub.Load()
	for lo < hi {
		n := min(hi-lo, Offset(p.cfg.MaxFastBlock))
		cl := &p.cls[n>>p.a.alignShift-1]
		cl.mu.Lock()
		*(*Offset)(tptr(t, p.a.shift, lo)) = cl.head
		cl.head = lo
		cl.mu.Unlock()
		lo += n
	}
}

func (p *lockedCore) allocHuge(size int) (Offset, error) {
	if err := checkSize(&p.cfg, size); err != nil {
		return 0, err
	}
	p.g.Lock()
	off, err := p.huge.alloc(size)
	if err == nil {
		p.hugeAllocs++
	}
	p.g.Unlock()
	return off, err
}

func (p *lockedCore) free(off Offset, size int) error {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(len(p.cls)) {
		if err := checkSize(&p.cfg, size); err != nil {
			return err
		}
		p.g.Lock()
		err := p.huge.free(off, size)
		if err == nil {
			p.hugeFrees++
		}
		p.g.Unlock()
		if err == nil && p.flags.Load() != 0 {
			p.flags.Store(0)
		}
		return err
	}
	t := p.a.pub.Load()
	if err := p.a.checkFree(t, off, size, c); err != nil {
		return err
	}
	link := (*Offset)(tptr(t, p.a.shift, off))
	cl := &p.cls[c]
	cl.mu.Lock()
	*link = cl.head
	cl.head = off
	cl.frees++
	cl.mu.Unlock()
	if p.flags.Load() != 0 {
		p.flags.Store(0)
	}
	return nil
}

func (p *lockedCore) bytes(off Offset, size int) []byte {
	return tbytes(p.a.pub.Load(), p.a.shift, off, size)
}

func (p *lockedCore) stats(l Level) Stats {
	s := Stats{Level: l}
	var inUse, untouched int64
	for i := range p.cls {
		cl := &p.cls[i]
		cl.mu.Lock()
		s.Allocs += cl.allocs
		s.Frees += cl.frees
		inUse += int64(cl.allocs-cl.frees) * int64(i+1) << p.a.alignShift
		untouched += int64(cl.end - cl.bump)
		cl.mu.Unlock()
	}
	p.finishStats(&s, inUse, untouched)
	return s
}

// Mutex is the level with one mutex per size class plus one for growth and
// huge blocks. Safe for concurrent use. Each class bumps through its own
// slab (taken from the shared chunk under the growth mutex), so goroutines
// allocating different sizes do not contend.
type Mutex struct{ core lockedCore }

var _ Pool = (*Mutex)(nil)

// NewMutex returns a Mutex pool for cfg.
func NewMutex(cfg Config) (*Mutex, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p := &Mutex{}
	p.core.init(cfg)
	runtime.AddCleanup(p, releaseBudget, p.core.a.held)
	return p, nil
}

// Alloc returns a block of size bytes.
func (p *Mutex) Alloc(size int) (Offset, error) { return p.core.alloc(size) }

// Free returns the block at off, allocated with size.
func (p *Mutex) Free(off Offset, size int) error { return p.core.free(off, size) }

// Bytes returns the size bytes of the block at off (capacity size).
func (p *Mutex) Bytes(off Offset, size int) []byte { return p.core.bytes(off, size) }

// Stats returns the pool's counters (locking each class in turn).
func (p *Mutex) Stats() Stats { return p.core.stats(LevelMutex) }

// Level returns LevelMutex.
func (p *Mutex) Level() Level { return LevelMutex }

// Config returns the normalized configuration.
func (p *Mutex) Config() Config { return p.core.cfg }

// FixedCapacity is the level that reserves Config.FixedCapacity bytes up
// front and never grows: an Alloc that does not fit returns ErrExhausted,
// never a panic, and succeeds again once blocks are freed. Huge blocks and
// small chunks share the reserved memory: a huge region whose blocks are all
// freed goes back to it. Safe for concurrent use (it is built like Mutex).
type FixedCapacity struct{ core lockedCore }

var _ Pool = (*FixedCapacity)(nil)

// NewFixedCapacity returns a FixedCapacity pool; cfg.FixedCapacity must be
// set.
func NewFixedCapacity(cfg Config) (*FixedCapacity, error) {
	if cfg.FixedCapacity <= 0 {
		return nil, fmt.Errorf("%w: FixedCapacity must be set for a FixedCapacity pool", ErrInvalidConfig)
	}
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p := &FixedCapacity{}
	p.core.init(cfg)
	return p, nil
}

// Alloc returns a block of size bytes, or ErrExhausted.
func (p *FixedCapacity) Alloc(size int) (Offset, error) { return p.core.alloc(size) }

// Free returns the block at off, allocated with size.
func (p *FixedCapacity) Free(off Offset, size int) error { return p.core.free(off, size) }

// Bytes returns the size bytes of the block at off (capacity size).
func (p *FixedCapacity) Bytes(off Offset, size int) []byte { return p.core.bytes(off, size) }

// Stats returns the pool's counters.
func (p *FixedCapacity) Stats() Stats { return p.core.stats(LevelFixedCapacity) }

// Level returns LevelFixedCapacity.
func (p *FixedCapacity) Level() Level { return LevelFixedCapacity }

// Config returns the normalized configuration.
func (p *FixedCapacity) Config() Config { return p.core.cfg }

// Remaining returns the bytes not in live blocks: Capacity - InUse. Freed
// small blocks serve only their own size class, so an allocation can fail
// while Remaining is positive.
func (p *FixedCapacity) Remaining() int64 {
	s := p.Stats()
	return s.Capacity - s.InUse
}

// Full reports whether the most recent failed Alloc ran out of memory and no
// block has been freed since.
func (p *FixedCapacity) Full() bool { return p.core.flags.Load()&flagFull != 0 }
