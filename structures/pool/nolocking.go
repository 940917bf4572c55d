package pool

import (
	"fmt"
	"unsafe"
)

// NoLocking is the single-owner level: no synchronization at all. One
// goroutine at a time may use it (hand it over with the usual
// happens-before, a channel or a mutex). It is the fastest level and the one
// a shard owner or the trie uses.
//
// Alloc and Free of a small block are a few instructions that the compiler
// inlines into the caller: pop or push the head of the class's free list, or
// bump a pointer through the current chunk; everything else happens in
// out-of-line slow paths.
type NoLocking struct {
	a     arena
	heads []Offset // per-class free-list heads; the link lives in the block
	bump  Offset   // next free byte of the current chunk
	end   Offset   // end of the current chunk

	allocs, frees uint64
	inUse         int64 // bytes in live small blocks
	smallChunks   int64 // chunks given to small blocks
	huge          hugeHeap
	cfg           Config
}

var _ Pool = (*NoLocking)(nil)

// NewNoLocking returns a NoLocking pool for cfg.
func NewNoLocking(cfg Config) (*NoLocking, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p := &NoLocking{cfg: cfg}
	p.a.init(cfg)
	p.huge.init(&p.a)
	p.heads = make([]Offset, cfg.MaxFastBlock/cfg.Alignment)
	return p, nil
}

// Level returns LevelNoLocking.
func (p *NoLocking) Level() Level { return LevelNoLocking }

// Config returns the normalized configuration.
func (p *NoLocking) Config() Config { return p.cfg }

// Alloc returns a block of size bytes.
func (p *NoLocking) Alloc(size int) (Offset, error) {
	c := uint(size-1) >> p.a.alignShift // size <= 0 wraps to a huge class
	if !invariants && c < uint(len(p.heads)) {
		if off := p.heads[c]; off != 0 {
			p.heads[c] = *(*Offset)(p.ptr(off))
			p.allocs++
			p.inUse += int64(c+1) << p.a.alignShift
			return off, nil
		}
	}
	return p.allocSlow(size)
}

// Free returns the block at off, allocated with size.
func (p *NoLocking) Free(off Offset, size int) error {
	c := uint(size-1) >> p.a.alignShift
	ci := uint64(off >> p.a.shift)
	if !invariants && c < uint(len(p.heads)) && ci < uint64(len(p.a.chunks)) && off&Offset(p.a.align-1) == 0 && off != 0 {
		ch := p.a.chunks[ci]
		if in := uint64(off) & (1<<p.a.shift - 1); in < uint64(len(ch)) {
			*(*Offset)(unsafe.Pointer(&ch[in])) = p.heads[c]
			p.heads[c] = off
			p.frees++
			p.inUse -= int64(c+1) << p.a.alignShift
			return nil
		}
	}
	return p.freeSlow(off, size)
}

// Bytes returns the size bytes of the block at off (capacity size). It
// panics if off and size do not lie inside the arena.
func (p *NoLocking) Bytes(off Offset, size int) []byte {
	in := uint64(off) & (1<<p.a.shift - 1)
	end := in + uint64(size)
	return p.a.chunks[off>>p.a.shift][in:end:end]
}

// Ptr returns a pointer to the first byte of the block at off, with no check
// at all: off must be a live block of this pool, and the caller must stay
// inside the block's size (for a caller that knows its block layout, such
// as the trie reading a node header). The pointer keeps the chunk alive and
// stays valid until the block is freed; it must not be kept past that.
func (p *NoLocking) Ptr(off Offset) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.a.chunks[off>>p.a.shift])), off&(1<<p.a.shift-1))
}

func (p *NoLocking) ptr(off Offset) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(unsafe.SliceData(p.a.chunks[off>>p.a.shift])), off&(1<<p.a.shift-1))
}

// BlockSize returns the arena bytes a block of size bytes occupies: its size
// class for a small block, size rounded up to the alignment for a huge one.
func (p *NoLocking) BlockSize(size int) int { return blockSize(&p.cfg, size) }

func blockSize(cfg *Config, size int) int {
	return (size + cfg.Alignment - 1) &^ (cfg.Alignment - 1)
}

func checkSize(cfg *Config, size int) error {
	if size <= 0 {
		return fmt.Errorf("%w: %d", ErrInvalidSize, size)
	}
	if int64(size) > cfg.MaxBytes {
		return fmt.Errorf("%w: %d bytes is above MaxBytes %d", ErrTooLarge, size, cfg.MaxBytes)
	}
	return nil
}

