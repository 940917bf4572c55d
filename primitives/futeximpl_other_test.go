//go:build !linux || zipora_nofutex

package primitives_test

import (
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// Elsewhere, or with the zipora_nofutex tag, the portable fallback is.
func TestFutexImplementation(t *testing.T) {
	if primitives.FutexImpl != "fallback" {
		t.Fatalf("futex implementation %q, want fallback", primitives.FutexImpl)
	}
}
