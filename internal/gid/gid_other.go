//go:build !((amd64 || arm64) && gc)

package gid

import (
	goruntime "runtime"
	"sync"
)

// Cheap reports whether Current is one register or TLS load (false here:
// a traceback is parsed).
const Cheap = false

// Current returns the calling goroutine's id, parsed from the first line
// of a short traceback ("goroutine 123 [running]:", about 1-2 µs): the
// portable identity where no assembly reads the g.
func Current() uintptr {
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

// stackBufs holds Current's buffers: runtime.Stack makes its argument escape.
var stackBufs = sync.Pool{New: func() any { return new([64]byte) }}
