package mailbox

// Design, invariants, who may call what, and the missed-wakeup argument.
//
// Tickets. Every accepted item has a ticket: its position in the mailbox's
// total order. tail (one atomic word) holds the next free ticket in bits
// 0..62 and the closed flag in bit 63. Unbounded producers claim tickets
// with one fetch-and-add (FAA) of the batch size; bounded producers with a
// compare-and-swap after checking for room. A claim whose returned word has
// the closed bit is refused (ErrClosed) and never written. Close sets the
// bit with one atomic Or, so every claim is ordered either before it
// (accepted: the ticket is below the word Or returned, and its producer is
// bound to publish it) or after it (refused). Close then publishes that
// count of accepted tickets in end. That is the whole close-vs-send
// argument: no in-flight counter is needed because the ticket counter and
// the closed flag are one word, and a SendBatch claims all its tickets in
// one operation, so it is all-or-nothing with respect to Close.
//
// Slots and runs. A producer that claimed tickets [t, t+n) writes the n
// values with plain stores, then publishes them with ONE atomic store: the
// stamp of the first slot of the run becomes t+n (the run's end). A run is
// cut at segment boundaries (unbounded), each piece stamped at its first
// slot. The consumer, at head h with no known-ready items (avail == h),
// loads the stamp of slot h: a value > h is a fresh run end, every item in
// [h, stamp) is published (the values were written before the release store
// it loaded), and the consumer takes them without further atomics. A stale
// stamp is always <= h: it was written for an earlier use of the slot,
// whose run ended no later than the start of the current segment
// (unbounded: runs never cross a segment; arrays are reused only for later
// segments) or than h (bounded: a previous use was for a ticket t' <= h-cap
// with a run of at most cap items). So stamps never need resetting.
//
// Per-producer FIFO: one producer's claims are sequential, so its tickets
// increase; the consumer takes tickets in order.
//
// Who may call what. Any goroutine: Send, TrySend, SendContext, SendBatch,
// TrySendBatch, Close, Wake, Len, Cap, Closed, Stats. Only the consumer (one
// goroutine at a time): Receive, ReceiveBatch, TryReceive. Fields under
// "consumer-owned" are read and written only by the consumer, except the
// atomics documented as published for others.
//
// Missed wake-up (consumer). The consumer, finding nothing, spins, then
// stores waiting=1 (seq-cst), then re-checks the stamp of slot h, the Wake
// request, the closed/drained state and its context, and only then parks:
// on its GoParker (a goroutine parked in Go's scheduler, the default) or,
// Config.Futex, on its Parker (a futex). A producer stores the stamp (seq-cst), then loads waiting; if
// it reads 1 it swaps waiting to 0 and, if it won the swap, Unparks. Go's
// atomics are sequentially consistent, so of "consumer stores waiting,
// loads stamp" and "producer stores stamp, loads waiting" at least one side
// sees the other's store: either the consumer's re-check sees the item and
// it does not park, or the producer sees waiting=1 and unparks; an Unpark
// before Park is not lost by either parker (the GoParker keeps it in its
// channel's one-element buffer, the Parker in its futex word). A
// notification left over from a wake-up the consumer did not need (it
// returned for another reason) makes a later park return at once: the
// loop re-checks and parks again. Wake (store request, swap waiting)
// and Close (Or tail, store end, swap waiting) follow the same pattern. A
// context: the GoParker's receive selects on ctx.Done() itself; with the
// Parker, a context.AfterFunc (the context is marked done before it runs)
// swaps waiting like a producer. The swap elects one waker per park, so a burst of sends costs one
// Unpark.
//
// Missed wake-up (bounded producers). A producer that finds no room loads
// the current space generation (a channel), then stores spaceWanted=1
// (seq-cst), re-checks room (loads headPub) and only then blocks receiving
// from that channel. The consumer, at the end of every receive that took
// items, stores headPub, then loads spaceWanted; if it is set it swaps
// spaceWanted to 0 and, if it won the swap, swaps in a new generation and
// closes the old one. Either the producer's re-check sees the new head, or
// its spaceWanted store precedes the consumer's load: then the consumer's
// swap takes it, and the producer's generation, loaded before its store
// and so before the consumer's generation swap, is the one closed (or an
// earlier swap closed it already). A woken producer that still finds no
// room registers again before it sleeps, so the next receive wakes it. A
// wake-up happens once per registration round, not on every receive while
// woken producers have not run yet. See bounded.go for the wake-up rule
// and the fairness between waiting and first-time senders.
// Every waiter is woken because a woken waiter may not be the one that can
// use the room (a batch needing more slots, a cancelled context); waking
// only some could leave room unused and a fitting producer asleep.
//
// Rejected designs.
//   - A node per message (Vyukov's intrusive MPSC): one allocation per
//     message, about 5x slower here.
//   - A per-segment claim counter (as in xsync's UMPSCQueue): it needs a
//     separate protocol to close every segment; with one global ticket word
//     Close is one Or and the consumer knows the exact drained point.
//   - A separate in-flight-senders counter next to a closed flag: two more
//     read-modify-writes on a shared line per send.
//   - Recycling segment headers: a producer delayed between loading a
//     segment pointer and walking its next link could follow a reused
//     header into a foreign chain. Headers (40 bytes, one per segSize
//     messages) are allocated; the slot arrays — all the memory — are
//     recycled through a few spare cells (Swap/CompareAndSwap, no ABA:
//     taking a pointer from a cell gives exclusive ownership).
//   - A per-slot "ready" flag stored for every item: one atomic store per
//     item on each side; the run stamp publishes a batch with one.
//   - Parking blocked producers on a futex: each one would hold an OS
//     thread in the kernel (and its P until sysmon retakes it, up to 10ms
//     when idle), so many blocked producers stall the scheduler. Producers
//     are ordinary goroutines: they park in the Go scheduler on a channel,
//     which also selects on their context. The consumer parks the same
//     way by default; only a consumer locked to its own OS thread
//     (Config.Futex) parks on the futex.
//   - A futex for every consumer (the previous default): a wake-up was a
//     futex(2) call and an OS thread switch, and a sleeping consumer kept
//     its P until the scheduler's monitor took it back, where a channel
//     hand-off between goroutines readies the consumer on the producer's P
//     (runnext) in a few hundred nanoseconds (BenchmarkWake in primitives,
//     the runtime's BenchmarkCall).
//   - Spinning inside the Parker: every producer would then Swap the
//     Parker's word while the consumer spins; the mailbox spins on its own
//     queue first and announces itself only when it is about to sleep.

