package trie

// Concurrent's public face: the type both concurrent forms share and its
// methods. Every method that differs by form is a dispatch on c.multi and
// nothing else; each form's mechanism lives in files of its own:
//
//   - OneWriteMultiRead: owform.go (set-up, publication, Reclaim),
//     cwriter.go (the writer role), owinplace.go (per-key writes),
//     owmr.go (batches), ocompact.go (compaction);
//   - MultiWriteMultiRead: mwform.go (set-up, the slots' statistics at
//     the cap), mwmr.go (per-node locks, writer slots), snapmw.go (the
//     snapshot gate, Reclaim), mwcompact.go (chunk release, compaction).
//
// Shared by both: cmem.go (memory, the readers' view, writer state),
// cread.go (reads), snapshot.go, valcompact.go.
//
// Who may call what: every exported method, any goroutine (the Writer's
// only through its holder, see Writer). c.multi and c.level are set before
// c is shared and never change.

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"sync/atomic"

	"github.com/zipora-go/zipora/internal/gid"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// ErrLevel is returned (wrapped) by NewConcurrent for a level that has no
// concurrent form; the message names the form to use instead.
var ErrLevel = errors.New("trie: no concurrent form at this level")

// ErrSelfWait is returned (wrapped) by a call that would wait for
// something the calling goroutine itself holds, so would wait forever:
//
//   - from inside WithWriter (or TryWithWriter), a call that waits for the
//     writer role of the same OneWriteMultiRead Concurrent: Insert,
//     Delete, Snapshot, Reclaim, LockWriter, WithWriter. Use the Writer's
//     own methods (InsertNow, Insert, Snapshot, Reclaim). A Writer from
//     LockWriter may be handed to another goroutine, so such a wait is
//     not detected: Unlock first.
//   - from inside an iteration over a Concurrent (All, Prefix, Seek,
//     Range, a Snapshot's iterators) or while holding an open Cursor on
//     it, WaitReaders or Reclaim of the same trie, which wait for every
//     reader inside, the caller's own iteration included. End the
//     iteration (or Close the Cursor) first. A Cursor counts as held by the
//     goroutine that last started or stepped it. Detected on amd64 and
//     arm64 (internal/gid's one-load identity); elsewhere such a wait
//     lasts until its ctx ends.
var ErrSelfWait = errors.New("trie: the caller would wait for itself")

