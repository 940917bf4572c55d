package trie

// Node format.
//
// A trie is a tree of path-compressed nodes stored as bytes in an arena
// (structures/pool memory). Nodes hold no Go pointers: a child is named by a
// 32-bit ref, so the garbage collector never scans the tree.
//
// ref (uint32):
//
//	0                nil (no node)
//	bit 0 == 1       an inline leaf: a key that ends right after the label
//	                 byte naming it in its parent; ref>>1 is its value index.
//	                 It is equivalent to a node with an empty prefix, a value
//	                 and no children, and costs no arena bytes.
//	otherwise        the arena offset of a node (offsets are 8-aligned).
//
// node (little or big endian: native, the arena never leaves the process):
//
//	+0     header uint32
//	         bits  0..16  prefix length p (0..131071; keys are <= MaxKeyLen)
//	         bits 17..25  number of children n (0..256)
//	         bits 26..29  capacity class c (capClasses[c] label slots;
//	                      classExact: exactly n slots, used by Freeze)
//	         bit  30      the node holds a value (a key ends at this node)
//	         bit  31      dense layout (256 child slots indexed by label)
//	+4     value index uint32                 meaningful when bit 30 is set
//	       prefix [p]byte                     the compressed path
//	sparse layout:
//	       labels [cap]byte                   sorted ascending, first n used
//	       (pad to 4)
//	       children [cap]uint32               refs, parallel to labels
//	dense layout:
//	       (pad to 4)
//	       children [256]uint32               ref per label byte, 0 = absent
//
// The value slot is always present, so a key ending at an existing node is
// added or removed in place (no reallocation, and a Delete never needs
// memory for that).
//
// A node's size is a pure function of its header (nodeSize), which is what
// the arena's Free needs. A sparse node is at least labelsOff+8 bytes long
// so that the label search may load the labels 8 bytes at a time.
//
// The key a node stands for is the concatenation, from the root, of every
// ancestor's prefix and the label byte leading to the next node, then the
// node's own prefix. Invariants of a canonical (mutable) trie:
//   - every node other than the root holds a value or at least 2 children
//     (a valueless node with one child is merged into it);
//   - a node with an empty prefix, a value and no children is never stored:
//     it is an inline leaf in its parent;
//   - labels of a sparse node are strictly ascending; n <= cap;
//   - the dense layout is used only for n > maxSparse at growth time and is
//     left for the sparse one when n falls to denseShrink.
//
// Reads are pure functions of (arena, root ref, key): see lookup. Mutations
// build new nodes before unlinking old ones (build, then commit), so an
// allocation failure leaves the trie unchanged, and a copy-on-write variant
// can reuse the builders (newLeaf, buildNode, withPrefix, ...) with path
// copying from the root instead of the in-place fast paths.
//
// Rejected designs: Go pointer nodes (GC scan cost per key, the point of this
// package); ART's four fixed node kinds (more code paths for the same
// footprint at the fanouts seen here; sparse classes + one dense kind do);
// storing whole keys in leaves (the path already spells them); an 8-byte
// header (costs 8 bytes on the dominant 10-child node once rounded).

import (
	"math/bits"
	"unsafe"
)

const (
	hdrPrefixMask = 1<<17 - 1
	hdrCountShift = 17
	hdrCountMask  = 0x1ff
	hdrClassShift = 26
	hdrClassMask  = 0xf
	flagValue     = 1 << 30
	flagDense     = 1 << 31

	classExact  = 15
	maxSparse   = 48 // a sparse node never holds more children
	denseShrink = 24 // a dense node shrinking to this many becomes sparse
	denseSlots  = 256
	// maxValueIndex is the largest value index an inline leaf can carry.
	maxValueIndex = 1<<31 - 1
)

// capClasses are the label capacities of sparse nodes, indexed by the
// header's 4-bit class (16 entries so that the lookup needs no bounds check;
// entries past the last class are unused, classExact is handled apart).
var capClasses = [16]uint16{0, 1, 2, 4, 8, 10, 12, 16, 24, 32, 48}

