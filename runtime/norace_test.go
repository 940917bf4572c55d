//go:build !race

package runtime_test

// scale divides iteration counts under the race detector.
const scale = 1

// raceEnabled: sync.Pool drops a quarter of its Puts at random under the
// race detector, so pooled objects are allocated again now and then.
const raceEnabled = false
