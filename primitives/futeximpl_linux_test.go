//go:build linux && !zipora_nofutex

package primitives_test

import (
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// On Linux without the zipora_nofutex tag the real futex(2) is compiled in.
func TestFutexImplementation(t *testing.T) {
	if primitives.FutexImpl != "linux-futex" {
		t.Fatalf("futex implementation %q, want linux-futex", primitives.FutexImpl)
	}
}
