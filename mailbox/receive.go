package mailbox

import (
	"context"
)

// The consumer side, shared by both kinds. See mailbox.go for the
// invariants and the missed-wakeup argument. Everything here runs on the
// consumer goroutine only.

// Receive returns the next item, blocking until one is available. It
// returns ErrClosed once the mailbox is closed and drained, ctx.Err() when
// ctx is done before an item arrives (items already available are returned
// first), and ErrWoken when Wake interrupted the wait. Only the consumer may
// call it.
func (m *Mailbox[T]) Receive(ctx context.Context) (T, error) {
	if ctx == nil {
		var zero T
		return zero, errNilContext
	}
	m.enter()
	for {
		if m.head < m.avail || m.acquire() {
			v := m.takeOne()
			m.published()
			m.exit()
			return v, nil
		}
		if err := m.wait(ctx); err != nil {
			m.exit()
			var zero T
			return zero, err
		}
	}
}

// ReceiveBatch blocks until at least one item is available, then moves up
// to len(buf) items into buf and returns how many. It returns (0, nil) when
// Wake interrupted the wait, (0, ErrClosed) once the mailbox is closed and
// drained, and (0, ctx.Err()) when ctx is done first. This is the worker
// loop's call. Only the consumer may call it; buf must not be empty.
func (m *Mailbox[T]) ReceiveBatch(ctx context.Context, buf []T) (int, error) {
	if len(buf) == 0 {
		panic("mailbox: ReceiveBatch with an empty buffer")
	}
	if ctx == nil {
		return 0, errNilContext
	}
	m.enter()
	for {
		if n := m.drain(buf); n > 0 {
			m.exit()
			return n, nil
		}
		if err := m.wait(ctx); err != nil {
			m.exit()
			if err == ErrWoken {
				return 0, nil
			}
			return 0, err
		}
	}
}

// TryReceive returns the next item and true if one is available, without
// blocking. It does not consume a pending Wake. Only the consumer may call
// it.
func (m *Mailbox[T]) TryReceive() (T, bool) {
	m.enter()
	defer m.exit()
	if m.head < m.avail || m.acquire() {
		v := m.takeOne()
		m.published()
		return v, true
	}
	var zero T
	return zero, false
}

// enter and exit bracket every receive; under the race detector and the
// zipora_invariants tag they detect a second concurrent receiver.
func (m *Mailbox[T]) enter() {
	if checkInvariants && !m.consumerBusy.CompareAndSwap(0, 1) {
		panic("mailbox: concurrent receivers: only one goroutine may receive at a time")
	}
}

func (m *Mailbox[T]) exit() {
	if checkInvariants {
		m.consumerBusy.Store(0)
	}
}

// slotAt returns the consumer's slot for ticket h, moving to the next
// segment when h has crossed into it; nil when that segment is not linked
// yet (its first item cannot be published then).
func (m *Mailbox[T]) slotAt(h uint64) *slot[T] {
	if m.ring != nil {
		return &m.ring[m.index(h)]
	}
	seg := m.cseg
	if h>>segShift != seg.id {
		seg = m.nextConsumerSegment()
		if seg == nil {
			return nil
		}
	}
	return &seg.slots[h&segMask]
}

// acquire checks the stamp at head for a newly published run and records
// its end in avail. Precondition: head == avail.
func (m *Mailbox[T]) acquire() bool {
	h := m.head
	s := m.slotAt(h)
	if s == nil {
		return false
	}
	if e := s.stamp.Load(); e > h { // acquire: the run's values were written before
		m.avail = e
		return true
	}
	return false
}

// takeOne moves the item at head out of its slot. Precondition: head <
// avail.
func (m *Mailbox[T]) takeOne() T {
	h := m.head
	var s *slot[T]
	if m.ring != nil {
		s = &m.ring[m.index(h)]
	} else {
		s = &m.cseg.slots[h&segMask] // a run never crosses a segment
	}
	v := s.v
	var zero T
	s.v = zero // drop the reference for the garbage collector
	m.head = h + 1
	return v
}

// drain moves up to len(buf) published items into buf and publishes the
// consumer's progress.
func (m *Mailbox[T]) drain(buf []T) int {
	n := 0
	for n < len(buf) {
		if m.head == m.avail && !m.acquire() {
			break
		}
		k := min(m.avail-m.head, uint64(len(buf)-n))
		n += m.takeRun(buf[n : n+int(k)])
	}
	if n > 0 {
		m.published()
	}
	return n
}