// numClasses is the number of capacity classes in use.
const numClasses = 11

// classFor returns the smallest capacity class holding n children.
func classFor(n int) uint32 {
	for i, c := range capClasses[:numClasses] {
		if int(c) >= n {
			return uint32(i)
		}
	}
	panic("trie: sparse node too large")
}

type header uint32

func makeHeader(prefixLen, n int, class uint32, value, dense bool) header {
	h := header(uint32(prefixLen) | uint32(n)<<hdrCountShift | class<<hdrClassShift)
	if value {
		h |= flagValue
	}
	if dense {
		h |= flagDense
	}
	return h
}

func (h header) prefixLen() int { return int(h & hdrPrefixMask) }
func (h header) count() int     { return int(h >> hdrCountShift & hdrCountMask) }
func (h header) class() uint32  { return uint32(h >> hdrClassShift & hdrClassMask) }
func (h header) hasValue() bool { return h&flagValue != 0 }
func (h header) dense() bool    { return h&flagDense != 0 }

// capacity is the number of label/child slots of a sparse node.
func (h header) capacity() int {
	if c := h.class(); c != classExact {
		return int(capClasses[c])
	}
	return h.count()
}

func (h header) withCount(n int) header {
	return h&^(hdrCountMask<<hdrCountShift) | header(n)<<hdrCountShift
}

// prefixOff is the offset of the prefix bytes inside the node.
func (h header) prefixOff() uintptr { return 8 }

// labelsOff is the offset of the label bytes (sparse) or the end of the
// prefix (dense).
func (h header) labelsOff() uintptr { return h.prefixOff() + uintptr(h.prefixLen()) }

// childOff is the offset of the child ref array.
func (h header) childOff() uintptr {
	if h.dense() {
		return align4(h.labelsOff())
	}
	return align4(h.labelsOff() + uintptr(h.capacity()))
}

// nodeSize is the allocation size of a node with header h.
func nodeSize(h header) int {
	if h.dense() {
		return int(h.childOff()) + 4*denseSlots
	}
	c := h.capacity()
	s := h.childOff() + 4*uintptr(c)
	if c > 0 && s < h.labelsOff()+8 {
		s = h.labelsOff() + 8
	}
	return int(s)
}

func align4(x uintptr) uintptr { return (x + 3) &^ 3 }

// node is a pointer to a node's first byte in arena memory.
//
// Safety: every accessor stays inside the node's allocation, whose size is
// nodeSize(header); arena chunks are Go byte slices that never move, so the
// pointer is an ordinary interior pointer kept alive by the arena.
type node struct{ p unsafe.Pointer }

// Safety (hdr, setHdr, valueIdx, setValueIdx): every node is at least 8
// bytes and 8-aligned: the header and the value slot are always present.
func (n node) hdr() header { return header(*(*uint32)(n.p)) }

func (n node) setHdr(h header) { *(*uint32)(n.p) = uint32(h) }

func (n node) valueIdx() uint32 { return *(*uint32)(unsafe.Add(n.p, 4)) }

func (n node) setValueIdx(v uint32) { *(*uint32)(unsafe.Add(n.p, 4)) = v }

// prefix returns the node's compressed path, aliasing arena memory.
func (n node) prefix(h header) []byte {
	// Safety: [prefixOff, prefixOff+prefixLen) lies inside the node.
	return unsafe.Slice((*byte)(unsafe.Add(n.p, h.prefixOff())), h.prefixLen())
}

// labels returns the first cnt label bytes of a sparse node.
func (n node) labels(h header, cnt int) []byte {
	// Safety: a sparse node has capacity() >= cnt label bytes at labelsOff.
	return unsafe.Slice((*byte)(unsafe.Add(n.p, h.labelsOff())), cnt)
}

func (n node) label(h header, i int) byte {
	// Safety: i < count <= capacity label bytes at labelsOff.
	return *(*byte)(unsafe.Add(n.p, h.labelsOff()+uintptr(i)))
}

