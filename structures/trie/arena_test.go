package trie

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/structures/pool"
)

// forNodes calls f for every node reachable from ref.
func forNodes(m *arena, ref uint32, f func(n node, h header)) {
	if ref == 0 || isLeafRef(ref) {
		return
	}
	n := m.ptr(ref)
	h := n.hdr()
	f(n, h)
	forChildren(n, h, func(_ byte, r uint32) { forNodes(m, r, f) })
}

// TestLineCells: every node of a 64-byte block starts at a cache line, the
// other sizes keep the pool's placement, and freed cells are reused.
func TestLineCells(t *testing.T) {
	tr := mustNew[int]()
	keys := make([][]byte, 20000)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key_%06d", i)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for i, k := range keys {
		if _, err := tr.Insert(k, i); err != nil {
			t.Fatal(err)
		}
	}
	m := tr.c.mem
	lines, other := 0, 0
	forNodes(m, tr.c.root, func(n node, h header) {
		if m.blockSize(nodeSize(h)) != lineBytes {
			other++
			return
		}
		lines++
		if a := uintptr(n.p) % lineBytes; a != 0 {
			t.Fatalf("a %d-byte node at line offset %d", nodeSize(h), a)
		}
	})
	if lines < 2000 || other == 0 {
		t.Fatalf("%d line-sized nodes, %d others: the key set should make both", lines, other)
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	cells := m.lineCells
	for _, k := range keys[:len(keys)/2] {
		tr.Delete(k)
	}
	for i, k := range keys[:len(keys)/2] {
		if _, err := tr.Insert(k, i); err != nil {
			t.Fatal(err)
		}
	}
	if m.lineCells > cells+slabLines {
		t.Fatalf("refilling made %d line cells, had %d: freed cells not reused", m.lineCells, cells)
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
}

// TestLineCellFreedTwice: a double free of a line cell panics, as the
// pool's check does for other blocks.
func TestLineCellFreedTwice(t *testing.T) {
	m, err := newArena(defaultPoolConfig())
	if err != nil {
		t.Fatal(err)
	}
	ref, n, err := m.alloc(60)
	if err != nil {
		t.Fatal(err)
	}
	n.setHdr(makeHeader(0, 0, 10, false, false))
	m.release(ref, 60)
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "freed twice") {
			t.Fatalf("recovered %v, want the double-free panic", r)
		}
	}()
	m.release(ref, 60)
}

// TestLineCellsAtCap: where a slab no longer fits under MaxBytes, a
// 64-byte node still gets an (unaligned) block, so the cap is reached as
// before, and the arena's accounting holds.
func TestLineCellsAtCap(t *testing.T) {
	cfg := defaultPoolConfig()
	cfg.ChunkSize = 64 << 10
	cfg.MaxBytes = int64(cfg.ChunkSize)
	m, err := newArena(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var refs []uint32
	for {
		ref, _, err := m.alloc(60)
		if err != nil {
			if !errors.Is(err, pool.ErrExhausted) {
				t.Fatal(err)
			}
			break
		}
		refs = append(refs, ref)
	}
	if m.lineCells%slabLines == 0 {
		t.Fatalf("%d cells, all from slabs: the fallback did not run", m.lineCells)
	}
	// Each slab loses up to slabBytes-slabLines*lineBytes to alignment.
	lost := (m.lineCells/slabLines + 1) * (slabBytes - slabLines*lineBytes)
	if got, min := len(refs)*lineBytes, int(cfg.MaxBytes)-lost-lineBytes; got < min {
		t.Fatalf("%d cells (%d bytes) before the cap of %d", len(refs), got, cfg.MaxBytes)
	}
	if got := m.poolNodeBytes(); got != int64(len(refs)*lineBytes) {
		t.Fatalf("pool holds %d node bytes, %d cells are in use", got, len(refs))
	}
	for _, r := range refs {
		m.release(r, 60)
	}
	if m.bytesInUse() != 0 || m.poolNodeBytes() != 0 {
		t.Fatalf("after freeing all: %d in use, pool %d", m.bytesInUse(), m.poolNodeBytes())
	}
}
