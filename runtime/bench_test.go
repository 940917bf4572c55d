package runtime_test

import (
	"context"
	goruntime "runtime"
	"sync"
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

// BenchmarkSubmit: fire-and-forget tasks from GOMAXPROCS submitters to
// GOMAXPROCS workers, including the wait for the last task to finish.
// Peers side by side: a private ants pool, a pond pool, a goroutine per
// task, and channel-fed worker goroutines.
func BenchmarkSubmit(b *testing.B) {
	workers := goruntime.GOMAXPROCS(0)
	b.Run("impl=runtime", func(b *testing.B) {
		b.ReportAllocs()
		rt, err := runtime.Start(context.Background(), runtime.Config{Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
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
		if err := rt.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
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
	b.Run("impl=chanworkers", func(b *testing.B) {
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
}

type request struct {
	x     int
	reply chan int
}

// chanServer is the channel peer of Call: one worker goroutine fed by a
// channel, replying on the request's channel; locked to its OS thread when
// locked is set (the like-for-like peer of a runtime worker).
func chanServer(locked bool) (reqs chan request, stop func()) {
	reqs = make(chan request)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if locked {
			goruntime.LockOSThread()
			defer goruntime.UnlockOSThread()
		}
		for r := range reqs {
			r.reply <- r.x + 1
		}
	}()
	return reqs, func() { close(reqs); <-done }
}

// BenchmarkCall: request/reply round trips from one goroutine to one
// worker. impl=runtime uses a context without cancellation (futex reply),
// impl=runtime-ctx a cancellable one (channel reply).
func BenchmarkCall(b *testing.B) {
	for _, impl := range []string{"runtime", "runtime-ctx"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 1})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if impl == "runtime-ctx" {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			x := 0
			f := func(*runtime.Worker) (int, error) { return x + 1, nil }
			b.ResetTimer()
			for range b.N {
				if x, err = runtime.Call(ctx, rt, 0, f); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if x != b.N {
				b.Fatalf("x = %d after %d calls", x, b.N)
			}
			if err := rt.Stop(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	}
	for _, impl := range []string{"chan", "chanlocked"} {
		b.Run("impl="+impl, func(b *testing.B) {
			b.ReportAllocs()
			reqs, stop := chanServer(impl == "chanlocked")
			defer stop()
			reply := make(chan int)
			x := 0
			for range b.N {
				reqs <- request{x, reply}
				x = <-reply
			}
			if x != b.N {
				b.Fatalf("x = %d after %d calls", x, b.N)
			}
		})
	}
}

// BenchmarkEach: run a no-op on every one of GOMAXPROCS workers and wait.
// Peer: the same fan-out to channel-fed goroutines locked to their threads.
func BenchmarkEach(b *testing.B) {
	workers := goruntime.GOMAXPROCS(0)
	b.Run("impl=runtime", func(b *testing.B) {
		b.ReportAllocs()
		rt, err := runtime.Start(context.Background(), runtime.Config{Workers: workers})
		if err != nil {
			b.Fatal(err)
		}
		noop := func(*runtime.Worker) error { return nil }
		b.ResetTimer()
		for range b.N {
			if err := rt.Each(context.Background(), noop); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := rt.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
	b.Run("impl=chanlocked", func(b *testing.B) {
		b.ReportAllocs()
		servers := make([]chan request, workers)
		for i := range servers {
			var stop func()
			servers[i], stop = chanServer(true)
			defer stop()
		}
		reply := make(chan int, workers)
		for range b.N {
			for _, s := range servers {
				s <- request{0, reply}
			}
			for range servers {
				<-reply
			}
		}
	})
}
