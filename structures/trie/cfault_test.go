package trie

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// Fault injection for the concurrent forms (issue 12), like the
// single-owner trie's failAlloc test: every write path of both forms —
// in-place and copy-on-write at OneWriteMultiRead, lock-and-replace at
// MultiWriteMultiRead, and compaction — runs with its k-th node
// allocation failing, for every k until the operation needs fewer
// allocations. The injected error wraps pool.ErrExhausted, so the relief
// paths (relieve, mwRelieve: reclaim, then one more try) run too, and the
// undo paths (undoKeyParts, undoLeaf) run when a later allocation of a
// split or a new leaf's node fails. After a failed operation the trie must
// hold exactly what it held before and pass checkConcurrent (shape, key
// count, node, arena-byte and value-slot bookkeeping: nothing leaked); after
// a successful one it must hold the model's contents.

// faultKeys is a key universe that makes writes split prefixes, turn
// inline leaves into nodes, fill sparse nodes past their class, grow and
// shrink a dense node, and merge nodes on deletes.
func faultKeys() [][]byte {
	var ks [][]byte
	for _, s := range []string{"", "a", "ab", "abc", "abcd", "abd", "abe", "b", "ba", "bab", "babc", "c"} {
		ks = append(ks, []byte(s))
	}
	for i := range 60 { // a dense node under "d"
		ks = append(ks, []byte{'d', byte(i * 3)})
	}
	for i := range 14 { // a sparse node growing through its classes
		ks = append(ks, fmt.Appendf(nil, "e%c-tail", 'a'+i))
	}
	return ks
}

// faultOp is one write: it applies itself to the trie (through the form's
// API) and, when it reports success, to the model.
type faultOp struct {
	name string
	run  func(c *Concurrent[int], m map[string]int) error
}

func faultOps(r *rand.Rand, keys [][]byte, l primitives.Level) faultOp {
	k := keys[r.IntN(len(keys))]
	k2 := keys[r.IntN(len(keys))]
	v := r.IntN(1000)
	insert := func(m map[string]int, k []byte, v int) { m[string(k)] = v }
	switch r.IntN(6) {
	case 0, 1:
		return faultOp{fmt.Sprintf("Insert(%q)", k), func(c *Concurrent[int], m map[string]int) error {
			_, err := c.Insert(k, v)
			if err == nil {
				insert(m, k, v)
			}
			return err
		}}
	case 2, 3:
		return faultOp{fmt.Sprintf("Delete(%q)", k), func(c *Concurrent[int], m map[string]int) error {
			_, _, err := c.Delete(k)
			if err == nil {
				delete(m, string(k))
			}
			return err
		}}
	case 4:
		// A batch: copy-on-write at OneWriteMultiRead. Each write that
		// succeeds is published when the function returns, also when a
		// later one fails.
		return faultOp{fmt.Sprintf("batch(Insert(%q), Delete(%q))", k, k2), func(c *Concurrent[int], m map[string]int) error {
			return c.WithWriter(context.Background(), func(w *Writer[int]) error {
				if _, err := w.Insert(k, v); err != nil {
					return err
				}
				insert(m, k, v)
				if _, _, err := w.Delete(k2); err != nil {
					return err
				}
				delete(m, string(k2))
				return nil
			})
		}}
	default:
		return faultOp{fmt.Sprintf("session(InsertNow(%q), DeleteNow(%q))", k, k2), func(c *Concurrent[int], m map[string]int) error {
			w, err := c.LockWriter(context.Background())
			if err != nil {
				return err
			}
			defer w.Unlock()
			if _, err := w.InsertNow(k, v); err != nil {
				return err
			}
			insert(m, k, v)
			if _, _, err := w.DeleteNow(k2); err != nil {
				return err
			}
			delete(m, string(k2))
			return nil
		}}
	}
}

// contents reads the published trie through the iterator.
func contents(c *Concurrent[int]) map[string]int {
	m := map[string]int{}
	for k, v := range c.All() {
		m[string(k)] = v
	}
	return m
}

// setFail makes allocation number k (1-based, counted from now) fail, and
// every later one too when sticky. It returns the allocation counter.
func setFail[V any](c *Concurrent[V], k int, sticky bool) *int {
	n := new(int)
	c.setFailAlloc(func() bool {
		*n++
		return *n == k || sticky && *n > k
	})
	return n
}

func TestConcurrentFaultInjection(t *testing.T) {
	ops := 400
	if raceEnabled || testing.Short() {
		ops = 120
	}
	for _, l := range concurrentLevels {
		for _, sticky := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/sticky=%v", l, sticky), func(t *testing.T) {
				c := newC[int](t, l)
				keys := faultKeys()
				r := rand.New(rand.NewPCG(7, uint64(len(l.String()))))
				model := map[string]int{}
				failures := 0
				for range ops {
					op := faultOps(r, keys, l)
					for k := 1; ; k++ {
						before := maps.Clone(model)
						try := maps.Clone(model)
						n := setFail(c, k, sticky)
						err := op.run(c, try)
						c.setFailAlloc(nil)
						injected := *n >= k
						got := contents(c)
						if err != nil {
							if !errors.Is(err, errInjected) {
								t.Fatalf("%s with allocation %d failing: %v", op.name, k, err)
							}
							failures++
						}
						if !maps.Equal(got, try) {
							t.Fatalf("%s with allocation %d failing (err %v): trie holds %v, want %v (before: %v)", op.name, k, err, got, try, before)
						}
						model = try
						mustCheck(t, c)
						if !injected {
							break // the operation needed fewer than k allocations
						}
						if err == nil {
							break // it succeeded anyway (relief and retry)
						}
					}
				}
				if failures == 0 {
					t.Fatal("no operation failed: the injection tests nothing")
				}
				t.Logf("%d injected failures, %d keys at the end", failures, len(model))
			})
		}
	}
}

// TestCompactFaultInjection: a compaction whose k-th node copy fails
// leaves the trie unchanged (same contents, same arena, valid) for every k.
func TestCompactFaultInjection(t *testing.T) {
	testCompactFaultInjection(t, primitives.OneWriteMultiRead, (*Concurrent[int]).forceCompact)
}

// testCompactFaultInjection fails the k-th node copy of compact, for every
// k until a compaction succeeds: each failure must leave the trie unchanged
// (contents, arena, checkConcurrent) and writable.
func testCompactFaultInjection(t *testing.T, l primitives.Level, compact func(*Concurrent[int]) error) {
	c := newC[int](t, l)
	for i, k := range faultKeys() {
		if _, err := c.Insert(k, i); err != nil {
			t.Fatal(err)
		}
	}
	want := contents(c)
	for k := 1; ; k++ {
		cur := c.cur
		n := setFail(c, k, false)
		err := compact(c)
		c.setFailAlloc(nil)
		if got := contents(c); !maps.Equal(got, want) {
			t.Fatalf("compaction failing at copy %d: contents %v, want %v", k, got, want)
		}
		mustCheck(t, c)
		if *n < k {
			if err != nil || c.cur == cur {
				t.Fatalf("compaction without failure: err %v, arena %d -> %d", err, cur, c.cur)
			}
			break
		}
		if !errors.Is(err, errInjected) || c.cur != cur {
			t.Fatalf("compaction failing at copy %d: err %v, arena %d -> %d", k, err, cur, c.cur)
		}
		// Every node takes writes again (none was left locked).
		for i, key := range faultKeys() {
			if _, err := c.Insert(key, i); err != nil {
				t.Fatal(err)
			}
		}
	}
}