// Concurrent is a Patricia trie safe for concurrent use: an ordered map from
// byte strings to values of type V whose readers never lock, never
// compare-and-swap and never allocate (Get, Contains). It has two forms,
// chosen by the level given to NewConcurrent:
//
//   - primitives.OneWriteMultiRead: any number of readers run concurrently
//     with one writer. The writer holds the structure's writer role (a
//     second writer waits for it, or gets primitives.ErrBusy from
//     TryWithWriter and TryLockWriter; see LockWriter). Per-key writes
//     (Insert, Delete, Writer.InsertNow, Writer.DeleteNow) change the
//     published tree in place and take effect at one atomic store: a value
//     or count in a node's header word, a child appended past a node's
//     count, or a child slot naming a node rebuilt off to the side (a full
//     node, a split, a removal); nothing above the changed node is copied.
//     Writes in a batch (Writer.Insert, Writer.Delete, inside WithWriter or
//     between LockWriter and Publish/Unlock) are built copy-on-write off to
//     the side — nodes already copied in the batch are changed in place —
//     and published with one atomic store of the root: readers see all of
//     the batch or none of it.
//   - primitives.MultiWriteMultiRead: writers run concurrently too. A writer
//     descends without locks, then locks only the parent and the node it
//     replaces (per-node lock words, try-lock), validates that the parent
//     still names the node, installs a new node with one atomic store and
//     marks the old one obsolete; on conflict it retries with bounded
//     backoff. Identical racing inserts report added exactly once.
//
// Iterators (All, Prefix, Seek, Range), at both levels, yield keys in
// strictly ascending order; every key present for the whole iteration is
// yielded exactly once; a yielded key and value were present together at
// some moment during the iteration; keys inserted or deleted meanwhile may
// or may not appear. An iteration that must see one state iterates a
// Snapshot: taken in constant time (it copies nothing), unchanged by later
// writes until it is closed; while one is open the one-writer form's
// per-key writes copy the nodes on their path that a snapshot shares
// instead of changing them in place (snapshot.go).
//
// Every method is linearizable: Insert, Delete, Get and Contains take effect
// at one atomic load or store (a writer's publication happens-before any read
// that observes it). Replaced and deleted nodes and values go back to the
// arena only after every reader that could still reach them has finished
// (epoch-based reclamation, primitives.EpochDomain), so under churn the
// arena stays bounded.
//
// Memory: nodes live in arena memory (structures/pool), values in chunked Go
// memory; see Stats. The zero Concurrent is not usable; build one with
// NewConcurrent. A Concurrent must not be copied after first use.
type Concurrent[V any] struct {
	// Read-mostly fields, on their own cache line(s).
	root      atomic.Uint32             // acquire/release: the published root ref
	rdIn      atomic.Uint32             // seq-cst: one-writer: 1 once a reader entered since the writer cleared it (quiet frees, owinplace.go)
	view      atomic.Pointer[view]      // acquire/release: chunk table for readers
	vals      atomic.Pointer[valDir[V]] // acquire/release: value chunks for readers
	shift     uint64                    // log2 of the pool's chunk size
	mask      uint64                    // chunk size - 1
	noValues  bool                      // set form: no value slots
	multi     bool                      // MultiWriteMultiRead
	level     primitives.Level          // the form
	insertCap int64                     // arena capacity at which inserts fail (0: none)
	wake      chan struct{}             // one-writer: a token for a parked writer (cwriter.go)
	_         [primitives.CacheLineSize]byte

	epoch   primitives.EpochDomain // grace periods of readers
	readers readerSet              // goroutines holding epoch guards across caller code (creaders.go)

	rootLock atomic.Uint64 // multi-writer: lock word of the root slot
	_        [primitives.CacheLineSize - 8]byte

	wword atomic.Uint64 // one-writer: writer role, published key count and version (acquire/release, cwriter.go)
	wr    Writer[V]     // the reusable writer handed out by LockWriter
	// holder is the goroutine (internal/gid) running f inside WithWriter
	// or TryWithWriter, 0 otherwise; a waiter that finds its own goroutine
	// there returns ErrSelfWait instead of waiting forever (cwriter.go).
	// Not recorded for LockWriter: its Writer may be handed to another
	// goroutine (shards does so) and the taker may end, so its identity
	// would say nothing about who holds the role, and a new goroutine
	// reusing its g would be refused falsely.
	holder atomic.Uintptr // relaxed: only compared with the caller's own identity

	w wstate[V] // one-writer: writer state (see wstate), the writer role's

	// Multi-writer: writer slots, each a wstate behind its own mutex
	// (mwmr.go); gmu guards growth of the readers' chunk view and the
	// value directory, shared by the slots (rare: once per chunk).
	slots    []mwSlot[V]
	slotMask uint64
	gmu      sync.Mutex
	vshared  [][]uint32 // multi-writer: batches of free value slots any slot takes (under gmu; shareValues)

	arenas      [2]*arena       // node arenas; w.core.mem is arenas[cur] (ocompact.go)
	cur         int             // the arena in use
	dropPending bool            // a compaction's old arena waits for readers to leave it (ocompact.go)
	dropEpoch   uint64          // the epoch read after the root store that left that arena
	pcfg        pool.Config     // the arenas' configuration
	compactions atomic.Int64    // relaxed: completed compactions (Stats)
	mwr         mwReclaimState  // multi-writer: Reclaim's state (mwcompact.go)
	vc          valCompactState // value-store compaction (valcompact.go)

	// Statistics published by writers (relaxed snapshots). The node count
	// and arena bytes are the multi-writer slots' sums (nodes,
	// arenaBytes) or the one writer's packed word (owStats: packStats);
	// statFigures reads the form's.
	nodes      atomic.Int64
	arenaBytes atomic.Int64
	owStats    atomic.Uint64
	capacity   atomic.Int64
	capFlushed atomic.Bool // multi-writer: the slots' stats were flushed once the arena reached its cap (checkCapSlow)
	valueBytes atomic.Int64
	pending    atomic.Int64
	_          [primitives.CacheLineSize]byte // the writers' statistics above are written by every multi-writer slot: snap.on (read on every allocation) keeps off their line
	snapOpen   atomic.Int64                   // open snapshots (Stats)
	snapBytes  atomic.Int64                   // memory held for open snapshots (Stats)

	snap      snapWriter[V] // open snapshots and what they hold (snapshot.go)
	msnap     mwSnap        // multi-writer: the snapshot gate (snapmw.go)
	snapKeys0 int64         // multi-writer: c.w.keys before a snapshot-mode write (under msnap.mu)
}

