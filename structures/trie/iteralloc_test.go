package trie

import (
	"fmt"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// TestIterAllocs: a steady-state ordered read (a range loop over All,
// Prefix, Seek or Range, or a reused Cursor) allocates nothing, on the
// single-owner, frozen and concurrent forms. The goal is <= 1 allocation
// per prefix query; the loop closures are counted, since range-over-func
// bodies that escape would allocate. Skipped under -race, where sync.Pool
// drops items on purpose.
func TestIterAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	tr := mustNew[int]()
	c, err := NewConcurrent[int](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		k := fmt.Appendf(nil, "k%04d/%d", i, i%7)
		if _, err := tr.Insert(k, i); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Insert(k, i); err != nil {
			t.Fatal(err)
		}
	}
	fr := tr.Freeze()
	p, lo, hi := []byte("k01"), []byte("k0150"), []byte("k0170")
	sum := 0
	var cur Cursor[int] // reused, as documented
	type seqs struct {
		name   string
		prefix func()
		scan   func()
	}
	cases := []seqs{
		{"Trie", func() {
			n := 0
			for _, v := range tr.Prefix(p) {
				sum += v
				if n++; n == 10 {
					break
				}
			}
		}, func() {
			for _, v := range tr.Range(lo, hi) {
				sum += v
			}
			for k := range tr.Seek(hi) {
				sum += len(k)
				break
			}
		}},
		{"Frozen", func() {
			for _, v := range fr.Prefix(p) {
				sum += v
			}
		}, func() {
			for _, v := range fr.All() {
				sum += v
			}
		}},
		{"Concurrent", func() {
			n := 0
			for _, v := range c.Prefix(p) {
				sum += v
				if n++; n == 100 {
					break
				}
			}
		}, func() {
			for _, v := range c.Range(lo, hi) {
				sum += v
			}
		}},
		{"Cursor", func() {
			cur.SeekPrefix(c, p)
			for _, v, ok := cur.Next(); ok; _, v, ok = cur.Next() {
				sum += v
			}
		}, func() {
			cur.Seek(c, lo)
			cur.Next()
			cur.Close()
		}},
	}
	for _, cs := range cases {
		cs.prefix()
		if a := testing.AllocsPerRun(200, cs.prefix); a > 0 {
			t.Errorf("%s: prefix query: %v allocs, want 0", cs.name, a)
		}
		cs.scan()
		if a := testing.AllocsPerRun(200, cs.scan); a > 0 {
			t.Errorf("%s: range/seek/scan: %v allocs, want 0", cs.name, a)
		}
	}
	if sum == 0 {
		t.Fatal("iterated nothing")
	}
}
