package trie

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// selfReadTrie returns a trie of the form with 100 keys.
func selfReadTrie(t *testing.T, level primitives.Level) *Concurrent[int] {
	t.Helper()
	if !trackReaders {
		t.Skip("long readers are not recorded on this platform (internal/gid parses a traceback)")
	}
	c, err := NewConcurrent[int](level, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if _, err := c.Insert(fmt.Appendf(nil, "k%03d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// TestWaitReadersInsideIteration: WaitReaders and Reclaim called from the
// body of an iteration over the same trie (which holds a reader guard the
// call would wait for) return ErrSelfWait at once; before, they waited
// until ctx ended (forever with Background). After the loop they work.
func TestWaitReadersInsideIteration(t *testing.T) {
	for _, level := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
		t.Run(level.String(), func(t *testing.T) {
			c := selfReadTrie(t, level)
			ctx := context.Background()
			snap, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			loops := map[string]func(yield func([]byte, int) bool){
				"All":           c.All(),
				"Prefix":        c.Prefix([]byte("k0")),
				"Seek":          c.Seek([]byte("k05")),
				"Range":         c.Range([]byte("k01"), []byte("k09")),
				"Snapshot.All":  snap.All(),
				"Snapshot.Seek": snap.Seek([]byte("k05")),
			}
			for name, loop := range loops {
				testutil.Within(t, name+" with a self-wait inside", func() {
					n := 0
					for range loop {
						if err := c.WaitReaders(ctx); !errors.Is(err, ErrSelfWait) {
							t.Errorf("%s: WaitReaders inside: %v, want ErrSelfWait", name, err)
						}
						if err := c.Reclaim(ctx); !errors.Is(err, ErrSelfWait) {
							t.Errorf("%s: Reclaim inside: %v, want ErrSelfWait", name, err)
						}
						if n++; n == 3 {
							break
						}
					}
					if n != 3 {
						t.Errorf("%s: %d keys, want 3", name, n)
					}
					if err := c.Reclaim(ctx); err != nil {
						t.Errorf("%s: Reclaim after the loop: %v", name, err)
					}
				})
			}
			if n := readersRecorded(c); n != 0 {
				t.Errorf("%d long readers recorded after every loop ended", n)
			}
		})
	}
}

// TestWaitReadersWithOpenCursors: an open Cursor counts until it ends
// (Close, or Next reporting the end), nested and past the recording slots
// (the overflow multiset), and a Cursor handed to another goroutine counts
// for the goroutine that stepped it last.
func TestWaitReadersWithOpenCursors(t *testing.T) {
	c := selfReadTrie(t, primitives.OneWriteMultiRead)
	ctx := context.Background()
	testutil.Within(t, "cursors", func() {
		curs := make([]Cursor[int], 3*readerSlots)
		for i := range curs {
			curs[i].SeekPrefix(c, []byte("k0"))
			if err := c.WaitReaders(ctx); !errors.Is(err, ErrSelfWait) {
				t.Fatalf("with %d open cursors: %v, want ErrSelfWait", i+1, err)
			}
		}
		for i := range curs {
			if !selfReading(c) {
				t.Fatalf("not recorded with %d cursors still open", len(curs)-i)
			}
			if i%2 == 0 {
				curs[i].Close()
				continue
			}
			for _, _, ok := curs[i].Next(); ok; _, _, ok = curs[i].Next() {
			}
		}
		if err := c.WaitReaders(ctx); err != nil {
			t.Fatalf("after every cursor ended: %v", err)
		}
		if n := readersRecorded(c); n != 0 {
			t.Fatalf("%d long readers recorded after every cursor ended", n)
		}

		// Handed on: the taker's Next moves the record.
		var cur Cursor[int]
		cur.Seek(c, nil)
		handed, stepped, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
		go func() {
			<-handed
			if _, _, ok := cur.Next(); !ok {
				t.Error("empty walk")
			}
			if !selfReading(c) {
				t.Error("the goroutine that stepped the cursor is not recorded")
			}
			close(stepped)
			<-done
			cur.Close()
		}()
		close(handed)
		<-stepped
		if selfReading(c) {
			t.Error("still recorded after the cursor was handed on and stepped there")
		}
		close(done)
		if err := c.WaitReaders(ctx); err != nil { // waits for the taker's Close
			t.Errorf("WaitReaders after the hand-off: %v", err)
		}
	})
}

// TestSelfReadHammer: goroutines iterate and call WaitReaders inside their
// loops (each must get ErrSelfWait: counted) while others call WaitReaders
// outside any iteration (each must succeed); 1, GOMAXPROCS and 64
// goroutines (past the recording slots). Conservation: refusals equal the
// calls made inside loops, successes the calls made outside.
func TestSelfReadHammer(t *testing.T) {
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 64} {
		t.Run(fmt.Sprint(g), func(t *testing.T) {
			c := selfReadTrie(t, primitives.MultiWriteMultiRead)
			ctx := context.Background()
			const rounds = 50
			var inside, refused, outside, passed atomic.Int64
			var wg sync.WaitGroup
			testutil.Within(t, "hammer", func() {
				for w := range g + 1 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for r := range rounds {
							if w == g || r%4 == 3 { // outside any iteration
								outside.Add(1)
								if err := c.WaitReaders(ctx); err == nil {
									passed.Add(1)
								} else {
									t.Errorf("WaitReaders outside an iteration: %v", err)
								}
								continue
							}
							for range c.Prefix([]byte("k0")) {
								inside.Add(1)
								if err := c.WaitReaders(ctx); errors.Is(err, ErrSelfWait) {
									refused.Add(1)
								}
								break
							}
						}
					}()
				}
				wg.Wait()
			})
			if refused.Load() != inside.Load() || passed.Load() != outside.Load() {
				t.Fatalf("refused %d of %d calls inside loops, passed %d of %d outside", refused.Load(), inside.Load(), passed.Load(), outside.Load())
			}
			if n := readersRecorded(c); n != 0 {
				t.Fatalf("%d long readers recorded after the hammer", n)
			}
		})
	}
}

// TestNilContext: the calls that may wait return an error for a nil
// context while they would have to wait (before: a nil-pointer panic at
// the first wait): LockWriter and WithWriter with the role held,
// WaitReaders and Reclaim with a reader inside.
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	c := selfReadTrie(t, primitives.OneWriteMultiRead)
	w, err := c.LockWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "nil contexts", func() {
		done := make(chan struct{})
		go func() { // another goroutine: the role is held, a reader is inside
			defer close(done)
			_, err := c.LockWriter(nilCtx)
			testutil.WantNilContext(t, "LockWriter", err, "trie: ")
			testutil.WantNilContext(t, "WithWriter", c.WithWriter(nilCtx, func(*Writer[int]) error { return nil }), "trie: ")
			testutil.WantNilContext(t, "WaitReaders", c.WaitReaders(nilCtx), "trie: ")
			testutil.WantNilContext(t, "Reclaim", c.Reclaim(nilCtx), "trie: ")
		}()
		var cur Cursor[int]
		cur.Seek(c, nil)
		<-done
		cur.Close()
	})
	w.Unlock()
}
