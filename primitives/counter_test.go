package primitives_test

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
)

func TestPaddingSizes(t *testing.T) {
	if got := unsafe.Sizeof(primitives.Counter{}); got != uintptr(primitives.CacheLineSize) {
		t.Fatalf("Counter is %d bytes, want one cache line (%d)", got, primitives.CacheLineSize)
	}
	if primitives.PinSlotSize != primitives.CacheLineSize {
		t.Fatalf("pin slot is %d bytes, want %d", primitives.PinSlotSize, primitives.CacheLineSize)
	}
	var arr [2]primitives.Counter
	if d := uintptr(unsafe.Pointer(&arr[1])) - uintptr(unsafe.Pointer(&arr[0])); d < uintptr(primitives.CacheLineSize) {
		t.Fatalf("adjacent counters %d bytes apart", d)
	}
}

func TestCountersConserveSum(t *testing.T) {
	for _, n := range goroutineCounts() {
		per := 10_000 / scale
		var c primitives.Counter
		s := primitives.NewStripedCounter(0)
		var wg sync.WaitGroup
		for g := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					c.Add(int64(g + i%3))
					s.Add(int64(g + i%3))
				}
			}()
		}
		wg.Wait()
		var want int64
		for g := range n {
			for i := range per {
				want += int64(g + i%3)
			}
		}
		if c.Load() != want || s.Value() != want {
			t.Fatalf("goroutines=%d: Counter %d, Striped %d, want %d", n, c.Load(), s.Value(), want)
		}
	}
}

func TestCounterOps(t *testing.T) {
	var c primitives.Counter
	if c.Inc() != 1 || c.Swap(10) != 1 || c.Load() != 10 {
		t.Fatal("Inc/Swap/Load")
	}
	c.Store(3)
	if c.Load() != 3 {
		t.Fatal("Store")
	}
	s := primitives.NewStripedCounter(5)
	s.Inc()
	s.Add(4)
	if s.Value() != 5 {
		t.Fatalf("Value = %d", s.Value())
	}
	s.Reset()
	if s.Value() != 0 {
		t.Fatal("Reset")
	}
}

func TestFlag(t *testing.T) {
	for _, n := range goroutineCounts() {
		var f primitives.Flag
		var winners atomic.Int64
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if !f.Set() {
					winners.Add(1)
				}
			}()
		}
		wg.Wait()
		if winners.Load() != 1 || !f.IsSet() {
			t.Fatalf("goroutines=%d: %d saw the transition", n, winners.Load())
		}
		if !f.Clear() || f.Clear() || f.IsSet() {
			t.Fatal("Clear")
		}
	}
}

func TestStoreMaxMin(t *testing.T) {
	for _, n := range goroutineCounts() {
		var hi, lo atomic.Int64
		lo.Store(math.MaxInt64)
		var wg sync.WaitGroup
		for g := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 1000 {
					v := int64((g*7919 + i*104729) % 100_003)
					primitives.StoreMax(&hi, v)
					primitives.StoreMin(&lo, v)
				}
			}()
		}
		wg.Wait()
		want := []int64{}
		for g := range n {
			for i := range 1000 {
				want = append(want, int64((g*7919+i*104729)%100_003))
			}
		}
		if hi.Load() != slices.Max(want) || lo.Load() != slices.Min(want) {
			t.Fatalf("goroutines=%d: max %d min %d, want %d %d", n, hi.Load(), lo.Load(), slices.Max(want), slices.Min(want))
		}
	}
	var u atomic.Uint32
	if primitives.StoreMax(&u, 5) != 0 || primitives.StoreMax(&u, 3) != 5 || u.Load() != 5 {
		t.Fatal("StoreMax on Uint32")
	}
	if primitives.StoreMin(&u, 2) != 5 || u.Load() != 2 {
		t.Fatal("StoreMin on Uint32")
	}
}

func TestBits(t *testing.T) {
	var a atomic.Uint64
	if primitives.SetBit(&a, 3) || !primitives.SetBit(&a, 3) || !primitives.TestBit(&a, 3) {
		t.Fatal("SetBit")
	}
	if primitives.ToggleBit(&a, 63) || !primitives.TestBit(&a, 63) || !primitives.ToggleBit(&a, 63) {
		t.Fatal("ToggleBit")
	}
	if !primitives.ClearBit(&a, 3) || primitives.ClearBit(&a, 3) || a.Load() != 0 {
		t.Fatal("ClearBit")
	}
	if primitives.FindFirstSet(0) != -1 || primitives.FindFirstSet(1<<40|1<<50) != 40 {
		t.Fatal("FindFirstSet")
	}
	mustPanic(t, "primitives:", func() { primitives.SetBit(&a, 64) })

	// Concurrent SetBit: each of 64 goroutines owns one bit; exactly one
	// SetBit per bit sees it clear.
	var wg sync.WaitGroup
	var b atomic.Uint64
	var firsts atomic.Int64
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2 {
				if !primitives.SetBit(&b, uint(i)) {
					firsts.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if b.Load() != math.MaxUint64 || firsts.Load() != 64 {
		t.Fatalf("bits %x, first sets %d", b.Load(), firsts.Load())
	}
}

func TestLocal(t *testing.T) {
	l := primitives.NewLocal[int64](4)
	var wg sync.WaitGroup
	for id := range l.Len() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				*l.Get(id)++
			}
		}()
	}
	wg.Wait()
	n := 0
	for id, v := range l.All() {
		if *v != 1000 {
			t.Fatalf("slot %d = %d", id, *v)
		}
		n++
	}
	if n != 4 {
		t.Fatalf("All yielded %d slots", n)
	}
	mustPanic(t, "primitives:", func() { primitives.NewLocal[int](-1) })
}

func TestTopology(t *testing.T) {
	topo := primitives.Topology()
	if topo.LogicalCPUs < 1 || topo.PhysicalCores < 1 || topo.ThreadsPerCore < 1 || topo.CacheLine < 1 {
		t.Fatalf("implausible topology %+v", topo)
	}
	if len(topo.Allowed) == 0 || !slices.IsSorted(topo.Allowed) {
		t.Fatalf("allowed CPUs %v", topo.Allowed)
	}
	topo.Allowed[0] = -1
	if primitives.Topology().Allowed[0] == -1 {
		t.Fatal("Topology returned a shared slice")
	}
	t.Logf("%+v", primitives.Topology())
}
