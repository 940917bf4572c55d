package pool_test

import (
	"fmt"
	"sync"

	"github.com/zipora-go/zipora/structures/pool"
)

func Example() {
	// One owner, no locking: the fastest level.
	p, err := pool.NewNoLocking(pool.MemoryOptimized())
	if err != nil {
		panic(err)
	}
	off, err := p.Alloc(11)
	if err != nil {
		panic(err)
	}
	copy(p.Bytes(off, 11), "hello arena")
	fmt.Println(string(p.Bytes(off, 11)))
	if err := p.Free(off, 11); err != nil {
		panic(err)
	}
	s := p.Stats()
	fmt.Println(s.Allocs, s.Frees, s.InUse)
	// Output:
	// hello arena
	// 1 1 0
}

func ExampleThreadLocal() {
	p, err := pool.NewThreadLocal(pool.PerformanceOptimized())
	if err != nil {
		panic(err)
	}
	blocks := make(chan pool.Offset, 100)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { // producer: allocates through its own cache
		defer wg.Done()
		c := p.NewCache()
		defer c.Close()
		for i := range 100 {
			off, err := c.Alloc(64)
			if err != nil {
				panic(err)
			}
			c.Bytes(off, 64)[0] = byte(i)
			blocks <- off
		}
		close(blocks)
	}()
	go func() { // consumer: frees through its cache; the blocks go home in batches
		defer wg.Done()
		c := p.NewCache()
		defer c.Close()
		for off := range blocks {
			if err := c.Free(off, 64); err != nil {
				panic(err)
			}
		}
	}()
	wg.Wait()
	fmt.Println(p.Stats().InUse)
	// Output: 0
}

func ExampleNoLocking_TryAlloc() {
	p, _ := pool.NewNoLocking(pool.Config{})
	alloc := func(n int) pool.Offset {
		off := p.TryAlloc(n) // inlined: a free-list pop
		if off == pool.Nil {
			var err error
			if off, err = p.Alloc(n); err != nil {
				panic(err)
			}
		}
		return off
	}
	free := func(off pool.Offset, n int) {
		if !p.TryFree(off, n) { // inlined: a free-list push
			if err := p.Free(off, n); err != nil {
				panic(err)
			}
		}
	}
	a := alloc(48)
	free(a, 48)
	b := alloc(48)
	fmt.Println(a == b)
	// Output: true
}

func ExampleNewAdaptive() {
	p, err := pool.NewAdaptive(pool.Realtime())
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Level())
	q, _ := pool.NewAdaptive(pool.Config{SingleOwner: true})
	fmt.Println(q.Level())
	// Output:
	// FixedCapacity
	// NoLocking
}