// poisonHdr is the header written over a reclaimed node in the invariants
// build: no real node has a prefix that long or that many children.
const poisonHdr header = 0xffffffff

// maxNodeBlock is the largest node block: a dense node with a MaxKeyLen
// prefix and the lock word, rounded up to 1 KiB.
const maxNodeBlock = (8 + MaxKeyLen + 4*denseSlots + 8 + 1023) &^ 1023

// concurrentPoolConfig fits cfg to the concurrent forms: every node is a
// small block (no huge blocks, so chunks are released only by the
// multi-writer Reclaim, which keeps readers' views valid: mwcompact.go),
// chunks at least twice that.
func concurrentPoolConfig(cfg pool.Config) pool.Config {
	cfg.MaxFastBlock = max(cfg.MaxFastBlock, maxNodeBlock)
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = 1 << 20
	}
	for cfg.ChunkSize < 2*maxNodeBlock {
		cfg.ChunkSize <<= 1
	}
	return cfg
}

// NewConcurrent returns an empty concurrent trie of the given form:
// primitives.OneWriteMultiRead or primitives.MultiWriteMultiRead. Other
// levels return an error wrapping ErrLevel that names the form to use
// (New for SingleThreadStrict, NewShared for SingleThreadShared, Freeze for
// NoWriteReadOnly). cfg is as for New; Config.Pool's MaxFastBlock and
// ChunkSize are raised where needed so that the largest node is a small
// block. An invalid pool configuration returns the pool's error.
//
// A MaxBytes cap applies to inserts: once the arena has grown to it and is
// 15/16 in use (or the pool cannot grow at all), Insert fails with an error
// wrapping pool.ErrExhausted. Deletes build new nodes
// too, so they may grow the arena by up to two more chunks: a full trie can
// always be shrunk.
func NewConcurrent[V any](level primitives.Level, cfg Config) (*Concurrent[V], error) {
	switch level {
	case primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead:
	case primitives.NoWriteReadOnly:
		return nil, fmt.Errorf("%w: %v: use Trie.Freeze (the frozen form)", ErrLevel, level)
	case primitives.SingleThreadStrict:
		return nil, fmt.Errorf("%w: %v: use New (the single-owner Trie)", ErrLevel, level)
	case primitives.SingleThreadShared:
		return nil, fmt.Errorf("%w: %v: use NewShared (the token-checked Trie)", ErrLevel, level)
	default:
		return nil, fmt.Errorf("%w: %v", ErrLevel, level)
	}
	pcfg := concurrentPoolConfig(cfg.poolConfig())
	var insertCap int64
	if pcfg.MaxBytes > 0 && pcfg.FixedCapacity == 0 {
		// Inserts stop at MaxBytes; deletes (which copy nodes) may use two
		// more chunks, so that a full trie can always shrink.
		insertCap = pcfg.MaxBytes
		pcfg.MaxBytes += 2 * int64(pcfg.ChunkSize)
	}
	c := &Concurrent[V]{level: level, multi: level == primitives.MultiWriteMultiRead, insertCap: insertCap}
	c.w.c = c
	c.wr.c = c
	c.wake = make(chan struct{}, 1)
	c.noValues = noValues[V](cfg)
	c.pcfg = pcfg
	c.w.core.noValues = true // values live in c.vals
	var chunk int
	var err error
	if c.multi {
		chunk, err = c.mwInit(pcfg) // mwform.go
	} else {
		chunk, err = c.owInit(pcfg) // owform.go
	}
	if err != nil {
		return nil, err
	}
	c.shift = uint64(bitsLen(chunk))
	c.mask = uint64(chunk - 1)
	c.view.Store(&view{})
	c.vals.Store(&valDir[V]{})
	c.storeCapacity()
	return c, nil
}

