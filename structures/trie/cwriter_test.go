package trie

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// TestLockWriterAllocs: a LockWriter/Unlock pair allocates nothing, with or
// without a write in between (once the writer's queues are warm).
func TestLockWriterAllocs(t *testing.T) {
	for _, l := range concurrentLevels {
		c := newC[int](t, l)
		ctx := context.Background()
		key := []byte("key")
		pair := func() {
			w, err := c.LockWriter(ctx)
			if err != nil {
				t.Fatal(err)
			}
			w.Unlock()
		}
		withWrite := func() {
			w, err := c.LockWriter(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Insert(key, 1); err != nil {
				t.Fatal(err)
			}
			w.Unlock()
		}
		tryPair := func() {
			w, err := c.TryLockWriter()
			if err != nil {
				t.Fatal(err)
			}
			w.Unlock()
		}
		for range 100 {
			withWrite()
		}
		if a := testing.AllocsPerRun(1000, pair); a != 0 {
			t.Errorf("%v: LockWriter+Unlock: %v allocs", l, a)
		}
		if a := testing.AllocsPerRun(1000, tryPair); a != 0 {
			t.Errorf("%v: TryLockWriter+Unlock: %v allocs", l, a)
		}
		if a := testing.AllocsPerRun(1000, withWrite); a != 0 {
			t.Errorf("%v: LockWriter+Insert+Unlock: %v allocs", l, a)
		}
	}
}

// TestLockWriterPublish: writes are invisible to readers until Publish, which
// keeps the role; Unlock publishes too; a second writer is refused (Try) or
// waits until ctx ends.
func TestLockWriterPublish(t *testing.T) {
	c := newC[int](t, primitives.OneWriteMultiRead)
	v0 := c.ReclaimStats().Version
	w, err := c.LockWriter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Insert([]byte("a"), 1); err != nil {
		t.Fatal(err)
	}
	if c.Contains([]byte("a")) || !w.Contains([]byte("a")) {
		t.Fatal("unpublished write visible to readers, or invisible to its writer")
	}
	if _, err := c.TryLockWriter(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("TryLockWriter while held: %v, want ErrBusy", err)
	}
	if err := c.TryWithWriter(func(*Writer[int]) error { return nil }); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("TryWithWriter while held: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.LockWriter(ctx)
		errc <- err
	}()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("LockWriter with a cancelled ctx while held: %v", err)
	}
	w.Publish()
	if v, ok := c.Get([]byte("a")); !ok || v != 1 || c.Len() != 1 {
		t.Fatalf("after Publish: Get = %d,%v, Len %d", v, ok, c.Len())
	}
	if got := c.ReclaimStats().Version; got != v0+1 {
		t.Fatalf("version %d after one publication from %d", got, v0)
	}
	if _, err := w.Insert([]byte("b"), 2); err != nil {
		t.Fatal(err)
	}
	w.Unlock()
	if !c.Contains([]byte("b")) || c.ReclaimStats().Version != v0+2 {
		t.Fatalf("after Unlock: b present %v, version %d", c.Contains([]byte("b")), c.ReclaimStats().Version)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Writer used after Unlock did not panic")
			}
		}()
		w.Insert([]byte("c"), 3)
	}()
	if w2, err := c.TryLockWriter(); err != nil {
		t.Fatalf("TryLockWriter after Unlock: %v", err)
	} else {
		w2.Unlock()
	}
}

// TestLockWriterHammer: goroutines take the role in turn (LockWriter,
// TryLockWriter, WithWriter, Insert) and each adds its own keys, some
// waiting with contexts that expire. Conservation: every key a goroutine
// reports added is present once at the end and the count matches, at 1,
// GOMAXPROCS and many goroutines; no waiter stays parked (the test would
// hang).
func TestLockWriterHammer(t *testing.T) {
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 32} {
		t.Run(fmt.Sprint(g), func(t *testing.T) {
			c := newC[int](t, primitives.OneWriteMultiRead)
			const per = 300
			added := make([]int, g)
			var wg sync.WaitGroup
			for id := range g {
				wg.Go(func() {
					for i := range per {
						k := fmt.Appendf(nil, "g%03d/%05d", id, i)
						switch i % 4 {
						case 0:
							w, err := c.LockWriter(context.Background())
							if err != nil {
								t.Error(err)
								return
							}
							if ok, _ := w.Insert(k, i); ok {
								added[id]++
							}
							w.Unlock()
						case 1:
							w, err := c.TryLockWriter()
							if err != nil {
								if !errors.Is(err, primitives.ErrBusy) {
									t.Error(err)
								}
								continue
							}
							if ok, _ := w.Insert(k, i); ok {
								added[id]++
							}
							w.Publish()
							w.Unlock()
						case 2:
							ctx, cancel := context.WithCancel(context.Background())
							if i%8 == 2 {
								cancel() // waits, if any, end at once
							}
							_ = c.WithWriter(ctx, func(w *Writer[int]) error {
								if ok, _ := w.Insert(k, i); ok {
									added[id]++
								}
								return nil
							})
							cancel()
						default:
							if ok, err := c.Insert(k, i); err != nil {
								t.Error(err)
							} else if ok {
								added[id]++
							}
						}
					}
				})
			}
			wg.Wait()
			total := 0
			for _, a := range added {
				total += a
			}
			if c.Len() != total {
				t.Fatalf("Len %d, %d inserts reported added", c.Len(), total)
			}
			n := 0
			for range c.All() {
				n++
			}
			if n != total {
				t.Fatalf("iteration yields %d keys, %d added", n, total)
			}
			if err := c.checkConcurrent(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
