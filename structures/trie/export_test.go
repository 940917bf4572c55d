package trie

import (
	"bytes"
	"fmt"
)

// checkInvariants walks the whole trie and verifies the node format and the
// canonical-form invariants documented in node.go, the key, node and arena
// byte counts, and the value-slot bookkeeping.
func (c *core[V]) checkInvariants(canonical bool) error {
	keys, nodes, bytesUsed := 0, 0, 0
	seen := map[uint32]bool{}
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
			return c.checkValue(ref>>1, seen, key)
		}
		n := c.mem.ptr(ref)
		h := n.hdr()
		nodes++
		bytesUsed += c.mem.blockSize(nodeSize(h))
		key = append(key, n.prefix(h)...)
		cnt := h.count()
		if h.hasValue() {
			keys++
			if err := c.checkValue(n.valueIdx(), seen, key); err != nil {
				return err
			}
		}
		if canonical {
			if !root && !h.hasValue() && cnt < 2 {
				return fmt.Errorf("node %q: no value and %d children", key, cnt)
			}
			if h.hasValue() && cnt == 0 && h.prefixLen() == 0 {
				return fmt.Errorf("node %q: should be an inline leaf", key)
			}
			if root && !h.hasValue() && cnt < 2 {
				return fmt.Errorf("root %q: no value and %d children", key, cnt)
			}
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
	if err := walk(c.root, true, nil); err != nil {
		return err
	}
	if keys != c.keys {
		return fmt.Errorf("walked %d keys, Len says %d", keys, c.keys)
	}
	if nodes != c.nodes {
		return fmt.Errorf("walked %d nodes, counter says %d", nodes, c.nodes)
	}
	if got := c.mem.bytesInUse(); got != bytesUsed {
		return fmt.Errorf("nodes hold %d arena bytes, arena says %d in use", bytesUsed, got)
	}
	if got := c.mem.poolNodeBytes(); got != int64(bytesUsed) {
		return fmt.Errorf("nodes hold %d arena bytes, pool says %d in use", bytesUsed, got)
	}
	if !c.noValues && c.vals.len()-len(c.freeVals) != keys {
		return fmt.Errorf("%d value slots - %d free != %d keys", c.vals.len(), len(c.freeVals), keys)
	}
	return nil
}

func (c *core[V]) checkValue(idx uint32, seen map[uint32]bool, key []byte) error {
	if c.noValues {
		if idx != 0 {
			return fmt.Errorf("key %q: value index %d in a set", key, idx)
		}
		return nil
	}
	if int(idx) >= c.vals.len() {
		return fmt.Errorf("key %q: value index %d out of range", key, idx)
	}
	if seen[idx] {
		return fmt.Errorf("key %q: value index %d shared", key, idx)
	}
	seen[idx] = true
	return nil
}

// SetFailAlloc makes node allocations fail whenever f returns true.
func (t *Trie[V]) SetFailAlloc(f func() bool) { t.c.failAlloc = f }

// CheckShape checks the invariants without the canonical-form rules (which
// failed merges may break).
func (t *Trie[V]) CheckShape() error { return t.c.checkInvariants(false) }

// CheckInvariants is checkInvariants for tests of the Trie.
func (t *Trie[V]) CheckInvariants() error { return t.c.checkInvariants(true) }

// CheckInvariants checks a frozen trie (exact nodes, canonical shape).
func (f *Frozen[V]) CheckInvariants() error { return f.c.checkInvariants(true) }
