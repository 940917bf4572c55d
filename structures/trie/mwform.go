package trie

// The multi-writer form (MultiWriteMultiRead) behind Concurrent's methods
// (concurrent.go): its set-up and its flush of the writer slots'
// statistics at the insert cap. The writes are mwmr.go (and snapmw.go's
// gate in front of them); Reclaim is snapmw.go's mwReclaim and
// mwcompact.go.
//
// Who may call what: mwInit only from NewConcurrent, before c is shared;
// mwFlushAtCap from any goroutine holding no writer slot (the insert
// entry points, through checkCapSlow).
//
// Invariants: those of mwmr.go (per-node locks, writer slots) and
// cmem.go (the slots' statistics are deltas into shared sums). The
// capFlushed flag is set (release) only after every slot published its
// drift, and cleared only by Reclaim (mwcompact.go) once the arena is
// below its cap again.

import "github.com/zipora-go/zipora/structures/pool"

// mwInit sets up the multi-writer form: the shared lock-free node pool and
// the writer slots over it. The shared Writer is always usable. It returns
// the pool's chunk size.
func (c *Concurrent[V]) mwInit(pcfg pool.Config) (chunk int, err error) {
	lf, err := newSharedArena(pcfg)
	if err != nil {
		return 0, err
	}
	c.arenas[0] = c.setupSlots(lf) // for storeCapacity: the slots' shared pool (c.w is unused)
	c.wr.held = true               // the multi-writer Writer is shared and always usable
	return lf.Config().ChunkSize, nil
}

// mwFlushAtCap is checkCapSlow's first step at MultiWriteMultiRead: the
// first check at the cap publishes what each slot had not published yet,
// so arenaBytes is exact from then on (checkCapSlow).
func (c *Concurrent[V]) mwFlushAtCap() {
	if !c.capFlushed.Load() { // acquire: pairs with the Store below
		c.eachSlot(func(w *wstate[V]) { w.publishStatsNow() })
		c.capFlushed.Store(true) // release: every slot's drift is published
	}
}
