package mailbox

import (
	"context"
	"sync/atomic"
)

// The unbounded kind: a linked list of segments, each an array of segSize
// slots; ticket t lives in segment t>>segShift at offset t&segMask.
//
// Invariants:
//   - A segment's id and slots are set before it is linked (CAS on the
//     predecessor's next) and never change; next is set once, from nil.
//     Headers are never reused, so any header a producer holds leads, by
//     next links, to every later segment.
//   - tailSeg only moves forward (CAS from the value a producer walked
//     from). It may lag behind the segment being filled, or (for a producer
//     delayed after its FAA) be ahead of the producer's own segment.
//   - headSeg is the consumer's segment. While a ticket t is claimed but
//     unpublished the consumer cannot pass t, so headSeg.id <= t>>segShift:
//     a producer whose segment is behind tailSeg walks from headSeg.
//   - A slot array is recycled (spares) only after the consumer took every
//     ticket of its segment, so no producer writes into it any more; the
//     producer that takes it from a spare cell owns it.
//
// Who may call what: producers (any goroutine) claim, walk, link and
// publish; only the consumer moves cseg/headSeg and returns arrays to the
// spares.

const (
	segShift = 10
	segSize  = 1 << segShift // slots per segment
	segMask  = segSize - 1
	nSpares  = 8 // recycled slot arrays kept
)

// slot holds one item. stamp is the end ticket of the run starting here,
// written by its producer after the run's values (see mailbox.go).
type slot[T any] struct {
	stamp atomic.Uint64 // release: publishes the run [ticket, stamp)
	v     T
}

type segSlots[T any] [segSize]slot[T]

type segment[T any] struct {
	id    uint64                     // immutable after linking
	next  atomic.Pointer[segment[T]] // release: set once by the producer that links the next segment
	slots *segSlots[T]               // immutable after linking
}

// Send adds v to the mailbox. On an unbounded mailbox it never blocks; on a
// bounded one it parks while the mailbox is full. It returns ErrClosed if
// the mailbox was closed first (a blocked Send returns ErrClosed when Close
// is called). A nil return means v will be delivered.
func (m *Mailbox[T]) Send(v T) error {
	if m.ring != nil {
		return m.sendBounded(context.Background(), v, true)
	}
	t := m.tail.Add(1) - 1 // acq-rel: claims ticket t
	if t&closedBit != 0 {
		return ErrClosed
	}
	seg := m.tailSeg.Load() // acquire: hint
	if seg.id != t>>segShift {
		seg = m.segFor(seg, t>>segShift)
	}
	off := t & segMask
	s := &seg.slots[off]
	s.v = v
	s.stamp.Store(t + 1) // release: publishes the run [t, t+1)
	if off == 0 {
		m.linkAhead(seg)
	}
	m.notify()
	if m.yield != 0 && t%yieldSample == 0 {
		m.backpressure(t + 1)
	}
	return nil
}

// TrySend adds v without blocking. It returns ErrFull when a bounded
// mailbox is full, or while other senders wait for room (the room freed
// goes to them first), and ErrClosed when the mailbox is closed.
func (m *Mailbox[T]) TrySend(v T) error {
	if m.ring != nil {
		return m.sendBounded(context.Background(), v, false)
	}
	return m.Send(v)
}

// SendContext adds v, parking while a bounded mailbox is full until room
// appears, the mailbox is closed (ErrClosed) or ctx is done (ctx.Err()). An
// item that fits at once is accepted even if ctx is already done; an
// unbounded mailbox never waits.
func (m *Mailbox[T]) SendContext(ctx context.Context, v T) error {
	if ctx == nil {
		return errNilContext
	}
	if m.ring != nil {
		return m.sendBounded(ctx, v, true)
	}
	return m.Send(v)
}

