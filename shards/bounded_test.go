package shards_test

// Regression tests of issue 19, library part: every wait bounded, every
// failure named. Each guards its waits with testutil.Within.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/gid"
	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/pool"
	"github.com/zipora-go/zipora/structures/trie"
)

// TestStopBoundedUnderSustainedWrites (case 1): Stop returns while writers
// that never pause keep writing to every shard; afterwards no write is
// applied, every acknowledged write is present and nothing else is.
func TestStopBoundedUnderSustainedWrites(t *testing.T) {
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			tr := mustTrie[uint64]()
			rt, err := startRT(workers, tr)
			if err != nil {
				t.Fatal(err)
			}
			var quit atomic.Bool
			var acked, started atomic.Int64
			var wg sync.WaitGroup
			for g := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; !quit.Load(); i++ {
						started.Add(1)
						k := fmt.Appendf(nil, "w%d-%d", g, i)
						_, err := tr.Insert(context.Background(), k, 1)
						switch {
						case err == nil:
							acked.Add(1)
						case errors.Is(err, shards.ErrClosed):
						default:
							t.Error(err)
							return
						}
					}
				}()
			}
			for started.Load() < 20_000 { // the shards are busy
				runtimeGosched()
			}
			testutil.Within(t, "Stop under writers that never pause", func() {
				if err := rt.Stop(context.Background()); err != nil {
					t.Error(err)
				}
			})
			n := tr.Len()
			for s0 := started.Load(); started.Load() < s0+1000; { // writes go on failing after Stop
				runtimeGosched()
			}
			quit.Store(true)
			testutil.Within(t, "writers after Stop", wg.Wait)
			if int64(n) != acked.Load() || tr.Len() != n {
				t.Fatalf("%d keys at Stop, %d after, %d acknowledged", n, tr.Len(), acked.Load())
			}
		})
	}
}

