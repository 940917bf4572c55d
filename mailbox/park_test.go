package mailbox_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/zipora-go/zipora/mailbox"
)

// parked waits until the consumer of m has gone to sleep n times in total.
func parked(tb testing.TB, m *mailbox.Mailbox[uint64], n uint64) {
	tb.Helper()
	waitFor(tb, "consumer parked", func() bool { return m.Stats().Parks >= n && m.Waiting() })
}

// result of a receive run on another goroutine.
type result struct {
	v   uint64
	n   int
	err error
}

// TestContextCancelWhileParked: a consumer asleep on its futex returns
// promptly with the context's error when the context is cancelled.
func TestContextCancelWhileParked(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 8, mailbox.Config{Spin: mailbox.NoSpin})
			for i := range 3 {
				ctx, cancel := context.WithCancel(context.Background())
				out := make(chan result, 1)
				go func() {
					if i%2 == 0 {
						v, err := m.Receive(ctx)
						out <- result{v: v, err: err}
					} else {
						n, err := m.ReceiveBatch(ctx, make([]uint64, 4))
						out <- result{n: n, err: err}
					}
				}()
				parked(t, m, uint64(i+1))
				cancel()
				r := <-out
				if !errors.Is(r.err, context.Canceled) || r.n != 0 {
					t.Fatalf("after cancel: %+v", r)
				}
			}
			// The mailbox still works after the cancelled waits.
			_ = m.Send(5)
			if v, err := m.Receive(context.Background()); v != 5 || err != nil {
				t.Fatalf("Receive = %d, %v", v, err)
			}
		})
	}
}

func TestDeadlineWhileParked(t *testing.T) {
	m := mailbox.New[uint64](mailbox.Config{Spin: mailbox.NoSpin})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := m.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive = %v, want DeadlineExceeded", err)
	}
}

// TestWake: Wake makes a parked ReceiveBatch return (0, nil) and a parked
// Receive return ErrWoken; a Wake before the receive is not lost; items
// come before the wake-up.
func TestWake(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 8, mailbox.Config{Spin: mailbox.NoSpin})
			ctx := context.Background()
			out := make(chan result, 1)
			go func() {
				n, err := m.ReceiveBatch(ctx, make([]uint64, 4))
				out <- result{n: n, err: err}
			}()
			parked(t, m, 1)
			m.Wake()
			if r := <-out; r.n != 0 || r.err != nil {
				t.Fatalf("ReceiveBatch after Wake = %+v", r)
			}

			go func() {
				v, err := m.Receive(ctx)
				out <- result{v: v, err: err}
			}()
			parked(t, m, 2)
			m.Wake()
			if r := <-out; !errors.Is(r.err, mailbox.ErrWoken) {
				t.Fatalf("Receive after Wake = %+v", r)
			}

			// A Wake with nobody waiting is kept for the next receive.
			m.Wake()
			m.Wake()
			if n, err := m.ReceiveBatch(ctx, make([]uint64, 1)); n != 0 || err != nil {
				t.Fatalf("ReceiveBatch with pending Wake = %d, %v", n, err)
			}
			// Items come first; the pending Wake waits for an empty mailbox.
			m.Wake()
			_ = m.Send(1)
			if v, err := m.Receive(ctx); v != 1 || err != nil {
				t.Fatalf("Receive = %d, %v", v, err)
			}
			if _, err := m.Receive(ctx); !errors.Is(err, mailbox.ErrWoken) {
				t.Fatalf("Receive = %v, want ErrWoken", err)
			}
			if w := m.Stats().Wakeups; w < 2 {
				t.Fatalf("Wakeups = %d, want >= 2", w)
			}
		})
	}
}

// TestCloseWakesParkedConsumer: Close wakes a sleeping consumer, which
// drains and then reports ErrClosed.
func TestCloseWakesParkedConsumer(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 8, mailbox.Config{Spin: mailbox.NoSpin})
			out := make(chan result, 1)
			go func() {
				_, err := m.Receive(context.Background())
				out <- result{err: err}
			}()
			parked(t, m, 1)
			m.Close()
			if r := <-out; !errors.Is(r.err, mailbox.ErrClosed) {
				t.Fatalf("Receive after Close = %+v", r)
			}
		})
	}
}

// TestMillionWakeups: a consumer that parks whenever it finds the mailbox
// empty is parked and woken 1,000,000 times (fewer under -race and -short,
// and for the bounded kind, which shares the consumer code) in a ping-pong
// through two mailboxes, and no wake-up is lost: a lost one would leave
// both sides asleep until the watchdog context expires.
func TestMillionWakeups(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			target := uint64(1_000_000 / scale)
			if testing.Short() || k.name == "bounded" {
				target /= 10
			}
			ping := k.new(t, 4, mailbox.Config{Spin: mailbox.NoSpin})
			pong := k.new(t, 4, mailbox.Config{Spin: mailbox.NoSpin})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				for {
					v, err := ping.Receive(ctx)
					if err != nil {
						if errors.Is(err, mailbox.ErrClosed) {
							err = nil
						}
						done <- err
						return
					}
					if err := pong.Send(v + 1); err != nil {
						done <- err
						return
					}
				}
			}()
			var i uint64
			for ; ping.Stats().Parks < target; i++ {
				if i > 4*target {
					t.Fatalf("after %d rounds the consumer parked only %d times", i, ping.Stats().Parks)
				}
				if i%64 == 0 {
					runtime.Gosched() // vary the interleaving: sometimes send while the peer is awake
				}
				if err := ping.Send(i); err != nil {
					t.Fatal(err)
				}
				v, err := pong.Receive(ctx)
				if err != nil {
					t.Fatalf("round %d: %v (lost wake-up?)", i, err)
				}
				if v != i+1 {
					t.Fatalf("round %d: got %d", i, v)
				}
			}
			ping.Close()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			sp, sq := ping.Stats(), pong.Stats()
			t.Logf("rounds %d: ping parks %d wake-ups %d, pong parks %d wake-ups %d",
				i, sp.Parks, sp.Wakeups, sq.Parks, sq.Wakeups)
			// Every return from Park consumed a notification, and only
			// counted wake-ups make notifications here (no Wake, no cancel).
			if sp.Wakeups < sp.Parks || sq.Wakeups < sq.Parks {
				t.Fatalf("fewer wake-ups than parks: %+v %+v", sp, sq)
			}
			if sp.Received != i || sq.Received != i {
				t.Fatalf("received %d and %d, want %d", sp.Received, sq.Received, i)
			}
		})
	}
}
