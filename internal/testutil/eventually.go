package testutil

import (
	"testing"
	"time"
)

// Eventually polls cond (1 ms doubling to 20 ms between tries) until it
// returns true, and fails t if that has not happened within limit: the
// way to wait for a condition another goroutine or process brings about,
// instead of sleeping for a guessed time. It returns how long it took.
func Eventually(t testing.TB, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	d := time.Millisecond
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not true after %v", what, limit)
		}
		time.Sleep(d) // a poll interval, not synchronization: cond decides
		d = min(2*d, 20*time.Millisecond)
	}
	return time.Since(start)
}