import (
	"fmt"
	"math"
	goruntime "runtime"
	"sync/atomic"

	"github.com/zipora-go/zipora/primitives"
)

const (
	closedBit  = uint64(1) << 63 // in tail: set once by Close
	ticketMask = closedBit - 1
	noEnd      = math.MaxUint64 // end before Close published it

	// DefaultSpin is how many times an idle consumer that parks on a
	// futex (Config.Futex) polls its mailbox before it parks, unless Config.Spin
	// chose otherwise. A consumer parking in Go's scheduler (the default)
	// does not poll unless Config.Spin asks: its wake-up is cheap, and while
	// it polls on a P that its producer needs, the producer cannot run
	// (BenchmarkPingPong: 128 polls made a round trip 5× slower on one P).
	DefaultSpin = 128

	// MaxCapacity bounds NewBounded's capacity: the ring is allocated up
	// front, and Go cannot recover from running out of memory.
	MaxCapacity = 1 << 24
)

// pad separates groups of fields written by different goroutines. A full
// line between groups keeps them on different cache lines whatever the
// alignment of the Mailbox; TestLayout checks the offsets.
type pad [primitives.CacheLineSize]byte

// Config configures a Mailbox at construction. The zero value is the
// default in every field: a consumer that parks in Go's scheduler at once,
// no backpressure. Like every configuration of the module, 0 means the
// default and one named value (NoSpin) means "none".
type Config struct {
	// Spin is how many times an idle consumer polls the mailbox before it
	// parks. 0 means the default: DefaultSpin with Futex, no polling
	// otherwise (a consumer parked in Go's scheduler is cheap to wake).
	// NoSpin (or any negative value) parks at once, the right choice when
	// producers and consumer share one core.
	Spin int
	// Futex makes the consumer park on a futex (primitives.Parker)
	// instead of in Go's scheduler (primitives.GoParker). Choose it only
	// for a consumer locked to an OS thread of its own
	// (runtime.LockOSThread) on a core the program gives it: a futex
	// wake-up costs a system call and a thread switch, and the sleeping
	// thread keeps its P until the scheduler's monitor takes it back; in
	// exchange the consumer never waits for a P when it wakes. Between
	// ordinary goroutines the default is several times faster.
	Futex bool
	// Yield gives an unbounded mailbox soft backpressure: a producer whose
	// send finds about Yield items or more waiting yields its P
	// (runtime.Gosched) after the send, until the backlog is below Yield
	// again, a yield let the consumer make no progress, or it yielded 16
	// times, so that a consumer waiting for a P — readied on this very P
	// by an earlier send — runs and catches up, as it would behind a full
	// channel. Nothing blocks and nothing fails: the send is accepted
	// first. Checked on one send in 64. 0 (the default, or any negative
	// value) never yields. A bounded mailbox ignores it (its producers
	// park when it is full).
	Yield int
}