// TestStopBoundedUnderHandedOnTenures (case 1): every write's application
// queues the next write before it returns, so the shard's word goes from
// tenure to tenure and is never free; Stop still returns, and the chain
// ends with ErrStopped (it used to wait for a free word: for the whole
// chain).
func TestStopBoundedUnderHandedOnTenures(t *testing.T) {
	tr := mustTrie[uint64]()
	rt, err := startRT(1, tr)
	if err != nil {
		t.Fatal(err)
	}
	const limit = 20_000
	var links atomic.Int64
	var stopped atomic.Bool
	var wg sync.WaitGroup
	//lint:ignore S1021 link calls itself: a recursive closure must be declared first
	var link func(i int)
	link = func(i int) {
		wg.Add(1)
		done := make(chan struct{})
		go func() {
			defer wg.Done()
			defer close(done)
			_, err := tr.Insert(context.Background(), fmt.Appendf(nil, "chain-%d", i), 1)
			if err != nil && !errors.Is(err, shards.ErrClosed) {
				t.Error(err)
			}
		}()
		for !shards.Queued(tr, 0) { // queued before this write's application ends
			select {
			case <-done:
				return
			default:
				runtimeGosched()
			}
		}
	}
	shards.SetApplyHook(func(k []byte) {
		if n := links.Add(1); n < limit && !stopped.Load() {
			link(int(n))
		}
	})
	defer shards.SetApplyHook(nil)
	link(0)
	for links.Load() < 100 {
		runtimeGosched()
	}
	testutil.Within(t, "Stop while tenures are handed on", func() {
		if err := rt.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	at := links.Load()
	stopped.Store(true)
	testutil.Within(t, "the chain after Stop", wg.Wait)
	if at >= limit {
		t.Fatalf("Stop returned after the chain of %d writes ended: it waited for a free word", at)
	}
	if n := tr.Len(); int64(n) > at {
		t.Fatalf("%d keys, but only %d writes applied before Stop returned", n, at)
	}
}

// blocker holds one shard's word: its write's application blocks in the
// apply hook until release.
type blocker struct {
	key     string
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

// unblock releases the blocker (idempotent).
func (b *blocker) unblock() { b.once.Do(func() { close(b.release) }) }

func newBlocker(key string) *blocker {
	return &blocker{key: key, entered: make(chan struct{}), release: make(chan struct{})}
}

// hooks dispatches the apply hook to blockers and per-key functions.
type hooks struct {
	mu       sync.Mutex
	blockers map[string]*blocker
	on       map[string]func()
}

func installHooks(t *testing.T) *hooks {
	h := &hooks{blockers: map[string]*blocker{}, on: map[string]func(){}}
	shards.SetApplyHook(func(k []byte) {
		h.mu.Lock()
		b, f := h.blockers[string(k)], h.on[string(k)]
		h.mu.Unlock()
		if b != nil {
			close(b.entered)
			<-b.release
		}
		if f != nil {
			f()
		}
	})
	t.Cleanup(func() { shards.SetApplyHook(nil) })
	return h
}

// hold starts a write of key on tr that holds its shard until the returned
// blocker is released; it returns once the write is being applied.
func (h *hooks) hold(t *testing.T, tr *shards.Trie[uint64], key string, wg *sync.WaitGroup) *blocker {
	b := newBlocker(key)
	h.mu.Lock()
	h.blockers[key] = b
	h.mu.Unlock()
	t.Cleanup(b.unblock) // a failed test does not leave writers blocked
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := tr.Insert(context.Background(), []byte(key), 1); err != nil {
			t.Error(err)
		}
	}()
	testutil.Within(t, "blocker "+key, func() { <-b.entered })
	return b
}

func (h *hooks) onApply(key string, f func()) {
	h.mu.Lock()
	h.on[key] = f
	h.mu.Unlock()
}

// waitQueued waits until shard i of tr has a queued request.
func waitQueued(t *testing.T, tr *shards.Trie[uint64], i int) {
	testutil.Within(t, fmt.Sprintf("a request queued on shard %d", i), func() {
		for !shards.Queued(tr, i) {
			runtimeGosched()
		}
	})
}

// twoShards starts a trie of two shards: keys below "m" on shard 0, the
// others on shard 1.
func twoShards(t *testing.T) *shards.Trie[uint64] {
	_, tr := startTrie(t, 2, shards.TrieConfig{Router: shards.NewRangeRouter([]byte("m"))})
	return tr
}

// TestNoWaitOnAnotherShard (case 2): a Commit waits on shard 0 (held)
// while shard 1's holder reaches the end of its tenure with requests
// queued; an Insert on shard 1 must not wait for shard 0. (It did: the
// Commit had queued on both shards, shard 1's word was handed to its
// request there, and the Commit, parked on shard 0, held it.)
func TestNoWaitOnAnotherShard(t *testing.T) {
	tr := twoShards(t)
	h := installHooks(t)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ctx := context.Background()
	// A Commit visits its shards from a rotating start: one empty Commit
	// makes the next start at shard 0.
	if err := tr.Batch().Commit(ctx); err != nil {
		t.Fatal(err)
	}
	b0 := h.hold(t, tr, "a-block", &wg)
	b1 := h.hold(t, tr, "z-block", &wg)
	// Shard 1's tenure goes on for maxRounds rounds: each round's write
	// queues the next before it returns.
	const rounds = 16
	insert := func(k string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := tr.Insert(ctx, []byte(k), 1); err != nil {
				t.Error(err)
			}
		}()
	}
	var commitDone atomic.Bool
	chainDone := make(chan struct{})
	for i := 1; i < rounds; i++ {
		h.onApply(fmt.Sprintf("z-chain-%02d", i), func() {
			if i < rounds-1 {
				insert(fmt.Sprintf("z-chain-%02d", i+1))
				waitQueued(t, tr, 1)
				return
			}
			// The last round: a Commit over both shards starts, waits on
			// shard 0 and (the old design) queued on shard 1 too.
			wg.Add(1)
			go func() {
				defer wg.Done()
				bt := tr.Batch()
				bt.Insert([]byte("a-commit"), 1)
				bt.Insert([]byte("z-commit"), 1)
				if err := bt.Commit(ctx); err != nil {
					t.Error(err)
				}
				commitDone.Store(true)
			}()
			waitQueued(t, tr, 0)
			for range 10_000 { // bounded: the new design never queues on shard 1 here
				if shards.Queued(tr, 1) {
					break
				}
				runtimeGosched()
			}
			close(chainDone)
		})
	}
	insert("z-chain-01")
	waitQueued(t, tr, 1)
	b1.unblock()
	testutil.Within(t, "the chain of writes on shard 1", func() { <-chainDone })
	testutil.Within(t, "Insert on shard 1 while a Commit waits on shard 0", func() {
		if _, err := tr.Insert(ctx, []byte("z-after"), 1); err != nil {
			t.Error(err)
		}
	})
	if commitDone.Load() {
		t.Fatal("the Commit returned while shard 0 was held")
	}
	b0.unblock()
	wg.Wait()
	for _, k := range []string{"a-commit", "z-commit", "z-after", "z-chain-15"} {
		if !tr.Contains([]byte(k)) {
			t.Fatalf("%s missing", k)
		}
	}
}

// TestCommitSkipsHeldShard: a Commit applies its chunks for free shards
// before it waits on a held one, from either rotating start. (It waited
// on the first shard of its rotation, held or not: two Commits meeting on
// a shard ran one after the other, one goroutine idle, and 2 producers on
// 2 shards inserted no faster than one.)
func TestCommitSkipsHeldShard(t *testing.T) {
	tr := twoShards(t)
	h := installHooks(t)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ctx := context.Background()
	b0 := h.hold(t, tr, "a-block", &wg)
	// Two Commits, one after the other, take consecutive turns: one
	// starts at shard 0, the other at shard 1. Each must apply its shard-1
	// write and then wait on shard 0.
	var done atomic.Int32
	for _, i := range []int{1, 2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bt := tr.Batch()
			bt.Insert(fmt.Appendf(nil, "a-commit-%d", i), 1)
			bt.Insert(fmt.Appendf(nil, "z-commit-%d", i), 1)
			if err := bt.Commit(ctx); err != nil {
				t.Error(err)
			}
			done.Add(1)
		}()
		z := fmt.Appendf(nil, "z-commit-%d", i)
		testutil.Eventually(t, fmt.Sprintf("Commit %d's shard-1 write while shard 0 is held", i), testutil.HangLimit, func() bool {
			return tr.Contains(z)
		})
	}
	if done.Load() != 0 || tr.Contains([]byte("a-commit-1")) || tr.Contains([]byte("a-commit-2")) {
		t.Fatal("a Commit's shard-0 write was applied while shard 0 was held")
	}
	b0.unblock()
	wg.Wait()
	for _, k := range []string{"a-commit-1", "a-commit-2", "a-block"} {
		if !tr.Contains([]byte(k)) {
			t.Fatalf("%s missing", k)
		}
	}
}

