package trie

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// retiredNodes is how many unlinked nodes wait in the one writer's retire
// queue.
func (c *Concurrent[V]) retiredNodes() int {
	n := 0
	for _, r := range c.w.ret[c.w.rhead:] {
		if r.size > 0 {
			n++
		}
	}
	return n
}

// TestQuietFreeWaitsForReaders: the one writer frees a node it unlinks at
// once only while no reader entered since it last proved the domain empty
// (owinplace.go, "Quiet frees"). An open Cursor (a reader inside) sends the
// nodes the inserts replace, the ones on its path included, to the retire
// queue, and the walk still reads them; a Get sets the flag too; once the
// readers are gone the writer turns quiet again by itself.
func TestQuietFreeWaitsForReaders(t *testing.T) {
	c := newC[int](t, primitives.OneWriteMultiRead)
	ins := func(k string, v int) {
		t.Helper()
		if _, err := c.Insert([]byte(k), v); err != nil {
			t.Fatal(err)
		}
	}
	// Ascending appends fill a node's classes one after another: each
	// growth replaces (unlinks) the node.
	for i := range 200 {
		ins(fmt.Sprintf("a/%03d", i), i)
	}
	if !c.w.quiet || c.rdIn.Load() != 0 {
		t.Fatalf("no reader yet: quiet %v, rdIn %d", c.w.quiet, c.rdIn.Load())
	}
	if n := c.retiredNodes(); n != 0 {
		t.Fatalf("%d nodes retired with no reader ever inside, want 0 (freed at once)", n)
	}

	var cur Cursor[int]
	cur.Seek(c, []byte("a/"))
	if k, v, ok := cur.Next(); !ok || string(k) != "a/000" || v != 0 {
		t.Fatalf("first key %q %d %v", k, v, ok)
	}
	if c.rdIn.Load() != 1 {
		t.Fatal("a cursor did not mark a reader in")
	}
	// Splits and growths along the cursor's path: its nodes are unlinked.
	for i := range 200 {
		ins(fmt.Sprintf("a/%03dx", i), -i)
		ins(fmt.Sprintf("a/%03d/%d", i, i), -i)
	}
	if n := c.retiredNodes(); n == 0 {
		t.Fatal("nodes unlinked under an open cursor were not retired")
	}
	// Every key present for the whole walk is still yielded, in order,
	// from the nodes the cursor held (freed ones would be poisoned in the
	// invariants build, and garbage otherwise).
	next := 1
	var last []byte
	for {
		k, v, ok := cur.Next()
		if !ok {
			break
		}
		if last != nil && string(k) <= string(last) {
			t.Fatalf("keys out of order: %q after %q", k, last)
		}
		last = append(last[:0], k...)
		if want := fmt.Sprintf("a/%03d", next); string(k) == want {
			if v != next {
				t.Fatalf("%s = %d, want %d", k, v, next)
			}
			next++
		}
	}
	cur.Close()
	if next != 200 {
		t.Fatalf("the walk saw the stable keys up to %d, want all 200", next)
	}

	// With the readers gone, retirements go on until the writer's scans
	// clear the flag and see the epoch pass it; then frees are immediate.
	i := 0
	for ; !c.w.quiet && i < 100_000; i++ {
		ins(fmt.Sprintf("b/%06d", i), i)
	}
	if !c.w.quiet {
		t.Fatalf("still not quiet after %d inserts with no reader", i)
	}
	before := c.retiredNodes()
	for j := range 300 {
		ins(fmt.Sprintf("c/%03d", j), j)
	}
	if n := c.retiredNodes(); n > before {
		t.Fatalf("quiet writer retired %d more nodes, want them freed", n-before)
	}

	// A Get is a reader too.
	if v, ok := c.Get([]byte("c/007")); !ok || v != 7 {
		t.Fatalf("Get c/007 = %d, %v", v, ok)
	}
	if c.rdIn.Load() != 1 {
		t.Fatal("Get did not mark a reader in")
	}
	for j := range 300 {
		ins(fmt.Sprintf("d/%03d", j), j)
	}
	if n := c.retiredNodes(); n <= before {
		t.Fatal("nodes unlinked after a Get were freed at once, want retired until the next scans")
	}
	mustCheck(t, c)
}

// TestQuietFreesHammer: readers that come in bursts while one writer
// inserts (splits and growths unlink nodes all along), so the writer keeps
// moving between quiet (immediate frees) and retiring: every reader finds
// every key inserted before its burst, with its value (conservation), a
// walker's cursors see keys ascending with their own values, and
// in the invariants and race builds a reader that reached a freed node
// panics. Per round: the writer inserts a batch with no reader in (it
// turns quiet), then a second batch while the readers run.
func TestQuietFreesHammer(t *testing.T) {
	for _, readers := range hammerCounts() {
		t.Run(fmt.Sprintf("readers=%d", readers), func(t *testing.T) {
			testutil.Within(t, "quiet frees hammer", func() { quietHammer(t, readers) })
		})
	}
}