// NoSpin, as Config.Spin, makes an idle consumer park at once. It is
// primitives.NoSpin: the one value that means "none" in every spin knob
// of the module.
const NoSpin = primitives.NoSpin

// yieldSample: a producer checks the backlog for Config.Yield on one ticket
// in yieldSample (a load of the consumer's line per check).
const yieldSample = 64

// yieldRounds bounds the yields of one Config.Yield check; a yield after
// which the consumer made no progress ends the check (its goroutine is
// blocked, or the producer is the consumer itself).
const yieldRounds = 16

// Stats is a snapshot of a mailbox's counters. Each counter is read
// atomically, but not all at the same instant.
type Stats struct {
	// Sent is the number of items accepted (a send that returned nil).
	Sent uint64
	// Received is the number of items the consumer has taken, as of the
	// end of its last receive call.
	Received uint64
	// Parks is the number of times the consumer went to sleep on its
	// futex after finding the mailbox empty.
	Parks uint64
	// Wakeups is the number of times a producer, Close, Wake or a context
	// cancellation found the consumer about to sleep and unparked it.
	Wakeups uint64
	// ProducerParks is the number of times a producer slept waiting for
	// room in a full bounded mailbox.
	ProducerParks uint64
}

// Mailbox is a lock-free multi-producer, single-consumer queue of T.
//
// Create one with New (unbounded) or NewBounded; the zero value is not
// usable. A Mailbox must not be copied. Any number of goroutines may send,
// close and read statistics concurrently; exactly one goroutine at a time
// may receive (Receive, ReceiveBatch, TryReceive) — a second concurrent
// receiver panics under the race detector and the zipora_invariants build
// tag, and is undefined behaviour otherwise.
//
// Memory model: a send that returns nil happens-before the receive that
// returns the item. Close happens-before a send that returns ErrClosed
// because of it, and before the receive that reports ErrClosed.
type Mailbox[T any] struct {
	_ pad
	// Producers' hot word.
	tail atomic.Uint64 // acq-rel RMW: claims tickets (FAA, CAS); Or sets closedBit
	_    pad

	// Read-mostly by producers.
	waiting  atomic.Uint32              // seq-cst: 1 = consumer about to park; producers Swap to 0 to elect the waker
	tailSeg  atomic.Pointer[segment[T]] // acquire/release: a segment at or before the one being filled (hint)
	ring     []slot[T]                  // bounded only; immutable after construction
	capacity uint64                     // bounded only; immutable
	mask     uint64                     // capacity-1 when capacity is a power of two; immutable
	pow2     bool                       // immutable
	spin     int                        // immutable
	futex    bool                       // immutable: the consumer parks on parker, not goParker
	yield    uint64                     // immutable: Config.Yield; 0 never yields
	wakeFn   func()                     // m.wakeConsumer, bound once (context.AfterFunc)
	_        pad

	// Rarely written, shared.
	end           atomic.Uint64                        // release: count of accepted tickets, stored by Close; noEnd before
	wakeReq       atomic.Uint32                        // seq-cst: Wake pending; consumed by a receive that reports it
	spaceWanted   atomic.Uint32                        // seq-cst: a producer is about to sleep for room
	waiters       atomic.Int32                         // seq-cst: producers in waitRoom; first-time sends defer to them (bounded.go)
	spaceGen      atomic.Pointer[chan struct{}]        // acq-rel: current space generation, closed to wake waiters (bounded)
	wakeups       atomic.Uint64                        // statistics only
	producerParks atomic.Uint64                        // statistics only
	spares        [nSpares]atomic.Pointer[segSlots[T]] // acquire/release: recycled slot arrays
	_             pad

	// Consumer-owned.
	head         uint64                     // owner only: next ticket to take
	avail        uint64                     // owner only: tickets in [head, avail) are published
	cseg         *segment[T]                // owner only: segment holding head (unbounded)
	headPub      atomic.Uint64              // release: head, published at the end of each receive
	headSeg      atomic.Pointer[segment[T]] // release: cseg, published for delayed producers
	parks        atomic.Uint64              // statistics only; written by the owner
	consumerBusy atomic.Int32               // invariants builds: a receive is running
	parker       primitives.Parker          // Config.Futex
	goParker     primitives.GoParker        // otherwise
	_            pad
}

