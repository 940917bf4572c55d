package runtime_test

import (
	"testing"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/runtime"
)

// TestWorkerLayout: the fields submitters read (the mailbox pointer) and
// the statistics the owner writes once per batch never share a cache line.
func TestWorkerLayout(t *testing.T) {
	last, first, size := runtime.WorkerLayoutForTest()
	var p unsafe.Pointer
	if end := last + unsafe.Sizeof(p); first-end < uintptr(primitives.CacheLineSize) {
		t.Fatalf("immutable fields end at %d, statistics start at %d: less than a %d-byte line apart", end, first, primitives.CacheLineSize)
	}
	if size < first+uintptr(primitives.CacheLineSize) {
		t.Fatalf("Worker is %d bytes: no trailing pad after offset %d", size, first)
	}
}
