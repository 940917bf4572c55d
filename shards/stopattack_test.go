package shards_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// TestLoadSnapshotRaceStop: Load, Snapshot and Save running while the
// runtime stops (and the trie is detached by it) each return, with nil or
// an error; none hangs or panics.
func TestLoadSnapshotRaceStop(t *testing.T) {
	_, src := startTrie(t, 2)
	fillTrie(t, src, "k", 3000, func(i int) uint64 { return uint64(i) })
	var stream bytes.Buffer
	if _, err := src.Save(context.Background(), &stream, u64()); err != nil {
		t.Fatal(err)
	}
	for round := range 20 {
		tr := mustTrie[uint64]()
		rt, err := startRT(2, tr)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); tr.Load(ctx, bytes.NewReader(stream.Bytes()), u64()) }()
		go func() {
			defer wg.Done()
			if s, err := tr.Snapshot(ctx); err == nil {
				for range s.All() {
				}
				s.Close()
			}
		}()
		go func() { defer wg.Done(); tr.Save(ctx, &bytes.Buffer{}, u64()) }()
		if round%2 == 0 {
			tr.Insert(ctx, []byte("x"), 1)
		}
		testutil.Within(t, "stop during load, snapshot and save", func() {
			rt.Stop(ctx)
			wg.Wait()
		})
		if _, err := tr.Snapshot(ctx); err == nil {
			t.Fatal("a snapshot after Stop")
		}
		if err := tr.Load(ctx, bytes.NewReader(stream.Bytes()), u64()); err == nil {
			t.Fatal("a load after Stop")
		}
	}
}
