package shards_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
)

// TestAttackCommitsCancelsStop: batches (some larger than a chunk) and
// single writes with contexts that end at random moments race a Stop, at
// 1, GOMAXPROCS and 16 goroutines. Conservation: every write acknowledged
// (nil, or not among a BatchError's Indices) is present afterwards, every
// write reported failed is absent, and every failure is ctx's error or
// ErrStopped.
func TestAttackCommitsCancelsStop(t *testing.T) {
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 16} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			tr := mustTrie[uint64]()
			rt, err := startRT(2, tr)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var acked, failed [][]byte
			var writes atomic.Int64
			var wg sync.WaitGroup
			expected := func(err error) bool {
				return errors.Is(err, context.Canceled) || errors.Is(err, shards.ErrClosed)
			}
			for w := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						ctx, cancel := context.WithCancel(context.Background())
						switch i % 4 {
						case 1:
							go cancel()
						case 2:
							go func() { runtime.Gosched(); cancel() }()
						}
						var ok, bad [][]byte
						if i%2 == 0 {
							n := 1 + (i*37)%1500
							b := tr.Batch()
							keys := make([][]byte, n)
							for j := range n {
								keys[j] = fmt.Appendf(nil, "b%d-%d-%d", w, i, j)
								b.Insert(keys[j], 1)
							}
							err := b.Commit(ctx)
							var be *shards.BatchError
							switch {
							case err == nil:
								ok = keys
							case errors.As(err, &be):
								isBad := make(map[int]bool, be.Failed)
								for idx, cause := range be.All() {
									if !expected(cause) {
										t.Errorf("write %d: %v", idx, cause)
									}
									isBad[idx] = true
								}
								if len(isBad) != be.Failed || len(be.Indices()) != be.Failed {
									t.Errorf("BatchError: %d failed, %d indices", be.Failed, len(isBad))
								}
								for j, k := range keys {
									if isBad[j] {
										bad = append(bad, k)
									} else {
										ok = append(ok, k)
									}
								}
							default:
								t.Errorf("Commit: %v", err)
							}
						} else {
							k := fmt.Appendf(nil, "s%d-%d", w, i)
							if _, err := tr.Insert(ctx, k, 1); err == nil {
								ok = [][]byte{k}
							} else if expected(err) {
								bad = [][]byte{k}
							} else {
								t.Errorf("Insert: %v", err)
							}
						}
						cancel()
						mu.Lock()
						acked = append(acked, ok...)
						failed = append(failed, bad...)
						mu.Unlock()
						writes.Add(int64(len(ok) + len(bad)))
						if len(ok) == 0 && len(bad) > 0 && errors.Is(firstErr(tr), shards.ErrClosed) {
							return
						}
					}
				}()
			}
			for writes.Load() < 20_000 {
				runtime.Gosched()
			}
			testutil.Within(t, "Stop under the attack", func() { _ = rt.Stop(context.Background()) })
			testutil.Within(t, "writers after Stop", wg.Wait)
			for _, k := range acked {
				if !tr.Contains(k) {
					t.Fatalf("acknowledged write %q absent", k)
				}
			}
			for _, k := range failed {
				if tr.Contains(k) {
					t.Fatalf("failed write %q present", k)
				}
			}
			if tr.Len() != len(acked) {
				t.Fatalf("Len %d, %d acknowledged", tr.Len(), len(acked))
			}
			t.Logf("%d acknowledged, %d failed", len(acked), len(failed))
		})
	}
}

// firstErr returns the error of a probe write (a delete of a key never
// inserted): ErrClosed once the trie is detached.
func firstErr(tr *shards.Trie[uint64]) error {
	_, _, err := tr.Delete(context.Background(), []byte("\x00probe-never-present"))
	return err
}

// TestAttackPoolCancels: allocations and frees with contexts that end at
// random moments, from 1, GOMAXPROCS and 16 goroutines on two shards.
// Conservation: an Alloc that returned ctx's error allocated nothing and
// a Free that returned it freed nothing (it is retried), so once every
// acknowledged block is freed the pool has 0 bytes in use.
func TestAttackPoolCancels(t *testing.T) {
	for _, g := range []int{1, runtime.GOMAXPROCS(0), 16} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			_, p := startPool(t, 2)
			var wg sync.WaitGroup
			var cancelled atomic.Int64
			for w := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var held []shards.Offset
					for i := range 2000 {
						ctx, cancel := context.WithCancel(context.Background())
						if i%3 != 0 {
							go cancel()
						}
						if i%4 == 3 && len(held) > 0 {
							off := held[len(held)-1]
							switch err := p.Free(ctx, off, 64); {
							case err == nil:
								held = held[:len(held)-1]
							case errors.Is(err, context.Canceled):
								cancelled.Add(1) // still held: freed below
							default:
								t.Error(err)
							}
						} else {
							switch off, err := p.Alloc(ctx, (w+i)%2, 64); {
							case err == nil:
								held = append(held, off)
							case errors.Is(err, context.Canceled):
								cancelled.Add(1)
							default:
								t.Error(err)
							}
						}
						cancel()
					}
					for _, off := range held {
						if err := p.Free(context.Background(), off, 64); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			testutil.Within(t, "pool attackers", wg.Wait)
			st, err := p.Stats(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if st.InUse() != 0 {
				t.Fatalf("%d bytes in use after every acknowledged block was freed (%d calls cancelled)", st.InUse(), cancelled.Load())
			}
			t.Logf("%d calls cancelled", cancelled.Load())
		})
	}
}
