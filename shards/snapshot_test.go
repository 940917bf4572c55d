package shards_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
)

// TestTrieSnapshotCut checks the cut by conservation laws while writers
// run. Each writer goroutine owns four accounts on different shards and
// moves one unit around them: a debit, then a credit (each write returns
// before the next starts), then a count of finished transfers. In a
// consistent cut each writer's accounts sum to their total or one less
// (a debit whose credit is not in the cut); a cut that saw a credit but
// not the debit before it would sum to one more. Each writer also owns
// two accounts on one shard that it moves units between in one
// Batch.Commit (one chunk of one shard): every cut sums them exactly. And
// every transfer finished before Snapshot was called is counted in the
// cut, none started after it returned is.
func TestTrieSnapshotCut(t *testing.T) {
	const workers, writers, start = 3, 3, 1000
	_, tr := startTrie(t, workers)
	ctx := context.Background()
	var hr shards.HashRouter
	if err := hr.Init(workers); err != nil {
		t.Fatal(err)
	}
	type acct struct {
		keys     [][]byte // transferred around, one write each
		pair     [2][]byte
		count    []byte
		started  atomic.Int64 // transfers started
		finished atomic.Int64 // transfers whose three writes returned
	}
	accts := make([]*acct, writers)
	for g := range accts {
		a := &acct{count: fmt.Appendf(nil, "count/%d", g)}
		used := map[int]bool{}
		for i := 0; len(a.keys) < 4; i++ {
			k := fmt.Appendf(nil, "acct/%d/%d", g, i)
			if s := hr.Route(k); !used[s] || len(used) == workers {
				used[s] = true
				a.keys = append(a.keys, k)
			}
		}
		a.pair[0] = fmt.Appendf(nil, "pair/%d/a", g)
		for i := 0; ; i++ {
			k := fmt.Appendf(nil, "pair/%d/%d", g, i)
			if hr.Route(k) == hr.Route(a.pair[0]) {
				a.pair[1] = k
				break
			}
		}
		for _, k := range append(a.keys, a.pair[:]...) {
			if _, err := tr.Insert(ctx, k, start); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tr.Insert(ctx, a.count, 0); err != nil {
			t.Fatal(err)
		}
		accts[g] = a
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	errc := make(chan error, writers+1)
	for g, a := range accts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bal := []uint64{start, start, start, start}
			pair := [2]uint64{start, start}
			for n := 0; ; n++ {
				select {
				case <-done:
					return
				default:
				}
				a.started.Add(1)
				j, k := n%4, (n+1)%4
				bal[j]--
				bal[k]++
				if _, err := tr.Insert(ctx, a.keys[j], bal[j]); err != nil {
					errc <- err
					return
				}
				if _, err := tr.Insert(ctx, a.keys[k], bal[k]); err != nil {
					errc <- err
					return
				}
				if _, err := tr.Insert(ctx, a.count, uint64(n+1)); err != nil {
					errc <- err
					return
				}
				a.finished.Add(1)
				if n%3 == g%3 {
					pair[n%2]--
					pair[1-n%2]++
					b := tr.Batch()
					b.Insert(a.pair[0], pair[0])
					b.Insert(a.pair[1], pair[1])
					if err := b.Commit(ctx); err != nil {
						errc <- err
						return
					}
				}
			}
		}()
	}
	cuts := 300
	if testing.Short() {
		cuts = 60
	}
	cut := func() error {
		for c := range cuts {
			before := make([]int64, writers)
			for g, a := range accts {
				before[g] = a.finished.Load()
			}
			ts, err := tr.Snapshot(ctx)
			if err != nil {
				return err
			}
			after := make([]int64, writers)
			for g, a := range accts {
				after[g] = a.started.Load()
			}
			for g, a := range accts {
				sum := uint64(0)
				for _, k := range a.keys {
					v, ok := ts.Get(k)
					if !ok {
						return fmt.Errorf("cut %d: %s missing", c, k)
					}
					sum += v
				}
				if sum != 4*start && sum != 4*start-1 {
					return fmt.Errorf("cut %d: writer %d's accounts sum to %d, want %d or one less", c, g, sum, 4*start)
				}
				p0, _ := ts.Get(a.pair[0])
				p1, _ := ts.Get(a.pair[1])
				if p0+p1 != 2*start {
					return fmt.Errorf("cut %d: writer %d's batch pair sums to %d, want %d", c, g, p0+p1, 2*start)
				}
				n, _ := ts.Get(a.count)
				if int64(n) < before[g] || int64(n) > after[g] {
					return fmt.Errorf("cut %d: writer %d: %d transfers in the cut, %d had finished before it and %d started by its end", c, g, n, before[g], after[g])
				}
			}
			// The merged iteration sees the same cut, in order, and keeps
			// seeing it while writers go on.
			for range 2 {
				total, keys := uint64(0), 0
				var last string
				for k, v := range ts.All() {
					if string(k) <= last && keys > 0 {
						return fmt.Errorf("cut %d: %q after %q", c, k, last)
					}
					last = string(k)
					keys++
					if k[0] != 'c' {
						total += v
					}
				}
				if keys != ts.Len() {
					return fmt.Errorf("cut %d: All yields %d keys, Len says %d", c, keys, ts.Len())
				}
				if lo := uint64(writers * 6 * start); total > lo || total < lo-writers {
					return fmt.Errorf("cut %d: all accounts sum to %d, want %d down to %d", c, total, lo, lo-writers)
				}
				runtime.Gosched()
			}
			if c%2 == 0 {
				var inPrefix int
				for range ts.Prefix([]byte("pair/")) {
					inPrefix++
				}
				if inPrefix != 2*writers {
					return fmt.Errorf("cut %d: Prefix(pair/) yields %d keys", c, inPrefix)
				}
			}
			ts.Close()
		}
		return nil
	}
	var cutErr error
	testutil.Within(t, "cuts under writers", func() {
		cutErr = cut()
		close(done)
		wg.Wait()
	})
	if cutErr != nil {
		t.Fatal(cutErr)
	}
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	for _, s := range tr.Stats() {
		if s.Trie.Snapshots != 0 {
			t.Fatalf("shard %d: %d snapshots open after every Close", s.Shard, s.Trie.Snapshots)
		}
	}
}