// childSlot returns a pointer to child slot i (sparse: index, dense: label).
func (n node) childSlot(h header, i int) *uint32 {
	// Safety: i < capacity (sparse) or i < 256 (dense); the slot is 4-aligned
	// because nodes are 8-aligned and childOff is a multiple of 4.
	return (*uint32)(unsafe.Add(n.p, h.childOff()+4*uintptr(i)))
}

func (n node) child(h header, i int) uint32 { return *n.childSlot(h, i) }

// findSparse returns the index of label c among the n sorted labels of a
// sparse node, or -1.
func (n node) findSparse(h header, cnt int, c byte) int {
	if j := n.sparseIdx(h.labelsOff(), cnt, c); j < cnt {
		return j
	}
	return -1
}

// SWAR constants: a byte of ones, a byte of high bits, in every lane.
const (
	lanes1 = 0x0101010101010101
	lanes8 = 0x8080808080808080
)

// slotFor returns a pointer to n's child slot for label c (dense: the slot
// may hold 0), or nil when sparse n has no child labelled c. It is the one
// call per level of the read and insert paths: the label search and the
// child-array offset in one function (findSparse, childOff and childSlot
// were three calls, none inlined).
func (n node) slotFor(h header, c byte) *uint32 {
	lo := h.labelsOff()
	if h.dense() {
		// Safety: a dense node has 256 child slots at align4(labelsOff).
		return (*uint32)(unsafe.Add(n.p, align4(lo)+4*uintptr(c)))
	}
	cnt := h.count()
	j := n.sparseIdx(lo, cnt, c)
	if j >= cnt {
		return nil
	}
	// Safety: j < count <= capacity child slots at childOff.
	return (*uint32)(unsafe.Add(n.p, align4(lo+uintptr(h.capacity()))+4*uintptr(j)))
}

// hasPrefix reports whether key starts with n's prefix of p > 0 bytes
// (len(key) >= p). Prefixes of up to 8 bytes are compared as one word when
// key has 8 bytes.
func (n node) hasPrefix(h header, key []byte, p int) bool {
	if p <= 8 && len(key) >= 8 {
		// Safety: a node with a prefix of p >= 1 bytes is at least 9 bytes
		// long and its block is a multiple of 8, so the 8 bytes at prefixOff
		// lie in the block; bytes past the prefix are shifted out (they may
		// be labels or children a concurrent writer changes: their values
		// never matter).
		x := load8(unsafe.Add(n.p, h.prefixOff())) ^ load8(unsafe.Pointer(unsafe.SliceData(key)))
		return x<<(64-8*uint(p)) == 0
	}
	return string(n.prefix(h)) == string(key[:p])
}

// lowerSparse returns the first index whose label is >= c (cnt if none).
func (n node) lowerSparse(h header, cnt int, c byte) int {
	ls := n.labels(h, cnt)
	for i, l := range ls {
		if l >= c {
			return i
		}
	}
	return cnt
}

func isLeafRef(r uint32) bool   { return r&1 != 0 }
func leafRef(idx uint32) uint32 { return idx<<1 | 1 }

// sparseIdx returns the index of label c among the cnt sorted labels at
// offset lo of a sparse node, or a value >= cnt when there is none. It
// loads the labels 8 at a time (SWAR): the lowest flagged byte of
// labels^broadcast(c) is exact (a borrow only moves up), so bytes at or
// past cnt cannot hide a match below them. Small enough to inline.
func (n node) sparseIdx(lo uintptr, cnt int, c byte) int {
	pat := uint64(c) * lanes1
	for i := 0; i < cnt; i += 8 {
		// Safety: a sparse node is at least labelsOff+8 bytes long, and its
		// label and child slots cover align8(cnt) bytes past labelsOff.
		w := load8(unsafe.Add(n.p, lo+uintptr(i))) ^ pat
		if z := (w - lanes1) &^ w & lanes8; z != 0 {
			return i + bits.TrailingZeros64(z)>>3
		}
	}
	return cnt
}
