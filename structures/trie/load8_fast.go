//go:build 386 || amd64 || arm64 || ppc64le

package trie

import "unsafe"

// load8 reads the 8 bytes at p as a little-endian word: one plain load on
// these little-endian targets, which load unaligned words.
func load8(p unsafe.Pointer) uint64 {
	// Safety: the callers name 8 readable bytes at p (see each call).
	return *(*uint64)(p)
}