func bitsLen(pow2 int) int {
	n := 0
	for 1<<n < pow2 {
		n++
	}
	return n
}

// Level returns the form: OneWriteMultiRead or MultiWriteMultiRead.
func (c *Concurrent[V]) Level() primitives.Level { return c.level }

// Get returns the value stored under key and whether it is present. It
// never blocks, locks or allocates.
func (c *Concurrent[V]) Get(key []byte) (V, bool) {
	g := c.epoch.Enter()
	c.readerIn()
	idx, ok := c.lookup(key)
	var v V
	if ok {
		v = c.value(idx)
	}
	g.Exit()
	return v, ok
}

// Contains reports whether key is present. It never blocks, locks or
// allocates.
func (c *Concurrent[V]) Contains(key []byte) bool {
	g := c.epoch.Enter()
	c.readerIn()
	_, ok := c.lookup(key)
	g.Exit()
	return ok
}

// Len returns the number of keys (the last published count).
func (c *Concurrent[V]) Len() int {
	if c.multi {
		return c.mwLen()
	}
	return c.owLen()
}

// Insert stores v under key, replacing the value of an existing key, and
// reports whether the key is new. The trie copies key. It fails with
// ErrKeyTooLong (wrapped) for a key longer than MaxKeyLen, or with the
// arena's error (wrapping pool.ErrExhausted) when node memory cannot grow
// past a configured cap; on error the trie is unchanged. At
// OneWriteMultiRead it takes the writer role (waiting) and publishes at once.
func (c *Concurrent[V]) Insert(key []byte, v V) (added bool, err error) {
	if err := c.checkInsert(key); err != nil {
		return false, err
	}
	if c.multi {
		return c.mwInsertGated(key, v)
	}
	// OneWriteMultiRead. The common case inline (one call level less per
	// key, issue 23): the role free (one CAS), no copy-on-write batch
	// pending, no snapshot open, no compaction's old arena waiting (publish
	// drops it), the arena not exhausted: owInsertNow's steps, and
	// releaseOne deferred as soon as the role is held (a panic inside the
	// insert gives it back). Otherwise owInsertOne.
	held := c.lockFree()
	if !held || c.w.root != c.root.Load() || c.snap.on || c.dropPending { // the writer's own last store
		return c.owInsertOne(key, v, held)
	}
	defer c.releaseOne()
	c.w.track = false // beginInPlace, with nothing pending to publish
	added, err = c.owInsertNowOnce(key, v)
	if err != nil && c.w.relieve(err) {
		added, err = c.owInsertNowOnce(key, v)
	}
	return added, err
}

// Delete removes key and returns its value and whether it was present.
// Unlike the single-owner trie's, a concurrent delete builds new nodes, so
// it can fail with the arena's error when a MaxBytes cap is reached; the
// trie is then unchanged. At OneWriteMultiRead it takes the writer role
// (waiting) and publishes at once.
func (c *Concurrent[V]) Delete(key []byte) (old V, found bool, err error) {
	if len(key) > MaxKeyLen {
		return old, false, nil
	}
	if c.multi {
		return c.mwDeleteGated(key)
	}
	return c.owDeleteOne(key)
}

