package runtime_test

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
)

// recorder is a minimal sharded structure: one counter per worker, written
// only by its owner, written through Call; it records the hooks it sees.
type recorder struct {
	mu             sync.Mutex
	rt             *runtime.Runtime
	shards         []*recShard
	attached       int
	detached       int
	started        []int
	stoppedWorkers []int
	events         []string
	attachErr      error
	startPanic     int // with failStart: the worker whose OnWorkerStart panics
	failStart      bool
}

type recShard struct {
	n     int // owner only
	owner int
}

func (r *recorder) Attach(shards int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attached++
	r.events = append(r.events, "attach")
	if r.attachErr != nil {
		return r.attachErr
	}
	r.shards = make([]*recShard, shards)
	for i := range r.shards {
		r.shards[i] = &recShard{owner: -1}
	}
	return nil
}

func (r *recorder) Detach() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.detached++
	r.events = append(r.events, "detach")
}

func (r *recorder) OnWorkerStart(w *runtime.Worker) {
	if r.failStart && w.ID() == r.startPanic {
		panic("start hook failed")
	}
	r.shards[w.ID()].owner = w.ID() // first touch on the owner
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, w.ID())
	r.events = append(r.events, "start")
}

func (r *recorder) OnWorkerStop(w *runtime.Worker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stoppedWorkers = append(r.stoppedWorkers, w.ID())
	r.events = append(r.events, "stop")
}

// Add routes a write to the owner of key and returns the new count.
func (r *recorder) Add(ctx context.Context, key int) (int, error) {
	return runtime.Call(ctx, r.rt, key%len(r.shards), func(w *runtime.Worker) (int, error) {
		s := r.shards[w.ID()]
		if s.owner != w.ID() {
			return 0, fmt.Errorf("shard %d used on worker %d", s.owner, w.ID())
		}
		s.n++
		return s.n, nil
	})
}

func TestStructureLifecycle(t *testing.T) {
	r := &recorder{}
	rt := start(t, runtime.Config{Workers: 3}, r)
	r.rt = rt // Attach gets the worker count only; Add routes through rt
	r.mu.Lock()
	if r.attached != 1 || len(r.shards) != 3 || len(r.started) != 3 || r.events[0] != "attach" {
		t.Fatalf("after Start: %+v", r.events)
	}
	r.mu.Unlock()
	var wg sync.WaitGroup
	var bad atomic.Int64
	const perKey = 50
	for key := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range perKey {
				if _, err := r.Add(context.Background(), key); err != nil {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d failed writes", bad.Load())
	}
	stop(t, rt)
	for i, s := range r.shards {
		if s.n != 2*perKey {
			t.Errorf("shard %d holds %d, want %d", i, s.n, 2*perKey)
		}
	}
	if _, err := r.Add(context.Background(), 1); !errors.Is(err, runtime.ErrStopped) {
		t.Fatalf("write after Stop = %v, want ErrStopped", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.detached != 1 || len(r.stoppedWorkers) != 3 || r.events[len(r.events)-1] != "detach" {
		t.Fatalf("after Stop: %v", r.events)
	}
}

// TestStartFailures: a failing Attach or start hook stops and detaches
// everything already started; goleak checks that nothing keeps running.
func TestStartFailures(t *testing.T) {
	boom := errors.New("attach failed")
	a, b, c := &recorder{}, &recorder{attachErr: boom}, &recorder{}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2}, a, b, c)
	if !errors.Is(err, boom) || rt != nil {
		t.Fatalf("Start with a failing Attach = %v, %v", rt, err)
	}
	if a.attached != 1 || a.detached != 1 || b.detached != 0 || c.attached != 0 {
		t.Fatalf("a %d/%d, b %d/%d, c %d/%d", a.attached, a.detached, b.attached, b.detached, c.attached, c.detached)
	}

	d := &recorder{failStart: true, startPanic: 1}
	rt, err = runtime.Start(context.Background(), runtime.Config{Workers: 3}, d)
	if !errors.Is(err, runtime.ErrPanic) || rt != nil {
		t.Fatalf("Start with a panicking OnWorkerStart = %v, %v", rt, err)
	}
	if d.detached != 1 || len(d.started) != 2 || len(d.stoppedWorkers) != 2 {
		t.Fatalf("failed start: detached %d, started %v, stopped %v", d.detached, d.started, d.stoppedWorkers)
	}

	panicky := &panicAttach{}
	if _, err := runtime.Start(context.Background(), runtime.Config{Workers: 1}, panicky); !errors.Is(err, runtime.ErrPanic) {
		t.Fatalf("Start with a panicking Attach = %v", err)
	}
}

type panicAttach struct{}

func (*panicAttach) Attach(int) error { panic("attach") }
func (*panicAttach) Detach()          {}

// exclusive is a structure that, like the shards package's, refuses a
// second Attach until it is detached, and keeps its data across runtimes.
type exclusive struct {
	mu       sync.Mutex
	attached bool
	data     []int
	attaches int
	goexitIn string // "attach" or "detach": call runtime.Goexit there
}

func (e *exclusive) Attach(shards int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.attached {
		return errors.New("exclusive: already attached")
	}
	if e.goexitIn == "attach" {
		goruntime.Goexit()
	}
	e.attached = true
	e.attaches++
	if e.data == nil {
		e.data = make([]int, shards)
	}
	return nil
}

func (e *exclusive) Detach() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.attached = false
	if e.goexitIn == "detach" {
		goruntime.Goexit()
	}
}