// TestTrieSnapshotWaitsAndCancels: a Snapshot waits for a shard whose
// holder is busy and returns ctx's error when ctx ends first, holding
// nothing afterwards; errors before Start and after Stop.
func TestTrieSnapshotWaitsAndCancels(t *testing.T) {
	if _, err := mustTrie[uint64]().Snapshot(context.Background()); !errors.Is(err, shards.ErrNotStarted) {
		t.Fatalf("Snapshot before Start: %v", err)
	}
	rt, tr := startTrie(t, 2)
	ctx := context.Background()
	for i := range 100 {
		tr.Insert(ctx, []byte(strconv.Itoa(i)), uint64(i))
	}
	entered, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	shards.SetApplyHook(func(key []byte) {
		if string(key) == "block" {
			once.Do(func() { close(entered) })
			<-unblock
		}
	})
	defer shards.SetApplyHook(nil)
	go tr.Insert(ctx, []byte("block"), 1) // holds its shard's word until unblock
	<-entered
	cctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() {
		_, err := tr.Snapshot(cctx)
		res <- err
	}()
	cancel()
	testutil.Within(t, "a cancelled Snapshot", func() {
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Snapshot: %v", err)
		}
	})
	// A waiting Snapshot gets the word once the holder finishes.
	go func() {
		ts, err := tr.Snapshot(ctx)
		if err == nil {
			if _, ok := ts.Get([]byte("block")); !ok {
				err = errors.New("the cut lacks the write that held the word before it")
			}
			ts.Close()
		}
		res <- err
	}()
	close(unblock)
	testutil.Within(t, "a waiting Snapshot", func() {
		if err := <-res; err != nil {
			t.Error(err)
		}
	})
	for i := range 100 { // nothing is left held
		if _, err := tr.Insert(ctx, []byte(strconv.Itoa(i)), 7); err != nil {
			t.Fatal(err)
		}
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Snapshot(ctx); !errors.Is(err, shards.ErrClosed) {
		t.Fatalf("Snapshot after Stop: %v", err)
	}
}

// TestTrieSnapshotAcrossReclaimAndStop: a cut stays intact across the
// trie's Reclaim and across Stop (reads of it go on after Stop), and
// closing it after Stop is harmless.
func TestTrieSnapshotAcrossReclaimAndStop(t *testing.T) {
	rt, tr := startTrie(t, 2)
	ctx := context.Background()
	want := map[string]uint64{}
	for i := range 3000 {
		k := fmt.Appendf(nil, "k%05d", i)
		tr.Insert(ctx, k, uint64(i))
		want[string(k)] = uint64(i)
	}
	ts, err := tr.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		k := fmt.Appendf(nil, "k%05d", i)
		if i%3 == 0 {
			tr.Delete(ctx, k)
		} else {
			tr.Insert(ctx, k, 7)
		}
	}
	check := func(when string) {
		t.Helper()
		n := 0
		for k, v := range ts.All() {
			if want[string(k)] != v {
				t.Fatalf("%s: %s = %d, want %d", when, k, v, want[string(k)])
			}
			n++
		}
		if n != len(want) || ts.Len() != len(want) {
			t.Fatalf("%s: %d keys (Len %d), want %d", when, n, ts.Len(), len(want))
		}
	}
	if err := tr.Reclaim(ctx); err != nil {
		t.Fatal(err)
	}
	check("after Reclaim")
	held := 0
	for _, s := range tr.Stats() {
		held += s.Trie.SnapshotBytes
	}
	if held == 0 {
		t.Fatal("no memory held for the open cut")
	}
	if err := rt.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	check("after Stop")
	ts.Close()
	ts.Close()
	if ts.Len() != 0 {
		t.Fatal("a closed cut is not empty")
	}
}

// TestTrieSnapshotConcurrentCutsAndStop: several goroutines take cuts at
// once (each holding words while it waits for the next, all in shard
// order: no deadlock) while writers run, and Stop comes in the middle:
// every Snapshot returns a cut or ErrClosed, nothing hangs.
func TestTrieSnapshotConcurrentCutsAndStop(t *testing.T) {
	rt, tr := startTrie(t, 3)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var cuts atomic.Int64
	errc := make(chan error, 16)
	for g := range 2 { // writers
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tr.Insert(ctx, fmt.Appendf(nil, "w%d/%d", g, i%500), uint64(i)); err != nil {
					if !errors.Is(err, shards.ErrClosed) {
						errc <- err
					}
					return
				}
			}
		})
	}
	for range 4 { // cut takers
		wg.Go(func() {
			for {
				ts, err := tr.Snapshot(ctx)
				if err != nil {
					if !errors.Is(err, shards.ErrClosed) {
						errc <- err
					}
					return
				}
				if n := ts.Len(); n < 0 || n > 1000 {
					errc <- fmt.Errorf("a cut of %d keys", n)
				}
				ts.Close()
				cuts.Add(1)
			}
		})
	}
	testutil.Within(t, "concurrent cuts, writers and Stop", func() {
		for cuts.Load() < 200 {
			runtime.Gosched()
		}
		if err := rt.Stop(ctx); err != nil {
			t.Error(err)
		}
		close(stop)
		wg.Wait()
	})
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}
