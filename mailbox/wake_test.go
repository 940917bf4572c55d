package mailbox_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/mailbox"
)

// Regression tests for issue 13 case 1: a sender blocked on a full bounded
// mailbox proceeds as soon as one slot is free, and a TrySend cannot take
// that slot first.

// blocked is the item of the Send that blocks.
const blocked = 7777

// blockedSend returns a full bounded mailbox of the given capacity with a
// Send of blocked parked on it; the Send's result arrives on sent.
func blockedSend(t *testing.T, capacity int) (m *mailbox.Mailbox[uint64], sent chan error) {
	t.Helper()
	m, err := mailbox.NewBounded[uint64](capacity, mailbox.Config{})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, m)
	sent = make(chan error, 1)
	go func() { sent <- m.Send(blocked) }()
	waitFor(t, "producer parked", func() bool { return m.Stats().ProducerParks >= 1 })
	return m, sent
}

// TestBlockedSendWokenByFreeSlot: 256 slots, a Send blocked on the full
// mailbox, then the consumer takes 64 items and no more: the Send must
// complete (it used to wait until half the ring was free).
func TestBlockedSendWokenByFreeSlot(t *testing.T) {
	for _, take := range []int{64, 1} {
		m, sent := blockedSend(t, 256)
		if n, err := m.ReceiveBatch(context.Background(), make([]uint64, take)); n != take || err != nil {
			t.Fatalf("ReceiveBatch: %d, %v", n, err)
		}
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(testutil.HangLimit):
			t.Fatalf("Send still blocked %v after %d of 256 slots were freed", testutil.HangLimit, take)
		}
		m.Close()
	}
}

// TestTrySendDefersToBlockedSend: while a Send waits for room, TrySend
// returns ErrFull even when a slot was just freed: the slot goes to the
// waiting Send.
func TestTrySendDefersToBlockedSend(t *testing.T) {
	m, sent := blockedSend(t, 4)
	if err := m.TrySend(100); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("TrySend on a full mailbox: %v", err)
	}
	if _, err := m.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(testutil.HangLimit)
	for done := false; !done; {
		select {
		case err := <-sent:
			if err != nil {
				t.Fatal(err)
			}
			done = true
		case <-deadline:
			t.Fatalf("Send still blocked %v after a slot was freed", testutil.HangLimit)
		default:
			if err := m.TrySend(101); err == nil {
				t.Fatal("TrySend took the slot freed for a blocked Send")
			}
			runtime.Gosched()
		}
	}
	buf := make([]uint64, 4)
	if n, _ := m.ReceiveBatch(context.Background(), buf); n != 4 || buf[3] != blocked {
		t.Fatalf("mailbox holds %v, want three filled items, then the blocked Send's", buf[:n])
	}
	m.Close()
}
