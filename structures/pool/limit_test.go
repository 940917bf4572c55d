package pool

import (
	"errors"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"testing"
	"time"
)

// withBudget makes DefaultMaxBytes return n for the test.
func withBudget(t *testing.T, n int64) {
	t.Helper()
	if held := processHeld.Load(); held != 0 {
		// Pools of earlier tests not yet collected: wait for their cleanups.
		waitBudget(t, 0)
	}
	old := defaultMaxBytes
	defaultMaxBytes = func() int64 { return n }
	t.Cleanup(func() { defaultMaxBytes = old })
}

// waitBudget waits (GC, then cleanups) until the process budget holds
// want bytes; fails after 10 s.
func waitBudget(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for processHeld.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("process budget holds %d bytes, want %d", processHeld.Load(), want)
		}
		goruntime.GC()
		goruntime.Gosched()
	}
}

// TestDefaultMaxBytes: the default limit is at most half of what the
// machine and the Go memory limit allow, and Validate uses it.
func TestDefaultMaxBytes(t *testing.T) {
	d := DefaultMaxBytes()
	if d <= 0 {
		t.Fatalf("DefaultMaxBytes = %d", d)
	}
	if m := physicalMemory(); m > 0 && d > m/2 {
		t.Fatalf("DefaultMaxBytes %d is above half the physical memory %d", d, m)
	}
	if c := cgroupLimit(); c > 0 && d > c/2 {
		t.Fatalf("DefaultMaxBytes %d is above half the cgroup limit %d", d, c)
	}
	if g := debug.SetMemoryLimit(-1); g < math.MaxInt64 && d > g/2 {
		t.Fatalf("DefaultMaxBytes %d is above half the Go memory limit %d", d, g)
	}
	cfg, err := Config{}.Validate()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxBytes != d || !cfg.sharedBudget {
		t.Fatalf("Validate: MaxBytes %d (shared %v), want DefaultMaxBytes %d", cfg.MaxBytes, cfg.sharedBudget, d)
	}
	t.Logf("DefaultMaxBytes = %d (physical %d, cgroup %d)", d, physicalMemory(), cgroupLimit())
}

// TestProcessBudget (issue 13 case 10): pools without MaxBytes share one
// budget; growth past it is ErrExhausted; freed memory, Reset and
// unreachable pools give it back; an explicit MaxBytes is outside it.
func TestProcessBudget(t *testing.T) {
	const chunk = 1 << 20
	withBudget(t, 8*chunk)
	cfg := Config{ChunkSize: chunk, MaxFastBlock: 64 << 10}
	a, err := NewNoLocking(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMutex(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var offs []Offset
	for {
		off, err := a.Alloc(2 * chunk)
		if err != nil {
			if !errors.Is(err, ErrExhausted) {
				t.Fatalf("Alloc past the budget: %v, want ErrExhausted", err)
			}
			break
		}
		offs = append(offs, off)
		if len(offs) > 8 {
			t.Fatal("the budget does not bind")
		}
	}
	if _, err := b.Alloc(4 * chunk); !errors.Is(err, ErrExhausted) {
		t.Fatalf("second pool past the shared budget: %v, want ErrExhausted", err)
	}
	if held := processHeld.Load(); held > 8*chunk {
		t.Fatalf("budget holds %d bytes, above its %d", held, 8*chunk)
	}
	// An explicit MaxBytes is its own limit.
	own, err := NewNoLocking(Config{ChunkSize: chunk, MaxFastBlock: 64 << 10, MaxBytes: 16 * chunk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := own.Alloc(8 * chunk); err != nil {
		t.Fatalf("pool with its own MaxBytes: %v", err)
	}
	// Freeing gives the budget back to the other pool.
	for _, off := range offs {
		if err := a.Free(off, 2*chunk); err != nil {
			t.Fatal(err)
		}
	}
	a.Reset()
	if _, err := b.Alloc(4 * chunk); err != nil {
		t.Fatalf("after the first pool freed and reset: %v", err)
	}
	// Pools that become unreachable give their share back.
	goruntime.KeepAlive(a)
	goruntime.KeepAlive(own)
	a, b, own = nil, nil, nil
	waitBudget(t, 0)
}
