package trie

import (
	"context"
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// TestSelfWait: a goroutine inside WithWriter of the one-writer form that
// calls something that waits for the role gets ErrSelfWait at once
// (before: it waited forever); the refused writes are not applied, and
// another goroutine still waits for the role and gets it afterwards.
func TestSelfWait(t *testing.T) {
	c, err := NewConcurrent[int](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Insert":     func() error { _, err := c.Insert([]byte("inner"), 1); return err },
		"Delete":     func() error { _, _, err := c.Delete([]byte("mine")); return err },
		"Snapshot":   func() error { _, err := c.Snapshot(); return err },
		"Reclaim":    func() error { return c.Reclaim(ctx) },
		"LockWriter": func() error { _, err := c.LockWriter(ctx); return err },
		"WithWriter": func() error { return c.WithWriter(ctx, func(*Writer[int]) error { return nil }) },
	}
	other := make(chan error, 1)
	testutil.Within(t, "self-waits inside WithWriter", func() {
		err := c.WithWriter(ctx, func(w *Writer[int]) error {
			for name, call := range calls {
				if err := call(); !errors.Is(err, ErrSelfWait) {
					t.Errorf("%s inside WithWriter: %v, want ErrSelfWait", name, err)
				}
			}
			go func() { _, err := c.Insert([]byte("other"), 2); other <- err }()
			_, err := w.InsertNow([]byte("mine"), 1)
			return err
		})
		if err != nil {
			t.Error(err)
		}
		if err := <-other; err != nil {
			t.Errorf("another goroutine's Insert: %v", err)
		}
	})
	for k, want := range map[string]bool{"mine": true, "other": true, "inner": false} {
		if _, ok := c.Get([]byte(k)); ok != want {
			t.Errorf("%q present %v, want %v", k, ok, want)
		}
	}
}

// TestLockWriterHandedOn: a Writer from LockWriter handed to another
// goroutine, which unlocks it: the goroutine that took it waits for the
// role like anyone (no ErrSelfWait: it does not hold the role any more
// than another goroutine that waits) and writes once it is free.
func TestLockWriterHandedOn(t *testing.T) {
	c, err := NewConcurrent[int](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	testutil.Within(t, "a write after the Writer was handed on", func() {
		w, err := c.LockWriter(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		handed := make(chan *Writer[int])
		go func() {
			w := <-handed
			if _, err := w.InsertNow([]byte("by-taker"), 1); err != nil {
				t.Error(err)
			}
			w.Unlock()
		}()
		handed <- w
		if _, err := c.Insert([]byte("by-first"), 2); err != nil {
			t.Errorf("Insert after handing the Writer on: %v", err)
		}
	})
	for _, k := range []string{"by-taker", "by-first"} {
		if _, ok := c.Get([]byte(k)); !ok {
			t.Errorf("%q missing", k)
		}
	}
}
