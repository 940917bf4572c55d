package mailbox

import "unsafe"

// Test access to internals.

const (
	SegSize         = segSize
	CheckInvariants = checkInvariants
)

// Offsets of the field groups, for the layout test.
func Offsets[T any]() (tail, waiting, end, head uintptr) {
	var m Mailbox[T]
	return unsafe.Offsetof(m.tail), unsafe.Offsetof(m.waiting), unsafe.Offsetof(m.end), unsafe.Offsetof(m.head)
}

// Waiting reports whether the consumer announced that it is about to park.
func (m *Mailbox[T]) Waiting() bool { return m.waiting.Load() != 0 }

// SpinCount is the number of polls an idle consumer makes before parking.
func (m *Mailbox[T]) SpinCount() int { return m.spin }
