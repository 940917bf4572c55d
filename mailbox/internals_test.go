package mailbox_test

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/mailbox"
	"github.com/zipora-go/zipora/primitives"
)

// TestLayout: the producers' ticket word, the producers' read-mostly line,
// the shared rarely-written fields and the consumer's fields are at least a
// cache line apart.
func TestLayout(t *testing.T) {
	tail, waiting, end, head := mailbox.Offsets[[3]int64]()
	offs := []uintptr{tail, waiting, end, head}
	for i := 1; i < len(offs); i++ {
		if offs[i]-offs[i-1] < uintptr(primitives.CacheLineSize) {
			t.Fatalf("field groups %d and %d only %d bytes apart", i-1, i, offs[i]-offs[i-1])
		}
	}
	if tail < uintptr(primitives.CacheLineSize) {
		t.Fatalf("tail at offset %d shares a line with whatever precedes the mailbox", tail)
	}
}

// TestSecondReceiverPanics: under the race detector or the
// zipora_invariants tag, a receive while another is running panics.
func TestSecondReceiverPanics(t *testing.T) {
	if !mailbox.CheckInvariants {
		t.Skip("needs -race or -tags zipora_invariants")
	}
	m := mailbox.New[uint64](mailbox.Config{Spin: mailbox.NoSpin})
	done := make(chan error, 1)
	go func() {
		_, err := m.Receive(context.Background())
		done <- err
	}()
	parked(t, m, 1)
	func() {
		defer func() {
			r := recover()
			if s, _ := r.(string); !strings.HasPrefix(s, "mailbox: concurrent receivers") {
				t.Fatalf("second receiver: recovered %v", r)
			}
		}()
		m.TryReceive()
	}()
	m.Close()
	<-done
}

// TestSteadyStateAllocations: a steady stream through an unbounded
// mailbox allocates only a segment header per segSize messages (the slot
// arrays are recycled); a bounded mailbox allocates nothing.
func TestSteadyStateAllocations(t *testing.T) {
	const n = 64 * mailbox.SegSize
	ctx := context.Background()
	run := func(m *mailbox.Mailbox[uint64]) uint64 {
		buf := make([]uint64, 16)
		batch := make([]uint64, 16)
		step := func() {
			for i := 0; i < n; i += 32 {
				for j := range 16 {
					_ = m.Send(uint64(i + j))
				}
				_ = m.SendBatch(batch)
				for got := 0; got < 32; {
					k, _ := m.ReceiveBatch(ctx, buf)
					got += k
				}
			}
		}
		step() // warm up: spares filled
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		step()
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	if got := run(mailbox.New[uint64](mailbox.Config{})); got > n/mailbox.SegSize+8 {
		t.Errorf("unbounded: %d allocations for %d messages", got, n)
	}
	b, _ := mailbox.NewBounded[uint64](64, mailbox.Config{})
	if got := run(b); got > 8 {
		t.Errorf("bounded: %d allocations for %d messages", got, n)
	}
}
