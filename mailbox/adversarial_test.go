package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/zipora-go/zipora/mailbox"
)

// Adversarial tests for the bounded mailbox's wake-up and fairness rules
// (issue 13): every way to send, cancelled contexts, a slow consumer and
// Close racing them.

// TestHugeCapacity: a capacity whose ring would not fit in memory is
// refused, not allocated (Go cannot recover from running out of memory).
func TestHugeCapacity(t *testing.T) {
	for _, c := range []int{mailbox.MaxCapacity + 1, math.MaxInt} {
		if _, err := mailbox.NewBounded[uint64](c, mailbox.Config{}); !errors.Is(err, mailbox.ErrInvalidCapacity) {
			t.Fatalf("NewBounded(%d): %v, want ErrInvalidCapacity", c, err)
		}
	}
}

// TestBoundedAdversarial: producers send with Send, TrySend,
// SendContext (some with contexts that expire while they wait), SendBatch
// and TrySendBatch into a 4-slot mailbox whose consumer takes small,
// irregular batches; Close comes while they are at it. Conservation: the
// items received are exactly the items whose send returned nil, each once,
// in each producer's order; every refusal is ErrFull, ErrClosed, or the
// context's error.
func TestBoundedAdversarial(t *testing.T) {
	for _, producers := range producerCounts() {
		t.Run(fmt.Sprintf("producers=%d", producers), func(t *testing.T) {
			m, err := mailbox.NewBounded[uint64](4, mailbox.Config{Spin: mailbox.NoSpin})
			if err != nil {
				t.Fatal(err)
			}
			perP := max(hammerTotal(testing.Short())/20/producers, 40)
			accepted := make([][]uint64, producers) // accepted[p]: items of p whose send returned nil
			wait := producersRun(t, producers, func(p int) error {
				for seq := 0; seq < perP; seq++ {
					v := item(p, seq)
					var err error
					switch (p + seq) % 5 {
					case 0:
						err = m.Send(v)
					case 1:
						err = m.TrySend(v)
					case 2:
						ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seq%3)*50*time.Microsecond)
						err = m.SendContext(ctx, v)
						cancel()
					case 3:
						err = m.SendBatch([]uint64{v})
					default:
						err = m.TrySendBatch([]uint64{v})
					}
					switch {
					case err == nil:
						accepted[p] = append(accepted[p], v)
					case errors.Is(err, mailbox.ErrClosed):
						return nil
					case errors.Is(err, mailbox.ErrFull), errors.Is(err, context.DeadlineExceeded):
					default:
						return err
					}
				}
				return nil
			})
			closeAt := producers * perP / 2
			received := make([][]uint64, producers)
			buf := make([]uint64, 3)
			total := 0
			for {
				n, err := m.ReceiveBatch(context.Background(), buf[:1+total%3])
				for _, v := range buf[:n] {
					p, _ := split(v)
					received[p] = append(received[p], v)
				}
				total += n
				if total >= closeAt && !m.Closed() {
					m.Close()
				}
				if errors.Is(err, mailbox.ErrClosed) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if total%7 == 0 {
					runtime.Gosched() // a slow consumer: producers wait
				}
				if total == producers*perP { // everything sent before Close came
					m.Close()
				}
			}
			wait()
			for p := range producers {
				if fmt.Sprint(received[p]) != fmt.Sprint(accepted[p]) {
					t.Fatalf("producer %d: accepted %d items, received %d (or out of order)", p, len(accepted[p]), len(received[p]))
				}
			}
		})
	}
}
