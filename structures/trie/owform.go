package trie

// The one-writer form (OneWriteMultiRead) behind Concurrent's methods
// (concurrent.go): its set-up, its per-key writes with the role taken for
// them, publication, and Reclaim. The writer role itself is cwriter.go;
// the writes are owinplace.go (per key, in place) and owmr.go (batches,
// copy-on-write); compaction is ocompact.go.
//
// Who may call what: owInit only from NewConcurrent, before c is shared;
// owInsertOne (unless held), owDeleteOne and owReclaim from any goroutine
// (they take the role); everything else only in the goroutine that holds the writer role,
// or, for publish, the multi-writer form's snapshot-mode writer under
// mwSnap.mu (snapmw.go), which runs this form's in-place writes on c.w.
// Readers never call these.
//
// Invariants: those of cwriter.go (the role and its word), owinplace.go
// and owmr.go (what a write may change in place), ocompact.go (the old
// arena is dropped only once readers left it). publish stores the root
// (release) before it reads the epoch at which it retires what the writes
// unlinked, so a reader that enters after that epoch cannot reach them.

import (
	"context"

	"github.com/zipora-go/zipora/structures/pool"
)

// owInit sets up the one-writer form: its node arena (arena 0, a
// NoLocking pool only the role holder touches) and the writer word's
// first publication. It returns the pool's chunk size.
func (c *Concurrent[V]) owInit(pcfg pool.Config) (chunk int, err error) {
	mem, err := newArena(pcfg)
	if err != nil {
		return 0, err
	}
	c.w.pubs = 1
	c.w.pub = pubFields(0, 1)
	c.wword.Store(c.w.pub) // before publication of c: no other goroutine yet
	c.setupArena(0, mem)
	c.w.core.mem = mem
	c.w.core.batch = c // batch deletes' fix-up (core.unlinked)
	c.w.track = true
	c.w.quiet = true // no reader yet, rdIn 0 (owinplace.go)
	return mem.p.Config().ChunkSize, nil
}

// owInsertOne is Concurrent.Insert at OneWriteMultiRead off its inline
// fast path (Insert: the role taken with one CAS, no copy-on-write batch
// pending, no snapshot open): with the role already taken (held), or
// after waiting for it, it inserts in place through owInsertNow and gives
// the role back (release), which publishes the key count and version.
func (c *Concurrent[V]) owInsertOne(key []byte, v V, held bool) (bool, error) {
	if !held {
		if err := c.lockWriterSlow(context.Background()); err != nil {
			return false, err
		}
	}
	defer c.release()
	return c.owInsertNow(key, v)
}

// releaseOne is release after Insert's inline in-place insert: endInPlace,
// then publication, then the unlock. The write's own stores published its
// nodes and root, and nothing is fresh (track off, no snapshot open), so
// unless something unusual waits (unlinked items queued for publication,
// fresh nodes, a reclamation scan due: publish's cases that an insert
// could bring about; Insert takes this path only with no snapshot open
// and no old arena to drop, and nothing in an insert changes either)
// publication is
// the new count and version, which ride on the unlock, and the
// statistics: publish's steps without its call. Holder only.
func (c *Concurrent[V]) releaseOne() {
	w := &c.w
	w.track = true
	w.root = c.root.Load() // the writer's own last store
	if poisonCheck && (c.snap.on || c.dropPending) {
		panic("trie: internal error: an inline insert ran with a snapshot or an old arena")
	}
	if w.dirty {
		if len(w.pend) != 0 || len(w.freshed) != 0 || w.sinceAdv >= advanceEvery {
			c.publish()
		} else {
			w.dirty = false
			w.pubs++
			w.pub = pubFields(w.keys, w.pubs) // stored by the unlock
			if n, b := w.core.nodes, w.core.mem.inUse; n != w.statNodes || b != w.statBytes {
				w.storeOwStats(n, b)
			}
		}
	}
	if unlockWord(&c.wword, w.pub) {
		c.wakeOne()
	}
}

