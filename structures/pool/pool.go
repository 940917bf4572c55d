package pool

import (
	"errors"
	"fmt"
	"runtime"
)

// Offset addresses a block in a pool's arena: the chunk index in the high
// bits, the byte position inside the chunk in the low bits (the split depends
// on Config.ChunkSize). Offsets address the whole configured arena (up to
// 2^39 alignment units, at least 4 TiB). The zero Offset is never a block.
type Offset uint64

// Nil is the zero Offset, never handed out by Alloc.
const Nil Offset = 0

// Pool is the interface every level implements.
//
// Alloc returns a block of at least size bytes; its memory is zeroed only the
// first time it is handed out (reused blocks hold what they last held).
// Free returns a block; size must be the size given to Alloc. Bytes returns
// the size bytes of a live block; its capacity is size, so an append never
// writes into a neighbour. Stats returns counters; Level the level.
type Pool interface {
	Alloc(size int) (Offset, error)
	Free(off Offset, size int) error
	Bytes(off Offset, size int) []byte
	Stats() Stats
	Level() Level
}

// Level names one of the five pool levels.
type Level int

// The pool levels.
const (
	LevelNoLocking Level = iota + 1
	LevelMutex
	LevelLockFree
	LevelThreadLocal
	LevelFixedCapacity
)

var levelNames = [...]string{
	LevelNoLocking:     "NoLocking",
	LevelMutex:         "Mutex",
	LevelLockFree:      "LockFree",
	LevelThreadLocal:   "ThreadLocal",
	LevelFixedCapacity: "FixedCapacity",
}

// String returns the level's name.
func (l Level) String() string {
	if l >= LevelNoLocking && l <= LevelFixedCapacity {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Sentinel errors; the returned errors wrap them with context.
var (
	// ErrInvalidSize: Alloc or Free of a size <= 0.
	ErrInvalidSize = errors.New("pool: invalid size")
	// ErrTooLarge: a size above Config.MaxBytes (or above what one allocation
	// can address).
	ErrTooLarge = errors.New("pool: size too large")
	// ErrExhausted: the pool cannot grow (MaxBytes reached, or a
	// FixedCapacity pool is full).
	ErrExhausted = errors.New("pool: exhausted")
	// ErrInvalidFree: Free of an offset this pool did not hand out, with a
	// different size, or a second time (see the package documentation for
	// what each build detects).
	ErrInvalidFree = errors.New("pool: invalid free")
	// ErrInvalidConfig: a Config that cannot be used.
	ErrInvalidConfig = errors.New("pool: invalid config")
	// ErrInvalidLevel: WithLevel with a level outside the constants.
	ErrInvalidLevel = errors.New("pool: invalid level")
	// ErrCacheClosed: use of a ThreadLocal Cache after Close.
	ErrCacheClosed = errors.New("pool: cache closed")
)

// Stats is a snapshot of a pool's counters. Byte counts are in arena bytes:
// a small block counts its class size, a huge block its size rounded up to
// the alignment. Capacity = InUse + Free + Untouched + Fragment.
//
// For the concurrent levels the snapshot is not atomic across fields; for
// ThreadLocal the caches publish their counters when they take their slow
// path, on Flush and on Close, so it may lag behind what the caches did.
type Stats struct {
	Level Level
	// Capacity is the arena memory the pool holds, in bytes.
	Capacity int64
	// InUse is the memory in live blocks (small and huge).
	InUse int64
	// Free is memory in freed blocks waiting for reuse: the size-class free
	// lists (and cache free lists) and the free spans of huge regions.
	Free int64
	// Untouched is memory never handed out yet: the rest of chunks and slabs
	// that bump allocation has not reached.
	Untouched int64
	// Fragment is memory held but not usable: chunk tails too small for any
	// block, the reserved nil unit. Capacity - InUse - Free - Untouched.
	Fragment int64
	// HugeBytes and HugeCount describe the live huge blocks (above
	// MaxFastBlock); they are included in InUse.
	HugeBytes int64
	HugeCount int64
	// Allocs and Frees count successful calls.
	Allocs uint64
	Frees  uint64
	// Chunks is the number of chunk slots of the arena in use.
	Chunks int
}

// Utilization is InUse / Capacity (0 for an empty pool).
func (s Stats) Utilization() float64 {
	if s.Capacity <= 0 {
		return 0
	}
	return float64(s.InUse) / float64(s.Capacity)
}

// Fragmentation is the part of the memory handed out at least once that is
// not in use now: (Free + Fragment) / (Capacity - Untouched). It is 0 when
// every carved byte is live and grows as freed blocks sit on free lists.
func (s Stats) Fragmentation() float64 {
	d := s.Capacity - s.Untouched
	if d <= 0 {
		return 0
	}
	return float64(s.Free+s.Fragment) / float64(d)
}

// newLevel validates cfg and builds a level with init, which returns the
// level's arena: the arena's share of the process budget (DefaultMaxBytes)
// goes back when the level is collected.
func newLevel[T any](cfg Config, init func(*T, Config) *arena) (*T, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return nil, err
	}
	p := new(T)
	runtime.AddCleanup(p, releaseBudget, init(p, cfg).held)
	return p, nil
}
