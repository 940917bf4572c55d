package mailbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/zipora-go/zipora/mailbox"
)

// FuzzMailbox runs a sequence of operations, decoded from the input, on
// one goroutine against a slice model: sends, batches of any size, tries,
// receives into buffers of any size, Close and Wake. capacity 0 means
// unbounded.
func FuzzMailbox(f *testing.F) {
	f.Add(uint16(0), []byte{0, 1, 2, 3, 4, 5, 6, 7})
	f.Add(uint16(3), []byte{1, 0x35, 1, 2, 3, 0x41, 4, 5, 6})
	f.Add(uint16(1), []byte{0, 0, 2, 3, 3, 5, 6})
	f.Add(uint16(1024), []byte{1, 0xff, 1, 0xff, 1, 0xff, 1, 0xff, 1, 0xff, 3, 0xff, 3, 0xff})
	f.Fuzz(func(t *testing.T, capacity uint16, ops []byte) {
		var m *mailbox.Mailbox[uint64]
		if capacity == 0 {
			m = mailbox.New[uint64](mailbox.Config{Spin: 1})
		} else {
			var err error
			if m, err = mailbox.NewBounded[uint64](int(capacity), mailbox.Config{Spin: 1}); err != nil {
				t.Fatal(err)
			}
		}
		var model []uint64
		var next uint64
		closed, woken := false, false
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // receives must never block here
		full := func(n int) bool { return capacity != 0 && len(model)+n > int(capacity) }
		for i := 0; i < len(ops); i++ {
			arg := 0
			if i+1 < len(ops) {
				arg = int(ops[i+1]) * 9 // batches up to 2295 items: several segments
			}
			switch ops[i] % 8 {
			case 0: // TrySend
				err := m.TrySend(next)
				switch {
				case closed:
					if !errors.Is(err, mailbox.ErrClosed) {
						t.Fatalf("TrySend closed = %v", err)
					}
				case full(1):
					if !errors.Is(err, mailbox.ErrFull) {
						t.Fatalf("TrySend full = %v", err)
					}
				case err != nil:
					t.Fatalf("TrySend = %v", err)
				default:
					model = append(model, next)
					next++
				}
			case 1: // TrySendBatch
				i++
				vs := make([]uint64, arg)
				for j := range vs {
					vs[j] = next + uint64(j)
				}
				err := m.TrySendBatch(vs)
				switch {
				case capacity != 0 && arg > int(capacity):
					if !errors.Is(err, mailbox.ErrBatchTooLarge) {
						t.Fatalf("oversized batch = %v", err)
					}
				case closed:
					if !errors.Is(err, mailbox.ErrClosed) {
						t.Fatalf("TrySendBatch closed = %v", err)
					}
				case full(arg):
					if !errors.Is(err, mailbox.ErrFull) {
						t.Fatalf("TrySendBatch full = %v", err)
					}
				case err != nil:
					t.Fatalf("TrySendBatch = %v", err)
				default:
					model = append(model, vs...)
					next += uint64(arg)
				}
			case 2: // TryReceive
				v, ok := m.TryReceive()
				if ok != (len(model) > 0) || ok && v != model[0] {
					t.Fatalf("TryReceive = %d, %v; model %v", v, ok, model[:min(len(model), 3)])
				}
				if ok {
					model = model[1:]
				}
			case 3: // ReceiveBatch
				i++
				buf := make([]uint64, arg/9+1)
				n, err := m.ReceiveBatch(ctx, buf)
				want := min(len(buf), len(model))
				switch {
				case want > 0:
					if err != nil || n != want {
						t.Fatalf("ReceiveBatch = %d, %v; want %d", n, err, want)
					}
					for j := range n {
						if buf[j] != model[j] {
							t.Fatalf("item %d = %d, want %d", j, buf[j], model[j])
						}
					}
					model = model[n:]
				case woken:
					if n != 0 || err != nil {
						t.Fatalf("ReceiveBatch after Wake = %d, %v", n, err)
					}
					woken = false
				case closed:
					if !errors.Is(err, mailbox.ErrClosed) {
						t.Fatalf("ReceiveBatch drained = %v", err)
					}
				default:
					if !errors.Is(err, context.Canceled) {
						t.Fatalf("ReceiveBatch empty = %d, %v", n, err)
					}
				}
			case 4:
				m.Close()
				closed = true
			case 5:
				m.Wake()
				woken = true
			case 6: // Send never blocks while there is room
				if full(1) || closed {
					continue
				}
				if err := m.Send(next); err != nil {
					t.Fatal(err)
				}
				model = append(model, next)
				next++
			case 7:
				if l := m.Len(); l != len(model) {
					t.Fatalf("Len = %d, model %d", l, len(model))
				}
			}
		}
	})
}
