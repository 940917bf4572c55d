package runtime_test

import (
	"context"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
)

// TestNilContext: Start, Call, Each and Stop return an error for a nil
// context (before: a nil-pointer panic), and run, start or stop nothing.
func TestNilContext(t *testing.T) {
	var nilCtx context.Context
	rt, err := runtime.Start(nilCtx, runtime.Config{Workers: 1})
	testutil.WantNilContext(t, "Start", err, "runtime: ")
	if rt != nil {
		t.Fatal("Start with a nil context returned a runtime")
	}
	rt, err = runtime.Start(context.Background(), runtime.Config{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	ran := false
	_, err = runtime.Call(nilCtx, rt, 0, func(*runtime.Worker) (int, error) { ran = true; return 1, nil })
	testutil.WantNilContext(t, "Call", err, "runtime: ")
	testutil.WantNilContext(t, "Each", rt.Each(nilCtx, func(*runtime.Worker) error { ran = true; return nil }), "runtime: ")
	testutil.WantNilContext(t, "Stop", rt.Stop(nilCtx), "runtime: ")
	if _, err := runtime.Call(context.Background(), rt, 0, func(*runtime.Worker) (int, error) { return 1, nil }); err != nil {
		t.Fatalf("the runtime after a Stop with a nil context: %v", err)
	}
	if ran {
		t.Fatal("a refused call ran its function")
	}
	if err := rt.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
