package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/mailbox"
)

// TestCloseRacingProducers: producers send (single items and batches) as
// fast as they can while the mailbox is closed under them. Every send that
// returned nil is received, in order, exactly once; every other send
// returned ErrClosed, and once a producer saw ErrClosed it sees nothing
// else; a batch is received whole or not at all.
func TestCloseRacingProducers(t *testing.T) {
	rounds := max(40/scale, 4)
	for _, k := range kinds {
		for _, producers := range producerCounts() {
			t.Run(fmt.Sprintf("%s/producers=%d", k.name, producers), func(t *testing.T) {
				for round := range rounds {
					closeRace(t, k.new(t, 16, mailbox.Config{}), producers, uint64(round*97%500))
				}
			})
		}
	}
}

func closeRace(t *testing.T, m *mailbox.Mailbox[uint64], producers int, closeAfter uint64) {
	t.Helper()
	accepted := make([]int, producers)
	var wg sync.WaitGroup
	defer func() { m.Close(); wg.Wait() }() // also when the test fails early
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq, closedSeen := 0, 0
			for closedSeen < 3 {
				var err error
				n := 1
				if useBatch(p, seq) {
					n = 1 + batchSize(p, seq)%8
					vs := make([]uint64, n)
					for i := range vs {
						vs[i] = item(p, seq+i)
					}
					err = m.SendBatch(vs)
				} else {
					err = m.Send(item(p, seq))
				}
				switch {
				case err == nil && closedSeen > 0:
					errs <- fmt.Errorf("producer %d: send accepted after ErrClosed", p)
					return
				case err == nil:
					seq += n
				case errors.Is(err, mailbox.ErrClosed):
					closedSeen++
				default:
					errs <- err
					return
				}
			}
			accepted[p] = seq
		}()
	}

	var received [][]int
	consumerDone := make(chan error, 1)
	go func() {
		received = make([][]int, producers)
		buf := make([]uint64, 8)
		for {
			n, err := m.ReceiveBatch(context.Background(), buf)
			if errors.Is(err, mailbox.ErrClosed) {
				consumerDone <- nil
				return
			}
			if err != nil {
				consumerDone <- err
				return
			}
			for _, v := range buf[:n] {
				p, seq := split(v)
				received[p] = append(received[p], seq)
			}
		}
	}()

	waitFor(t, "items sent before close", func() bool { return m.Stats().Sent >= closeAfter })
	m.Close()
	wg.Wait()
	if err := <-consumerDone; err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	for p := range producers {
		if len(received[p]) != accepted[p] {
			t.Fatalf("producer %d: %d accepted, %d received", p, accepted[p], len(received[p]))
		}
		for i, seq := range received[p] {
			if seq != i {
				t.Fatalf("producer %d: item %d has seq %d", p, i, seq)
			}
		}
		total += accepted[p]
	}
	if st := m.Stats(); st.Sent != uint64(total) || st.Received != uint64(total) {
		t.Fatalf("stats %+v, accepted %d", st, total)
	}
}
