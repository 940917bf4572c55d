package trie

import (
	"bytes"
	"context"
	"fmt"

	"github.com/zipora-go/zipora/internal/gid"
)

// checkConcurrent verifies a quiescent concurrent trie (no writer running):
// the published tree's shape (canonical form, ascending labels, dense
// counts), the key count, and the bookkeeping of nodes, arena bytes and
// value slots including those waiting for reclamation.
func (c *Concurrent[V]) checkConcurrent() error {
	if !c.multi {
		if err := c.WithWriter(context.Background(), func(*Writer[V]) error { return nil }); err != nil {
			return err
		}
	}
	ws := []*wstate[V]{&c.w}
	if c.multi {
		ws = ws[:0]
		for i := range c.slots {
			c.slots[i].mu.Lock()
			defer c.slots[i].mu.Unlock()
			ws = append(ws, &c.slots[i].w)
		}
		c.msnap.mu.Lock()
		defer c.msnap.mu.Unlock()
		if c.w.core.mem != nil { // the snapshot-mode writer (snapmw.go)
			ws = append(ws, &c.w)
		}
	}
	w := ws[0]
	if !c.multi && w.root != c.root.Load() {
		return fmt.Errorf("writer root %d != published root %d", w.root, c.root.Load())
	}
	keys, nodes, used := 0, 0, 0
	vals := map[uint32]bool{}
	v := c.view.Load()
	var walk func(ref uint32, root bool, key []byte) error
	walk = func(ref uint32, root bool, key []byte) error {
		if ref == 0 {
			if !root {
				return fmt.Errorf("nil child under %q", key)
			}
			return nil
		}
		if isLeafRef(ref) {
			keys++
			return checkVal(c.noValues, vals, ref>>1, key)
		}
		var n node
		n, v = c.nodeAt(v, ref)
		h := n.hdr()
		nodes++
		used += w.core.mem.blockSize(nodeSize(h) + w.core.mem.pad)
		key = append(bytes.Clone(key), n.prefix(h)...)
		cnt := h.count()
		if h.hasValue() {
			keys++
			if err := checkVal(c.noValues, vals, n.valueIdx(), key); err != nil {
				return err
			}
		}
		if !h.hasValue() && cnt < 2 {
			return fmt.Errorf("node %q: no value and %d children", key, cnt)
		}
		if h.hasValue() && cnt == 0 && h.prefixLen() == 0 {
			return fmt.Errorf("node %q: should be an inline leaf", key)
		}
		if c.multi && lockWord(n).Load()&(lockBit|obsoleteBit) != 0 {
			return fmt.Errorf("node %q: reachable but locked or obsolete (%#x)", key, lockWord(n).Load())
		}
		if h.dense() {
			got := 0
			for i := range denseSlots {
				if n.child(h, i) != 0 {
					got++
				}
			}
			if got != cnt {
				return fmt.Errorf("dense node %q: count %d, %d children", key, cnt, got)
			}
		} else {
			if cnt > h.capacity() {
				return fmt.Errorf("node %q: count %d > capacity %d", key, cnt, h.capacity())
			}
			ls := n.labels(h, cnt)
			for i := 1; i < cnt; i++ {
				if ls[i-1] >= ls[i] {
					return fmt.Errorf("node %q: labels not ascending: %v", key, ls)
				}
			}
		}
		var err error
		forChildren(n, h, func(label byte, r uint32) {
			if err == nil {
				err = walk(r, false, append(bytes.Clone(key), label))
			}
		})
		return err
	}
	if err := walk(c.root.Load(), true, nil); err != nil {
		return err
	}
	if keys != c.Len() {
		return fmt.Errorf("walked %d keys, Len says %d", keys, c.Len())
	}
	// Conservation, summed over the writer slots (one at OneWriteMultiRead).
	retiredNodes, retiredVals, allocated, inUse, free, handed := 0, 0, 0, 0, 0, 0
	for _, w := range ws {
		for _, r := range w.ret[w.rhead:] {
			if r.size == 0 {
				retiredVals++
			} else {
				retiredNodes++
				used += w.core.mem.blockSize(int(r.size) + w.core.mem.pad)
			}
		}
		if w == &c.w {
			for _, hi := range c.snap.held { // kept for open snapshots (snapshot.go)
				if r := hi.r; r.size == 0 {
					retiredVals++
				} else {
					retiredNodes++
					used += w.core.mem.blockSize(int(r.size) + w.core.mem.pad)
				}
			}
		}
		allocated += w.core.nodes
		inUse += w.core.mem.bytesInUse()
		free += len(w.vfree)
		handed += w.vhanded
	}
	if nodes+retiredNodes != allocated {
		return fmt.Errorf("%d reachable + %d retired nodes != %d allocated", nodes, retiredNodes, allocated)
	}
	if inUse != used {
		return fmt.Errorf("reachable and retired nodes hold %d arena bytes, arena says %d", used, inUse)
	}
	var pooled int64
	if c.multi {
		pooled = w.core.mem.lf.Stats().InUse
	} else {
		pooled = w.core.mem.poolNodeBytes()
	}
	if pooled != int64(used) {
		return fmt.Errorf("reachable and retired nodes hold %d arena bytes, pool says %d", used, pooled)
	}
	c.gmu.Lock()
	for _, b := range c.vshared {
		free += len(b)
	}
	free += len(c.vc.parked)
	c.gmu.Unlock()
	if !c.noValues && keys+retiredVals+free != handed {
		return fmt.Errorf("%d live + %d retired + %d free value slots != %d handed out", keys, retiredVals, free, handed)
	}
	return nil
}

