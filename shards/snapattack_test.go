package shards_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestSnapshotChaos: snapshots taken, iterated, closed twice and from
// several goroutines at once while writers, Reclaim, Load and finally Stop
// run: nothing panics or hangs, every snapshot's All agrees with its Len,
// and every call after Stop returns an error or works.
func TestSnapshotChaos(t *testing.T) {
	rt, tr := startTrie(t, 3)
	fillTrie(t, tr, "base", 500, func(i int) uint64 { return uint64(i) })
	var stream bytes.Buffer
	if _, err := tr.Save(context.Background(), &stream, u64()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// loop runs f(0), f(1), ... on its own goroutine until stop is closed.
	loop := func(f func(i int)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				f(i)
			}
		}()
	}
	for w := range 3 {
		loop(func(i int) {
			k := fmt.Appendf(nil, "w%d/%06d", w, i%2000)
			if i%3 == 2 {
				tr.Delete(ctx, k)
			} else {
				tr.Insert(ctx, k, uint64(i))
			}
		})
	}
	loop(func(i int) {
		if i%2 == 0 {
			tr.Reclaim(ctx)
		} else {
			tr.Load(ctx, bytes.NewReader(stream.Bytes()), u64())
		}
	})
	testutil.Within(t, "snapshots under chaos", func() {
		for round := range 60 {
			s, err := tr.Snapshot(ctx)
			if err != nil {
				t.Errorf("round %d: %v", round, err)
				return
			}
			n := 0
			var closers sync.WaitGroup
			for range s.All() {
				if n++; n == 100 && round%2 == 0 {
					for range 4 { // closed mid-iteration, from four goroutines at once
						closers.Add(1)
						go func() { defer closers.Done(); s.Close() }()
					}
				}
			}
			closers.Wait()
			if round%2 == 1 && n != s.Len() {
				t.Errorf("round %d: All yielded %d, Len %d", round, n, s.Len())
			}
			s.Close()
			s.Close()
		}
	})
	late, err := tr.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "close and read after Stop", func() {
		n := 0
		for range late.All() {
			n++
		}
		if n != late.Len() {
			t.Errorf("after Stop: All %d, Len %d", n, late.Len())
		}
		late.Close()
		late.Close()
		if _, err := tr.Snapshot(ctx); err == nil {
			t.Error("a snapshot of a stopped trie")
		}
	})
}
