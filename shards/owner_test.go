package shards

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// addOp adds n to the shard's sum; done counts its completions.
type addOp struct {
	n    int64
	seen int64 // the sum the holder saw after applying it
	err  error
}

// sumShard is a session over a plain (holder-only) sum: any race between
// two holders is caught by -race and by the conservation check.
type sumShard struct {
	own       owner[addOp]
	sum       int64 // holder only
	published atomic.Int64
	tenures   int // holder only
	onApply   func(*addOp)
	panicOn   int64 // apply panics for this n
	begins    atomic.Int64
}

func (s *sumShard) begin() {
	s.mustHold("begin")
	s.tenures++
	s.begins.Add(1)
}

// mustHold panics unless the word is held: the session runs only on the
// holder.
func (s *sumShard) mustHold(what string) {
	if w := s.own.word.Load(); w != ownHeld && w != ownClosing {
		panic(what + " without the word")
	}
}

func (s *sumShard) apply(op *addOp) int {
	s.mustHold("apply")
	if op.n == s.panicOn {
		panic("boom")
	}
	s.sum += op.n
	op.seen = s.sum
	if s.onApply != nil {
		s.onApply(op)
	}
	return 1
}

func (s *sumShard) publish()                  { s.published.Store(s.sum) }
func (s *sumShard) fail(op *addOp, err error) { op.err = err }
func (s *sumShard) guard(op *addOp, pv any)   { op.err = fmt.Errorf("%w: %v", ErrPanicked, pv) }

// add is a write as the sharded structures make one: applied at once when
// the word is free, else queued and waited for. It returns the op done.
func (s *sumShard) add(n int64) addOp {
	op, _ := s.addCtx(context.Background(), n)
	return op
}

// TestOwnerConservation: goroutines add distinct numbers; every add is
// applied exactly once (the final sum is the sum of all), each returns only
// after a publication that includes it, and the word ends free with an
// empty queue.
func TestOwnerConservation(t *testing.T) {
	for _, g := range []int{1, goruntime.GOMAXPROCS(0), 64} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			var s sumShard
			per := 500
			var wg sync.WaitGroup
			for i := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range per {
						n := int64(i*per+j) + 1
						op := s.add(n)
						if op.err != nil {
							t.Error(op.err)
							return
						}
						// Visible once returned: the publication covers it.
						if p := s.published.Load(); p < op.seen {
							t.Errorf("add %d returned before its publication: published %d < %d", n, p, op.seen)
							return
						}
					}
				}()
			}
			wg.Wait()
			total := int64(g * per)
			if want := total * (total + 1) / 2; s.sum != want || s.published.Load() != want {
				t.Fatalf("sum %d published %d, want %d", s.sum, s.published.Load(), want)
			}
			if s.own.word.Load() != ownFree || s.own.queue.Load() != nil {
				t.Fatalf("word %d, queue empty %v after the last add", s.own.word.Load(), s.own.queue.Load() == nil)
			}
			t.Logf("%d adds in %d tenures", total, s.tenures)
		})
	}
}

// TestOwnerTenureBounded: while the holder applies, new requests keep
// arriving; after maxRounds rounds the holder hands the word on instead of
// serving forever, and every request still completes exactly once.
func TestOwnerTenureBounded(t *testing.T) {
	var s sumShard
	const arrivals = 3 * maxRounds
	var pushed atomic.Int64
	var wg sync.WaitGroup
	var holderDone atomic.Bool
	handedOn := make(chan int64, 1)
	s.onApply = func(op *addOp) {
		if holderDone.Load() {
			return
		}
		if k := pushed.Add(1); k <= arrivals {
			r := newRequest[addOp]()
			r.op = addOp{n: 1000 + k}
			s.own.push(r, false) // arrives during the tenure
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = s.own.wait(context.Background(), &s, r)
				if r.op.err != nil {
					t.Error(r.op.err)
				}
			}()
		}
	}
	if !s.own.tryAcquire() {
		t.Fatal("a fresh word is held")
	}
	s.begin()
	op := addOp{n: 1}
	s.apply(&op)
	s.own.serve(&s, nil)
	holderDone.Store(true)
	handedOn <- s.begins.Load()
	wg.Wait()
	want := int64(1)
	for k := int64(1); k <= pushed.Load(); k++ {
		want += 1000 + k
	}
	if s.sum != want {
		t.Fatalf("sum %d, want %d", s.sum, want)
	}
	if b := <-handedOn; b != 1 {
		t.Fatalf("the first tenure saw %d begins", b)
	}
	if s.begins.Load() < 2 {
		t.Fatalf("%d arrivals served in one tenure: the tenure is not bounded", pushed.Load())
	}
}

// TestOwnerPanicReleases: an operation that panics fails alone; the word
// is released and the shard stays usable.
func TestOwnerPanicReleases(t *testing.T) {
	var s sumShard
	s.panicOn = 7
	if op := s.add(7); !errors.Is(op.err, ErrPanicked) {
		t.Fatalf("panicking add: %v", op.err)
	}
	if op := s.add(5); op.err != nil || s.sum != 5 {
		t.Fatalf("add after a panic: %v, sum %d", op.err, s.sum)
	}
	if s.own.word.Load() != ownFree {
		t.Fatal("word held after the panic")
	}
}