// owDeleteOne is Concurrent.Delete at OneWriteMultiRead (see owInsertOne).
func (c *Concurrent[V]) owDeleteOne(key []byte) (old V, found bool, err error) {
	if err := c.lockWriter(context.Background()); err != nil {
		return old, false, err
	}
	defer c.release()
	return c.owDeleteNow(key)
}

// publish makes the writer's tree current: one release store of the root,
// then the epoch of everything it unlinked, then reclamation. The new key
// count and version (w.pub) go out with the unlock (unlockWriter) or, when
// the holder keeps the role, publishCount. Writer-role holder only.
func (c *Concurrent[V]) publish() {
	w := &c.w
	if !w.dirty {
		return
	}
	w.dirty = false
	if c.root.Load() != w.root { // in-place writes stored their own changes
		c.root.Store(w.root) // release: publishes every node and value built since
	}
	w.pubs++
	w.pub = pubFields(w.keys, w.pubs) // stored by the unlock or publishCount
	if len(w.freshed) > 0 {
		w.clearFresh()
	}
	if len(w.pend) > 0 {
		c.retirePend(c.epoch.Epoch()) // read after the root store: see EpochDomain
		w.pend = w.pend[:0]
	}
	// The checks of sweep, reclaim, tryDrop and publishStats, inline: a
	// per-key write publishes once per key, and the calls (none inlines)
	// cost more than their usual "nothing to do".
	if c.snap.on {
		c.sweep()
	}
	if w.sinceAdv >= advanceEvery && w.rhead != len(w.ret) {
		w.reclaimScan()
	}
	if c.dropPending {
		c.tryDrop()
	}
	if n, b := w.core.nodes, w.core.mem.inUse; n != w.statNodes || b != w.statBytes {
		if c.multi { // the multi-writer form's snapshot-mode writer (snapmw.go)
			w.publishStats()
		} else {
			w.storeOwStats(n, b)
		}
	}
}

// owPublishHeld is Writer.Publish at OneWriteMultiRead. Holder only.
func (c *Concurrent[V]) owPublishHeld() {
	if c.w.dirty {
		c.publish()
		c.publishCount()
		c.w.publishStatsNow()
	} else {
		c.sweep() // closed snapshots' memory comes back even when nothing was written
	}
}

// owWriterGet is Writer.Get at OneWriteMultiRead: the writer's tree, its
// unpublished writes included. Holder only.
func (c *Concurrent[V]) owWriterGet(key []byte) (V, bool) {
	idx, ok := lookup(c.w.core.mem, c.w.root, key)
	if !ok {
		var zero V
		return zero, false
	}
	return c.value(idx), true
}

// owWriterLen is Writer.Len at OneWriteMultiRead. Holder only.
func (c *Concurrent[V]) owWriterLen() int { return int(c.w.keys) }

// owReclaim is Concurrent.Reclaim at OneWriteMultiRead, after its first
// wait for readers: Writer.Reclaim under the role, and once more after a
// second wait when an old arena or value chunks still wait for readers.
func (c *Concurrent[V]) owReclaim(ctx context.Context) error {
	w, err := c.LockWriter(ctx)
	if err != nil {
		return err
	}
	err = w.Reclaim()
	pending := c.dropPending || c.vc.limit.Load() != 0 // an old arena or value chunks wait for readers
	w.Unlock()
	if err != nil || !pending {
		return err
	}
	if err := c.WaitReaders(ctx); err != nil {
		return err
	}
	if w, err = c.LockWriter(ctx); err != nil {
		return err
	}
	err = w.Reclaim()
	w.Unlock()
	return err
}

// owReclaimHeld is Writer.Reclaim at OneWriteMultiRead. Holder only.
func (c *Concurrent[V]) owReclaimHeld() error {
	c.publish()
	c.publishCount()
	c.sweep()
	c.tryDrop()
	c.w.reclaim(true)
	c.valShrink([]*wstate[V]{&c.w})
	c.w.publishStatsNow()
	if c.compactWorth() {
		if err := c.compact(); err != nil {
			return wrapErr("compaction", err)
		}
	}
	c.owValCompact()
	return nil
}
