package pool

// Chunk release for LockFree (Trim): a small chunk whose blocks are all
// free goes back to the arena while other goroutines keep allocating and
// freeing.
//
// Who may call what: any goroutine may call Trim, TrimHold and ReuseHeld,
// concurrently with every other method; they serialize on the growth
// mutex g (as refills do).
//
// Invariants:
//   - Every byte of a small chunk is, at any moment, in exactly one of: a
//     live block; a stripe's free list; a class slab's bump range; the
//     shared chunk's remainder (src); or in flight (popped by an allocator
//     that has not returned it yet, or a refill's tail between g and its
//     pushRange). Trim counts the bytes of the second to fourth kinds it
//     owns: every free list is taken whole with one CAS of its head (the
//     generation is bumped, so a pop that loaded the old head fails its
//     CAS and never hands out a block Trim holds), slabs are taken under g
//     (bumpers CAS only a non-zero count; only refills, under g, store
//     one) and src is under g. A chunk whose owned bytes cover all of its
//     usable bytes has no live and no in-flight block: nobody else can
//     hand out or free one of its blocks, so it is released. Everything
//     else is put back where it was (lists onto the stripe they came from,
//     slabs and src restored). In-flight memory only keeps a chunk.
//   - A pop racing with Trim may read a link word of a block in a released
//     chunk through an older table: that table still holds the chunk's Go
//     memory (the garbage collector keeps it while the table is
//     referenced), the read is the same benign race as any stale pop
//     (loadLinkRacy), and the pop's CAS fails.
//   - TrimHold keeps the released chunk slots out of reuse (arena.kept)
//     until ReuseHeld: a caller that caches chunk addresses by index (the
//     multi-writer trie's readers' view) must not see a slot index come
//     back with different memory while a reader may still use its old
//     cached address.
//
// Rejected: releasing chunks only when the arena is exhausted (Mutex's
// reclaimSmall: memory never comes back to the Go heap otherwise; issue
// 19 case 8); a per-chunk count of free blocks kept on every Free (an
// atomic add on a shared chunk word per operation, the cost the
// lock-free path exists to avoid); stopping every allocator (the pool has
// no way to; holding g only stops refills).

import "sync/atomic"

// trim is Trim (hold: TrimHold). It returns the number of chunks released.
func (p *lfCore) trim(hold bool) int {
	if p.newSlab != nil {
		return 0 // ThreadLocal's central pool: spans are owned by caches
	}
	p.g.Lock()
	defer p.g.Unlock()
	a := &p.a
	t := a.pub.Load() // acquire: the chunk table (under g: also the newest)
	nchunks := len(t.chunks)
	free := make([]int64, nchunks)
	// Take every free list whole.
	type chain struct {
		h     *atomic.Uint64
		first Offset
	}
	var chains []chain
	for i := range p.stripes {
		s := p.stripes[i].Load() // acquire: a stripe and its heads, published by newStripe
		if s == nil {
			continue
		}
		for c := range s.heads {
			h := &s.heads[c].head
			first := p.takeAll(h)
			if first == 0 {
				continue
			}
			chains = append(chains, chain{h, first})
			n := int64(c+1) << a.alignShift
			for off := first; off != 0; off = p.link(t, off) {
				free[off>>a.shift] += n
			}
		}
	}
	// Take every slab.
	slabs := make([]uint64, len(p.cls))
	for c := range p.cls {
		slabs[c] = p.takeSlab(&p.cls[c])
		if cnt := slabs[c] & slabCountMask; cnt != 0 {
			off := Offset(slabs[c]>>slabCountBits) << a.alignShift
			free[off>>a.shift] += int64(cnt) * int64(c+1) << a.alignShift
		}
	}
	if p.src.end > p.src.cur {
		free[p.src.cur>>a.shift] += int64(p.src.end - p.src.cur)
	}
	dead := make([]bool, nchunks)
	released := 0
	for ci, f := range free {
		usable := a.chunkSize
		if ci == 0 && a.zeroSmall {
			usable -= a.align
		}
		if f == usable {
			dead[ci] = true
			released++
		}
	}
	// Put back what survives.
	for _, ch := range chains {
		var first, last Offset
		for off := ch.first; off != 0; {
			next := p.link(t, off)
			if !dead[off>>a.shift] {
				if last != 0 {
					*(*uint64)(tptr(t, a.shift, last)) = uint64(off) >> a.alignShift
				} else {
					first = off
				}
				last = off
			}
			off = next
		}
		if first != 0 {
			p.pushChain(ch.h, first, (*uint64)(tptr(t, a.shift, last)))
		}
	}
	for c, s := range slabs {
		if s&slabCountMask != 0 && !dead[(Offset(s>>slabCountBits)<<a.alignShift)>>a.shift] {
			p.cls[c].slab.Store(s) // release: republishes the slab; under g, count 0 since takeSlab: only a refill stores, under g
		}
	}
	if p.src.end > p.src.cur && dead[p.src.cur>>a.shift] {
		p.src.cur, p.src.end = 0, 0
	}
	if p.huge.spare != nil {
		p.huge.dropSpare() // no index is cached into a huge region: no hold
		released++
	}
	for ci, d := range dead {
		if d {
			a.releaseSlots(ci, 1, hold)
			p.src.chunks--
		}
	}
	return released
}

