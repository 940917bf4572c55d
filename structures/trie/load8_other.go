//go:build !(386 || amd64 || arm64 || ppc64le)

package trie

import (
	"encoding/binary"
	"unsafe"
)

// load8 reads the 8 bytes at p as a little-endian word (bytes, then
// assembled: big-endian targets, or targets that trap on unaligned words).
func load8(p unsafe.Pointer) uint64 {
	// Safety: the callers name 8 readable bytes at p (see each call).
	return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(p), 8))
}