func newMailbox[T any](c Config) *Mailbox[T] {
	spin := c.Spin
	switch {
	case spin == 0 && c.Futex: // the default
		spin = DefaultSpin
	case spin < 0: // NoSpin
		spin = 0
	}
	m := &Mailbox[T]{spin: spin, futex: c.Futex, yield: uint64(max(c.Yield, 0))}
	m.end.Store(noEnd)
	m.wakeFn = m.wakeConsumer
	// The mailbox spins on its own queue; once it announces itself the
	// Parker should sleep at once.
	m.parker.SetSpin(primitives.NoSpin)
	return m
}

// New returns an empty unbounded mailbox. Sends never block and never fail
// except with ErrClosed. Memory grows with the backlog in segments of
// segSize slots; drained segments' arrays are reused.
func New[T any](cfg Config) *Mailbox[T] {
	m := newMailbox[T](cfg)
	seg := &segment[T]{slots: new(segSlots[T])}
	m.cseg = seg
	m.tailSeg.Store(seg)
	m.headSeg.Store(seg)
	return m
}

// NewBounded returns an empty mailbox holding at most capacity items. Send
// parks while it is full, TrySend returns ErrFull, SendContext gives up with
// the context's error. A parked sender is woken as soon as the consumer
// frees a slot, and while senders are parked, TrySend returns ErrFull and
// new sends queue behind them (they do not take the freed slots first). A
// capacity <= 0 or above MaxCapacity is ErrInvalidCapacity.
func NewBounded[T any](capacity int, cfg Config) (*Mailbox[T], error) {
	if capacity <= 0 || capacity > MaxCapacity {
		return nil, fmt.Errorf("%w: NewBounded(%d)", ErrInvalidCapacity, capacity)
	}
	m := newMailbox[T](cfg)
	m.ring = make([]slot[T], capacity)
	m.capacity = uint64(capacity)
	gen := make(chan struct{})
	m.spaceGen.Store(&gen)
	if capacity&(capacity-1) == 0 {
		m.pow2 = true
		m.mask = uint64(capacity - 1)
	}
	return m, nil
}

