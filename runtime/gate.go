package runtime

// gate admits the submissions that must be all-or-nothing with respect to
// Stop (Each: one task per worker; Go: ants' Submit racing its Release)
// and lets Stop wait until every admitted one has left.
//
// Invariants: n counts admitted callers in flight in its low bits; closedBit
// is set once by close. enter adds 1 and succeeds only if the word it
// produced lacks closedBit; a failed enter leaves at once. Every enter is
// therefore ordered before close (admitted: close waits for its leave) or
// after it (refused). The caller whose leave (or close itself) brings the
// word to exactly closedBit signals drained; late failed enters can bring it
// there again, hence the Once.
//
// Submit, SubmitTo and Call do not pass through the gate: their mailbox
// send is accepted or refused atomically by the mailbox's own close, and a
// shared counter would cost every submission two contended read-modify-
// writes.

import (
	"sync"
	"sync/atomic"
)

const gateClosed = int64(1) << 62

type gate struct {
	n       atomic.Int64 // seq-cst: admitted callers | gateClosed
	once    sync.Once
	drained chan struct{} // closed once closed and empty
}

func (g *gate) init() { g.drained = make(chan struct{}) }

// enter admits the caller unless the gate is closed. An admitted caller
// must call leave.
func (g *gate) enter() bool {
	if g.n.Add(1)&gateClosed != 0 {
		g.leave()
		return false
	}
	return true
}

func (g *gate) leave() {
	if g.n.Add(-1) == gateClosed {
		g.signal()
	}
}

func (g *gate) signal() { g.once.Do(func() { close(g.drained) }) }

// close refuses later enters and waits until every admitted caller left.
func (g *gate) close() {
	if g.n.Or(gateClosed) == 0 {
		g.signal()
	}
	<-g.drained
}
