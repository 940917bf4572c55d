package runtime

import (
	"fmt"
	"log/slog"
	goruntime "runtime"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

// Defaults and limits of Config.
const (
	// DefaultBlockingWorkers is the size of the pool behind Go when
	// Config.BlockingWorkers is 0.
	DefaultBlockingWorkers = 256
	// DefaultBatch is how many tasks a worker takes from its mailbox at a
	// time when Config.Batch is 0.
	DefaultBatch = 64
	// NoSpin, as Config.Spin, makes an idle worker park at once.
	// It is primitives.NoSpin, the one value meaning "none" in every spin
	// knob of the module; 0 means the default in all of them.
	NoSpin = primitives.NoSpin
	// DefaultSpin is how long an idle Threads worker polls its mailbox
	// before parking when Config.Spin is 0: long enough to cover a
	// caller's turnaround between two requests, so that a busy worker
	// rarely pays a futex wake-up; paid only on each busy-to-idle
	// transition, and by at most GOMAXPROCS-1 workers at a time (a
	// spinning worker holds a P that submitters may need). A Goroutines
	// worker does not spin unless Config.Spin asks: Go's scheduler spins
	// for it (an idle P looks for runnable goroutines before its thread
	// sleeps), and a worker spinning on its P would delay the goroutine it
	// just readied there.
	DefaultSpin = 20 * time.Microsecond
	// MaxWorkers bounds Config.Workers: a Threads worker holds an OS
	// thread, and Go ends the program past debug.SetMaxThreads (10,000 by
	// default).
	MaxWorkers = 1 << 12
	// MaxQueuedTasks bounds Workers × (MailboxCapacity + Batch), the task
	// slots Start allocates up front (bounded rings and receive buffers,
	// 24-32 bytes each): a larger Config would exhaust memory, which Go
	// cannot recover from.
	MaxQueuedTasks = 1 << 24
	// MaxBlockingWorkers bounds Config.BlockingWorkers (the pool behind Go
	// counts its goroutines in 32 bits).
	MaxBlockingWorkers = 1 << 20
	// maxBatch bounds Config.Batch.
	maxBatch = 1 << 16
)

// Mode says what a worker is: an ordinary goroutine (Goroutines, the
// default) or a goroutine locked to an OS thread of its own (Threads).
type Mode uint8

const (
	// Goroutines workers are ordinary goroutines that park in Go's
	// scheduler when idle: a submission readies an idle worker the way a
	// channel send readies its receiver, on the submitter's P, with no
	// system call and no thread switch, and a sleeping worker holds no
	// thread and no P. The right mode for almost every program: its Call,
	// Each and actor hand-offs cost about twice a channel hand-off, a
	// flood of Submits 1-1.6x a channel send (docs/bench/runtime.md), and
	// both are 10-100x cheaper than Threads workers without spare cores.
	Goroutines Mode = iota
	// Threads workers each lock an OS thread (runtime.LockOSThread) that
	// sleeps on a futex when idle, spinning first (Config.Spin). For
	// programs that give the runtime cores of their own (GOMAXPROCS above
	// the worker count, DedicatedProcs, Pin): a wake-up is then a futex
	// wake of a thread that has a core waiting for it, and a worker's
	// thread state (CPU affinity) stays its own. Without spare cores a
	// wake-up is an OS thread switch plus a wait for the scheduler's
	// monitor to take back a sleeping worker's P: several times slower
	// than Goroutines.
	Threads
)

// String returns "goroutines" or "threads".
func (m Mode) String() string {
	switch m {
	case Goroutines:
		return "goroutines"
	case Threads:
		return "threads"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// defaultMode replaces a zero Config.Mode (a variable for tests, which run
// every test in both modes).
var defaultMode = Goroutines

// Config configures Start. The zero value is ready to use: one Goroutines
// worker per usable CPU, unbounded mailboxes, no logging, a pool of
// DefaultBlockingWorkers for Go, no spinning.
//
// A Config is a plain value; Start copies it. Fields out of range make
// Start fail with an error matching ErrInvalidConfig.
type Config struct {
	// Workers is the number of workers, hence the shard count of every
	// registered structure. 0 means one per CPU this process may use: the
	// smaller of its affinity mask and GOMAXPROCS. Workers beyond
	// GOMAXPROCS are allowed; they wait for a P like any goroutine.
	// Must be in [0, MaxWorkers].
	Workers int
	// Mode says what a worker is: Goroutines (the zero value) or Threads.
	// Must be one of the two.
	Mode Mode
	// Pin binds worker i's OS thread to CPU Allowed[i % len(Allowed)] of
	// primitives.Topology() (Linux only; elsewhere Start fails with
	// primitives.ErrPinUnsupported). Pin implies Mode Threads: only a
	// locked thread can be pinned. A Threads worker's thread is discarded
	// when the worker exits.
	Pin bool
	// MailboxCapacity bounds each worker's mailbox: submissions block
	// (Submit, SubmitTo, Each) or wait with their context (Call) while it
	// is full. 0 means unbounded. Must be >= 0, and Workers ×
	// (MailboxCapacity + Batch) at most MaxQueuedTasks.
	MailboxCapacity int
	// Logger receives the runtime's records: start and stop at Info,
	// recovered panics at Error with the stack. nil discards them.
	Logger *slog.Logger
	// BlockingWorkers is the number of goroutines that may run Go tasks
	// at once; Go blocks while all are busy. 0 means
	// DefaultBlockingWorkers. Must be in [0, MaxBlockingWorkers].
	BlockingWorkers int
	// Spin is how long an idle worker polls its mailbox before it parks.
	// 0 means DefaultSpin for Threads workers and no spinning for
	// Goroutines workers; NoSpin parks at once (the right choice when CPU
	// time matters more than latency). At most GOMAXPROCS-1 workers spin
	// at a time; with GOMAXPROCS = 1 none does. Must be >= NoSpin.
	Spin time.Duration
	// Batch is the most tasks a worker takes from its mailbox in one
	// receive; Worker.AfterBatch callbacks run after each such batch. 0
	// means DefaultBatch. Must be in [0, 65536].
	Batch int
	// DedicatedProcs raises GOMAXPROCS by Workers while the runtime runs,
	// and lowers it by as much when Stop has joined the workers. Meant for
	// Threads workers (Goroutines workers hold no P while idle). A worker
	// parked on its futex is a thread blocked in a system call, and Go
	// keeps that thread's P until the scheduler's monitor takes it back
	// (20 µs to 10 ms later): with GOMAXPROCS equal to the worker count,
	// the program's own goroutines — the callers waiting for a Call's
	// reply among them — can find every P held by a parked worker. With
	// one P per worker on top of the program's, none waits for the
	// monitor. The CPU count is unchanged: spinning is still bounded by
	// the GOMAXPROCS seen at Start. Measured in BenchmarkShardedTrie
	// (impl=sharded-procs vs sharded, see docs/bench/shards.md). Setting
	// GOMAXPROCS turns off Go's automatic GOMAXPROCS updates.
	DedicatedProcs bool
	// OnPanic, if not nil, is called on the panicking goroutine after a
	// task panicked, with the worker's id (-1 for a Go task), the panic
	// value and the stack. It must not panic.
	OnPanic func(workerID int, v any, stack []byte)
}

// resolved is a validated Config with every default filled in.
type resolved struct {
	Config
	cpus []int // CPUs worker i may be pinned to: cpus[i%len(cpus)]
}

// allowedCPUs returns the CPUs workers may be pinned to (a variable for
// tests).
var allowedCPUs = func() []int { return primitives.Topology().Allowed }

func invalid(field string, v int) error {
	return fmt.Errorf("%w: Config.%s = %d", ErrInvalidConfig, field, v)
}

// resolve validates c and fills in its defaults.
func (c Config) resolve() (resolved, error) {
	r := resolved{Config: c}
	switch {
	case c.Workers < 0 || c.Workers > MaxWorkers:
		return r, invalid("Workers", c.Workers)
	case c.MailboxCapacity < 0 || c.MailboxCapacity > MaxQueuedTasks:
		return r, invalid("MailboxCapacity", c.MailboxCapacity)
	case c.BlockingWorkers < 0 || c.BlockingWorkers > MaxBlockingWorkers:
		return r, invalid("BlockingWorkers", c.BlockingWorkers)
	case c.Spin < NoSpin:
		return r, invalid("Spin", int(c.Spin))
	case c.Batch < 0 || c.Batch > maxBatch:
		return r, invalid("Batch", c.Batch)
	case c.Mode > Threads:
		return r, invalid("Mode", int(c.Mode))
	}
	if r.Mode == Goroutines {
		r.Mode = defaultMode
	}
	if r.Pin {
		r.Mode = Threads
	}
	if c.Pin && !primitives.PinSupported {
		return r, fmt.Errorf("runtime: Config.Pin: %w", primitives.ErrPinUnsupported)
	}
	r.cpus = allowedCPUs()
	if r.Workers == 0 {
		r.Workers = max(1, min(len(r.cpus), goruntime.GOMAXPROCS(0)))
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.BlockingWorkers == 0 {
		r.BlockingWorkers = DefaultBlockingWorkers
	}
	switch {
	case r.Spin == 0 && r.Mode == Threads:
		r.Spin = DefaultSpin
	case r.Spin == NoSpin:
		r.Spin = 0
	}
	if r.Batch == 0 {
		r.Batch = DefaultBatch
	}
	if q := int64(r.MailboxCapacity) + int64(r.Batch); int64(r.Workers)*q > MaxQueuedTasks {
		return r, fmt.Errorf("%w: Config.Workers × (MailboxCapacity + Batch) = %d × %d, above MaxQueuedTasks %d", ErrInvalidConfig, r.Workers, q, MaxQueuedTasks)
	}
	return r, nil
}
