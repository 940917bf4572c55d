package runtime

import (
	"time"
	"unsafe"

	"github.com/zipora-go/zipora/internal/gid"
)

// SetPinCPUsForTest makes Start pin worker i to cpus[i%len(cpus)] and
// returns a function restoring the real list.
func SetPinCPUsForTest(cpus []int) (restore func()) {
	old := allowedCPUs
	allowedCPUs = func() []int { return cpus }
	return func() { allowedCPUs = old }
}

// FutexSleepers returns the number of Call callers asleep on a futex.
func FutexSleepers() int32 { return futexSleepers.Load() }

// SetCallSpinForTest sets how many times Call polls before sleeping.
func SetCallSpinForTest(n time.Duration) (restore func()) {
	old := callSpin
	callSpin = n
	return func() { callSpin = old }
}

// WorkerLayoutForTest returns the offsets of the last immutable field and
// the first statistics field of Worker, and its size.
func WorkerLayoutForTest() (lastImmutable, firstStat, size uintptr) {
	var w Worker
	return unsafe.Offsetof(w.mb), unsafe.Offsetof(w.batches), unsafe.Sizeof(w)
}

// SetDefaultModeForTest makes a zero Config.Mode mean mode and returns a
// function restoring Goroutines.
func SetDefaultModeForTest(mode Mode) (restore func()) {
	defaultMode = mode
	return func() { defaultMode = Goroutines }
}

// ResolvedMode returns the mode Start would give cfg.
func ResolvedMode(cfg Config) (Mode, error) {
	r, err := cfg.resolve()
	return r.Mode, err
}

// DefaultModeForTest returns what a zero Config.Mode means now.
func DefaultModeForTest() Mode { return defaultMode }

// GetgForTest is gid.Current (self.go).
var GetgForTest = gid.Current
