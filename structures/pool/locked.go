package pool

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"
)

// lockedCore is Mutex and FixedCapacity, and their methods: one mutex per
// size class (the free
// list and a slab that the class bumps through) and one growth mutex g for
// the arena, the shared small chunk and the huge heap. A class takes g only
// to get a new slab. Lock order: a class mutex before g; class mutexes only
// in ascending class order (the exhaustion fallback); tails are pushed with
// no lock held.
type lockedCore struct {
	cls   []lockedClass
	cfg   Config
	level Level         // LevelMutex or LevelFixedCapacity
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
	// Safety: unsafe.Sizeof only sizes the padding (a compile-time
	// constant); TestPadding checks the result.
	_ [(lineSize - unsafe.Sizeof(lockedClassData{})%lineSize) % lineSize]byte
}

func (p *lockedCore) init(cfg Config, l Level) *arena {
	p.cfg, p.level = cfg, l
	p.a.init(cfg)
	p.a.trackLive = true
	p.huge.init(&p.a)
	p.cls = make([]lockedClass, cfg.MaxFastBlock/cfg.Alignment)
	return &p.a
}

// Level returns LevelMutex or LevelFixedCapacity.
func (p *lockedCore) Level() Level { return p.level }

// Config returns the normalized configuration.
func (p *lockedCore) Config() Config { return p.cfg }

// Bits of lockedCore.flags; any Free clears them all.
const (
	flagFull      = 1 << iota // the last Alloc ran out of memory
	flagReclaimed             // a reclaim ran since the last Free
)

// Alloc returns a block of size bytes, or ErrExhausted when the pool
// cannot grow (MaxBytes, or a FixedCapacity pool that is full).
func (p *lockedCore) Alloc(size int) (Offset, error) {
	off, err := p.allocOnce(size, false)
	if err != nil && errors.Is(err, ErrExhausted) {
		// First give whole free chunks back (only when something was
		// freed since the last try: a pool that stays full does not walk
		// its lists on every Alloc), then split larger free blocks.
		if p.flags.Load()&flagReclaimed == 0 { // relaxed: a hint (a reclaim too many or too few costs time, not correctness)
			p.flags.Or(flagReclaimed) // relaxed, as above
			if p.reclaim() {
				off, err = p.allocOnce(size, false)
			}
		}
		if err != nil {
			off, err = p.allocOnce(size, true)
		}
		if err != nil {
			p.flags.Or(flagFull) // relaxed: a hint for Full
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
		return p.allocHuge(&p.cfg, size)
	}
	cl := &p.cls[c]
	n := Offset(c+1) << p.a.alignShift
	cl.mu.Lock()
	off := cl.head
	var tlo, thi Offset
	switch {
	case off != 0:
		cl.head = *(*Offset)(tptr(p.a.pub.Load(), p.a.shift, off)) // acquire: the chunk table (read under the class lock)
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
		trackAlloc(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size) // acquire: the chunk table
	}
	markLive(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, uint64(c+1)) // acquire: the chunk table
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
	t := p.a.pub.Load() // acquire: the chunk table
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

// Free returns the block at off, allocated with size.
func (p *lockedCore) Free(off Offset, size int) error {
	c := uint(size-1) >> p.a.alignShift
	if c >= uint(len(p.cls)) {
		err := p.freeHuge(&p.cfg, off, size)
		if err == nil && p.flags.Load() != 0 { // relaxed: a hint, see alloc
			p.flags.Store(0) // relaxed, as above
		}
		return err
	}
	t := p.a.pub.Load() // acquire: the chunk table
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
	if p.flags.Load() != 0 { // relaxed: a hint, see alloc
		p.flags.Store(0) // relaxed, as above
	}
	return nil
}

// Bytes returns the size bytes of the block at off (capacity size).
func (p *lockedCore) Bytes(off Offset, size int) []byte {
	return tbytes(p.a.pub.Load(), p.a.shift, off, size) // acquire: the chunk table
}

// Stats returns the pool's counters (locking each class in turn).
func (p *lockedCore) Stats() Stats {
	s := Stats{Level: p.level}
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
type Mutex struct{ lockedCore }

var _ Pool = (*Mutex)(nil)

// NewMutex returns a Mutex pool for cfg.
func NewMutex(cfg Config) (*Mutex, error) {
	return newLevel(cfg, func(p *Mutex, cfg Config) *arena { return p.init(cfg, LevelMutex) })
}

// FixedCapacity is the level that reserves Config.FixedCapacity bytes up
// front and never grows: an Alloc that does not fit returns ErrExhausted,
// never a panic, and succeeds again once blocks are freed. Huge blocks and
// small chunks share the reserved memory: a huge region whose blocks are all
// freed goes back to it. Safe for concurrent use (it is built like Mutex).
type FixedCapacity struct{ lockedCore }

var _ Pool = (*FixedCapacity)(nil)

// NewFixedCapacity returns a FixedCapacity pool; cfg.FixedCapacity must be
// set.
func NewFixedCapacity(cfg Config) (*FixedCapacity, error) {
	if cfg.FixedCapacity <= 0 {
		return nil, fmt.Errorf("%w: FixedCapacity must be set for a FixedCapacity pool", ErrInvalidConfig)
	}
	return newLevel(cfg, func(p *FixedCapacity, cfg Config) *arena { return p.init(cfg, LevelFixedCapacity) })
}

// Remaining returns the bytes not in live blocks: Capacity - InUse. Freed
// small blocks serve only their own size class, so an allocation can fail
// while Remaining is positive.
func (p *FixedCapacity) Remaining() int64 {
	s := p.Stats()
	return s.Capacity - s.InUse
}

// Full reports whether the most recent failed Alloc ran out of memory and no
// block has been freed since.
func (p *FixedCapacity) Full() bool { return p.flags.Load()&flagFull != 0 } // relaxed: a hint (no memory is read through it)
