package runtime_test

import (
	"context"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/panjf2000/ants/v2"

	"github.com/zipora-go/zipora/runtime"
)

// work is the body of every benchmark task: a few ns of arithmetic the
// compiler cannot drop.
//
//go:noinline
func work() {
	x := uint64(0x9e3779b97f4a7c15)
	for i := range 8 {
		x ^= x >> 31
		x *= uint64(i) | 1
	}
	if x == 42 {
		panic("unreachable")
	}
}

func workOn(*runtime.Worker) { work() }

func reportTasks(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// The peer every benchmark here measures side by side, in the same run:
// what a Go programmer writes instead of the runtime — one goroutine per
// worker fed by a chan func() of capacity 1024, replies on a channel
// (chanWorkers), optionally locked to their OS threads (the like-for-like
// peer of Mode Threads). Zero Config for the runtime unless a benchmark
// needs a shape (two workers for ping-pong) or a mode.

// chanWorkers starts n channel-fed worker goroutines.
func chanWorkers(n int, locked bool) (chs []chan func(), stop func()) {
	chs = make([]chan func(), n)
	var wg sync.WaitGroup
	for i := range chs {
		chs[i] = make(chan func(), 1024)
		wg.Go(func() {
			if locked {
				goruntime.LockOSThread()
				defer goruntime.UnlockOSThread()
			}
			for f := range chs[i] {
				f()
			}
		})
	}
	return chs, func() {
		for _, ch := range chs {
			close(ch)
		}
		wg.Wait()
	}
}

// startRT starts a runtime for a benchmark and stops it when it ends.
func startRT(b *testing.B, cfg runtime.Config) *runtime.Runtime {
	b.Helper()
	rt, err := runtime.Start(context.Background(), cfg)
	if err != nil {
		b.Skipf("Start: %v", err) // Pin where it cannot work
	}
	b.Cleanup(func() {
		if err := rt.Stop(context.Background()); err != nil {
			b.Error(err)
		}
	})
	return rt
}

// modes are the runtime's two kinds of workers, by benchmark name.
var modes = []struct {
	name string
	cfg  runtime.Config
}{
	{"runtime", runtime.Config{}},
	{"runtime-threads", runtime.Config{Mode: runtime.Threads}},
}

// BenchmarkSubmit: fire-and-forget tasks from GOMAXPROCS submitters to
// GOMAXPROCS workers, including the wait for the last task to finish.
// Peers side by side: channel-fed workers (one channel per worker, each
// submitter going round them; and one channel shared by all workers), a
// private ants pool, a pond pool, a goroutine per task.
func BenchmarkSubmit(b *testing.B) {
	workers := goruntime.GOMAXPROCS(0)
	for _, m := range append(modes, struct {
		name string
		cfg  runtime.Config
	}{"runtime-bounded", runtime.Config{MailboxCapacity: 1024}}) {
		b.Run("impl="+m.name, func(b *testing.B) {
			b.ReportAllocs()
			rt := startRT(b, m.cfg)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := rt.Submit(workOn); err != nil {
						b.Error(err)
						return
					}
				}
			})
			// Each runs after every task submitted before it (mailbox order).
			if err := rt.Each(context.Background(), func(*runtime.Worker) error { return nil }); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			reportTasks(b)
		})
	}
	b.Run("impl=chanworkers", func(b *testing.B) {
		b.ReportAllocs()
		chs, stop := chanWorkers(workers, false)
		var next atomic.Uint64 // each submitter starts at a different worker
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(1)
			for pb.Next() {
				chs[i%uint64(workers)] <- work
				i++
			}
		})
		stop()
		b.StopTimer()
		reportTasks(b)
	})
	b.Run("impl=chanshared", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan func(), 1024)
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for f := range ch {
					f()
				}
			})
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ch <- work
			}
		})
		close(ch)
		wg.Wait()
		b.StopTimer()
		reportTasks(b)
	})
	b.Run("impl=ants", func(b *testing.B) {
		b.ReportAllocs()
		p, err := ants.NewPool(workers)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Submit(work); err != nil {
					b.Error(err)
					return
				}
			}
		})
		if err := p.ReleaseContext(context.Background()); err != nil { // waits for every task
			b.Fatal(err)
		}
		b.StopTimer()
		reportTasks(b)
	})
	b.Run("impl=pond", func(b *testing.B) {
		b.ReportAllocs()
		p := pond.NewPool(workers)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := p.Go(work); err != nil {
					b.Error(err)
					return
				}
			}
		})
		p.StopAndWait()
		b.StopTimer()
		reportTasks(b)
	})
	b.Run("impl=goroutine", func(b *testing.B) {
		b.ReportAllocs()
		var wg sync.WaitGroup
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				wg.Go(work)
			}
		})
		wg.Wait()
		b.StopTimer()
		reportTasks(b)
	})
}

