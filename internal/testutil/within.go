// Package testutil holds helpers shared by the module's tests.
package testutil

import (
	"testing"
	"time"
)

// HangLimit bounds every operation a regression test guards against
// hanging: a regression fails fast instead of stalling the test binary.
const HangLimit = 20 * time.Second

// Within runs f on its own goroutine and fails t if f has not returned
// after HangLimit (f is then left running: the test is failed, and goleak
// reports the goroutine).
func Within(t testing.TB, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(HangLimit):
		t.Fatalf("%s: still blocked after %v", what, HangLimit)
	}
}
