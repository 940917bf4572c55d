package shards

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
)

func holdSums(ctx context.Context, ss []*sumShard) (func(), error) {
	release, _, err := holdAll(ctx, len(ss), func(i int) *owner[addOp] { return &ss[i].own }, func(i int) session[addOp] { return ss[i] })
	return release, err
}

// TestHoldAllConservation: goroutines add to random shards while another
// holds every word again and again. While held no add is applied anywhere
// (the sums stay put, onApply never runs); every add is applied exactly
// once (the sums), and every word ends free with an empty queue.
func TestHoldAllConservation(t *testing.T) {
	for _, g := range []int{1, goruntime.GOMAXPROCS(0), 32} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			const shards = 4
			ss := make([]*sumShard, shards)
			var holding atomic.Bool
			for i := range ss {
				ss[i] = &sumShard{}
				ss[i].onApply = func(*addOp) {
					if holding.Load() {
						t.Error("an add applied while every word was held")
					}
				}
			}
			per := 400
			var wg sync.WaitGroup
			var want atomic.Int64
			for i := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					r := rand.New(rand.NewPCG(uint64(i), 1))
					for j := range per {
						n := int64(i*per+j) + 1
						if op := ss[r.IntN(shards)].add(n); op.err != nil {
							t.Error(op.err)
							return
						}
						want.Add(n)
					}
				}()
			}
			done := make(chan struct{})
			holds := 0
			go func() {
				defer close(done)
				for holds < 50 {
					release, err := holdSums(context.Background(), ss)
					if err != nil {
						t.Error(err)
						return
					}
					holding.Store(true)
					var before [shards]int64
					for i, s := range ss {
						s.mustHold("hold")
						before[i] = s.sum
					}
					goruntime.Gosched()
					for i, s := range ss {
						if s.sum != before[i] {
							t.Errorf("shard %d changed while held", i)
						}
					}
					holding.Store(false)
					release()
					holds++
				}
			}()
			testutil.Within(t, "adds and holds", func() { wg.Wait(); <-done })
			var sum int64
			for _, s := range ss {
				sum += s.sum
				if s.own.word.Load() != ownFree || s.own.queue.Load() != nil {
					t.Fatalf("word %d, queue empty %v at the end", s.own.word.Load(), s.own.queue.Load() == nil)
				}
			}
			if sum != want.Load() {
				t.Fatalf("sum %d, want %d", sum, want.Load())
			}
		})
	}
}

// TestHoldAllCancelAndClosed: holdAll waiting behind a stuck holder ends
// with ctx's error and gives back the words it took; on a closed shard it
// fails with ErrClosed.
func TestHoldAllCancelAndClosed(t *testing.T) {
	ss := []*sumShard{{}, {}, {}}
	stuck, unstick := make(chan struct{}), make(chan struct{})
	ss[1].onApply = func(op *addOp) {
		if op.n == 99 {
			close(stuck)
			<-unstick
		}
	}
	go ss[1].add(99)
	<-stuck
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	testutil.Within(t, "holdAll behind a stuck holder", func() {
		if _, err := holdSums(ctx, ss); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("holdAll behind a stuck holder: %v", err)
		}
	})
	if w := ss[0].own.word.Load(); w != ownFree {
		t.Fatalf("shard 0's word %d after a failed holdAll", w)
	}
	close(unstick)
	testutil.Within(t, "holdAll after the holder left", func() {
		release, err := holdSums(context.Background(), ss)
		if err != nil {
			t.Error(err)
			return
		}
		release()
	})
	ss[2].own.close(ss[2])
	if _, err := holdSums(context.Background(), ss); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed shard: %v", err)
	}
	for _, s := range ss[:2] {
		if w := s.own.word.Load(); w != ownFree {
			t.Fatalf("word %d after a failed holdAll", w)
		}
	}
}