// TestCommitPassesQueuedWrites: a write queued on a shard while a Commit
// applies its chunk there is applied by its own caller, to whom the
// Commit hands the word, not by the Commit's goroutine. (The Commit
// applied it: a producer committing to two shards spent its time applying
// the other producer's chunk while that producer sat parked, and 2
// producers inserted ascending keys 0.67x as fast as one locked trie.)
func TestCommitPassesQueuedWrites(t *testing.T) {
	tr := twoShards(t)
	h := installHooks(t)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	ctx := context.Background()
	var commitG, singleG atomic.Uintptr
	h.onApply("a-commit", func() {
		commitG.Store(gid.Current())
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := tr.Insert(ctx, []byte("a-single"), 1); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(t, tr, 0)
	})
	h.onApply("a-single", func() { singleG.Store(gid.Current()) })
	bt := tr.Batch()
	bt.Insert([]byte("a-commit"), 1)
	bt.Insert([]byte("z-commit"), 1)
	testutil.Within(t, "Commit", func() {
		if err := bt.Commit(ctx); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if commitG.Load() == 0 || singleG.Load() == 0 {
		t.Fatal("a write was not applied")
	}
	if commitG.Load() == singleG.Load() {
		t.Fatal("the Commit's goroutine applied the write queued behind its chunk")
	}
	for _, k := range []string{"a-commit", "z-commit", "a-single"} {
		if !tr.Contains([]byte(k)) {
			t.Fatalf("%s missing", k)
		}
	}
}

// TestPoolFastPathPanic (case 3): an operation that panics on the fast
// path (the caller holds the word) fails with ErrPanicked and frees the
// word: the next operations on the shard go through.
func TestPoolFastPathPanic(t *testing.T) {
	_, p := startPool(t, 1)
	shards.SetPoolApplyHook(func(op string, size int) {
		if op == "alloc" && size == 77 {
			panic("injected")
		}
	})
	defer shards.SetPoolApplyHook(nil)
	ctx := context.Background()
	if _, err := p.Alloc(ctx, 0, 77); !errors.Is(err, shards.ErrPanicked) {
		t.Fatalf("panicking alloc: %v", err)
	}
	testutil.Within(t, "alloc after a panic", func() {
		off, err := p.Alloc(ctx, 0, 64)
		if err != nil {
			t.Error(err)
			return
		}
		if err := p.Free(ctx, off, 64); err != nil {
			t.Error(err)
		}
		if _, err := p.Stats(ctx); err != nil {
			t.Error(err)
		}
	})
}

// TestRestartNoSpuriousStopped (case 4): across Stop/Start cycles, a write
// that starts and ends while the trie is attached never fails with
// ErrStopped.
func TestRestartNoSpuriousStopped(t *testing.T) {
	tr := mustTrie[uint64]()
	var epoch atomic.Int64 // odd: attached
	var quit atomic.Bool
	var wg sync.WaitGroup
	var spurious atomic.Int64
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !quit.Load(); i++ {
				e := epoch.Load()
				_, err := tr.Insert(context.Background(), fmt.Appendf(nil, "r%d-%d", g, i), 1)
				if errors.Is(err, shards.ErrClosed) && e%2 == 1 && epoch.Load() == e {
					spurious.Add(1)
				}
			}
		}()
	}
	for range 60 {
		rt, err := startRT(2, tr)
		if err != nil {
			t.Fatal(err)
		}
		epoch.Add(1)
		n := tr.Len()
		for tr.Len() < n+200 {
			runtimeGosched()
		}
		epoch.Add(1)
		testutil.Within(t, "Stop", func() { _ = rt.Stop(context.Background()) })
	}
	quit.Store(true)
	testutil.Within(t, "writers", wg.Wait)
	if n := spurious.Load(); n > 0 {
		t.Fatalf("%d writes failed with ErrStopped while the trie was attached", n)
	}
}

