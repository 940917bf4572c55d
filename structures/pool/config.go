package pool

import (
	"fmt"
	"math/bits"
)

// Config configures a pool. Zero fields take defaults (those of
// PerformanceOptimized, except that ChunkSize is derived from FixedCapacity
// when that is set); a field that is set but unusable makes the constructor
// return an error wrapping ErrInvalidConfig.
type Config struct {
	// MaxFastBlock is the largest size served from size classes (default
	// 64 KiB). A multiple of Alignment, at most 1 MiB and at most 65536
	// classes (MaxFastBlock/Alignment).
	MaxFastBlock int
	// Alignment is the alignment of every block and the granularity of the
	// size classes: a power of two from 8 to 4096 (default 16).
	Alignment int
	// ChunkSize is the size of an arena chunk: a power of two from 4 KiB to
	// 1 GiB, at least MaxFastBlock (default 8 MiB).
	ChunkSize int
	// MaxBytes caps the arena (chunk memory held); growth past it returns
	// ErrExhausted. 0 means a share of the process-wide budget
	// DefaultMaxBytes (half of the smallest of physical memory, the cgroup
	// limit and the Go memory limit), shared by every pool created with 0;
	// set it to give the pool its own limit instead, up to the addressing
	// limit (2^39 alignment units).
	MaxBytes int64
	// FixedCapacity, when > 0, reserves this many bytes up front and never
	// grows: a multiple of ChunkSize. NewAdaptive then picks FixedCapacity.
	FixedCapacity int64
	// SingleOwner declares that only one goroutine at a time uses the pool:
	// NewAdaptive then picks NoLocking.
	SingleOwner bool

	// sharedBudget: MaxBytes was 0, the pool draws on DefaultMaxBytes
	// (limit.go). Set by Validate.
	sharedBudget bool
}

const (
	defaultMaxFastBlock = 64 << 10
	defaultAlignment    = 16
	defaultChunkSize    = 8 << 20
	minChunkSize        = 4 << 10
	maxChunkSize        = 1 << 30
	maxMaxFastBlock     = 1 << 20
	maxClasses          = 1 << 16
	// unitBits is the number of bits of an offset counted in alignment units;
	// the tagged free-list heads keep the rest for the generation.
	unitBits = 40
)

// PerformanceOptimized favours speed: fast blocks up to 64 KiB, alignment 16,
// 8 MiB chunks.
func PerformanceOptimized() Config {
	return Config{MaxFastBlock: 64 << 10, Alignment: 16, ChunkSize: 8 << 20}
}

// MemoryOptimized favours footprint: fast blocks up to 16 KiB, alignment 8,
// 512 KiB chunks.
func MemoryOptimized() Config {
	return Config{MaxFastBlock: 16 << 10, Alignment: 8, ChunkSize: 512 << 10}
}

// Realtime is for bounded, allocation-free operation: fast blocks up to
// 8 KiB, alignment 8, 256 KiB chunks, a fixed capacity of 16 MiB reserved up
// front.
func Realtime() Config {
	return Config{MaxFastBlock: 8 << 10, Alignment: 8, ChunkSize: 256 << 10, FixedCapacity: 16 << 20}
}

// Validate fills defaults into a copy of c and checks it; it returns the
// normalized config or an error wrapping ErrInvalidConfig.
func (c Config) Validate() (Config, error) {
	bad := func(format string, a ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	if c.Alignment == 0 {
		c.Alignment = defaultAlignment
	}
	if c.Alignment < 8 || c.Alignment > 4096 || c.Alignment&(c.Alignment-1) != 0 {
		return bad("Alignment %d is not a power of two in [8, 4096]", c.Alignment)
	}
	if c.MaxFastBlock == 0 {
		c.MaxFastBlock = defaultMaxFastBlock
	}
	if c.MaxFastBlock < c.Alignment || c.MaxFastBlock > maxMaxFastBlock || c.MaxFastBlock%c.Alignment != 0 {
		return bad("MaxFastBlock %d is not a multiple of Alignment %d in [%d, %d]", c.MaxFastBlock, c.Alignment, c.Alignment, maxMaxFastBlock)
	}
	if c.MaxFastBlock/c.Alignment > maxClasses {
		return bad("MaxFastBlock/Alignment = %d size classes, more than %d", c.MaxFastBlock/c.Alignment, maxClasses)
	}
	if c.FixedCapacity < 0 {
		return bad("FixedCapacity %d is negative", c.FixedCapacity)
	}
	if c.ChunkSize == 0 {
		c.ChunkSize = defaultChunkSize
		if c.FixedCapacity > 0 {
			// The largest power of two dividing FixedCapacity, at most the default.
			if tz := bits.TrailingZeros64(uint64(c.FixedCapacity)); tz < 23 {
				c.ChunkSize = 1 << tz
			}
		}
		for c.ChunkSize < c.MaxFastBlock && c.FixedCapacity == 0 {
			c.ChunkSize <<= 1
		}
	}
	if c.ChunkSize < minChunkSize || c.ChunkSize > maxChunkSize || c.ChunkSize&(c.ChunkSize-1) != 0 {
		return bad("ChunkSize %d is not a power of two in [%d, %d]", c.ChunkSize, minChunkSize, maxChunkSize)
	}
	if c.ChunkSize < c.MaxFastBlock {
		return bad("ChunkSize %d is below MaxFastBlock %d", c.ChunkSize, c.MaxFastBlock)
	}
	if c.ChunkSize < c.Alignment*2 {
		return bad("ChunkSize %d is below twice the Alignment %d", c.ChunkSize, c.Alignment)
	}
	limit := int64(1) << (unitBits - 1 + bits.TrailingZeros(uint(c.Alignment)))
	if c.MaxBytes < 0 {
		return bad("MaxBytes %d is negative", c.MaxBytes)
	}
	if c.MaxBytes > limit {
		return bad("MaxBytes %d is above the addressing limit %d", c.MaxBytes, limit)
	}
	if c.FixedCapacity > 0 {
		if c.FixedCapacity%int64(c.ChunkSize) != 0 {
			return bad("FixedCapacity %d is not a multiple of ChunkSize %d", c.FixedCapacity, c.ChunkSize)
		}
		if c.FixedCapacity > limit {
			return bad("FixedCapacity %d is above the addressing limit %d", c.FixedCapacity, limit)
		}
		if c.MaxBytes == 0 {
			c.MaxBytes = c.FixedCapacity
		} else if c.MaxBytes != c.FixedCapacity {
			return bad("MaxBytes %d differs from FixedCapacity %d", c.MaxBytes, c.FixedCapacity)
		}
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = min(limit, DefaultMaxBytes())
		c.sharedBudget = true
	}
	if c.MaxBytes < int64(c.ChunkSize) {
		return bad("MaxBytes %d is below ChunkSize %d", c.MaxBytes, c.ChunkSize)
	}
	return c, nil
}
