package trie

import (
	"errors"
	"fmt"

	"github.com/zipora-go/zipora/structures/pool"
)

// arena is the trie's node memory: a single-owner structures/pool NoLocking
// pool. A node ref is the block's pool offset divided by 4 (blocks are
// 8-aligned, so bit 0 of a ref to a node is 0; bit 31 names the arena of
// the concurrent one-writer form's two (refArenaBit), so refs address 8 GiB
// per arena).
type arena struct {
	p     *pool.NoLocking
	align int
	inUse int // arena bytes in live nodes
	// pad is the number of bytes reserved in front of every node: 0 for the
	// single-owner trie; the concurrent forms keep a lock word there.
	pad int
	// grew, when set, is called after an allocation that took the pool's
	// slow path (the pool may have added a chunk): the concurrent forms
	// republish their readers' view of the chunks from it.
	grew func(off pool.Offset)
	// refBit is OR-ed into every ref the arena hands out (ptr and release
	// mask bit 31 off, a constant: no load on the read path): the concurrent
	// one-writer form keeps two arenas (the second one is the target of a
	// compaction) told apart by bit 31 of a ref (refArenaBit). 0 for the
	// other forms.
	refBit uint32
}

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

func (a *arena) alloc(size int) (uint32, error) {
	size += a.pad
	off := a.p.TryAlloc(size)
	if off == pool.Nil {
		var err error
		if off, err = a.p.Alloc(size); err != nil {
			return 0, fmt.Errorf("trie: node of %d bytes: %w", size, err)
		}
		if off >= maxArenaBytes {
			// Reachable only when released huge regions left the chunk
			// table longer than MaxBytes: refuse rather than truncate.
			_ = a.p.Free(off, size)
			return 0, errArenaAddress
		}
		if a.grew != nil {
			a.grew(off)
		}
	}
	a.inUse += a.blockSize(size)
	if a.pad != 0 {
		// Safety: the pad is the block's first 8 bytes (blocks are 8-aligned);
		// the concurrent forms' lock word there starts unlocked (a reused
		// block holds whatever it last held).
		*(*uint64)(a.p.Ptr(off)) = 0
	}
	return uint32((off+pool.Offset(a.pad))>>refShift) | a.refBit, nil
}

func (a *arena) release(ref uint32, size int) {
	size += a.pad
	off := pool.Offset(ref&^refArenaBit)<<refShift - pool.Offset(a.pad)
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

func (a *arena) capacity() int { return int(a.p.Stats().Capacity) }