// WithWriter runs f with a writer and returns f's error. At
// OneWriteMultiRead it first takes the writer role as LockWriter does
// (parked; it returns ctx's error if ctx ends first); every write f makes
// is published at once when f returns (or panics): readers see all of the
// batch or none of it. At MultiWriteMultiRead each write through w takes
// effect on its own, as Insert and Delete do. The Writer must not be used
// after f returns.
func (c *Concurrent[V]) WithWriter(ctx context.Context, f func(w *Writer[V]) error) error {
	w, err := c.LockWriter(ctx)
	if err != nil {
		return err
	}
	return c.runWriter(w, f)
}

// TryWithWriter is WithWriter without waiting: at OneWriteMultiRead it
// returns an error wrapping primitives.ErrBusy while another writer holds
// the role.
func (c *Concurrent[V]) TryWithWriter(f func(w *Writer[V]) error) error {
	w, err := c.TryLockWriter()
	if err != nil {
		return err
	}
	return c.runWriter(w, f)
}

// runWriter runs f with w, unlocking w when f returns or panics.
func (c *Concurrent[V]) runWriter(w *Writer[V], f func(w *Writer[V]) error) error {
	defer w.Unlock() // clears holder before the role is free
	if !c.multi {
		c.holder.Store(gid.Current())
	}
	return f(w)
}

// checkInsert refuses an insert of an over-long key or past the cap.
func (c *Concurrent[V]) checkInsert(key []byte) error {
	if len(key) > MaxKeyLen || c.insertCap > 0 {
		return c.checkInsertSlow(key)
	}
	return nil
}

// checkInsertSlow is checkInsert for an oversized key or a capped arena;
// out of line so that checkInsert inlines into Insert.
func (c *Concurrent[V]) checkInsertSlow(key []byte) error {
	if len(key) > MaxKeyLen {
		return keyErr("insert", key)
	}
	return c.checkCap()
}

// checkCap refuses an insert once the arena has grown to the insert cap and
// is at least 15/16 in use (so deletes and reclamation make room again).
func (c *Concurrent[V]) checkCap() error {
	if c.atCap() {
		return c.checkCapSlow()
	}
	return nil
}

// atCap reports whether the arena has grown to the insert cap.
func (c *Concurrent[V]) atCap() bool {
	return c.insertCap > 0 && c.capacity.Load() >= c.insertCap // relaxed: a statistic
}

// checkCapSlow is checkCap once the arena is at its cap. The multi-writer
// slots publish their arena bytes lazily (up to mwStatBytes each) below the
// cap; at the cap they publish every change (publishStats), and the first
// check here flushes what each slot had not published yet, so arenaBytes is
// exact from then on. Without that flush the published bytes lagged the
// real ones by up to a slot count × 16 KiB: inserts went on past the 15/16
// mark by that much, and deleting fewer bytes' worth of keys than the lag
// left the arena refusing every insert after Reclaim (issue 19 case 8).
// The caller holds no writer slot (insert entry points).
func (c *Concurrent[V]) checkCapSlow() error {
	if c.multi {
		c.mwFlushAtCap()
	}
	if _, b := c.statFigures(); b >= c.insertCap/16*15 { // exact at the cap (see above)
		return fmt.Errorf("trie: insert: arena at its cap of %d bytes: %w", c.insertCap, pool.ErrExhausted)
	}
	return nil
}

// Writer is the writer's handle, from LockWriter, TryLockWriter or inside
// WithWriter: at OneWriteMultiRead it stands for the writer role, and its
// reads (Get, Contains, Len) see its own unpublished writes. It is valid
// until Unlock (or until the function it was passed to returns) and must not
// be used by two goroutines at once; each Concurrent has one Writer, handed
// to every holder in turn, so it must not be copied or kept. The zero Writer
// is not usable.
type Writer[V any] struct {
	c    *Concurrent[V]
	held bool // one-writer: the role is held through this Writer
}

