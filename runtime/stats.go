package runtime

import "time"

// WorkerStats is a snapshot of one worker's counters. Each counter is read
// atomically, not all at the same instant.
type WorkerStats struct {
	// ID is the worker's id; CPU the CPU it is pinned to, or -1.
	ID, CPU int
	// Tasks is the number of tasks taken from the mailbox: run (panicked
	// ones included) or running in the current batch; AfterBatch callbacks
	// excluded.
	Tasks uint64
	// Batches is the number of mailbox batches run: it advances 16 at a
	// time while the worker runs, and is exact once it stopped.
	Batches uint64
	// Panics is the number of tasks and callbacks that panicked.
	Panics uint64
	// Mailbox is the number of tasks waiting in the mailbox (approximate).
	Mailbox int
	// Parks is the number of times the worker went to sleep (in Go's
	// scheduler, or on its futex in Mode Threads); Wakeups
	// the number of times a submitter woke it.
	Parks, Wakeups uint64
	// Busy estimates the time spent running batches: one batch in 16 is
	// timed and counts for 16 (reading the clock around every batch would
	// cost a tenth of a Call round trip).
	Busy time.Duration
}

// BlockingStats is a snapshot of the pool behind Go.
type BlockingStats struct {
	// Submitted is the number of Go tasks accepted; Panics how many of
	// them panicked.
	Submitted, Panics uint64
	// Running is the number of pool goroutines alive (busy or idle);
	// Waiting the number of Go calls blocked for a free one; Cap the
	// pool's size.
	Running, Waiting, Cap int
}

// Stats is a snapshot of a runtime's counters.
type Stats struct {
	// Workers holds one entry per worker, in id order.
	Workers []WorkerStats
	// Blocking describes the pool behind Go.
	Blocking BlockingStats
}

// Tasks returns the number of tasks run by all workers.
func (s Stats) Tasks() uint64 {
	var n uint64
	for _, w := range s.Workers {
		n += w.Tasks
	}
	return n
}

// Mailbox returns the number of tasks waiting in all mailboxes.
func (s Stats) Mailbox() int {
	n := 0
	for _, w := range s.Workers {
		n += w.Mailbox
	}
	return n
}