// TestQueuedWriteHonoursContext (case 5): a write queued behind a held
// shard returns its context's error when the context ends before the write
// is taken, and is never applied; a write taken before its context ends is
// applied and returns nil.
func TestQueuedWriteHonoursContext(t *testing.T) {
	tr := twoShards(t)
	h := installHooks(t)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	b0 := h.hold(t, tr, "a-block", &wg)

	// Ended before taken: ctx's error, never applied.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := tr.Insert(ctx, []byte("a-late"), 1)
		errc <- err
	}()
	waitQueued(t, tr, 0)
	cancel()
	testutil.Within(t, "queued Insert after its ctx ended", func() {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("queued Insert: %v, want context.Canceled", err)
		}
	})
	// The same for a queued Delete (on shard 1, whose queue is empty).
	b1 := h.hold(t, tr, "z-block", &wg)
	dctx, dcancel := context.WithCancel(context.Background())
	go func() {
		_, _, err := tr.Delete(dctx, []byte("z-block"))
		errc <- err
	}()
	waitQueued(t, tr, 1)
	dcancel()
	testutil.Within(t, "queued Delete after its ctx ended", func() {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("queued Delete: %v, want context.Canceled", err)
		}
	})

	b1.unblock()
	// Taken, then its ctx ends while it is applied: applied, nil.
	tctx, tcancel := context.WithCancel(context.Background())
	taken := newBlocker("a-taken")
	h.mu.Lock()
	h.blockers["a-taken"] = taken
	h.mu.Unlock()
	go func() {
		_, err := tr.Insert(tctx, []byte("a-taken"), 1)
		errc <- err
	}()
	waitQueued(t, tr, 0)
	b0.unblock() // the holder takes a-taken and blocks applying it
	testutil.Within(t, "a-taken applied", func() { <-taken.entered })
	tcancel()
	taken.unblock()
	testutil.Within(t, "taken Insert", func() {
		if err := <-errc; err != nil {
			t.Errorf("taken Insert: %v, want nil", err)
		}
	})
	wg.Wait()
	if tr.Contains([]byte("a-late")) || !tr.Contains([]byte("a-taken")) || !tr.Contains([]byte("z-block")) {
		t.Fatalf("a-late %v (want absent), a-taken %v, z-block %v (want present)",
			tr.Contains([]byte("a-late")), tr.Contains([]byte("a-taken")), tr.Contains([]byte("z-block")))
	}
}