// TestFailedStartDetaches (issue 13 case 2, runtime half): whatever makes
// Start fail after a structure attached — another structure's Attach
// failing, panicking or calling runtime.Goexit, a start hook calling
// runtime.Goexit — that structure is detached and can be registered with
// a new runtime, its data kept; the same after Stop, also when a Detach
// calls runtime.Goexit.
func TestFailedStartDetaches(t *testing.T) {
	keep := &exclusive{}
	failures := []runtime.Structure{
		&recorder{attachErr: errors.New("attach failed")},
		&panicAttach{},
		&exclusive{goexitIn: "attach"},
		&goexitStart{},
	}
	for i, bad := range failures {
		var err error
		testutil.Within(t, fmt.Sprintf("Start %d", i), func() {
			_, err = runtime.Start(context.Background(), runtime.Config{Workers: 2}, keep, bad)
		})
		if err == nil {
			t.Fatalf("failure %d (%T): Start succeeded", i, bad)
		}
		if i >= 2 && !errors.Is(err, runtime.ErrGoexit) {
			t.Fatalf("failure %d (%T): %v, want ErrGoexit", i, bad, err)
		}
	}
	rt := start(t, runtime.Config{Workers: 2}, keep)
	if err := rt.Each(context.Background(), func(w *runtime.Worker) error { keep.data[w.ID()]++; return nil }); err != nil {
		t.Fatal(err)
	}
	stop(t, rt)
	// Detach calling runtime.Goexit: Stop still completes and reports it.
	other := &exclusive{goexitIn: "detach"}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2}, keep, other)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Within(t, "Stop", func() { err = rt.Stop(context.Background()) })
	if !errors.Is(err, runtime.ErrGoexit) {
		t.Fatalf("Stop with a Detach calling Goexit: %v, want ErrGoexit", err)
	}
	rt = start(t, runtime.Config{Workers: 2}, keep)
	stop(t, rt)
	if want := len(failures) + 3; keep.attaches != want || keep.data[0] != 1 || keep.data[1] != 1 {
		t.Fatalf("attached %d times (want %d), data %v (want [1 1])", keep.attaches, want, keep.data)
	}
}

// goexitStart calls runtime.Goexit in OnWorkerStart on worker 1.
type goexitStart struct{}

func (*goexitStart) Attach(int) error { return nil }
func (*goexitStart) Detach()          {}
func (*goexitStart) OnWorkerStart(w *runtime.Worker) {
	if w.ID() == 1 {
		goruntime.Goexit()
	}
}

// ordered logs its Attach and Detach under its name into a shared log.
type ordered struct {
	name string
	log  *[]string
	mu   *sync.Mutex
	fail bool
}

func (o *ordered) Attach(int) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	*o.log = append(*o.log, "attach "+o.name)
	if o.fail {
		return errors.New("refused")
	}
	return nil
}

func (o *ordered) Detach() {
	o.mu.Lock()
	defer o.mu.Unlock()
	*o.log = append(*o.log, "detach "+o.name)
}

// TestDetachReverseOrder: a failed Start and Stop detach the attached
// structures in reverse order of attachment; the one whose Attach failed
// is not detached.
func TestDetachReverseOrder(t *testing.T) {
	var mu sync.Mutex
	var log []string
	mk := func(name string, fail bool) *ordered { return &ordered{name, &log, &mu, fail} }
	if _, err := runtime.Start(context.Background(), runtime.Config{Workers: 1}, mk("a", false), mk("b", false), mk("c", true), mk("d", false)); err == nil {
		t.Fatal("Start succeeded")
	}
	rt := start(t, runtime.Config{Workers: 1}, mk("x", false), mk("y", false))
	stop(t, rt)
	want := "[attach a attach b attach c detach b detach a attach x attach y detach y detach x]"
	if got := fmt.Sprint(log); got != want {
		t.Fatalf("log %s, want %s", got, want)
	}
}
