package runtime_test

import (
	"context"
	"fmt"

	"github.com/zipora-go/zipora/runtime"
)

// counters is a minimal sharded structure: one counter per worker, each
// written only by its owner, so no locks and no atomics.
type counters struct {
	rt     *runtime.Runtime
	shards []int
}

func (c *counters) Attach(rt *runtime.Runtime, shards int) error {
	c.rt, c.shards = rt, make([]int, shards)
	return nil
}

func (c *counters) Detach() {}

// Add routes the increment of key to its owner and returns the new value.
func (c *counters) Add(ctx context.Context, key int) (int, error) {
	return runtime.Call(ctx, c.rt, key%len(c.shards), func(w *runtime.Worker) (int, error) {
		c.shards[w.ID()]++
		return c.shards[w.ID()], nil
	})
}

func Example() {
	ctx := context.Background()
	c := &counters{}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2}, c)
	if err != nil {
		fmt.Println(err)
		return
	}
	for key := range 5 {
		if _, err := c.Add(ctx, key); err != nil {
			fmt.Println(err)
		}
	}
	n, _ := c.Add(ctx, 0)
	fmt.Println("shard 0 after 4 increments:", n)

	// Each reaches every worker (and its shard).
	_ = rt.Each(ctx, func(w *runtime.Worker) error {
		fmt.Printf("worker %d holds %d\n", w.ID(), c.shards[w.ID()])
		return nil
	})
	if err := rt.Stop(ctx); err != nil {
		fmt.Println(err)
	}
	_, err = c.Add(ctx, 1)
	fmt.Println("after Stop:", err)
	// Unordered output:
	// shard 0 after 4 increments: 4
	// worker 0 holds 4
	// worker 1 holds 2
	// after Stop: runtime: stopped
}

func ExampleCall() {
	ctx := context.Background()
	rt, err := runtime.Start(ctx, runtime.Config{Workers: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Stop(ctx)
	id, err := runtime.Call(ctx, rt, 1, func(w *runtime.Worker) (int, error) { return w.ID(), nil })
	fmt.Println(id, err)
	// Output: 1 <nil>
}

// ExampleMode: the same tasks on Goroutines workers (the default: ordinary
// goroutines parked in Go's scheduler) and on Threads workers (each locked
// to an OS thread of its own, parked on a futex: for dedicated cores).
func ExampleMode() {
	ctx := context.Background()
	for _, mode := range []runtime.Mode{runtime.Goroutines, runtime.Threads} {
		rt, err := runtime.Start(ctx, runtime.Config{Workers: 2, Mode: mode})
		if err != nil {
			fmt.Println(err)
			return
		}
		sum, err := runtime.Call(ctx, rt, 1, func(w *runtime.Worker) (int, error) { return w.ID() + 41, nil })
		fmt.Println(mode, sum, err)
		if err := rt.Stop(ctx); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// goroutines 42 <nil>
	// threads 42 <nil>
}