// TestHugeBatchLetsWritesIn (case 5): a single write queued while a huge
// batch is applied to its shard is applied after at most a tenure's work
// of the batch, not after the whole batch.
func TestHugeBatchLetsWritesIn(t *testing.T) {
	_, tr := startTrie(t, 1)
	h := &hooks{on: map[string]func(){}}
	t.Cleanup(func() { shards.SetApplyHook(nil) })
	const n = 100_000
	var applied atomic.Int64
	var atSingle atomic.Int64
	atSingle.Store(-1)
	var wg sync.WaitGroup
	defer wg.Wait()
	h.onApply("b000000", func() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := tr.Insert(context.Background(), []byte("single"), 1); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(t, tr, 0)
	})
	h.onApply("single", func() { atSingle.Store(applied.Load()) })
	shards.SetApplyHook(func(k []byte) {
		if k[0] == 'b' {
			applied.Add(1)
		}
		h.mu.Lock()
		f := h.on[string(k)]
		h.mu.Unlock()
		if f != nil {
			f()
		}
	})
	b := tr.Batch()
	for i := range n {
		b.Insert(fmt.Appendf(nil, "b%06d", i), 1)
	}
	testutil.Within(t, "huge Commit", func() {
		if err := b.Commit(context.Background()); err != nil {
			t.Error(err)
		}
	})
	wg.Wait()
	if got := atSingle.Load(); got < 0 || got > shards.MaxTenureWork {
		t.Fatalf("the single write was applied after %d of the batch's %d writes, want at most %d", got, n, shards.MaxTenureWork)
	}
	if tr.Len() != n+1 {
		t.Fatalf("Len %d, want %d", tr.Len(), n+1)
	}
}

