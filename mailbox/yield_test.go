package mailbox_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/mailbox"
)

// TestYieldBoundsBacklog: on one P, a producer flooding an unbounded
// mailbox with Config.Yield 64 lets its consumer catch up: the backlog the
// producer sees stays near 64 (plus one sampling interval), every item
// arrives once, in order.
func TestYieldBoundsBacklog(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	const n, limit = 200_000, 64
	m := mailbox.New[uint64](mailbox.Config{Yield: limit, Spin: mailbox.NoSpin})
	done := make(chan error, 1)
	go func() {
		buf := make([]uint64, 32)
		next := uint64(0)
		for next < n {
			k, err := m.ReceiveBatch(context.Background(), buf)
			if err != nil {
				done <- err
				return
			}
			for _, v := range buf[:k] {
				if v != next {
					t.Errorf("got %d, want %d", v, next)
				}
				next++
			}
		}
		done <- nil
	}()
	most := 0
	for i := range uint64(n) {
		if err := m.Send(i); err != nil {
			t.Fatal(err)
		}
		most = max(most, m.Len())
	}
	testutil.Within(t, "consumer", func() {
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	t.Logf("largest backlog seen by the producer: %d", most)
	if most > 4*limit {
		t.Fatalf("backlog reached %d with Config.Yield %d", most, limit)
	}
}

// TestYieldWithoutConsumer: with no consumer running, Config.Yield costs a
// few yields and never blocks: every send is accepted.
func TestYieldWithoutConsumer(t *testing.T) {
	m := mailbox.New[uint64](mailbox.Config{Yield: 16})
	testutil.Within(t, "sends", func() {
		for i := range uint64(10_000) {
			if err := m.Send(i); err != nil {
				t.Error(err)
				return
			}
		}
		if err := m.SendBatch(make([]uint64, 1000)); err != nil {
			t.Error(err)
		}
	})
	if m.Len() != 11_000 {
		t.Fatalf("Len = %d, want 11000", m.Len())
	}
}
