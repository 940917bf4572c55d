package trie

import (
	"errors"
	"fmt"
	"unsafe"

	"github.com/zipora-go/zipora/structures/pool"
)

// arena is the trie's node memory: a single-owner structures/pool NoLocking
// pool. A node ref is the block's pool offset divided by 4 (blocks are
// 8-aligned, so bit 0 of a ref to a node is 0; bit 31 names the arena of
// the concurrent one-writer form's two (refArenaBit), so refs address 8 GiB
// per arena).
type arena struct {
	p *pool.NoLocking
	// lf, when set (multi-writer form), replaces p: one lock-free pool
	// shared by the arena structs of every writer slot (p is then nil; ptr
	// must not be called, at is the accessor). Each slot's arena struct
	// keeps its own inUse, so no counter is shared between writers.
	lf    *pool.LockFree
	align int
	inUse int // arena bytes in live nodes
	// pad is the number of bytes reserved in front of every node: 0 for the
	// single-owner trie; the concurrent forms keep a lock word there.
	pad int
	// grew, when set, is called after an allocation that took the pool's
	// slow path (the pool may have added a chunk): the concurrent forms
	// republish their readers' view of the chunks from it.
	grew func(off pool.Offset)
	// seen is where the chunks grew last saw end: an allocation below it
	// lies in a chunk the readers' view already holds, so grow skips the
	// hook (the pool's slow path runs for about every other allocation, and
	// the hook's call cost the one writer ~20 instructions each, issue 23).
	// Set by the hook's owner, cleared by reset.
	seen pool.Offset
	// refBit is OR-ed into every ref the arena hands out (ptr and release
	// mask bit 31 off, a constant: no load on the read path): the concurrent
	// one-writer form keeps two arenas (the second one is the target of a
	// compaction) told apart by bit 31 of a ref (refArenaBit). 0 for the
	// other forms.
	refBit uint32
	// lineFree holds the free line cells (offset/8) of a p arena: every
	// block of exactly lineBytes (a node of 57-64 bytes, lock word
	// included) starts at a cache line (allocLineSlow).
	lineFree []uint32
	// lineCells is the number of line cells made, lineHeld the pool bytes
	// they occupy (slabs, and unaligned blocks taken at a cap).
	lineCells, lineHeld int
}

// Line cells: a node that fits one cache line is read through one line.
// A 64-byte block at the pool's 8-byte alignment straddles two lines 7
// times in 8, and a lookup reads its header, then (after computing where)
// a child slot: on shuffled keys two dependent misses instead of one.
// Cachegrind, 1M shuffled keys key_%06d (every node 64 bytes), D1 32 KiB /
// LL 1 MiB: 5.57 D1 and 2.66 LL misses per lookup at 8-byte placement,
// 3.89 and 2.18 with line cells (3.88 and 2.15 with a 64-byte pool
// alignment, every block line-aligned). Only the 64-byte size
// class is placed (cells carved from slabs of slabLines cells, 56 bytes of
// each slab lost to alignment): aligning every class to 64 bytes would
// round 16-byte leaves up to 64. Freed cells stay line cells (lineFree),
// as a pool's free blocks stay in their size class.
//
// Rejected: a line-aligned second pool (a ref bit to tell the pools
// apart, a branch and a second chunk table on every node access); a
// 64-byte pool alignment (every node a multiple of 64 bytes).
const (
	lineBytes = 64
	slabLines = 64
	slabBytes = slabLines*lineBytes + lineBytes - 8 // room to align the first cell
	// lineFreed marks a free cell's first word (a live node never starts
	// with it: its header would name 511 children), so that a double free
	// panics as the pool's own check would.
	lineFreed = ^uint64(0)
)

// refArenaBit tells the two arenas of the one-writer form apart.
const refArenaBit = 1 << 31

const (
	refShift = 2
	// maxArenaBytes is the arena size refs can address (bit 31 of a ref
	// names the arena).
	maxArenaBytes = 1 << (31 + refShift)
)

var errArenaAddress = errors.New("trie: arena offset beyond what refs address")

