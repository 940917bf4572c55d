package mailbox_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/mailbox"
)

// kinds are the mailbox constructors every behavioural test runs on: both
// kinds, with the consumer parking in Go's scheduler and on a futex.
var kinds = []struct {
	name string
	new  func(tb testing.TB, capacity int, cfg mailbox.Config) *mailbox.Mailbox[uint64]
}{
	{"unbounded", func(tb testing.TB, _ int, cfg mailbox.Config) *mailbox.Mailbox[uint64] {
		return mailbox.New[uint64](cfg)
	}},
	{"bounded", func(tb testing.TB, capacity int, cfg mailbox.Config) *mailbox.Mailbox[uint64] {
		m, err := mailbox.NewBounded[uint64](capacity, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		return m
	}},
	{"unbounded-futex", func(tb testing.TB, _ int, cfg mailbox.Config) *mailbox.Mailbox[uint64] {
		cfg.Futex = true
		return mailbox.New[uint64](cfg)
	}},
	{"bounded-futex", func(tb testing.TB, capacity int, cfg mailbox.Config) *mailbox.Mailbox[uint64] {
		cfg.Futex = true
		m, err := mailbox.NewBounded[uint64](capacity, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		return m
	}},
}

// waitFor polls cond, yielding, until it holds; it fails the test after
// many rounds. It observes state another goroutine reaches; it never sleeps.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for i := 0; !cond(); i++ {
		if i > 50_000_000 {
			tb.Fatalf("never happened: %s", what)
		}
		runtime.Gosched()
	}
}

// producersRun runs send(p) for p in [0, n) on n goroutines; the returned
// function waits for them and fails tb with the first error.
func producersRun(tb testing.TB, n int, send func(p int) error) (wait func()) {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for p := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := send(p); err != nil {
				errs <- err
			}
		}()
	}
	return func() {
		tb.Helper()
		wg.Wait()
		close(errs)
		for err := range errs {
			tb.Fatalf("send: %v", err)
		}
	}
}

func TestSendReceiveFIFO(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 3000, mailbox.Config{})
			ctx := context.Background()
			const n = 3 * mailbox.SegSize / 2 // crosses a segment boundary
			for i := range uint64(n) {
				if err := m.Send(i); err != nil {
					t.Fatal(err)
				}
			}
			if got := m.Len(); got != n {
				t.Fatalf("Len = %d, want %d", got, n)
			}
			for i := range uint64(n) {
				v, err := m.Receive(ctx)
				if err != nil || v != i {
					t.Fatalf("Receive = %d, %v; want %d", v, err, i)
				}
			}
			if v, ok := m.TryReceive(); ok {
				t.Fatalf("TryReceive on empty = %d, true", v)
			}
			st := m.Stats()
			if st.Sent != n || st.Received != n || m.Len() != 0 {
				t.Fatalf("stats %+v, Len %d", st, m.Len())
			}
		})
	}
}

func TestSendBatchReceiveBatch(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 5000, mailbox.Config{})
			ctx := context.Background()
			var next uint64
			// Batches of every size up to 300, crossing segment and ring ends.
			var want uint64
			for size := 1; size <= 300; size += 7 {
				vs := make([]uint64, size)
				for i := range vs {
					vs[i] = next
					next++
				}
				if err := m.SendBatch(vs); err != nil {
					t.Fatal(err)
				}
				buf := make([]uint64, 13)
				for want < next {
					n, err := m.ReceiveBatch(ctx, buf)
					if err != nil || n == 0 {
						t.Fatalf("ReceiveBatch = %d, %v", n, err)
					}
					for _, v := range buf[:n] {
						if v != want {
							t.Fatalf("got %d, want %d", v, want)
						}
						want++
					}
				}
			}
			if err := m.SendBatch(nil); err != nil {
				t.Fatalf("empty batch: %v", err)
			}
		})
	}
}

func TestCloseDrains(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 16, mailbox.Config{})
			ctx := context.Background()
			for i := range uint64(10) {
				if err := m.Send(i); err != nil {
					t.Fatal(err)
				}
			}
			m.Close()
			m.Close() // idempotent
			if !m.Closed() {
				t.Fatal("Closed() = false after Close")
			}
			if err := m.Send(99); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("Send after Close = %v", err)
			}
			if err := m.SendBatch([]uint64{1, 2}); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("SendBatch after Close = %v", err)
			}
			if err := m.SendBatch(nil); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("empty SendBatch after Close = %v", err)
			}
			if err := m.TrySend(1); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("TrySend after Close = %v", err)
			}
			buf := make([]uint64, 4)
			var got []uint64
			for {
				n, err := m.ReceiveBatch(ctx, buf)
				if errors.Is(err, mailbox.ErrClosed) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, buf[:n]...)
			}
			if len(got) != 10 {
				t.Fatalf("drained %d items, want 10", len(got))
			}
			if _, err := m.Receive(ctx); !errors.Is(err, mailbox.ErrClosed) {
				t.Fatalf("Receive after drain = %v", err)
			}
			if st := m.Stats(); st.Sent != 10 || st.Received != 10 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestReceiveContext(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			m := k.new(t, 4, mailbox.Config{})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := m.Receive(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("Receive(cancelled) = %v", err)
			}
			// Items available are returned even with a done context.
			if err := m.Send(7); err != nil {
				t.Fatal(err)
			}
			if v, err := m.Receive(ctx); err != nil || v != 7 {
				t.Fatalf("Receive = %d, %v", v, err)
			}
			if n, err := m.ReceiveBatch(ctx, make([]uint64, 2)); n != 0 || !errors.Is(err, context.Canceled) {
				t.Fatalf("ReceiveBatch(cancelled) = %d, %v", n, err)
			}
		})
	}
}

func TestReceiveBatchEmptyBufferPanics(t *testing.T) {
	m := mailbox.New[int](mailbox.Config{})
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("no panic")
		} else if s, _ := r.(string); len(s) < 8 || s[:8] != "mailbox:" {
			t.Fatalf("panic %v does not start with mailbox:", r)
		}
	}()
	_, _ = m.ReceiveBatch(context.Background(), nil)
}

// TestReleasesReferences checks that taken items do not stay reachable from
// the mailbox (slots are cleared).
func TestReleasesReferences(t *testing.T) {
	m := mailbox.New[*[1 << 16]byte](mailbox.Config{})
	fin := make(chan struct{})
	func() {
		p := new([1 << 16]byte)
		runtime.SetFinalizer(p, func(*[1 << 16]byte) { close(fin) })
		_ = m.Send(p)
		if _, ok := m.TryReceive(); !ok {
			t.Fatal("TryReceive: nothing")
		}
	}()
	for i := 0; ; i++ {
		runtime.GC()
		select {
		case <-fin:
			runtime.KeepAlive(m)
			return
		default:
		}
		if i == 100 {
			t.Fatal("received item still reachable from the mailbox")
		}
	}
}
