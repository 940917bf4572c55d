package pool

import (
	"testing"
	"unsafe"
)

// TestPadding: the per-class structures padded to whole cache lines are
// whole cache lines (the padding is computed from the sizes; this checks
// the computation).
func TestPadding(t *testing.T) {
	if n := unsafe.Sizeof(lockedClass{}); n%lineSize != 0 || n == 0 {
		t.Errorf("lockedClass is %d bytes, not a multiple of the %d-byte line", n, lineSize)
	}
	if n := unsafe.Sizeof(lfClass{}); n != lineSize {
		t.Errorf("lfClass is %d bytes, want one %d-byte line", n, lineSize)
	}
	if n := unsafe.Sizeof(lfStripe{}); n < 2*lineSize {
		t.Errorf("lfStripe is %d bytes: its heads slice header is not padded on both sides", n)
	}
}