// defaultPoolConfig is the node pool's configuration: 8-byte alignment
// (nodes are sized to 8), 16 KiB fast blocks (the largest ordinary node is
// a 1 KiB dense one; longer prefixes go to the huge-block heap), 1 MiB
// chunks.
func defaultPoolConfig() pool.Config {
	return pool.Config{MaxFastBlock: 16 << 10, Alignment: 8, ChunkSize: 1 << 20}
}

func newArena(cfg pool.Config) (*arena, error) {
	if cfg.MaxBytes == 0 || cfg.MaxBytes > maxArenaBytes {
		cfg.MaxBytes = maxArenaBytes
	}
	p, err := pool.NewNoLocking(cfg)
	if err != nil {
		return nil, fmt.Errorf("trie: node pool: %w", err)
	}
	return &arena{p: p, align: p.Config().Alignment}, nil
}

// newSharedArena returns the multi-writer form's node pool: lock-free, so
// that writer slots allocate and free without a common lock.
func newSharedArena(cfg pool.Config) (*pool.LockFree, error) {
	if cfg.MaxBytes == 0 || cfg.MaxBytes > maxArenaBytes {
		cfg.MaxBytes = maxArenaBytes
	}
	p, err := pool.NewLockFree(cfg)
	if err != nil {
		return nil, fmt.Errorf("trie: node pool: %w", err)
	}
	return p, nil
}

// alloc allocates a node block of size bytes and returns its ref and its
// node (the block past the pad).
func (a *arena) alloc(size int) (uint32, node, error) {
	if a.lf != nil {
		return a.allocShared(size)
	}
	size += a.pad
	var off pool.Offset
	var err error
	if a.blockSize(size) == lineBytes {
		if k := len(a.lineFree); k > 0 {
			off = pool.Offset(a.lineFree[k-1]) << 3
			a.lineFree = a.lineFree[:k-1]
		} else if off, err = a.allocLineSlow(); err != nil {
			return 0, node{}, err
		}
	} else if off = a.p.TryAlloc(size); off == pool.Nil {
		if off, err = a.grow(size); err != nil {
			return 0, node{}, err
		}
	}
	a.inUse += a.blockSize(size)
	b := a.p.Ptr(off)
	if a.pad != 0 {
		// Safety: the pad is the block's first 8 bytes (blocks are 8-aligned);
		// the concurrent forms' lock word there starts unlocked (a reused
		// block holds whatever it last held).
		*(*uint64)(b) = 0
	}
	// Safety: the node starts pad bytes into its block.
	return uint32((off+pool.Offset(a.pad))>>refShift) | a.refBit, node{unsafe.Add(b, a.pad)}, nil
}

// allocLineSlow makes line cells (a slab) and returns one.
//
//go:noinline
func (a *arena) allocLineSlow() (pool.Offset, error) {
	off := a.p.TryAlloc(slabBytes)
	if off == pool.Nil {
		var err error
		if off, err = a.grow(slabBytes); err != nil {
			// No room for a slab (a MaxBytes cap): an unaligned block,
			// a line cell from now on.
			if off, err = a.grow(lineBytes); err != nil {
				return 0, err
			}
			a.lineCells++
			a.lineHeld += a.blockSize(lineBytes)
			return off, nil
		}
	}
	if off+slabBytes > maxArenaBytes {
		_ = a.p.Free(off, slabBytes)
		return 0, errArenaAddress
	}
	a.lineCells += slabLines
	a.lineHeld += a.blockSize(slabBytes)
	// Safety: only the address's alignment is read.
	first := off + pool.Offset((lineBytes-uintptr(a.p.Ptr(off))%lineBytes)%lineBytes)
	for i := slabLines - 1; i > 0; i-- { // the lowest cells are handed out first
		a.lineFree = append(a.lineFree, uint32((first+pool.Offset(i*lineBytes))>>3))
	}
	return first, nil
}

// grow allocates size bytes through the pool's slow path.
func (a *arena) grow(size int) (pool.Offset, error) {
	off, err := a.p.Alloc(size)
	if err != nil {
		return 0, wrapErr(fmt.Sprintf("node of %d bytes", size), err)
	}
	if off >= maxArenaBytes {
		// Reachable only when released huge regions left the chunk
		// table longer than MaxBytes: refuse rather than truncate.
		_ = a.p.Free(off, size)
		return 0, errArenaAddress
	}
	if a.grew != nil && off >= a.seen {
		a.grew(off)
	}
	return off, nil
}

