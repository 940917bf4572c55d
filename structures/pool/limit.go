package pool

// The default MaxBytes: a process-wide budget.
//
// A pool whose Config.MaxBytes is 0 shares one budget with every other such
// pool of the process: DefaultMaxBytes, half of the smallest of the
// machine's physical memory, the cgroup memory limit and the Go memory
// limit (GOMEMLIMIT, debug.SetMemoryLimit). Half, because chunks are Go
// heap memory and the collector needs room next to the live heap (the rest
// of the program, garbage between cycles). Growth past the budget returns
// ErrExhausted, as does growth past an explicit MaxBytes.
//
// Accounting: each growable arena counts the bytes it holds under the
// default in its own counter (held, heap-allocated) and in processHeld;
// releasing memory (a huge region, a small chunk given back), Reset and
// the pool becoming unreachable (a runtime.AddCleanup on the level) give
// them back. A FixedCapacity pool has an explicit limit and no share.
//
// Rejected designs:
//   - A per-pool default of the machine's memory: a sharded structure has
//     one pool per worker, so n workers could claim n machines.
//   - The addressing limit (2^39 alignment units, 8 TiB at alignment 16,
//     the former default): no limit at all; a runaway allocation loop ran
//     for minutes and to 12 GB before failing (issue 13).

import (
	"fmt"
	"math"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// fallbackMemory is the physical memory assumed where it cannot be read.
const fallbackMemory = 8 << 30

// processHeld is the chunk memory held by every growable pool whose
// MaxBytes is the default.
var processHeld atomic.Int64 // seq-cst: reserved with a CAS (never above the limit) before allocating, given back after releasing

// DefaultMaxBytes returns the budget shared by every pool of the process
// whose Config.MaxBytes is 0: half of the smallest of physical memory, the
// cgroup memory limit (Linux, v1 and v2) and the Go memory limit, read once
// (where physical memory cannot be read, 8 GiB is assumed). To go past it,
// set Config.MaxBytes (the pool then has its own limit, outside the
// budget), or raise the Go memory limit (GOMEMLIMIT) before the first pool
// is created if it is what binds.
func DefaultMaxBytes() int64 { return defaultMaxBytes() }

var defaultMaxBytes = sync.OnceValue(func() int64 {
	m := physicalMemory()
	if m <= 0 {
		m = fallbackMemory
	}
	if c := cgroupLimit(); c > 0 {
		m = min(m, c)
	}
	if g := debug.SetMemoryLimit(-1); g > 0 && g < math.MaxInt64 {
		m = min(m, g)
	}
	return max(m/2, 1<<20)
})

// budgetReserve takes bytes from the process budget for a, or returns
// ErrExhausted when the budget has no room.
func (a *arena) budgetReserve(bytes int64) error {
	if !a.shared {
		return nil
	}
	limit := DefaultMaxBytes()
	for {
		held := processHeld.Load() // seq-cst: the process budget, re-read by the CAS
		if held+bytes > limit {
			return fmt.Errorf("%w: growing by %d bytes would pass the process budget DefaultMaxBytes %d shared by every pool without MaxBytes (%d held); set Config.MaxBytes to raise it", ErrExhausted, bytes, limit, held)
		}
		if processHeld.CompareAndSwap(held, held+bytes) { // seq-cst: reserves from the process budget; never above limit, even for a moment
			a.held.Add(bytes) // seq-cst: this arena's share, given back by releaseBudget
			return nil
		}
	}
}

// budgetRelease gives bytes back to the process budget.
func (a *arena) budgetRelease(bytes int64) {
	if a.shared {
		a.held.Add(-bytes)      // seq-cst: as in budgetReserve
		processHeld.Add(-bytes) // seq-cst: as in budgetReserve
	}
}

// releaseBudget gives back everything held by the arena behind held (a
// Reset, or a cleanup of an unreachable pool).
func releaseBudget(held *atomic.Int64) { processHeld.Add(-held.Swap(0)) } // seq-cst: the share and the budget, as in budgetReserve
