//go:build (amd64 || arm64) && gc

package runtime

// getg returns the address of the calling goroutine's runtime g (see
// self.go): one register or TLS load, in assembly.
//
// Safety: the address is only compared, never dereferenced; a g is never
// freed or moved while its goroutine runs.
func getg() uintptr