func (w *Writer[V]) live() *Concurrent[V] {
	if !w.held {
		panic("trie: Writer used after Unlock (or after its WithWriter returned)")
	}
	return w.c
}

// LockWriter takes the writer role and returns the writer. At
// OneWriteMultiRead it waits (parked) while another writer holds the role,
// as WithWriter does, and returns ctx's error if ctx ends first; taking the
// role is one atomic compare-and-swap and allocates nothing. Batched writes
// through the Writer (Insert, Delete) are visible to readers only once
// Publish or Unlock publishes them, all at once; InsertNow and DeleteNow
// change the published tree in place and are visible when they return. At
// MultiWriteMultiRead it never waits: each write through the Writer takes
// effect on its own, and Unlock does nothing.
//
// The caller must call Unlock exactly once and not use the Writer
// afterwards (the same Writer value is handed to the next holder). The
// Writer may be used and unlocked by another goroutine; a call on c that
// waits for the role (Insert, Delete, Snapshot, Reclaim, LockWriter,
// WithWriter) waits until Unlock, also from the goroutine that holds it
// (use the Writer's methods meanwhile; inside WithWriter such a call
// returns ErrSelfWait).
func (c *Concurrent[V]) LockWriter(ctx context.Context) (*Writer[V], error) {
	if c.multi {
		return &c.wr, nil
	}
	return c.owLockWriter(ctx)
}

// TryLockWriter is LockWriter without waiting: at OneWriteMultiRead it
// returns an error wrapping primitives.ErrBusy while another writer holds
// the role.
func (c *Concurrent[V]) TryLockWriter() (*Writer[V], error) {
	if c.multi {
		return &c.wr, nil
	}
	return c.owTryLockWriter()
}

// Publish makes every write made through w so far visible to readers, as
// one atomic publication (one release store of the root), and keeps the
// writer role. That store happens-before every Get, Contains or iteration
// that observes any of those writes. It also brings Stats up to date
// (per-key writes let the node and arena figures drift by up to 16 KiB
// between publications of statistics). At MultiWriteMultiRead it does
// nothing (writes are already visible).
func (w *Writer[V]) Publish() {
	c := w.live()
	if c.multi {
		return
	}
	c.owPublishHeld()
}

// Unlock publishes (see Publish) and gives the writer role back; the
// publication and the release of the role happen-before the next holder
// takes it. The Writer must not be used afterwards. At MultiWriteMultiRead
// it does nothing.
func (w *Writer[V]) Unlock() {
	c := w.live()
	if c.multi {
		return
	}
	c.owUnlock()
}

// InsertNow is Concurrent.Insert for the holder of the writer role: at
// OneWriteMultiRead it first publishes the writes still pending (see
// Insert), then changes the published tree in place; readers see the
// insert when InsertNow returns (it takes effect at one atomic store, which
// happens-before any read that observes it). Len and the statistics follow
// at the next Publish or Unlock. At MultiWriteMultiRead it is Insert.
func (w *Writer[V]) InsertNow(key []byte, v V) (added bool, err error) {
	c := w.live()
	if err := c.checkInsert(key); err != nil {
		return false, err
	}
	if c.multi {
		return c.mwInsertGated(key, v)
	}
	return c.owInsertNow(key, v)
}

// DeleteNow is Concurrent.Delete for the holder of the writer role, in
// place and visible at once as InsertNow is.
func (w *Writer[V]) DeleteNow(key []byte) (old V, found bool, err error) {
	c := w.live()
	if len(key) > MaxKeyLen {
		return old, false, nil
	}
	if c.multi {
		return c.mwDeleteGated(key)
	}
	return c.owDeleteNow(key)
}