// BenchmarkCall: request/reply round trips from one goroutine to worker 0.
// impl=runtime-ctx uses a cancellable context; runtime-pinned is Config.Pin
// (Threads, one worker bound to a CPU). Peers: a channel-fed worker
// replying on a channel (chan), the same locked to its thread
// (chanlocked, the peer of the Threads modes).
func BenchmarkCall(b *testing.B) {
	impls := append(modes[:1:1],
		struct {
			name string
			cfg  runtime.Config
		}{"runtime-ctx", runtime.Config{}})
	impls = append(impls, modes[1:]...)
	impls = append(impls, struct {
		name string
		cfg  runtime.Config
	}{"runtime-pinned", runtime.Config{Workers: 1, Pin: true}})
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			b.ReportAllocs()
			rt := startRT(b, impl.cfg)
			ctx := context.Background()
			if impl.name == "runtime-ctx" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			x := 0
			f := func(*runtime.Worker) (int, error) { return x + 1, nil }
			b.ResetTimer()
			var err error
			for range b.N {
				if x, err = runtime.Call(ctx, rt, 0, f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if x != b.N {
				b.Fatalf("x = %d after %d calls", x, b.N)
			}
		})
	}
	for _, impl := range []string{"chan", "chanlocked"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			chs, stop := chanWorkers(1, impl == "chanlocked")
			defer stop()
			reply := make(chan int, 1)
			x := 0
			f := func() { reply <- x + 1 }
			for range b.N {
				chs[0] <- f
				x = <-reply
			}
			if x != b.N {
				b.Fatalf("x = %d after %d calls", x, b.N)
			}
		})
	}
}

// BenchmarkPingPong: actor ping-pong, one op per round trip: a task on
// worker 0 SubmitTos worker 1, whose task answers with a SubmitTo back to
// worker 0. Peer: two channel-fed workers doing the same with sends.
func BenchmarkPingPong(b *testing.B) {
	for _, m := range modes {
		b.Run("impl="+m.name, func(b *testing.B) {
			b.ReportAllocs()
			cfg := m.cfg
			cfg.Workers = 2
			rt := startRT(b, cfg)
			left := b.N // owned by worker 0's tasks
			done := make(chan struct{})
			var ping, pong func(*runtime.Worker)
			ping = func(*runtime.Worker) {
				if left == 0 {
					close(done)
					return
				}
				left--
				if err := rt.SubmitTo(1, pong); err != nil {
					b.Error(err)
					close(done)
				}
			}
			pong = func(*runtime.Worker) {
				if err := rt.SubmitTo(0, ping); err != nil {
					b.Error(err)
				}
			}
			b.ResetTimer()
			if err := rt.SubmitTo(0, ping); err != nil {
				b.Fatal(err)
			}
			<-done
		})
	}
	b.Run("impl=chan", func(b *testing.B) {
		b.ReportAllocs()
		chs, stop := chanWorkers(2, false)
		defer stop()
		left := b.N
		done := make(chan struct{})
		var ping, pong func()
		ping = func() {
			if left == 0 {
				close(done)
				return
			}
			left--
			chs[1] <- pong
		}
		pong = func() { chs[0] <- ping }
		b.ResetTimer()
		chs[0] <- ping
		<-done
	})
}

// BenchmarkEach: run a no-op on every one of GOMAXPROCS workers and wait.
// Peers: the same fan-out to channel-fed workers joined by a WaitGroup
// (chanwg), and to locked ones (chanlocked, the Threads mode's peer).
func BenchmarkEach(b *testing.B) {
	workers := goruntime.GOMAXPROCS(0)
	for _, m := range modes {
		b.Run("impl="+m.name, func(b *testing.B) {
			b.ReportAllocs()
			rt := startRT(b, m.cfg)
			noop := func(*runtime.Worker) error { return nil }
			b.ResetTimer()
			for range b.N {
				if err := rt.Each(context.Background(), noop); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, impl := range []string{"chanwg", "chanlocked"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			chs, stop := chanWorkers(workers, impl == "chanlocked")
			defer stop()
			var wg sync.WaitGroup
			done := wg.Done
			for range b.N {
				wg.Add(len(chs))
				for _, ch := range chs {
					ch <- done
				}
				wg.Wait()
			}
		})
	}
}
