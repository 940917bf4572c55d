package primitives

import "unsafe"

// FutexImpl names the futex implementation compiled in.
const FutexImpl = futexImpl

// PinSlotSize is the size of one reader pin slot.
const PinSlotSize = int(unsafe.Sizeof(pinSlot{}))
