package mailbox_test

import (
	"context"
	"errors"
	"sort"
	"testing"
	"time"

	"github.com/zipora-go/zipora/mailbox"
)

func TestNewBoundedInvalidCapacity(t *testing.T) {
	for _, c := range []int{0, -1, -1 << 40, 1<<32 + 1} {
		m, err := mailbox.NewBounded[int](c, mailbox.Config{})
		if m != nil || !errors.Is(err, mailbox.ErrInvalidCapacity) {
			t.Fatalf("NewBounded(%d) = %v, %v", c, m, err)
		}
	}
	for _, c := range []int{1, 3, 1000, 1024} {
		m, err := mailbox.NewBounded[int](c, mailbox.Config{})
		if err != nil || m.Cap() != c {
			t.Fatalf("NewBounded(%d): %v, cap %d", c, err, m.Cap())
		}
	}
	if c := mailbox.New[int](mailbox.Config{}).Cap(); c != 0 {
		t.Fatalf("unbounded Cap = %d", c)
	}
}

// fill sends capacity items into a bounded mailbox and checks that the
// next TrySend fails with ErrFull.
func fill(t *testing.T, m *mailbox.Mailbox[uint64]) {
	t.Helper()
	for i := range m.Cap() {
		if err := m.TrySend(uint64(1000 + i)); err != nil {
			t.Fatalf("TrySend %d: %v", i, err)
		}
	}
	if err := m.TrySend(1); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("TrySend on full = %v", err)
	}
	if err := m.TrySendBatch([]uint64{1}); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("TrySendBatch on full = %v", err)
	}
}

func TestBoundedTrySendAndBatchLimits(t *testing.T) {
	for _, c := range []int{1, 3, 4} {
		m, _ := mailbox.NewBounded[uint64](c, mailbox.Config{})
		if err := m.SendBatch(make([]uint64, c+1)); !errors.Is(err, mailbox.ErrBatchTooLarge) {
			t.Fatalf("cap %d: oversized batch = %v", c, err)
		}
		if err := m.TrySendBatch(make([]uint64, c)); err != nil {
			t.Fatalf("cap %d: full-size batch = %v", c, err)
		}
		if err := m.TrySend(1); !errors.Is(err, mailbox.ErrFull) {
			t.Fatalf("cap %d: TrySend on full = %v", c, err)
		}
		if _, ok := m.TryReceive(); !ok {
			t.Fatal("TryReceive on full: nothing")
		}
		if err := m.TrySend(1); err != nil {
			t.Fatalf("cap %d: TrySend after a receive = %v", c, err)
		}
	}
}

// TestBoundedBlockedProducersResume: producers blocked on a full mailbox
// park (and stay parked: no spinning, no churn), then resume as the
// consumer drains; every item arrives.
func TestBoundedBlockedProducersResume(t *testing.T) {
	for _, capacity := range []int{4, 5} {
		m, _ := mailbox.NewBounded[uint64](capacity, mailbox.Config{})
		fill(t, m)
		const producers = 8
		wait := producersRun(t, producers, func(p int) error {
			if p%2 == 0 {
				return m.Send(uint64(p))
			}
			return m.SendBatch([]uint64{uint64(p), uint64(p + 100)})
		})
		waitFor(t, "producers parked", func() bool { return m.Stats().ProducerParks >= producers })
		parks := m.Stats().ProducerParks
		time.Sleep(20 * time.Millisecond) // provoke: a spinning or churning producer would show now
		if now := m.Stats().ProducerParks; now != parks {
			t.Fatalf("blocked producers re-parked without room: %d -> %d", parks, now)
		}
		if l := m.Len(); l != capacity {
			t.Fatalf("Len = %d, want %d", l, capacity)
		}
		var got []uint64
		for len(got) < capacity+producers+producers/2 {
			v, err := m.Receive(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		wait()
		sort.Slice(got, func(i, j int) bool { return got[i] < got[j] })
		var want []uint64
		for p := range producers {
			want = append(want, uint64(p))
			if p%2 == 1 {
				want = append(want, uint64(p+100))
			}
		}
		for i := range capacity {
			want = append(want, uint64(1000+i))
		}
		sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("got %v, want %v", got, want)
			}
		}
		if v, ok := m.TryReceive(); ok {
			t.Fatalf("extra item %d", v)
		}
	}
}

// TestBoundedSendContext: a blocked SendContext gives up with the
// context's error and its item is never delivered; an item that fits is
// accepted even with a done context.
func TestBoundedSendContext(t *testing.T) {
	m, _ := mailbox.NewBounded[uint64](2, mailbox.Config{})
	fill(t, m)

	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan error, 2)
	go func() { out <- m.SendContext(ctx, 7) }()
	go func() { out <- m.SendBatchContext(ctx, []uint64{8, 9}) }()
	waitFor(t, "producers parked", func() bool { return m.Stats().ProducerParks >= 2 })
	cancel()
	for range 2 {
		if err := <-out; !errors.Is(err, context.Canceled) {
			t.Fatalf("SendContext after cancel = %v", err)
		}
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer dcancel()
	if err := m.SendContext(dctx, 7); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendContext with deadline = %v", err)
	}
	if l := m.Len(); l != 2 {
		t.Fatalf("Len = %d after refused sends", l)
	}
	for _, want := range []uint64{1000, 1001} {
		if v, ok := m.TryReceive(); !ok || v != want {
			t.Fatalf("TryReceive = %d, %v; want %d", v, ok, want)
		}
	}
	if v, ok := m.TryReceive(); ok {
		t.Fatalf("a cancelled send was delivered: %d", v)
	}
	// Room available: accepted even though ctx is done.
	if err := m.SendContext(ctx, 3); err != nil {
		t.Fatalf("SendContext with room and a done context = %v", err)
	}
}

// TestBoundedCloseWakesBlockedProducers: producers blocked on a full
// mailbox return ErrClosed when it is closed; only the items accepted
// before are delivered.
func TestBoundedCloseWakesBlockedProducers(t *testing.T) {
	m, _ := mailbox.NewBounded[uint64](3, mailbox.Config{})
	fill(t, m)
	const producers = 5
	out := make(chan error, producers)
	for p := range producers {
		go func() {
			if p%2 == 0 {
				out <- m.Send(uint64(p))
			} else {
				out <- m.SendContext(context.Background(), uint64(p))
			}
		}()
	}
	waitFor(t, "producers parked", func() bool { return m.Stats().ProducerParks >= producers })
	m.Close()
	for range producers {
		if err := <-out; !errors.Is(err, mailbox.ErrClosed) {
			t.Fatalf("blocked Send after Close = %v", err)
		}
	}
	n, err := m.ReceiveBatch(context.Background(), make([]uint64, 10))
	if n != 3 || err != nil {
		t.Fatalf("ReceiveBatch = %d, %v", n, err)
	}
	if _, err := m.Receive(context.Background()); !errors.Is(err, mailbox.ErrClosed) {
		t.Fatalf("Receive after drain = %v", err)
	}
}
