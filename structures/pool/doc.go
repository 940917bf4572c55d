// Package pool is zipora's five-level memory pool: it hands out offsets into a
// chunked arena, memory the caller really uses as []byte through Bytes, at a
// cost the garbage collector does not see (each chunk is one pointer-free Go
// allocation, however many blocks it holds).
//
// # Blocks and offsets
//
// Alloc(size) returns an Offset, a 64-bit handle of the block: the chunk
// index in its high bits, the byte position inside the chunk in its low bits.
// Bytes(off, size) returns the block's memory, with capacity size. The arena
// grows by adding chunks; existing chunks never move, so a slice returned by
// Bytes stays valid until its block is freed. The zero Offset (Nil) is never
// a block (the first alignment unit of chunk 0 is reserved), so it can mean
// "nil" in structures stored in the pool. Free must be given the size the
// block was allocated with. A block's memory is zeroed the first time it is
// handed out; a reused block (from a free list, or NoLocking's newest block
// freed back into the bump range) holds what it last held.
//
// Sizes up to Config.MaxFastBlock are served from size classes of alignment
// granularity (class k holds blocks of (k+1)*Alignment bytes): each class has
// a free list whose links live inside the freed blocks, and fresh blocks are
// carved by bumping a pointer through chunk memory. Larger ("huge") blocks go
// to a best-fit allocator over free spans, binned by size, with coalescing.
// A huge region (a run of chunks) whose blocks are all freed is kept as the
// one spare or released: to the Go heap, or for a fixed-capacity arena back
// to its chunk pool, where adjacent huge regions also merge.
//
// When the arena cannot grow (MaxBytes, FixedCapacity), an allocation first
// releases the spare huge region, then (NoLocking, Mutex, FixedCapacity)
// gives back every small chunk whose blocks are all free, so that the memory
// serves any size again, and finally splits the largest free block of a
// larger class. LockFree and ThreadLocal reuse freed small blocks by class
// and by splitting; LockFree gives whole free chunks back when asked
// (LockFree.Trim, concurrently with Alloc and Free), ThreadLocal never.
//
// # The five levels
//
//   - NoLocking: one owner, no synchronization at all; the fastest. Alloc
//     and Free run their fast paths inline (a free-list pop or push, or a
//     bump; a free of the newest block moves the bump pointer back);
//     TryAlloc and TryFree are the cheapest of them alone (the bump and
//     un-bump of the newest block), small enough for the compiler to
//     inline into the caller: a caller holding a *NoLocking runs an
//     alloc/free pair with no call, and calls Alloc or Free when they
//     decline.
//   - Mutex: a mutex per size class (each class bumps through its own slab)
//     and one growth mutex for the arena and the huge blocks.
//   - LockFree: per-class Treiber stacks with tagged (generation + offset)
//     heads and slabs bumped with CAS; no mutex on the small-block alloc/free
//     path. A slab refill (once per slab of at least 16 blocks) and huge
//     blocks take the growth mutex.
//   - ThreadLocal: explicit per-goroutine caches (Go has no thread-local
//     storage): (*ThreadLocal).NewCache returns a *Cache, a Pool for one
//     goroutine with local bump and free lists and no synchronization. A
//     block freed through a cache that does not own it is returned to its
//     owner in batches. *ThreadLocal itself is a Pool safe for concurrent use.
//   - FixedCapacity: all memory reserved up front; never grows; ErrExhausted
//     when full, never a panic; Remaining and Full. Safe for concurrent use
//     (built like Mutex).
//
// NewAdaptive picks a level from the configuration and the CPU topology
// (ChooseLevel says which); WithLevel forces one. Presets:
// PerformanceOptimized, MemoryOptimized, Realtime.
//
// # Errors and checking
//
// Errors are sentinel values matchable with errors.Is. Alloc of a size <= 0
// returns ErrInvalidSize, of a size above MaxBytes ErrTooLarge, and past the
// growth cap ErrExhausted. The growth cap of a pool without MaxBytes is the
// process-wide budget DefaultMaxBytes (half of the smallest of physical
// memory, the cgroup limit and the Go memory limit), shared by every such
// pool; set Config.MaxBytes to give a pool its own cap. Free of a huge
// block with an offset or size the pool did not hand out returns
// ErrInvalidFree. For small blocks every build checks a non-zero, aligned
// offset whose block lies inside the arena, and every level keeps two bits
// per alignment unit for the live small blocks in every build: a start bit
// where a live block starts and an end bit at its last unit (1/64 of the
// arena at the default 16-byte alignment; atomic bit operations except in
// NoLocking, which sets the bits of its newest bump block lazily;
// ThreadLocal's caches keep them too, one atomic Or per Alloc and a load
// and an atomic And per Free). A free is accepted when the start bit of
// its offset and the end bit of its size's last unit are set and no end
// bit lies between, so a double free, a free of an offset that starts no
// live block and a free with a size of another class all return
// ErrInvalidFree. The invariants build (build tag zipora_invariants, and
// every -race build) also tracks every live small block with its exact
// size, and so also refuses a different size of the same class. An error
// is returned before any state changes, so a rejected call
// corrupts nothing. Bytes panics (a slice bounds panic) for an offset and
// size outside the arena.
//
// # Stats
//
// Stats reports Capacity = InUse + Free + Untouched + Fragment, the live
// huge blocks, and the counts of allocations and frees. Counting costs the
// concurrent levels one atomic add per call on a per-class counter (LockFree)
// or nothing extra (Mutex: under the class lock); ThreadLocal caches count
// locally and publish on their slow path, Flush and Close.
package pool