// takeRun moves len(dst) items from [head, avail) into dst.
func (m *Mailbox[T]) takeRun(dst []T) int {
	var zero T
	h := m.head
	if m.ring == nil {
		slots := m.cseg.slots[h&segMask:]
		for i := range dst {
			dst[i] = slots[i].v
			slots[i].v = zero
		}
	} else {
		for i := range dst {
			s := &m.ring[m.index(h+uint64(i))]
			dst[i] = s.v
			s.v = zero
		}
	}
	m.head = h + uint64(len(dst))
	return len(dst)
}

// published makes the consumer's progress visible: to Len and Stats, and,
// for a bounded mailbox, to producers waiting for room.
func (m *Mailbox[T]) published() {
	m.headPub.Store(m.head)                         // release: the taken slots are free
	if m.ring != nil && m.spaceWanted.Load() != 0 { // seq-cst: after headPub (missed-wakeup argument)
		m.roomFreed()
	}
}

// roomFreed wakes the producers waiting for room: any freed slot may be
// the one a waiter needs (see bounded.go for the rule).
func (m *Mailbox[T]) roomFreed() {
	if m.spaceWanted.Swap(0) != 0 { // seq-cst: elects the waker
		m.wakeProducers()
	}
}

// ready reports whether an item is available at head.
func (m *Mailbox[T]) ready() bool { return m.head < m.avail || m.acquire() }

// drainedClosed reports whether Close has published its end and every
// accepted item has been taken.
// It reads end, not tail: end is stored only after the closed bit is set,
// and an idle consumer polling tail would pull the producers' hottest line
// away from them. Between the two stores the consumer may park; Close
// wakes it after storing end.
func (m *Mailbox[T]) drainedClosed() bool {
	e := m.end.Load() // acquire: published by Close
	return e != noEnd && m.head >= e
}

// idleReason says why a consumer that found no item must return now:
// ErrWoken, ErrClosed, the context's error, or nil to keep waiting.
func (m *Mailbox[T]) idleReason(ctx context.Context) error {
	if m.wakeReq.Load() != 0 && m.wakeReq.Swap(0) != 0 {
		return ErrWoken
	}
	if m.drainedClosed() {
		return ErrClosed
	}
	return ctx.Err()
}

// wait returns nil when an item may be available, or the reason to stop.
// It spins first, then parks.
func (m *Mailbox[T]) wait(ctx context.Context) error {
	if m.spin == 0 {
		return m.park(ctx) // it checks idleReason after announcing itself
	}
	if err := m.idleReason(ctx); err != nil {
		return err
	}
	for i := m.spin; i > 0; i-- {
		if m.ready() || m.wakeReq.Load() != 0 {
			return nil
		}
	}
	return m.park(ctx)
}

// park sleeps until a producer, Close, Wake or the context wakes it: in
// Go's scheduler (GoParker, selecting on the context's Done channel), or,
// Config.Futex, on the Parker (parkFutex).
func (m *Mailbox[T]) park(ctx context.Context) error {
	if m.futex {
		return m.parkFutex(ctx)
	}
	for {
		if stop, err := m.announce(ctx); stop {
			return err
		}
		m.goParker.ParkContext(ctx)
		if m.woken() {
			return nil
		}
	}
}

// parkFutex is park on the futex Parker; a context that can be cancelled
// is watched with context.AfterFunc, registered only here on the slow
// path.
func (m *Mailbox[T]) parkFutex(ctx context.Context) error {
	var stop func() bool
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		if quit, err := m.announce(ctx); quit {
			return err
		}
		if stop == nil && ctx.Done() != nil {
			stop = context.AfterFunc(ctx, m.wakeFn)
		}
		m.parker.Park(0)
		if m.woken() {
			return nil
		}
	}
}

// announce tells producers that the consumer is about to sleep, then
// re-checks (the missed-wakeup argument). It returns quit = true with the
// receive's result (nil: an item is ready) when the consumer must not
// sleep, and counts the park otherwise.
func (m *Mailbox[T]) announce(ctx context.Context) (quit bool, err error) {
	m.waiting.Store(1) // seq-cst: before the re-checks (missed-wakeup argument)
	if m.ready() {
		m.waiting.Store(0)
		return true, nil
	}
	if err := m.idleReason(ctx); err != nil {
		m.waiting.Store(0)
		return true, err
	}
	m.parks.Add(1)
	return false, nil
}

// woken runs after a park returned: it withdraws the announcement unless a
// waker's swap did, and reports whether an item is ready (the usual
// wake-up: no need to announce again).
func (m *Mailbox[T]) woken() bool {
	if m.waiting.Load() != 0 {
		m.waiting.Store(0)
	}
	return m.ready()
}