// TestOwnerCloseRacesAdds: close races adders; every add either applied
// (no error, counted in the sum) or failed with ErrClosed (not counted),
// and nobody hangs.
func TestOwnerCloseRacesAdds(t *testing.T) {
	for round := range 20 {
		var s sumShard
		var applied atomic.Int64
		var wg sync.WaitGroup
		var started atomic.Int64
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 200 {
					started.Add(1)
					n := int64(i*1000 + j + 1)
					op := s.add(n)
					switch {
					case op.err == nil:
						applied.Add(n)
					case errors.Is(op.err, ErrClosed):
					default:
						t.Error(op.err)
						return
					}
				}
			}()
		}
		for started.Load() < int64(round*40) {
			goruntime.Gosched()
		}
		s.own.close(&s)
		testutil.Within(t, "adders after close", wg.Wait)
		if s.sum != applied.Load() {
			t.Fatalf("round %d: sum %d, acknowledged %d", round, s.sum, applied.Load())
		}
		s.own.open()
		if op := s.add(1); op.err != nil {
			t.Fatalf("add after reopen: %v", op.err)
		}
	}
}

// addCtx is add with a context: ctx's error when the add was cancelled
// before it was taken (then it was never applied).
func (s *sumShard) addCtx(ctx context.Context, n int64) (addOp, error) {
	op := addOp{n: n}
	if s.own.tryAcquire() {
		s.begin()
		applyGuarded[addOp](s, &op)
		s.own.serve(s, nil)
		return op, nil
	}
	r := newRequest[addOp]()
	r.op = op
	s.own.push(r, ctx.Done() != nil)
	if err := s.own.wait(ctx, s, r); err != nil {
		return op, err
	}
	return r.op, nil
}

// TestOwnerReopenedNotFailed (case 4): a goroutine that saw the word closed
// and goes on to fail the queue after the shard reopened must not fail a
// request pushed to the open shard: only the holder of a closed word's
// drainer role takes the queue.
func TestOwnerReopenedNotFailed(t *testing.T) {
	var s sumShard
	s.own.close(&s)
	s.own.open()
	r := newRequest[addOp]()
	r.op = addOp{n: 3}
	s.own.push(r, false)  // pushed to the open shard
	s.own.drainClosed(&s) // what a waiter that loaded ownClosed before open does next
	if st := r.state.Load(); st != reqWaiting || r.op.err != nil {
		t.Fatalf("a request pushed after reopening: state %d, err %v", st, r.op.err)
	}
	testutil.Within(t, "the request on the reopened shard", func() {
		if err := s.own.wait(context.Background(), &s, r); err != nil || r.op.err != nil || s.sum != 3 {
			t.Errorf("wait: %v, op %v, sum %d", err, r.op.err, s.sum)
		}
	})
}

// TestOwnerCancelConservation: adders with contexts that end at random
// moments; every add that returned nil was applied exactly once, every add
// that returned ctx's error was never applied (the sum is that of the
// acknowledged adds), at 1, GOMAXPROCS and 64 goroutines.
func TestOwnerCancelConservation(t *testing.T) {
	for _, g := range []int{1, goruntime.GOMAXPROCS(0), 64} {
		t.Run(fmt.Sprintf("goroutines=%d", g), func(t *testing.T) {
			var s sumShard
			var acked, cancelled atomic.Int64
			var wg sync.WaitGroup
			for i := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range 300 {
						n := int64(i*1000 + j + 1)
						ctx, cancel := context.WithCancel(context.Background())
						if j%3 == 0 {
							cancel() // ends while (or before) the add waits
						} else if j%3 == 1 {
							go cancel()
						}
						op, err := s.addCtx(ctx, n)
						cancel()
						switch {
						case err == nil && op.err == nil:
							acked.Add(n)
						case errors.Is(err, context.Canceled):
							cancelled.Add(1)
						default:
							t.Error(err, op.err)
							return
						}
					}
				}()
			}
			testutil.Within(t, "adders", wg.Wait)
			if s.sum != acked.Load() {
				t.Fatalf("sum %d, acknowledged %d (%d cancelled)", s.sum, acked.Load(), cancelled.Load())
			}
			t.Logf("%d cancelled before taken", cancelled.Load())
		})
	}
}

// TestOwnerCloseUnderHandOff: close while every tenure ends by handing the
// word on (it is never free) returns, and every add is applied or failed
// with ErrClosed, never both.
func TestOwnerCloseUnderHandOff(t *testing.T) {
	var s sumShard
	var applied atomic.Int64
	var quit atomic.Bool
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !quit.Load(); j++ {
				n := int64(i*1_000_000 + j + 1)
				op := s.add(n)
				if op.err == nil {
					applied.Add(n)
				} else if !errors.Is(op.err, ErrClosed) {
					t.Error(op.err)
					return
				}
			}
		}()
	}
	for s.begins.Load() < 1000 {
		goruntime.Gosched()
	}
	testutil.Within(t, "close under load", func() { s.own.close(&s) })
	quit.Store(true)
	testutil.Within(t, "adders", wg.Wait)
	if s.sum != applied.Load() {
		t.Fatalf("sum %d, acknowledged %d", s.sum, applied.Load())
	}
}