// Insert is Concurrent.Insert inside the writer's batch: at
// OneWriteMultiRead the write is built copy-on-write off to the side and
// becomes visible to readers with every other pending write, at the next
// Publish or Unlock (or when WithWriter's function returns), as one atomic
// publication.
func (w *Writer[V]) Insert(key []byte, v V) (added bool, err error) {
	c := w.live()
	if err := c.checkInsert(key); err != nil {
		return false, err
	}
	if c.multi {
		return c.mwInsertGated(key, v)
	}
	return c.owInsert(key, v)
}

// Delete is Concurrent.Delete inside the writer's batch (see Insert).
func (w *Writer[V]) Delete(key []byte) (old V, found bool, err error) {
	c := w.live()
	if len(key) > MaxKeyLen {
		return old, false, nil
	}
	if c.multi {
		return c.mwDeleteGated(key)
	}
	return c.owDelete(key)
}

// Get returns the value of key as the writer sees it (its own writes
// included).
func (w *Writer[V]) Get(key []byte) (V, bool) {
	c := w.live()
	if c.multi {
		return c.Get(key)
	}
	return c.owWriterGet(key)
}

// Contains reports whether key is present as the writer sees it.
func (w *Writer[V]) Contains(key []byte) bool {
	_, ok := w.Get(key)
	return ok
}

// Len returns the number of keys as the writer sees it.
func (w *Writer[V]) Len() int {
	c := w.live()
	if c.multi {
		return c.Len()
	}
	return c.owWriterLen()
}

// All returns an iterator over every key and value in ascending key order,
// with the guarantees under concurrent writes given on Concurrent (no
// snapshot: every key present for the whole iteration is yielded exactly
// once, in order). The yielded key is a reused buffer, valid until the loop
// body returns.
//
// The iteration holds an epoch guard from start to end: while it runs,
// writers keep (do not reuse) the memory they unlink, so long-running loops
// delay reclamation (never a writer).
func (c *Concurrent[V]) All() iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { c.each(nil, boundNone, nil, yield) }
}

// Prefix returns an iterator over the keys that start with p, ascending
// (see All).
func (c *Concurrent[V]) Prefix(p []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { c.each(p, boundPrefix, p, yield) }
}

// Seek returns an iterator over the keys >= k, ascending (see All).
func (c *Concurrent[V]) Seek(k []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { c.each(k, boundNone, nil, yield) }
}

// Range returns an iterator over the keys in [from, to), ascending; a nil to
// means no upper bound (see All).
func (c *Concurrent[V]) Range(from, to []byte) iter.Seq2[[]byte, V] {
	return func(yield func([]byte, V) bool) { c.each(from, rangeArgs(to), to, yield) }
}

// Stats returns memory statistics: Keys is the published count, the other
// fields the writers' last published figures (ArenaBytes includes nodes
// waiting for reclamation). At MultiWriteMultiRead, below the insert cap,
// a writer slot publishes its node and byte figures once they moved by
// 16 KiB of arena (and on Reclaim); the one writer publishes every change.
func (c *Concurrent[V]) Stats() Stats {
	nodes, bytes := c.statFigures()
	s := Stats{
		Keys:          c.Len(),
		Nodes:         int(nodes),
		ArenaBytes:    int(bytes),
		ArenaCapacity: int(c.capacity.Load()),
		ValueBytes:    int(c.valueBytes.Load()),
		Compactions:   int(c.compactions.Load()), // relaxed: a statistic
		Snapshots:     int(c.snapOpen.Load()),    // relaxed: a statistic
		SnapshotBytes: int(c.snapBytes.Load()),   // relaxed: a statistic
	}
	if s.Keys > 0 {
		s.BytesPerKey = float64(s.ArenaBytes+s.ValueBytes) / float64(s.Keys)
	}
	return s
}