// poolNodeBytes is the pool's in-use bytes as node bytes: line cells count
// as the cells in use, not the slabs holding them (the tests' conservation
// checks).
func (a *arena) poolNodeBytes() int64 {
	return a.p.Stats().InUse - int64(a.lineHeld) + int64(lineBytes*(a.lineCells-len(a.lineFree)))
}

// reset empties the arena: every node is gone (no reader holds one).
func (a *arena) reset() {
	a.p.Reset()
	a.lineFree = a.lineFree[:0]
	a.lineCells, a.lineHeld, a.inUse = 0, 0, 0
	a.seen = 0
}

// allocShared is alloc for an lf arena: every allocation may have landed
// in a chunk the readers' view lacks, so grew checks each one.
func (a *arena) allocShared(size int) (uint32, node, error) {
	size += a.pad
	off, err := a.lf.Alloc(size)
	if err != nil {
		return 0, node{}, wrapErr(fmt.Sprintf("node of %d bytes", size), err)
	}
	if off >= maxArenaBytes {
		_ = a.lf.Free(off, size)
		return 0, node{}, errArenaAddress
	}
	a.grew(off)
	a.inUse += a.blockSize(size)
	b := a.base(off)
	// Safety: as alloc: the lock word is the block's first 8 bytes, the
	// node starts pad bytes in.
	*(*uint64)(b) = 0
	return uint32((off+pool.Offset(a.pad))>>refShift) | a.refBit, node{unsafe.Add(b, a.pad)}, nil
}

// base returns the address of lf offset off (any goroutine: the pool's
// published chunk table).
func (a *arena) base(off pool.Offset) unsafe.Pointer {
	// Safety: off lies in a chunk of lf (an allocated block, or a chunk's
	// first byte); chunks never move, so the address stays valid while
	// the pool lives.
	return unsafe.Pointer(unsafe.SliceData(a.lf.Bytes(off, 8)))
}

// at is ptr for code shared with the multi-writer form (whose arenas have
// no p): a branch, then ptr.
func (a *arena) at(ref uint32) node {
	if a.lf != nil {
		return a.atShared(ref)
	}
	return a.ptr(ref)
}

// atShared is at for an lf arena, out of line so that at inlines.
//
//go:noinline
func (a *arena) atShared(ref uint32) node {
	// Safety: ref names a live node block of the shared pool.
	return node{a.base(pool.Offset(ref&^refArenaBit) << refShift)}
}

func (a *arena) release(ref uint32, size int) {
	size += a.pad
	off := pool.Offset(ref&^refArenaBit)<<refShift - pool.Offset(a.pad)
	if a.lf != nil {
		if err := a.lf.Free(off, size); err != nil {
			panic("trie: node free: " + err.Error())
		}
		a.inUse -= a.blockSize(size)
		return
	}
	if a.blockSize(size) == lineBytes {
		// Safety: a line cell is 64 bytes; its first word is the free mark.
		w := (*uint64)(a.p.Ptr(off))
		if *w == lineFreed {
			panic("trie: node free: line cell freed twice")
		}
		*w = lineFreed
		a.lineFree = append(a.lineFree, uint32(off>>3))
		a.inUse -= lineBytes
		return
	}
	if !a.p.TryFree(off, size) {
		if err := a.p.Free(off, size); err != nil {
			panic("trie: node free: " + err.Error())
		}
	}
	a.inUse -= a.blockSize(size)
}

// ptr returns the node at ref.
func (a *arena) ptr(ref uint32) node {
	// Safety: ref names a live node block; the pool's chunks never move and
	// every access through node stays within nodeSize(header) bytes.
	return node{a.p.Ptr(pool.Offset(ref&^refArenaBit) << refShift)}
}

// blockSize is the arena bytes a block of size bytes occupies.
func (a *arena) blockSize(size int) int { return (size + a.align - 1) &^ (a.align - 1) }

func (a *arena) bytesInUse() int { return a.inUse }

func (a *arena) capacity() int {
	if a.lf != nil {
		return int(a.lf.Stats().Capacity)
	}
	return int(a.p.Stats().Capacity)
}