// Cap returns the capacity of a bounded mailbox, and 0 for an unbounded one.
func (m *Mailbox[T]) Cap() int { return int(m.capacity) }

// Closed reports whether Close has been called.
func (m *Mailbox[T]) Closed() bool { return m.tail.Load()&closedBit != 0 }

// accepted returns the number of tickets accepted so far (capped by end
// once Close published it).
func (m *Mailbox[T]) accepted() uint64 {
	t := m.tail.Load()
	if t&closedBit != 0 {
		if e := m.end.Load(); e != noEnd {
			return e
		}
	}
	return t & ticketMask
}

// Len returns the number of items sent but not yet received. It is
// approximate: it counts items whose send is still publishing, and the
// consumer's progress as of the end of its last receive call. Safe from any
// goroutine.
func (m *Mailbox[T]) Len() int {
	h := m.headPub.Load()
	t := m.accepted()
	if t <= h {
		return 0
	}
	return int(t - h)
}

// Stats returns a snapshot of the mailbox's counters. Safe from any
// goroutine.
func (m *Mailbox[T]) Stats() Stats {
	return Stats{
		Sent:          m.accepted(),
		Received:      m.headPub.Load(),
		Parks:         m.parks.Load(),
		Wakeups:       m.wakeups.Load(),
		ProducerParks: m.producerParks.Load(),
	}
}

// Close stops the mailbox from accepting items: sends that claim after it
// return ErrClosed, producers blocked on a full mailbox return ErrClosed.
// Items accepted before Close are still delivered; once they are all
// received, receives return ErrClosed. Close is idempotent and safe from any
// goroutine.
func (m *Mailbox[T]) Close() {
	old := m.tail.Or(closedBit) // acq-rel: orders every claim before or after the close
	if old&closedBit != 0 {
		return
	}
	m.end.Store(old & ticketMask) // release: the consumer's drained point
	if m.ring != nil {
		m.wakeProducers()
	}
	m.wakeConsumer()
}

// Wake makes the consumer's current (or next) blocking receive return
// without an item: ReceiveBatch returns (0, nil) and Receive returns
// ErrWoken, unless items are available, which are returned first. A Wake
// is not lost when the consumer is not waiting; several Wakes before the
// consumer notices collapse into one. Safe from any goroutine.
func (m *Mailbox[T]) Wake() {
	m.wakeReq.Store(1) // seq-cst: before the waiting swap (missed-wakeup argument)
	m.wakeConsumer()
}

// notify is the producers' fast path after publishing: one atomic load.
func (m *Mailbox[T]) notify() {
	if m.waiting.Load() != 0 { // seq-cst: after the stamp store (missed-wakeup argument)
		m.wakeConsumer()
	}
}

// backpressure yields the producer's P when the backlog reached the
// Config.Yield limit. next is the ticket after the producer's last one.
// It stops early when a yield let the consumer make no progress at all
// (its goroutine is blocked, or is this very producer): yielding again
// would not help.
func (m *Mailbox[T]) backpressure(next uint64) {
	head := m.headPub.Load() // acquire: the consumer's progress
	for range yieldRounds {
		if next-head < m.yield {
			return
		}
		goruntime.Gosched()
		h := m.headPub.Load()
		if h == head {
			return
		}
		head = h
	}
}

// wakeConsumer unparks the consumer if it announced that it is about to
// sleep; of several concurrent callers exactly one unparks.
func (m *Mailbox[T]) wakeConsumer() {
	if m.waiting.Swap(0) != 0 { // seq-cst: elects the waker
		m.wakeups.Add(1)
		if m.futex {
			m.parker.Unpark()
		} else {
			m.goParker.Unpark()
		}
	}
}

// wakeProducers wakes every producer waiting for room in a bounded
// mailbox: a new generation replaces the current one, which is closed by
// whoever swapped it out (exactly one caller per generation).

func (m *Mailbox[T]) wakeProducers() {
	next := make(chan struct{})
	close(*m.spaceGen.Swap(&next)) // acq-rel: waiters that loaded the old generation wake
}
