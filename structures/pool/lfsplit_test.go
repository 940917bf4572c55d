package pool

import "testing"

// TestLockFreeReusesLargerFreeBlocks: once the arena's chunks are used up,
// a size class with no free blocks takes its slab from a free block of a
// larger class before the arena grows (issue 19 case 8: churn whose size
// mix shifted grew the multi-writer trie's arena while freed memory of
// other classes sat idle).
func TestLockFreeReusesLargerFreeBlocks(t *testing.T) {
	cfg := testConfig() // 8 KiB chunks, 1 KiB largest small block
	p, err := NewLockFree(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var big []Offset
	for p.Stats().Chunks < 4 {
		off, err := p.Alloc(1024)
		if err != nil {
			t.Fatal(err)
		}
		big = append(big, off)
	}
	for _, off := range big {
		if err := p.Free(off, 1024); err != nil {
			t.Fatal(err)
		}
	}
	before := p.Stats()
	// The freed 1 KiB blocks hold at least 2 chunks' worth: 64-byte blocks
	// for one chunk must come from them, not from new chunks.
	var small []Offset
	for range int(cfg.ChunkSize) / 64 {
		off, err := p.Alloc(64)
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, off)
	}
	after := p.Stats()
	if after.Capacity > before.Capacity {
		t.Fatalf("capacity grew from %d to %d with %d bytes free in larger blocks", before.Capacity, after.Capacity, before.Free)
	}
	for _, off := range small {
		if err := p.Free(off, 64); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.Stats(); s.InUse != 0 {
		t.Fatalf("InUse %d after freeing everything", s.InUse)
	}
}