func checkVal(noValues bool, seen map[uint32]bool, idx uint32, key []byte) error {
	if noValues {
		return nil
	}
	if seen[idx] {
		return fmt.Errorf("key %q: value slot %d shared", key, idx)
	}
	seen[idx] = true
	return nil
}

// someNodeRef returns the ref of a node on the path of key in the
// published tree (the deepest), for the poisoning test.
func (c *Concurrent[V]) someNodeRef(key []byte) uint32 {
	ref := c.root.Load()
	last := uint32(0)
	for ref != 0 && !isLeafRef(ref) {
		last = ref
		n, _ := c.nodeAt(c.view.Load(), ref)
		h := n.hdr()
		key = key[min(h.prefixLen(), len(key)):]
		if len(key) == 0 {
			break
		}
		ref = childOf(n, h, key[0])
		key = key[1:]
	}
	return last
}

// forceFreeNode frees a reachable node, breaking the protocol on purpose
// (poisoning test only).
func (c *Concurrent[V]) forceFreeNode(ref uint32) {
	if !c.multi {
		c.w.freeNode(ref)
		return
	}
	s := &c.slots[0]
	s.mu.Lock()
	s.w.freeNode(ref)
	s.mu.Unlock()
}

// setFailAlloc installs f as the failAlloc of every writer state (nil: none).
// Tests call it with no write running.
func (c *Concurrent[V]) setFailAlloc(f func() bool) {
	c.w.core.failAlloc = f
	for i := range c.slots {
		c.slots[i].w.core.failAlloc = f
	}
}

// snapState returns what the writer keeps for snapshots: open snapshots,
// held items, held bytes (quiescent trie).
func (c *Concurrent[V]) snapInfo() (open, held int, bytes int64) {
	return len(c.snap.open), len(c.snap.held), c.snap.bytes
}

// selfReading reports whether the calling goroutine is recorded as a long
// reader of c (creaders.go).
func selfReading[V any](c *Concurrent[V]) bool { return c.readers.holds(gid.Current()) }

// readersRecorded returns how many long readers c records (slots plus the
// overflow multiset).
func readersRecorded[V any](c *Concurrent[V]) int {
	n := int(c.readers.over.n.Load())
	for i := range c.readers.slots {
		if c.readers.slots[i].g.Load() != 0 {
			n++
		}
	}
	return n
}
