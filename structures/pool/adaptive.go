package pool

import (
	"fmt"
	"runtime"

	"github.com/zipora-go/zipora/primitives"
)

// ChooseLevel returns the level NewAdaptive picks for cfg on this machine:
//
//   - FixedCapacity when cfg.FixedCapacity is set (a fixed budget is a hard
//     requirement, and FixedCapacity is safe for concurrent use);
//   - NoLocking when cfg.SingleOwner is set (the caller promises one
//     goroutine at a time; nothing else ever gets NoLocking);
//   - otherwise, by the CPUs this process may use (the affinity mask from
//     primitives.Topology, capped by GOMAXPROCS): Mutex with one (no
//     parallelism, so an uncontended lock is the cheapest safe choice) or
//     when fast blocks are larger than 256 KiB (lock-free slabs of such
//     classes pin a lot of memory per class); LockFree up to 8; ThreadLocal
//     beyond (a shared stack head becomes the bottleneck; callers that can
//     should take a Cache per goroutine with NewCache, and the
//     *ThreadLocal itself stays safe for everyone else).
//
// It returns an error for an invalid cfg.
func ChooseLevel(cfg Config) (Level, error) {
	cfg, err := cfg.Validate()
	if err != nil {
		return 0, err
	}
	switch {
	case cfg.FixedCapacity > 0:
		return LevelFixedCapacity, nil
	case cfg.SingleOwner:
		return LevelNoLocking, nil
	}
	cpus := min(len(primitives.Topology().Allowed), runtime.GOMAXPROCS(0))
	switch {
	case cpus <= 1 || cfg.MaxFastBlock > 256<<10:
		return LevelMutex, nil
	case cpus <= 8:
		return LevelLockFree, nil
	default:
		return LevelThreadLocal, nil
	}
}

// NewAdaptive returns a pool of the level ChooseLevel picks for cfg. Its
// Level method reports the choice. Unless cfg.SingleOwner is set, the pool
// is safe for concurrent use.
func NewAdaptive(cfg Config) (Pool, error) {
	l, err := ChooseLevel(cfg)
	if err != nil {
		return nil, err
	}
	return WithLevel(cfg, l)
}

// WithLevel returns a pool of level l for cfg. A FixedCapacity pool needs
// cfg.FixedCapacity; the other levels accept it too (they then reserve that
// memory up front and never grow). An unknown level returns ErrInvalidLevel.
func WithLevel(cfg Config, l Level) (Pool, error) {
	switch l {
	case LevelNoLocking:
		return asPool(NewNoLocking(cfg))
	case LevelMutex:
		return asPool(NewMutex(cfg))
	case LevelLockFree:
		return asPool(NewLockFree(cfg))
	case LevelThreadLocal:
		return asPool(NewThreadLocal(cfg))
	case LevelFixedCapacity:
		return asPool(NewFixedCapacity(cfg))
	}
	return nil, fmt.Errorf("%w: %d", ErrInvalidLevel, int(l))
}

// asPool returns a constructor's result as a Pool: nil on error (a nil *T
// in a Pool would not be nil).
func asPool[T Pool](p T, err error) (Pool, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}
