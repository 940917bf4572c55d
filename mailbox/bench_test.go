package mailbox_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"
	"github.com/zipora-go/zipora/mailbox"
)

// Peers measured side by side: a buffered channel of capacity 1024, xsync's
// UMPSCQueue (unbounded) and MPMCQueue (capacity 1024, non-blocking: the
// harness yields when it is full or empty), the unbounded mailbox (mpsc) and
// the bounded mailbox (capacity 1024).

const benchCap = 1024

type benchQueue interface {
	send(v uint64)
	recv() uint64
	sendBatch(vs []uint64)
	recvBatch(buf []uint64) int
}

type chanQ chan uint64

func (q chanQ) send(v uint64) { q <- v }
func (q chanQ) recv() uint64  { return <-q }
func (q chanQ) sendBatch(vs []uint64) {
	for _, v := range vs {
		q <- v
	}
}
func (q chanQ) recvBatch(buf []uint64) int {
	buf[0] = <-q
	n := 1
	for n < len(buf) {
		select {
		case v := <-q:
			buf[n] = v
			n++
		default:
			return n
		}
	}
	return n
}

type umpscQ struct{ q *xsync.UMPSCQueue[uint64] }

func (q umpscQ) send(v uint64) { q.q.Enqueue(v) }
func (q umpscQ) recv() uint64  { return q.q.Dequeue() }
func (q umpscQ) sendBatch(vs []uint64) {
	for _, v := range vs {
		q.q.Enqueue(v)
	}
}
func (q umpscQ) recvBatch(buf []uint64) int { buf[0] = q.q.Dequeue(); return 1 }

type mpmcQ struct{ q *xsync.MPMCQueue[uint64] }

func (q mpmcQ) send(v uint64) {
	for !q.q.TryEnqueue(v) {
		runtime.Gosched()
	}
}
func (q mpmcQ) recv() uint64 {
	for {
		if v, ok := q.q.TryDequeue(); ok {
			return v
		}
		runtime.Gosched()
	}
}
func (q mpmcQ) sendBatch(vs []uint64) {
	for _, v := range vs {
		q.send(v)
	}
}
func (q mpmcQ) recvBatch(buf []uint64) int { buf[0] = q.recv(); return 1 }

type mailboxQ struct{ m *mailbox.Mailbox[uint64] }

func (q mailboxQ) send(v uint64) {
	if err := q.m.Send(v); err != nil {
		panic(err)
	}
}
func (q mailboxQ) recv() uint64 {
	v, err := q.m.Receive(context.Background())
	if err != nil {
		panic(err)
	}
	return v
}
func (q mailboxQ) sendBatch(vs []uint64) {
	if err := q.m.SendBatch(vs); err != nil {
		panic(err)
	}
}
func (q mailboxQ) recvBatch(buf []uint64) int {
	n, err := q.m.ReceiveBatch(context.Background(), buf)
	if err != nil {
		panic(err)
	}
	return n
}

func newBenchQueue(impl string) benchQueue {
	switch impl {
	case "chan":
		return make(chanQ, benchCap)
	case "xsync-umpsc":
		return umpscQ{xsync.NewUMPSCQueue[uint64]()}
	case "xsync-mpmc":
		return mpmcQ{xsync.NewMPMCQueue[uint64](benchCap)}
	case "mpsc":
		return mailboxQ{mailbox.New[uint64](mailbox.Config{})}
	case "bounded":
		m, err := mailbox.NewBounded[uint64](benchCap, mailbox.Config{})
		if err != nil {
			panic(err)
		}
		return mailboxQ{m}
	}
	panic("unknown impl " + impl)
}

// share splits n items among p producers.
func share(n, p, i int) int {
	s := n / p
	if i < n%p {
		s++
	}
	return s
}