// TestBatchErrorComplete (case 6): a batch in which many writes fail
// reports every failed index (and its cause) in its value, and a bounded
// text.
func TestBatchErrorComplete(t *testing.T) {
	_, tr := startTrie(t, 3)
	long := strings.Repeat("x", 70_000) // above trie.MaxKeyLen
	b := tr.Batch()
	var want []int
	for i := range 3000 {
		if i%3 == 1 {
			b.Insert(fmt.Appendf(nil, "%s%d", long, i), 1)
			want = append(want, i)
			continue
		}
		b.Insert(fmt.Appendf(nil, "k%05d", i), 1)
	}
	err := b.Commit(context.Background())
	var be *shards.BatchError
	if !errors.As(err, &be) || be.Failed != len(want) || be.Total != 3000 {
		t.Fatalf("Commit: %v", err)
	}
	if got := be.Indices(); !slices.Equal(got, want) {
		t.Fatalf("Indices: %d of them, want %d (first %v)", len(got), len(want), got[:min(len(got), 5)])
	}
	i := 0
	for idx, cause := range be.All() {
		if idx != want[i] || !errors.Is(cause, trie.ErrKeyTooLong) {
			t.Fatalf("All()[%d] = %d, %v; want %d, ErrKeyTooLong", i, idx, cause, want[i])
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("All yielded %d, want %d", i, len(want))
	}
	if len(err.Error()) > 1024 {
		t.Fatalf("error text of %d bytes", len(err.Error()))
	}
	if tr.Len() != 2000 {
		t.Fatalf("Len %d, want 2000", tr.Len())
	}
}

// TestZeroValueAndNilContext (case 18): a zero Trie and a zero Pool given
// to Start work; a nil context is an error, not a panic.
func TestZeroValueAndNilContext(t *testing.T) {
	var tr shards.Trie[uint64]
	var p shards.Pool
	rt, err := startRT(2, &tr, &p)
	if err != nil {
		t.Fatalf("Start with zero values: %v", err)
	}
	defer func() { _ = rt.Stop(context.Background()) }()
	ctx := context.Background()
	if _, err := tr.Insert(ctx, []byte("k"), 1); err != nil {
		t.Fatal(err)
	}
	if v, ok := tr.Get([]byte("k")); !ok || v != 1 {
		t.Fatalf("Get: %d %v", v, ok)
	}
	off, err := p.Alloc(ctx, 1, 64)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Free(ctx, off, 64); err != nil {
		t.Fatal(err)
	}
	var nilCtx context.Context
	checks := map[string]func() error{
		"Insert":  func() error { _, err := tr.Insert(nilCtx, []byte("k"), 1); return err },
		"Delete":  func() error { _, _, err := tr.Delete(nilCtx, []byte("k")); return err },
		"Commit":  func() error { b := tr.Batch(); b.Insert([]byte("x"), 1); return b.Commit(nilCtx) },
		"Reclaim": func() error { return tr.Reclaim(nilCtx) },
		"Alloc":   func() error { _, err := p.Alloc(nilCtx, 0, 64); return err },
		"Free":    func() error { return p.Free(nilCtx, off, 64) },
		"Stats":   func() error { _, err := p.Stats(nilCtx); return err },
	}
	for name, f := range checks {
		var err error
		func() {
			defer func() {
				if pv := recover(); pv != nil {
					t.Errorf("%s with a nil context panicked: %v", name, pv)
				}
			}()
			err = f()
		}()
		if err == nil || !strings.Contains(err.Error(), "context.Background()") {
			t.Errorf("%s with a nil context: %v, want an error that says what to pass", name, err)
		}
	}
	if tr.Contains([]byte("x")) {
		t.Fatal("a Commit with a nil context applied a write")
	}
}

// TestPoolBadFreesRefused (case 7): FreeOn of offsets that start no live
// block, and a double free, return pool.ErrInvalidFree in every build; the
// pool's accounting stays exact and no offset is handed out twice.
func TestPoolBadFreesRefused(t *testing.T) {
	_, p := startPool(t, 1)
	ctx := context.Background()
	live := map[shards.Offset]bool{}
	for range 1000 {
		off, err := p.Alloc(ctx, 0, 64)
		if err != nil {
			t.Fatal(err)
		}
		if live[off] {
			t.Fatalf("offset %#x handed out twice", off)
		}
		live[off] = true
	}
	st, err := p.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	inUse, capacity := st.InUse(), st.Shards[0].Capacity
	for i := int64(8); i < capacity; i += 8 * 997 {
		off := shards.Offset(i)
		if live[off] {
			continue
		}
		if err := p.Free(ctx, off, 64); !errors.Is(err, pool.ErrInvalidFree) {
			t.Fatalf("FreeOn(%#x), no live block there: %v", i, err)
		}
	}
	var victim shards.Offset
	for off := range live {
		victim = off
		break
	}
	if err := p.Free(ctx, victim, 64); err != nil {
		t.Fatal(err)
	}
	if err := p.Free(ctx, victim, 64); !errors.Is(err, pool.ErrInvalidFree) {
		t.Fatalf("double FreeOn: %v", err)
	}
	a, _ := p.Alloc(ctx, 0, 64)
	b, _ := p.Alloc(ctx, 0, 64)
	if a == b {
		t.Fatalf("two live blocks at %#x after a double free", a)
	}
	if st, _ := p.Stats(ctx); st.InUse() != inUse+64 {
		t.Fatalf("InUse %d, want %d", st.InUse(), inUse+64)
	}
}
