package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
)

type attachFails struct{}

func (attachFails) Attach(int) error { return errors.New("attach refused") }
func (attachFails) Detach()          {}

type startPanics struct{ attachFails }

func (startPanics) Attach(int) error              { return nil }
func (startPanics) OnWorkerStart(*runtime.Worker) { panic("no start") }

// TestErrorPrefixOnce walks the runtime's sentinels and a sample of the
// errors that wrap them: each names the package once, and errors.Is still
// matches.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{
		"ErrStopped": runtime.ErrStopped, "ErrNoShard": runtime.ErrNoShard,
		"ErrPanic": runtime.ErrPanic, "ErrInvalidConfig": runtime.ErrInvalidConfig,
		"ErrSelfWait": runtime.ErrSelfWait, "ErrGoexit": runtime.ErrGoexit,
	}
	must := func(name string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %v does not match %v", name, err, target)
		}
		errs[name] = err
	}
	_, err := runtime.Start(context.Background(), runtime.Config{Workers: -1})
	must("Workers", err, runtime.ErrInvalidConfig)
	_, err = runtime.Start(context.Background(), runtime.Config{Workers: 2, MailboxCapacity: 1 << 30})
	must("MailboxCapacity", err, runtime.ErrInvalidConfig)
	_, err = runtime.Start(context.Background(), runtime.Config{}, nil)
	must("nil structure", err, runtime.ErrInvalidConfig)
	_, err = runtime.Start(context.Background(), runtime.Config{Workers: 1}, attachFails{})
	errs["Attach"] = err
	_, err = runtime.Start(context.Background(), runtime.Config{Workers: 1}, startPanics{})
	must("OnWorkerStart", err, runtime.ErrPanic)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = runtime.Start(ctx, runtime.Config{})
	must("Start canceled", err, context.Canceled)

	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	must("SubmitTo", rt.SubmitTo(7, func(*runtime.Worker) {}), runtime.ErrNoShard)
	done := make(chan error, 2)
	if err := rt.SubmitTo(0, func(w *runtime.Worker) {
		_, err := runtime.Call(context.Background(), rt, w.ID(), func(*runtime.Worker) (int, error) { return 0, nil })
		done <- err
		done <- rt.Each(context.Background(), func(*runtime.Worker) error { return nil })
	}); err != nil {
		t.Fatal(err)
	}
	must("Call self", <-done, runtime.ErrSelfWait)
	must("Each from a task", <-done, runtime.ErrSelfWait)
	_, err = runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { panic("boom") })
	must("Call panics", err, runtime.ErrPanic)
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	must("Submit after Stop", rt.Submit(func(*runtime.Worker) {}), runtime.ErrStopped)
	testutil.CheckErrors(t, errs)
}