func quietHammer(t *testing.T, readers int) {
	c := newC[uint64](t, primitives.OneWriteMultiRead)
	key := func(i int) []byte { return fmt.Appendf(nil, "k/%d/%x", i%7, uint64(i)*0x9E3779B97F4A7C15>>40) }
	const rounds, batch = 12, 1500
	published := 0 // keys 0..published-1 are in the trie
	var bad atomic.Int64
	for round := range rounds {
		for range batch { // no reader in: the writer turns quiet
			if _, err := c.Insert(key(published), uint64(published)); err != nil {
				t.Fatal(err)
			}
			published++
		}
		var stop atomic.Bool
		var wg sync.WaitGroup
		known := published
		for r := range readers {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(round), uint64(r)))
				for n := 0; !stop.Load() || n < 200; n++ {
					i := rng.IntN(known)
					if v, ok := c.Get(key(i)); !ok || v != uint64(i) {
						bad.Add(1)
					}
					if n%64 == 0 {
						runtime.Gosched() // let readers drift in and out
					}
				}
			})
		}
		wg.Go(func() { // a walker: short cursor walks, key and value must agree
			var cur Cursor[uint64]
			for n := 0; !stop.Load() || n < 20; n++ {
				cur.SeekPrefix(c, fmt.Appendf(nil, "k/%d/", n%7))
				var last []byte
				for range 50 {
					k, v, ok := cur.Next()
					if !ok {
						break
					}
					if last != nil && bytes.Compare(k, last) <= 0 || !bytes.Equal(key(int(v)), k) {
						bad.Add(1)
					}
					last = append(last[:0], k...)
				}
				cur.Close()
			}
		})
		for range batch { // readers entering while the writer frees
			if _, err := c.Insert(key(published), uint64(published)); err != nil {
				t.Fatal(err)
			}
			published++
		}
		stop.Store(true)
		wg.Wait()
		if n := bad.Load(); n != 0 {
			t.Fatalf("round %d: %d reads missed a present key or saw a wrong value", round, n)
		}
	}
	if c.Len() != published {
		t.Fatalf("Len %d, want %d", c.Len(), published)
	}
	for i := range published {
		if v, ok := c.Get(key(i)); !ok || v != uint64(i) {
			t.Fatalf("key %d: %d, %v", i, v, ok)
		}
	}
	mustCheck(t, c)
}

// TestInsertPanicReleasesRole: a panic inside a per-key Insert at
// OneWriteMultiRead (injected at a node allocation) gives the writer role
// back and leaves every key readable, on the in-place fast path
// (releaseOne) and with a snapshot open (owInsertNow, release).
func TestInsertPanicReleasesRole(t *testing.T) {
	for _, snap := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshot=%v", snap), func(t *testing.T) {
			c := newC[int](t, primitives.OneWriteMultiRead)
			for i := range 100 {
				if _, err := c.Insert(fmt.Appendf(nil, "p/%03d", i), i); err != nil {
					t.Fatal(err)
				}
			}
			if snap {
				s, err := c.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
			}
			c.w.core.failAlloc = func() bool { panic("injected") }
			func() {
				defer func() {
					if r := recover(); r != "injected" {
						t.Fatalf("recovered %v, want the injected panic", r)
					}
				}()
				_, _ = c.Insert([]byte("p/050/split"), -1) // a new node below p/050
				t.Fatal("the insert did not reach an allocation")
			}()
			c.w.core.failAlloc = nil
			w, err := c.TryLockWriter()
			if err != nil {
				t.Fatalf("role held after a panicking Insert: %v", err)
			}
			w.Unlock()
			if _, err := c.Insert([]byte("p/100"), 100); err != nil {
				t.Fatal(err)
			}
			if c.Len() != 101 {
				t.Fatalf("Len %d, want 101", c.Len())
			}
			// Every key is still there (the value slot the panicking insert
			// had taken is lost to it: mustCheck's slot accounting would
			// count it).
			for i := range 101 {
				if v, ok := c.Get(fmt.Appendf(nil, "p/%03d", i)); !ok || v != i {
					t.Fatalf("p/%03d: %d, %v", i, v, ok)
				}
			}
		})
	}
}

// TestEveryReaderMarksIn: each read path of a one-writer Concurrent and of
// its snapshots sets the quiet-free flag (rdIn) before it reads the tree;
// a path that did not would let the writer free nodes under it.
func TestEveryReaderMarksIn(t *testing.T) {
	c := newC[uint64](t, primitives.OneWriteMultiRead)
	for i := range 50 {
		if _, err := c.Insert(fmt.Appendf(nil, "r/%02d", i), uint64(i)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var cur Cursor[uint64]
	for name, read := range map[string]func(){
		"Get":      func() { c.Get([]byte("r/07")) },
		"Contains": func() { c.Contains([]byte("r/07")) },
		"All": func() {
			for range c.All() {
				break
			}
		},
		"Cursor.Seek":         func() { cur.Seek(c, nil); cur.Close() },
		"Snapshot.Get":        func() { s.Get([]byte("r/07")) },
		"Snapshot.Contains":   func() { s.Contains([]byte("r/07")) },
		"Cursor.SeekSnapshot": func() { cur.SeekSnapshot(s, nil); cur.Close() },
		"Snapshot.All": func() {
			for range s.All() {
				break
			}
		},
		"Snapshot.Save": func() {
			if _, err := s.Save(io.Discard, Uint64Codec()); err != nil {
				t.Fatal(err)
			}
		},
	} {
		c.rdIn.Store(0)
		read()
		if c.rdIn.Load() != 1 {
			t.Errorf("%s did not mark its reader in", name)
		}
	}
}