// BenchmarkMailbox: P producers send b.N messages in total, one consumer
// receives them one at a time. ns/op is the cost per message.
func BenchmarkMailbox(b *testing.B) {
	for _, impl := range []string{"chan", "xsync-umpsc", "xsync-mpmc", "mpsc", "bounded"} {
		for _, producers := range []int{1, 2, 8} {
			b.Run(fmt.Sprintf("impl=%s/producers=%d", impl, producers), func(b *testing.B) {
				q := newBenchQueue(impl)
				b.ReportAllocs()
				var wg sync.WaitGroup
				b.ResetTimer()
				for p := range producers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := range share(b.N, producers, p) {
							q.send(uint64(i))
						}
					}()
				}
				for range b.N {
					q.recv()
				}
				b.StopTimer()
				wg.Wait()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
				if mq, ok := q.(mailboxQ); ok {
					st := mq.m.Stats()
					b.ReportMetric(float64(st.Parks)/float64(b.N), "parks/op")
					b.ReportMetric(float64(st.ProducerParks)/float64(b.N), "pparks/op")
				}
			})
		}
	}
}

// BenchmarkMailboxBatch: two producers send batches of 64 (the channel
// sends them one by one: it has no batch operation); the consumer drains up
// to 64 per call. ns/op is the cost per item.
func BenchmarkMailboxBatch(b *testing.B) {
	const batch, producers = 64, 2
	for _, impl := range []string{"chan", "mpsc", "bounded"} {
		b.Run(fmt.Sprintf("impl=%s/batch=%d", impl, batch), func(b *testing.B) {
			q := newBenchQueue(impl)
			b.ReportAllocs()
			var wg sync.WaitGroup
			b.ResetTimer()
			for p := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					vs := make([]uint64, batch)
					for left := share(b.N, producers, p); left > 0; left -= batch {
						q.sendBatch(vs[:min(batch, left)])
					}
				}()
			}
			buf := make([]uint64, batch)
			for got := 0; got < b.N; {
				got += q.recvBatch(buf)
			}
			b.StopTimer()
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// BenchmarkPingPong: a round trip between two goroutines through two
// mailboxes (or two channels of capacity 1); each side is idle, and the
// mailbox consumer parked, between messages: mpsc parks in Go's scheduler
// (the default), mpsc-futex on a futex (Config.Futex). locked=true locks both
// goroutines to OS threads, as the runtime's Threads workers are.
func BenchmarkPingPong(b *testing.B) {
	for _, locked := range []bool{false, true} {
		for _, impl := range []string{"chan", "mpsc", "mpsc-futex"} {
			b.Run(fmt.Sprintf("impl=%s/locked=%v", impl, locked), func(b *testing.B) {
				var ping, pong benchQueue
				var mb [2]*mailbox.Mailbox[uint64]
				if impl == "chan" {
					ping, pong = make(chanQ, 1), make(chanQ, 1)
				} else {
					cfg := mailbox.Config{Futex: impl == "mpsc-futex"}
					mb[0], mb[1] = mailbox.New[uint64](cfg), mailbox.New[uint64](cfg)
					ping, pong = mailboxQ{mb[0]}, mailboxQ{mb[1]}
				}
				b.ReportAllocs()
				done := make(chan struct{})
				go func() {
					defer close(done)
					if locked {
						runtime.LockOSThread()
						defer runtime.UnlockOSThread()
					}
					for range b.N {
						pong.send(ping.recv() + 1)
					}
				}()
				if locked {
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				b.ResetTimer()
				for i := range b.N {
					ping.send(uint64(i))
					if pong.recv() != uint64(i)+1 {
						b.Fatal("wrong reply")
					}
				}
				b.StopTimer()
				<-done
				if mb[0] != nil {
					parks := mb[0].Stats().Parks + mb[1].Stats().Parks
					b.ReportMetric(float64(parks)/float64(b.N), "parks/op")
				}
			})
		}
	}
}

// BenchmarkBlockedProducers: 8 producers blocked on a full mailbox (a full
// channel for the peer) while the benchmark sleeps; cpu/wall is the
// process's CPU time (user+system) per wall-clock time during the wait: ~0
// when blocked producers are parked, ~1 or more when they spin.
func BenchmarkBlockedProducers(b *testing.B) {
	for _, impl := range []string{"chan", "bounded"} {
		b.Run("impl="+impl, func(b *testing.B) {
			q := newBenchQueue(impl)
			for i := range benchCap {
				q.send(uint64(i))
			}
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() { defer wg.Done(); q.send(1) }()
			}
			time.Sleep(10 * time.Millisecond) // let them block
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			b.ReportMetric(float64(cpu)/float64(b.Elapsed()), "cpu/wall")
			for range benchCap + 8 {
				q.recv()
			}
			wg.Wait()
		})
	}
}
