//go:build !((amd64 || arm64) && gc)

package runtime

import (
	goruntime "runtime"
	"sync"
)

// getg returns the calling goroutine's id, parsed from the first line of
// a short traceback ("goroutine 123 [running]:", about 1-2 µs): the
// portable identity where no assembly reads the g (see self.go).
func getg() uintptr {
	b := stackBufs.Get().(*[64]byte)
	defer stackBufs.Put(b)
	n := goruntime.Stack(b[:], false)
	var id uintptr
	for _, c := range b[len("goroutine "):n] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uintptr(c-'0')
	}
	return id
}

// stackBufs holds getg's buffers: runtime.Stack makes its argument escape.
var stackBufs = sync.Pool{New: func() any { return new([64]byte) }}