// takeAll empties the stack h and returns its first block (0: it was
// empty); the chain behind it is the caller's.
func (p *lfCore) takeAll(h *atomic.Uint64) Offset {
	for {
		w := h.Load() // relaxed: re-read by the CAS
		if w&unitMask == 0 {
			return 0
		}
		if h.CompareAndSwap(w, w&^unitMask+genOne) { // acq-rel: the links written before the pushes
			return Offset(w&unitMask) << p.a.alignShift
		}
	}
}

// takeSlab empties class slab cl and returns the word it held. Under g.
func (p *lfCore) takeSlab(cl *lfClass) uint64 {
	for {
		s := cl.slab.Load() // relaxed: re-read by the CAS
		if s&slabCountMask == 0 {
			return 0
		}
		if cl.slab.CompareAndSwap(s, 0) { // acq-rel: takes the slab whole; bumpers CAS only a non-zero count
			return s
		}
	}
}

// link returns the next block of a chain the caller owns.
func (p *lfCore) link(t *table, off Offset) Offset {
	return Offset(*(*uint64)(tptr(t, p.a.shift, off))&unitMask) << p.a.alignShift
}

// reuseHeld makes the slots TrimHold kept back reusable.
func (p *lfCore) reuseHeld() int {
	p.g.Lock()
	defer p.g.Unlock()
	return p.a.reuseHeld()
}

// Trim gives back every small chunk whose blocks are all free (on the free
// lists, in class slabs, or untouched), and the spare huge region (one
// wholly free region kept for reuse): a growable pool drops its memory
// (to the Go heap, and from the process budget), a fixed one keeps it for
// any size. It returns the number of chunks and regions released. It runs
// concurrently with Alloc and Free (they never wait for it; refills and
// huge blocks do, on the growth mutex), walks every free block once, and
// keeps any chunk with a block in use or in flight. Offsets into released
// chunks are invalid until the pool hands the chunk slot out again.
func (p *LockFree) Trim() int { return p.core.trim(false) }

// TrimHold is Trim that keeps the released chunk slots out of reuse until
// ReuseHeld: for callers that cache chunk addresses by offset and need
// every holder of such a cached address gone (a grace period) before an
// offset in a released chunk can name new memory. Until then the pool
// grows into new slots instead.
func (p *LockFree) TrimHold() int { return p.core.trim(true) }

// ReuseHeld makes the chunk slots kept back by TrimHold reusable and
// returns their number.
func (p *LockFree) ReuseHeld() int { return p.core.reuseHeld() }
