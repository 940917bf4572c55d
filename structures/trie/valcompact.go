package trie

// Value-store compaction (both concurrent forms): after mass deletes the
// value directory (chunks of 1024 slots) keeps every chunk it ever grew to;
// Reclaim moves the live values down into free low slots and drops the top
// chunks once nothing can reach them.
//
// Who may call what: valMove and valShrink run with every writer
// excluded — the writer role at OneWriteMultiRead (Writer.Reclaim, nothing
// pending), every writer slot plus every node lock at MultiWriteMultiRead
// (mwReclaimAll; valShrink needs the slots only). freeValue and takeValues
// (cmem.go) read the limit and use the parked list under gmu.
//
// Invariants:
//   - A value slot is written once before a ref naming it is published and
//     read by readers through the directory they load; a moved value is
//     copied into a free low slot j (no reader can reach a free slot), then
//     the one word naming it — the node's header-value word (storeHV) or
//     the inline leaf's child slot (or the root) — is stored (release) with
//     j, and the old slot i is retired at the epoch read after the stores,
//     like any replaced value. A reader that loaded i before the store
//     still reads i's value, which stays until its readers have left.
//   - While a shrink is pending (vc.limit != 0), every slot index at or
//     above the limit is either live-and-retired (moved from) or parked:
//     the move took every free index above the limit out of the free lists,
//     and freeValue parks instead of listing one. Only takeValues hands out
//     a slot above the limit (a writer needs a new chunk): it then unparks
//     everything and cancels the shrink, so parked slots are never lost.
//   - valShrink drops the chunks above the limit only when every slot in
//     them is parked: every retiree naming one was reclaimed, so no reader
//     can hold one of their indices; a reader still using the longer
//     directory keeps its chunks alive (Go memory).
//
// Rejected: moving values during a node compaction only (the one-writer
// form compacts nodes rarely, and a sparse value directory with a dense
// node pool is the common case after deletes); a generation per directory
// checked by readers (a load and compare on every value read).

import (
	"sync/atomic"
	"unsafe"
)

// valCompactState is the value-store compaction's state.
type valCompactState struct {
	limit  atomic.Uint32 // relaxed: 0, or the first slot index being retired (a multiple of the chunk size)
	parked []uint32      // under gmu: freed slots at or above limit
}

// valWorth reports whether the value directory reserves more than twice
// the slots that live and retired values need plus four chunks, and the
// limit to compact to. ws are every writer state, owned by the caller.
func (c *Concurrent[V]) valWorth(ws []*wstate[V], keys int) (limit uint32, ok bool) {
	if c.noValues || c.vc.limit.Load() != 0 || c.snapHeld() {
		return 0, false // a snapshot may reach a slot a move would free
	}
	need := keys
	for _, w := range ws {
		for _, r := range w.ret[w.rhead:] {
			if r.size == 0 {
				need++
			}
		}
	}
	chunks := (need+(1<<valChunkBits)-1)>>valChunkBits + 1
	if len(c.vals.Load().chunks) <= 2*chunks+4 {
		return 0, false
	}
	return uint32(chunks) << valChunkBits, true
}

