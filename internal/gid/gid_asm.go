//go:build (amd64 || arm64) && gc

package gid

// Cheap reports whether Current is one register or TLS load (true here).
const Cheap = true

// Current returns the address of the calling goroutine's runtime g: one
// register or TLS load, in assembly.
//
// Safety: the address is only compared, never dereferenced; a g is never
// freed or moved while its goroutine runs.
func Current() uintptr
