package primitives

import (
	"context"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// EpochDomain is a grace-period domain for lock-free readers that must never
// allocate, lock or compare-and-swap: the read path of a concurrent
// structure. A reader brackets each read with Enter and Exit; a writer that
// unlinks memory retires it with the current Epoch, and hands it back once
// SafeBelow has moved past that epoch — by then every reader that could have
// reached it has exited.
//
// It is the cheap counterpart of TokenManager's reader tokens: a TokenManager
// pins exact versions for readers that hold on to a snapshot (iteration);
// an EpochDomain counts short reads in three rotating epochs, on striped
// cache-line-padded counters.
//
// The zero value is ready to use (epoch 0). An EpochDomain must not be
// copied after first use. All methods are safe for concurrent use.
//
// Protocol and invariants:
//   - Enter loads the global epoch e, increments counter[e%3] on the
//     caller's stripe, and re-loads the epoch; if it moved, it undoes the
//     increment and tries again. So a reader that returns from Enter with
//     epoch e was counted in counter[e%3] while the global epoch was e.
//   - TryAdvance moves the epoch from E to E+1 only when counter[(E-1)%3]
//     sums to zero: no reader entered in E-1 remains. Readers that loaded a
//     stale E-1 and increment late re-load, see the newer epoch and undo, so
//     they only delay an advance; a counter never drops below the number of
//     readers really inside.
//   - A writer unlinks an item, then reads the epoch x and retires the item
//     at x. Readers that entered after the advance to x+1 loaded the epoch
//     after the unlink (seq-cst), so they cannot reach the item. Readers of
//     epoch <= x are all gone once the epoch reaches x+2. Hence items retired
//     at an epoch strictly below SafeBelow() = Epoch()-1 are unreachable.
//   - Readers must be short: a reader that stays inside blocks advancing
//     (never correctness, only reclamation).
//
// Rejected: per-reader slots (TokenManager's way; a reader needs a CAS to
// claim one, or thread-local storage Go lacks); hazard pointers (a store
// and fence per node visited); two epochs (a steady stream of readers could
// keep the older counter from ever draining).
type EpochDomain struct {
	epoch atomic.Uint64 // seq-cst: the global epoch
	_     [CacheLineSize - int(unsafe.Sizeof(atomic.Uint64{}))]byte
	// counts[e%3][stripe]: readers inside that entered at an epoch ≡ e mod 3.
	counts [3][epochStripes]Counter
}

const epochStripes = 16

// EpochGuard is a reader's ticket from Enter; call Exit exactly once. It is
// a small value: copying it is fine, exiting twice is not (the count goes
// wrong; not detected).
type EpochGuard struct {
	c     *Counter
	epoch uint64
}

// Epoch returns the epoch the reader entered.
func (g EpochGuard) Epoch() uint64 { return g.epoch }

// Enter marks the caller as a reader of the current epoch and returns its
// guard. It never blocks, allocates or compare-and-swaps.
func (d *EpochDomain) Enter() EpochGuard {
	var probe byte
	// Safety: the stack address is only hashed to pick a stripe.
	h := uint64(uintptr(unsafe.Pointer(&probe))>>12) * 0x9E3779B97F4A7C15
	s := uint32(h>>32) % epochStripes
	for {
		e := d.epoch.Load()
		c := &d.counts[e%3][s]
		c.v.Add(1) // seq-cst: announces the reader before it reads anything
		if d.epoch.Load() == e {
			return EpochGuard{c: c, epoch: e}
		}
		c.v.Add(-1)
	}
}

// Exit marks the reader gone.
func (g EpochGuard) Exit() {
	g.c.v.Add(-1) // release: the reader's loads are done
}

// Epoch returns the global epoch.
func (d *EpochDomain) Epoch() uint64 { return d.epoch.Load() }

// TryAdvance moves the global epoch forward by one if no reader of the
// previous epoch remains, and reports whether the epoch is now larger than
// when it was called. Writers call it after retiring memory (cheaply: a scan
// of 16 counters).
func (d *EpochDomain) TryAdvance() bool {
	e := d.epoch.Load()
	if e > 0 {
		prev := &d.counts[(e-1)%3]
		for i := range prev {
			if prev[i].v.Load() != 0 {
				return false
			}
		}
	}
	return d.epoch.CompareAndSwap(e, e+1) || d.epoch.Load() > e
}

// SafeBelow returns the bound for reclamation: items retired at an epoch
// strictly below it can no longer be reached by any reader.
func (d *EpochDomain) SafeBelow() uint64 {
	e := d.epoch.Load()
	if e == 0 {
		return 0
	}
	return e - 1
}

// Synchronize advances the epoch twice, waiting for readers of the older
// epochs to exit (yielding the processor while it waits), so that
// everything retired before the call is reclaimable when it returns. It is
// for tests and shutdown paths; writers on hot paths use TryAdvance.
func (d *EpochDomain) Synchronize() { _ = d.SynchronizeContext(context.Background()) }

// SynchronizeContext is Synchronize that gives up when ctx ends, returning
// ctx's error (retired items may then not be reclaimable yet).
func (d *EpochDomain) SynchronizeContext(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	target := d.epoch.Load() + 2
	for d.epoch.Load() < target {
		if !d.TryAdvance() {
			if err := ctx.Err(); err != nil {
				return err
			}
			runtime.Gosched()
		}
	}
	return nil
}