// valMove moves every live value at or above limit into a free slot below
// it, retiring the old slots into ws[0]'s queue, and starts the shrink
// (parking the free slots above limit). The tree at root does not change
// meanwhile (the caller excludes writers); setRoot stores a new root
// (an inline leaf at the root).
func (c *Concurrent[V]) valMove(ws []*wstate[V], limit uint32, root uint32, setRoot func(uint32)) {
	// Every free slot, out of the lists; the untaken ranges count as
	// handed out and free.
	var free []uint32
	for _, w := range ws {
		for i := w.vnext; i < w.vend; i++ {
			w.vfree = append(w.vfree, i)
		}
		w.vhanded += int(w.vend - w.vnext)
		w.vnext = w.vend
		free = append(free, w.vfree...)
		w.vfree = w.vfree[:0]
	}
	c.gmu.Lock()
	for _, b := range c.vshared {
		free = append(free, b...)
	}
	c.vshared = nil
	c.gmu.Unlock()
	var low, high []uint32
	for _, i := range free {
		if i < limit {
			low = append(low, i)
		} else {
			high = append(high, i)
		}
	}
	d := c.vals.Load()
	var moved []uint32
	stuck := false // a value above limit stayed (no low slot left)
	move := func(i uint32) (uint32, bool) {
		if i < limit {
			return i, false
		}
		if len(low) == 0 {
			stuck = true
			return i, false
		}
		j := low[len(low)-1]
		low = low[:len(low)-1]
		d.chunks[j>>valChunkBits][j&(1<<valChunkBits-1)] = d.chunks[i>>valChunkBits][i&(1<<valChunkBits-1)]
		moved = append(moved, i)
		return j, true
	}
	if isLeafRef(root) {
		if j, ok := move(root >> 1); ok {
			setRoot(leafRef(j)) // release: publishes the moved value
		}
	}
	c.eachNode(root, func(n node, h header) bool {
		if _, vi := loadHV(n); h.hasValue() {
			if j, ok := move(vi); ok {
				storeHV(n, h, j) // release: publishes the moved value
			}
		}
		slots := h.count()
		if h.dense() {
			slots = denseSlots
		}
		for k := range slots {
			s := slotAt(n, h, k)
			if r := s.Load(); isLeafRef(r) {
				if j, ok := move(r >> 1); ok {
					s.Store(leafRef(j)) // release: publishes the moved value
				}
			}
		}
		return true
	})
	e := c.epoch.Epoch() // after the stores: see EpochDomain
	w := ws[0]
	for _, i := range moved {
		w.retire(e, i, 0)
	}
	w.vfree = append(w.vfree, low...)
	if stuck {
		w.vfree = append(w.vfree, high...) // no shrink this time
		return
	}
	c.gmu.Lock()
	c.vc.parked = append(c.vc.parked[:0], high...)
	c.gmu.Unlock()
	c.vc.limit.Store(limit)
}

// valShrink drops the value chunks above the limit once every slot in them
// is parked (moved-from slots reclaimed: no reader can reach them). ws are
// every writer state, owned by the caller.
func (c *Concurrent[V]) valShrink(ws []*wstate[V]) {
	limit := c.vc.limit.Load()
	if limit == 0 {
		return
	}
	c.gmu.Lock()
	defer c.gmu.Unlock()
	d := c.vals.Load()
	if uint64(len(c.vc.parked)) != uint64(len(d.chunks))<<valChunkBits-uint64(limit) {
		return // moved-from slots still wait for readers
	}
	nd := &valDir[V]{chunks: append([]*valChunk[V](nil), d.chunks[:limit>>valChunkBits]...)}
	c.vals.Store(nd)                                                                // release: the shorter directory
	c.valueBytes.Store(int64(len(nd.chunks)) * int64(unsafe.Sizeof(valChunk[V]{}))) // relaxed: a statistic
	ws[0].vhanded -= len(c.vc.parked)
	c.vc.parked = nil
	c.vc.limit.Store(0)
}

// parkValue keeps freed slot idx, at or above the limit, out of the free
// lists (freeValue).
func (c *Concurrent[V]) parkValue(idx uint32) {
	c.gmu.Lock()
	c.vc.parked = append(c.vc.parked, idx)
	c.gmu.Unlock()
}

// unparkValues cancels a pending shrink: the parked slots go to w's free
// list. Under gmu (takeValues, before the directory grows).
func (w *wstate[V]) unparkValues() {
	c := w.c
	w.vfree = append(w.vfree, c.vc.parked...)
	c.vc.parked = nil
	c.vc.limit.Store(0)
}

// owValCompact moves the values down when the directory is sparse
// (valWorth) at OneWriteMultiRead. Writer-role holder, nothing pending
// (Writer.Reclaim after publish).
func (c *Concurrent[V]) owValCompact() {
	ws := []*wstate[V]{&c.w}
	if limit, ok := c.valWorth(ws, int(c.w.keys)); ok {
		c.valMove(ws, limit, c.w.root, func(r uint32) {
			c.w.root = r
			c.root.Store(r) // release: publishes the moved value
		})
	}
}