//go:noinline
func (p *NoLocking) allocSlow(size int) (Offset, error) {
	if err := checkSize(&p.cfg, size); err != nil {
		return 0, err
	}
	if size > p.cfg.MaxFastBlock {
		off, err := p.huge.alloc(size)
		if err != nil {
			return 0, err
		}
		p.allocs++
		return off, nil
	}
	c := uint(size-1) >> p.a.alignShift
	n := Offset(c+1) << p.a.alignShift
	off := p.heads[c]
	switch {
	case off != 0:
		p.heads[c] = *(*Offset)(p.ptr(off))
	case p.end-p.bump >= n:
		off = p.bump
		p.bump += n
	default:
		var err error
		if off, err = p.refill(c); err != nil {
			return 0, err
		}
	}
	if invariants {
		trackAlloc(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size)
	}
	p.allocs++
	p.inUse += int64(n)
	return off, nil
}

// refill starts a new chunk for class c and carves the block from it; when
// the arena cannot grow, it gives the huge spare back and tries again, then
// splits a free block of a larger class.
func (p *NoLocking) refill(c uint) (Offset, error) {
	n := Offset(c+1) << p.a.alignShift
	first, err := p.a.take(1, true)
	if err != nil && p.huge.spare != nil {
		p.huge.dropSpare()
		first, err = p.a.take(1, true)
	}
	if err != nil {
		for d := c + 1; d < uint(len(p.heads)); d++ {
			if off := p.heads[d]; off != 0 {
				p.heads[d] = *(*Offset)(p.ptr(off))
				p.pushRange(off+n, off+Offset(d+1)<<p.a.alignShift)
				return off, nil
			}
		}
		return 0, err
	}
	p.pushRange(p.bump, p.end)
	p.smallChunks++
	p.bump = p.a.firstOffset(first)
	p.end = Offset(first+1) << p.a.shift
	off := p.bump
	p.bump += n
	return off, nil
}

// pushRange puts the free range [lo, hi) on the free lists, in pieces of at
// most MaxFastBlock bytes.
func (p *NoLocking) pushRange(lo, hi Offset) {
	for lo < hi {
		n := min(hi-lo, Offset(p.cfg.MaxFastBlock))
		c := n>>p.a.alignShift - 1
		*(*Offset)(p.ptr(lo)) = p.heads[c]
		p.heads[c] = lo
		lo += n
	}
}

//go:noinline
func (p *NoLocking) freeSlow(off Offset, size int) error {
	if err := checkSize(&p.cfg, size); err != nil {
		return err
	}
	if size > p.cfg.MaxFastBlock {
		if err := p.huge.free(off, size); err != nil {
			return err
		}
		p.frees++
		return nil
	}
	if err := checkSmallOffset(&p.a, p.a.chunks, off, size); err != nil {
		return err
	}
	if invariants {
		if err := trackFree(p.a.pub.Load(), p.a.shift, p.a.alignShift, off, size); err != nil {
			return err
		}
	}
	c := uint(size-1) >> p.a.alignShift
	*(*Offset)(p.ptr(off)) = p.heads[c]
	p.heads[c] = off
	p.frees++
	p.inUse -= int64(c+1) << p.a.alignShift
	return nil
}

// checkSmallOffset does the checks every build makes on a small free: a
// non-zero, aligned offset whose block lies inside a chunk.
func checkSmallOffset(a *arena, chunks [][]byte, off Offset, size int) error {
	if off == 0 {
		return fmt.Errorf("%w: the zero offset", ErrInvalidFree)
	}
	if int64(off)&(a.align-1) != 0 {
		return fmt.Errorf("%w: offset %#x is not aligned to %d", ErrInvalidFree, uint64(off), a.align)
	}
	ci := uint64(off >> a.shift)
	in := int64(off) & (a.chunkSize - 1)
	if ci >= uint64(len(chunks)) || in+int64(blockSizeAlign(a, size)) > int64(len(chunks[ci])) {
		return fmt.Errorf("%w: offset %#x (size %d) is outside the arena", ErrInvalidFree, uint64(off), size)
	}
	return nil
}

func blockSizeAlign(a *arena, size int) int64 {
	return (int64(size) + a.align - 1) &^ (a.align - 1)
}

// Stats returns the pool's counters.
func (p *NoLocking) Stats() Stats {
	s := Stats{
		Level:     LevelNoLocking,
		Capacity:  p.a.capacity,
		HugeBytes: p.huge.liveBytes,
		HugeCount: p.huge.liveCount,
		Allocs:    p.allocs,
		Frees:     p.frees,
		Chunks:    p.a.slots,
	}
	smallBytes := p.smallChunks << p.a.shift
	untouched := int64(p.end - p.bump)
	s.InUse = p.inUse + p.huge.liveBytes
	s.Untouched = untouched + p.a.idleBytes()
	s.Free = smallBytes - p.inUse - untouched + p.huge.freeBytes
	if p.a.zeroSmall {
		s.Free -= p.a.align // the nil unit
	}
	s.Fragment = s.Capacity - s.InUse - s.Free - s.Untouched
	return s
}
