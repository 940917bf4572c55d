package primitives

import (
	"iter"

	"golang.org/x/sys/cpu"
)

// Local holds one value of type T per worker, each on its own cache lines, so
// workers updating their own slot never contend. Go has no thread-local
// storage; a worker indexes its slot by its worker id explicitly.
//
// Slot i may be used without synchronization only by the goroutine that owns
// worker id i; reading another worker's slot needs the owner's own protocol
// (atomics inside T, or a hand-off through a mailbox).
//
// The zero value holds no slots; use NewLocal. A Local must not be copied
// (copies share slots).
type Local[T any] struct {
	slots []localSlot[T]
}

// localSlot pads both sides of the value: the size of T is not a constant in
// generic code, so a trailing pad cannot be computed; a leading pad per slot
// keeps every two values at least a cache line apart.
type localSlot[T any] struct {
	_ cpu.CacheLinePad
	v T
}

// NewLocal returns a Local with n zero-valued slots. It panics if n < 0.
func NewLocal[T any](n int) *Local[T] {
	if n < 0 {
		panic("primitives: NewLocal with a negative slot count")
	}
	return &Local[T]{slots: make([]localSlot[T], n)}
}

// Get returns the slot of worker id. It panics if id is out of range.
func (l *Local[T]) Get(id int) *T { return &l.slots[id].v }

// Len returns the number of slots.
func (l *Local[T]) Len() int { return len(l.slots) }

// All yields every worker id and its slot, in id order.
func (l *Local[T]) All() iter.Seq2[int, *T] {
	return func(yield func(int, *T) bool) {
		for i := range l.slots {
			if !yield(i, &l.slots[i].v) {
				return
			}
		}
	}
}