// ReclaimStats describes reclamation in a concurrent trie.
type ReclaimStats struct {
	// Pending is the number of unlinked nodes and value slots waiting for
	// readers to finish, as the writers last published it: each publishes
	// it when it scans for reclaimable items (every 64 retirements, and on
	// Reclaim, which makes it exact).
	Pending int
	// Epoch is the reader domain's epoch.
	Epoch uint64
	// Version is the number of publications plus one at
	// OneWriteMultiRead (every per-key write and every batch publishes
	// once), modulo 2^24: it shares one atomic word with the writer role
	// and the key count, so that a per-key write publishes both with the
	// release of the role. It stays 1 at MultiWriteMultiRead.
	Version uint64
}

// ReclaimStats returns reclamation figures (a snapshot).
func (c *Concurrent[V]) ReclaimStats() ReclaimStats {
	rs := ReclaimStats{Pending: int(c.pending.Load()), Epoch: c.epoch.Epoch(), Version: 1}
	if !c.multi {
		rs.Version = c.owVersion()
	}
	return rs
}

// Reclaim waits for every reader inside now to finish and hands back all
// memory retired before the call. At MultiWriteMultiRead it then takes
// every writer slot at once (writers wait meanwhile), reclaims, and gives
// every node chunk whose blocks are all free back to the Go heap; the
// released chunk slots become reusable after a second wait for readers
// (if ctx ends first, at the next Reclaim). At OneWriteMultiRead it then
// compacts the arena when it reserves more than twice the live nodes'
// bytes plus four chunks (4 MiB with the default 1 MiB chunks): the live
// nodes are copied into fresh chunks (a second arena, up to the same
// MaxBytes cap), published with one root store, and the old chunks go back
// to the Go heap after a second wait for readers; an allocation failure
// there leaves the trie unchanged and is returned. It waits for readers
// without holding the writer role or a writer slot, so a reader that
// writes (an iteration that inserts) is never waited for while it waits
// for the role; it takes the role (or the writer slots) only to reclaim
// and compact. If ctx ends during a wait it returns ctx's error, with
// whatever it had done kept (a pending old arena goes back at a later
// publication). It is for quiet points, not hot paths; called from inside
// an iteration over this trie (whose reader guard it waits for) it returns
// ErrSelfWait.
func (c *Concurrent[V]) Reclaim(ctx context.Context) error {
	if err := c.WaitReaders(ctx); err != nil {
		return err
	}
	if c.multi {
		return c.mwReclaim(ctx)
	}
	return c.owReclaim(ctx)
}

// WaitReaders waits until every reader that is inside the trie now (Get,
// Contains, an iteration, a multi-writer's descent) has finished, or until
// ctx ends (ctx's error). Memory retired before the call is then
// reclaimable. It holds nothing while it waits. Called from inside an
// iteration over this trie or with an open Cursor on it, it returns
// ErrSelfWait at once (see ErrSelfWait).
func (c *Concurrent[V]) WaitReaders(ctx context.Context) error {
	if ctx == nil {
		return errNilContext
	}
	if trackReaders && c.readers.holds(gid.Current()) {
		return errSelfRead
	}
	return c.epoch.SynchronizeContext(ctx)
}

// errNilContext is the error of a call that may wait given a nil context
// (WithWriter, LockWriter, Reclaim, WaitReaders): it would panic at the
// first wait.
var errNilContext = errors.New("trie: nil context (pass context.Background() or a context that ends)")

// errSelfRead is WaitReaders' ErrSelfWait.
var errSelfRead = fmt.Errorf("%w: it is inside an iteration over this trie or holds an open Cursor on it (end it first)", ErrSelfWait)

// Reclaim is Concurrent.Reclaim for the holder of the writer role, without
// waiting: it hands back what readers can no longer reach (everything
// retired before a WaitReaders that returned), drops a compaction's old
// arena once readers have left it, and compacts a fragmented arena
// (Concurrent.Reclaim's rule), leaving the old arena to a later Reclaim or
// publication. At MultiWriteMultiRead it does nothing (use
// Concurrent.Reclaim).
func (w *Writer[V]) Reclaim() error {
	c := w.live()
	if c.multi {
		return nil
	}
	return c.owReclaimHeld()
}