// SendBatch adds every item of vs as one claim and one publication per
// segment: the items are consecutive in the mailbox, and either all of them
// are accepted or, if the mailbox is closed, none (ErrClosed). On a bounded
// mailbox it parks until there is room for all of them, and a batch larger
// than the capacity returns ErrBatchTooLarge. An empty batch returns nil
// (ErrClosed if closed). The mailbox does not retain vs.
func (m *Mailbox[T]) SendBatch(vs []T) error {
	if m.ring != nil {
		return m.sendBatchBounded(context.Background(), vs, true)
	}
	n := uint64(len(vs))
	if n == 0 {
		if m.Closed() {
			return ErrClosed
		}
		return nil
	}
	t := m.tail.Add(n) - n // acq-rel: claims [t, t+n)
	if t&closedBit != 0 {
		return ErrClosed
	}
	seg := m.tailSeg.Load()
	for len(vs) > 0 {
		if seg.id != t>>segShift {
			seg = m.segFor(seg, t>>segShift)
		}
		off := t & segMask
		run := min(uint64(len(vs)), segSize-off)
		slots := seg.slots[off : off+run]
		for i := range slots {
			slots[i].v = vs[i]
		}
		slots[0].stamp.Store(t + run) // release: publishes the run [t, t+run)
		if off == 0 {
			m.linkAhead(seg)
		}
		vs = vs[run:]
		t += run
	}
	m.notify()
	if m.yield != 0 && t/yieldSample != (t-n)/yieldSample {
		m.backpressure(t)
	}
	return nil
}

// TrySendBatch is SendBatch without blocking: a bounded mailbox without
// room for every item, or with senders waiting for room, returns ErrFull
// and accepts none.
func (m *Mailbox[T]) TrySendBatch(vs []T) error {
	if m.ring != nil {
		return m.sendBatchBounded(context.Background(), vs, false)
	}
	return m.SendBatch(vs)
}

// SendBatchContext is SendBatch that gives up with ctx.Err() when ctx is
// done while it waits for room.
func (m *Mailbox[T]) SendBatchContext(ctx context.Context, vs []T) error {
	if ctx == nil {
		return errNilContext
	}
	if m.ring != nil {
		return m.sendBatchBounded(ctx, vs, true)
	}
	return m.SendBatch(vs)
}

// segFor returns the segment with id sid, walking forward from seg (or from
// the consumer's segment when seg is past sid), linking segments as needed,
// and advancing tailSeg.
func (m *Mailbox[T]) segFor(seg *segment[T], sid uint64) *segment[T] {
	start := seg
	if seg.id > sid {
		// Delayed producer: the consumer cannot have passed sid.
		seg, start = m.headSeg.Load(), nil // acquire
	}
	for seg.id < sid {
		next := seg.next.Load() // acquire
		if next == nil {
			next = m.link(seg)
		}
		seg = next
	}
	if start != nil && start != seg {
		m.tailSeg.CompareAndSwap(start, seg) // release: forward only
	}
	return seg
}

// linkAhead links the segment after seg early, so that producers crossing
// into it rarely find it missing. Called by the producer of offset 0.
func (m *Mailbox[T]) linkAhead(seg *segment[T]) {
	if seg.next.Load() == nil {
		m.link(seg)
	}
}

// link links a new segment after seg (or finds the one another producer
// linked) and returns it.
func (m *Mailbox[T]) link(seg *segment[T]) *segment[T] {
	n := &segment[T]{id: seg.id + 1, slots: m.takeSpare()}
	if seg.next.CompareAndSwap(nil, n) { // release: publishes n's id and slots
		return n
	}
	m.putSpare(n.slots)
	return seg.next.Load()
}

// takeSpare returns a recycled slot array, or a new one.
func (m *Mailbox[T]) takeSpare() *segSlots[T] {
	for i := range m.spares {
		if m.spares[i].Load() != nil {
			if p := m.spares[i].Swap(nil); p != nil { // acquire: exclusive ownership
				return p
			}
		}
	}
	return new(segSlots[T])
}

// putSpare keeps an unused slot array for reuse, or drops it for the
// garbage collector when every spare cell is taken.
func (m *Mailbox[T]) putSpare(p *segSlots[T]) {
	for i := range m.spares {
		if m.spares[i].CompareAndSwap(nil, p) { // release: the array's zeroed values
			return
		}
	}
}

// nextConsumerSegment moves the consumer to the next segment once it is
// linked, recycling the finished segment's array. Consumer only.
func (m *Mailbox[T]) nextConsumerSegment() *segment[T] {
	old := m.cseg
	next := old.next.Load() // acquire
	if next == nil {
		return nil
	}
	m.cseg = next
	m.headSeg.Store(next) // release: delayed producers walk from here
	m.putSpare(old.slots)
	return next
}
