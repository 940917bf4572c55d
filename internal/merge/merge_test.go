package merge_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/internal/merge"
)

// cursor walks sorted keys through one reused buffer, as a trie cursor does.
type cursor struct {
	keys []string
	i    int
	buf  []byte
}

func (c *cursor) next() ([]byte, bool) {
	if c.i == len(c.keys) {
		return nil, false
	}
	c.buf = append(c.buf[:0], c.keys[c.i]...)
	c.i++
	return c.buf, true
}

// mergeAll merges the cursors as package shards does, stopping after limit
// keys, and returns "key/stream" strings.
func mergeAll(h *merge.Heap, cs []*cursor, limit int) []string {
	h.Reset()
	for i, c := range cs {
		if k, ok := c.next(); ok {
			h.Push(i, k)
		}
	}
	var out []string
	for h.Len() > 0 && len(out) < limit {
		id, k := h.Top()
		out = append(out, fmt.Sprintf("%q/%d", k, id))
		if k, ok := cs[id].next(); ok {
			h.Replace(k)
		} else {
			h.Pop()
		}
	}
	return out
}

// TestHeapModel: random streams over a 3-letter alphabet (many equal keys
// across streams, the empty key, 0x00 and 0xff) merged in order, equal
// keys by ascending stream, with early stops; one Heap reused throughout.
func TestHeapModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alpha := []byte{0x00, 'a', 0xff}
	var h merge.Heap
	for round := range 2000 {
		n := rng.IntN(9)
		var cs []*cursor
		var want []string
		type kv struct {
			k  string
			id int
		}
		var all []kv
		for id := range n {
			set := map[string]bool{}
			for range rng.IntN(40) {
				k := make([]byte, rng.IntN(4))
				for i := range k {
					k[i] = alpha[rng.IntN(len(alpha))]
				}
				set[string(k)] = true
			}
			keys := make([]string, 0, len(set))
			for k := range set {
				keys = append(keys, k)
				all = append(all, kv{k, id})
			}
			slices.Sort(keys)
			cs = append(cs, &cursor{keys: keys})
		}
		slices.SortFunc(all, func(a, b kv) int {
			if a.k != b.k {
				if a.k < b.k {
					return -1
				}
				return 1
			}
			return a.id - b.id
		})
		for _, e := range all {
			want = append(want, fmt.Sprintf("%q/%d", e.k, e.id))
		}
		limit := len(want)
		if round%3 == 0 && limit > 0 {
			limit = rng.IntN(limit) // stop early
		}
		if got := mergeAll(&h, cs, limit); !slices.Equal(got, want[:limit]) {
			t.Fatalf("round %d: got %q, want %q", round, got, want[:limit])
		}
	}
}

// TestHeapAllocs: a reused Heap merges without allocating.
func TestHeapAllocs(t *testing.T) {
	var h merge.Heap
	keys := [][]byte{[]byte("b"), []byte("a"), []byte("c"), []byte("a")}
	d := []byte("d")
	run := func() {
		h.Reset()
		for i, k := range keys {
			h.Push(i, k)
		}
		for h.Len() > 0 {
			if _, k := h.Top(); len(k) == 1 && k[0] == 'a' {
				h.Replace(d)
			} else {
				h.Pop()
			}
		}
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Fatalf("%v allocs per merge, want 0", a)
	}
}
