// Package pool is zipora's five-level memory pool: it hands out offsets into a
// chunked arena, memory the caller really uses as []byte through Bytes, at a
// cost the garbage collector does not see (each chunk is one pointer-free Go
// allocation, however many blocks it holds).
//
// # Blocks and offsets
//
// Alloc(size) returns an Offset, a 64-bit handle of the block: the chunk
// index in its high bits, the byte position inside the chunk in its low bits.
// Bytes(off, size) returns the block's memory. The arena grows by adding
// chunks; existing chunks never move, so a slice returned by Bytes stays
// valid until its block is freed. The zero Offset is never a block (the first
// alignment unit of chunk 0 is reserved), so a zero Offset can mean "nil" in
// structures stored in the pool.
//
// Sizes up to Config.MaxFastBlock are served from size classes of alignment
// granularity (class k holds blocks of (k+1)*Alignment bytes): each class has
// a free list whose links live inside the freed blocks, and fresh blocks are
// carved by bumping a pointer through chunk memory. Larger ("huge") blocks go
// to a best-fit allocator over free spans with coalescing; a region whose
// huge blocks are all freed is kept as a spare or returned (to the Go heap,
// or for a fixed-capacity pool to the chunk pool). Free must be given the
// size the block was allocated with.
//
// # The five levels
//
//   - NoLocking: one owner, no synchronization at all; the fastest.
//   - Mutex: a mutex per size class (each class carves its own slabs) and one
//     for growth and huge blocks.
//   - LockFree: per-class Treiber stacks with tagged (generation + offset)
//     heads; no mutex on the small-block alloc/free path. Growth (a new slab
//     from the arena) and huge blocks take the growth mutex.
//   - ThreadLocal: explicit per-goroutine caches (Go has no thread-local
//     storage): (*ThreadLocal).NewCache returns a *Cache, a Pool for one
//     goroutine with local bump and free lists and no synchronization. A block
//     freed through a cache that does not own it is returned to its owner in
//     batches. *ThreadLocal itself is a Pool safe for concurrent use.
//   - FixedCapacity: all memory reserved up front; never grows; ErrExhausted
//     when full, never a panic. Safe for concurrent use (per-class mutexes).
//
// NewAdaptive picks a level from the configuration and the CPU topology;
// WithLevel forces one.
//
// # Errors and checking
//
// Errors are sentinel values matchable with errors.Is. Alloc of a size <= 0
// returns ErrInvalidSize, of a size above MaxBytes ErrTooLarge, and past the
// growth cap ErrExhausted. Free of a huge block with an offset or size the
// pool did not hand out returns ErrInvalidFree. For small blocks the normal
// build checks only what is cheap (a non-zero, aligned offset inside the
// arena); the invariants build (build tag zipora_invariants, and every -race
// build) tracks every live small block and also detects double frees, frees
// of offsets never handed out and frees with a different size. An error is
// returned before any state changes, so a rejected call corrupts nothing.
package pool
