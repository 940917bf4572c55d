package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/mailbox"
)

// item encodes a producer id and that producer's sequence number.
func item(p, seq int) uint64           { return uint64(p)<<32 | uint64(seq) }
func split(v uint64) (p, seq int)      { return int(v >> 32), int(v & 0xffffffff) }
func producerCounts() []int            { return []int{1, runtime.GOMAXPROCS(0), 64} }
func batchSize(p, seq int) int         { return 1 + (p*7+seq)%23 }
func useBatch(p, seq int) bool         { return (p+seq)%5 == 0 }
func receiveStyle(round int) string    { return [...]string{"batch", "one", "try"}[round%3] }
func hammerTotal(short bool) int       { return map[bool]int{false: 240_000, true: 60_000}[short] / scale }
func orderChecker(producers int) []int { return make([]int, producers) }

// TestHammerConservation: P producers × N items, single sends and batches
// mixed; every item is received exactly once and each producer's items in
// the order sent, for both kinds, with every receive call in turn.
func TestHammerConservation(t *testing.T) {
	for _, k := range kinds {
		for _, producers := range producerCounts() {
			for round := range 3 {
				style := receiveStyle(round)
				t.Run(fmt.Sprintf("%s/producers=%d/recv=%s", k.name, producers, style), func(t *testing.T) {
					m := k.new(t, 64, mailbox.Config{Spin: round * 40})
					hammer(t, m, producers, max(hammerTotal(testing.Short())/producers, 50), style)
				})
			}
		}
	}
}

func hammer(t *testing.T, m *mailbox.Mailbox[uint64], producers, perProducer int, style string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, producers)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; seq < perProducer; {
				if useBatch(p, seq) {
					n := min(batchSize(p, seq), perProducer-seq)
					vs := make([]uint64, n)
					for i := range vs {
						vs[i] = item(p, seq+i)
					}
					if err := m.SendBatch(vs); err != nil {
						errs <- err
						return
					}
					seq += n
					continue
				}
				if err := m.Send(item(p, seq)); err != nil {
					errs <- err
					return
				}
				seq++
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); m.Close(); close(done) }()

	next := orderChecker(producers)
	total := 0
	check := func(v uint64) {
		p, seq := split(v)
		if p >= producers || seq != next[p] {
			t.Fatalf("producer %d: got seq %d, want %d", p, seq, next[p])
		}
		next[p]++
		total++
	}
	ctx := context.Background()
	buf := make([]uint64, 37)
	for {
		var err error
		switch style {
		case "batch":
			var n int
			n, err = m.ReceiveBatch(ctx, buf)
			for _, v := range buf[:n] {
				check(v)
			}
		case "one":
			var v uint64
			v, err = m.Receive(ctx)
			if err == nil {
				check(v)
			}
		case "try":
			if v, ok := m.TryReceive(); ok {
				check(v)
			} else if m.Closed() && m.Len() == 0 {
				_, err = m.Receive(ctx) // drained: must report ErrClosed
			} else {
				runtime.Gosched()
			}
		}
		if errors.Is(err, mailbox.ErrClosed) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	<-done
	close(errs)
	for err := range errs {
		t.Fatalf("send: %v", err)
	}
	if want := producers * perProducer; total != want {
		t.Fatalf("received %d items, want %d", total, want)
	}
	for p, n := range next {
		if n != perProducer {
			t.Fatalf("producer %d: received %d items, want %d", p, n, perProducer)
		}
	}
	if st := m.Stats(); st.Sent != uint64(total) || st.Received != uint64(total) {
		t.Fatalf("stats %+v, total %d", st, total)
	}
}
