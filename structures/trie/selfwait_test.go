package trie

import (
	"context"
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// TestSelfWait: a goroutine that holds the one-writer form's role through
// LockWriter or WithWriter and then calls something that waits for the
// role gets ErrSelfWait at once (before: it waited forever, or until its
// context ended); another goroutine still waits for the role and gets it
// when the holder unlocks; after Unlock the same goroutine writes again.
func TestSelfWait(t *testing.T) {
	c, err := NewConcurrent[int](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Insert":     func() error { _, err := c.Insert([]byte("k"), 1); return err },
		"Delete":     func() error { _, _, err := c.Delete([]byte("k")); return err },
		"Snapshot":   func() error { _, err := c.Snapshot(); return err },
		"Reclaim":    func() error { return c.Reclaim(ctx) },
		"LockWriter": func() error { _, err := c.LockWriter(ctx); return err },
		"WithWriter": func() error { return c.WithWriter(ctx, func(*Writer[int]) error { return nil }) },
	}
	testutil.Within(t, "self-waits under LockWriter", func() {
		w, err := c.LockWriter(ctx)
		if err != nil {
			t.Error(err)
			return
		}
		for name, call := range calls {
			if err := call(); !errors.Is(err, ErrSelfWait) {
				t.Errorf("%s while holding the role: %v, want ErrSelfWait", name, err)
			}
		}
		// Another goroutine waits, unrefused, and gets the role after Unlock.
		other := make(chan error)
		go func() { _, err := c.Insert([]byte("other"), 2); other <- err }()
		if _, err := w.InsertNow([]byte("mine"), 1); err != nil {
			t.Error(err)
		}
		w.Unlock()
		if err := <-other; err != nil {
			t.Errorf("another goroutine's Insert: %v", err)
		}
		if _, err := c.Insert([]byte("after"), 3); err != nil {
			t.Errorf("Insert after Unlock: %v", err)
		}
	})
	testutil.Within(t, "self-waits inside WithWriter", func() {
		err := c.WithWriter(ctx, func(*Writer[int]) error {
			_, err := c.Insert([]byte("inner"), 4)
			return err
		})
		if !errors.Is(err, ErrSelfWait) {
			t.Errorf("Insert inside WithWriter: %v, want ErrSelfWait", err)
		}
	})
	for _, k := range []string{"mine", "other", "after"} {
		if _, ok := c.Get([]byte(k)); !ok {
			t.Errorf("%q missing", k)
		}
	}
	if _, ok := c.Get([]byte("inner")); ok {
		t.Error("the refused inner Insert was applied")
	}
}
