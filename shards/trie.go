package shards

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/trie"
)

// The sharded trie.
//
// Invariants and who may call what:
//   - key k lives in shard route(k), and only there; the routing and the
//     shards form one immutable layout, built by NewTrie or Attach and
//     replaced only by Attach (another shard count) and Load (new tries
//     under every word);
//   - shard i is written only by the holder of its ownership word
//     (owner.go): whichever caller wins it applies its own write and the
//     writes queued by others, publishes once and releases it; any
//     goroutine reads any shard directly, lock-free, because each shard is
//     a one-writer/multi-reader trie;
//   - a write returns once applied and published: the holder's publication
//     (a release store of the shard's root) happens-before the completion
//     of every request it applied, which happens-before Insert, Delete or
//     Commit returns, so the writer's own later Get sees it;
//   - Detach and Close close every shard's word: later writes fail with
//     ErrClosed, queued ones are failed, none is half-applied; Detach's
//     Trie may be attached again, Close's may not;
//   - nothing here starts a goroutine or imports the runtime: a runtime
//     only calls Attach (size, open) and Detach (end) through its
//     Structure interface.
//
// Rejected: routing writes through the owning worker's mailbox (the
// previous design: a write waited for a parked, thread-locked worker and a
// free P, 0.004× a trie behind a mutex); a lock per shard for readers
// (readers would contend with the writer); routing reads through the owner
// (a round trip per Get for what a lock-free read does in tens of ns).

// shardLevel is the form of every shard's trie.
const shardLevel = primitives.OneWriteMultiRead

// TrieConfig configures a sharded Trie (NewTrie). The zero TrieConfig is
// the default, and each zero field means that field's default. A
// TrieConfig is a plain value; the built-in routers it names are copied
// when shards are built, so one TrieConfig may configure several tries.
type TrieConfig struct {
	// Shards is the number of shards. n > 0: NewTrie builds n shards and
	// the Trie is usable at once, on its own (Close it when done). 0 (the
	// default): the Trie gets its shards when it is registered with a
	// runtime (runtime.Start makes one per worker); until then writes
	// return ErrNotStarted and reads find nothing. A runtime the Trie is
	// registered with sizes it to its worker count either way.
	Shards int
	// Router routes keys to shards (nil: a HashRouter). The built-in
	// routers (*HashRouter, *RangeRouter) are copied when shards are
	// built; a Router of another type is initialized in place and must not
	// be shared by structures of different shard counts.
	Router Router
	// Trie configures every shard's trie (the zero trie.Config: the
	// defaults; NoValues makes a set, Pool caps each shard's memory).
	Trie trie.Config
}

// Trie is an ordered map from byte strings to values, sharded: each shard
// (one per worker when registered with a runtime) is a
// one-writer/multi-reader concurrent trie. A write is applied by the caller itself when the shard
// is free, or combined into the tenure of the caller that holds it — never
// handed to a sleeping thread — and returns once applied and visible to
// Get. Reads (Get, Contains, the iterators) are lock-free, from any
// goroutine.
//
// Create one with NewTrie: with TrieConfig.Shards set it is usable at once
// and Close ends it; with Shards 0 it is sized by the runtime it is
// registered with (runtime.Start), and writes before Start return
// ErrNotStarted. After Close, or after the runtime's Stop, writes return
// ErrClosed; reads keep working on the final contents, and a Trie stopped
// with its runtime (its data kept) may be registered with a new runtime. The zero value is a Trie with the zero
// TrieConfig; a Trie must not be copied. All methods are safe for
// concurrent use, from any goroutine, including tasks running on a
// runtime's workers.
type Trie[V any] struct {
	cfg      TrieConfig
	layout   atomic.Pointer[trieLayout[V]] // acquire/release: routing and shards, built by NewTrie or Attach
	state    atomic.Uint32                 // seq-cst: stateNew, stateOpen (writes open), stateStopped, stateClosed
	mu       sync.Mutex                    // serializes NewTrie's build, Attach, Detach and Close
	attached bool                          // under mu: registered with a running runtime
	reqs     sync.Pool                     // of *request[trieOp[V]]
	turn     atomic.Uint32                 // relaxed: rotates the first shard of each Commit
	reads    sync.Pool                     // of *readState[V]: cursors and merge heap (trieread.go)
}

const (
	stateNew     uint32 = iota // no shards yet (writes: ErrNotStarted)
	stateOpen                  // shards built, writes open (on its own or attached)
	stateStopped               // detached by a runtime's Stop: writes refused, may be attached again
	stateClosed                // Close: writes refused for good
)

// trieLayout is an immutable routing of keys to shards.
type trieLayout[V any] struct {
	router Router
	hash   *HashRouter // router when it is a HashRouter: routed without an interface call
	shards []trieShard[V]
}

// route returns the shard of key, or -1 when a custom router answers a
// shard that does not exist.
func (l *trieLayout[V]) route(key []byte) int {
	if h := l.hash; h != nil {
		return h.Route(key)
	}
	if i := l.router.Route(key); uint(i) < uint(len(l.shards)) {
		return i
	}
	return -1
}

// NewTrie returns a sharded trie configured by cfg: with cfg.Shards set,
// built and usable at once; otherwise sized by the runtime it is
// registered with. An invalid configuration returns an error: a negative
// shard count or an invalid shard trie configuration (Trie) wraps
// ErrInvalidConfig (and the trie's or pool's error), a router that
// refuses the shard count ErrRouter (with Shards 0 that is Start's error:
// the count comes from the runtime).
func NewTrie[V any](cfg TrieConfig) (*Trie[V], error) {
	if cfg.Shards < 0 {
		return nil, fmt.Errorf("%w: TrieConfig.Shards = %d", ErrInvalidConfig, cfg.Shards)
	}
	// The shard tries' configuration is checked here, also when the
	// shards come later with a runtime: it is NewTrie's error, not Start's.
	if _, err := trie.NewConcurrent[V](shardLevel, cfg.Trie); err != nil {
		return nil, fmt.Errorf("%w: TrieConfig.Trie: %w", ErrInvalidConfig, err)
	}
	t := &Trie[V]{cfg: cfg}
	if cfg.Shards == 0 {
		return t, nil
	}
	l, err := t.newLayout(cfg.Shards)
	if err != nil {
		return nil, err
	}
	l.lockWriters()
	t.layout.Store(l) // release: the shards are built
	t.state.Store(stateOpen)
	return t, nil
}

// Attach implements runtime.Structure: it sizes the Trie to the runtime's
// worker count (shards) and opens it for writes. A Trie with no shards yet
// builds them; one with as many shards keeps them (and its data); one with
// another shard count moves every key to its new shard before it opens
// (writes issued meanwhile to an open Trie fail as after Close: register
// a Trie before writing to it, or with its own shard count).
func (t *Trie[V]) Attach(shards int) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.attached:
		return errors.New("shards: trie already attached to a running runtime")
	case t.state.Load() == stateClosed:
		return wrapErr("attach", ErrClosed)
	}
	old := t.layout.Load()
	if old != nil && len(old.shards) == shards {
		if t.state.Load() != stateOpen {
			for i := range old.shards {
				old.shards[i].own.open()
			}
		}
		t.state.Store(stateOpen)
		t.attached = true
		return nil
	}
	l, err := t.newLayout(shards)
	if err != nil {
		return err
	}
	if old != nil {
		wasOpen := t.state.Load() == stateOpen
		if wasOpen {
			t.closeShards(old, stateStopped) // on its own until now: stop its writes for the move
		}
		if err := l.moveFrom(old); err != nil {
			if wasOpen { // as it was
				for i := range old.shards {
					old.shards[i].own.open()
				}
				t.state.Store(stateOpen)
			}
			return err
		}
	}
	l.lockWriters()
	t.layout.Store(l) // release: the shards are built
	t.state.Store(stateOpen)
	t.attached = true
	return nil
}

func (t *Trie[V]) newLayout(shards int) (*trieLayout[V], error) {
	r := cloneRouter(t.cfg.Router)
	if err := r.Init(shards); err != nil {
		return nil, err
	}
	l := &trieLayout[V]{router: r, shards: make([]trieShard[V], shards)}
	l.hash, _ = r.(*HashRouter)
	for i := range l.shards {
		c, err := trie.NewConcurrent[V](shardLevel, t.cfg.Trie)
		if err != nil {
			return nil, fmt.Errorf("shards: shard %d: %w", i, err)
		}
		l.shards[i].c.Store(c)
	}
	return l, nil
}

// moveFrom inserts every key of old (detached: nobody writes it) into l's
// shards (not yet published: nobody else writes them).
func (l *trieLayout[V]) moveFrom(old *trieLayout[V]) error {
	for i := range old.shards {
		for k, v := range old.shards[i].c.Load().All() {
			s := l.route(k)
			if s < 0 {
				return fmt.Errorf("%w: shard out of range while moving keys", ErrRouter)
			}
			if _, err := l.shards[s].c.Load().Insert(k, v); err != nil {
				return fmt.Errorf("shards: moving keys to %d shards: %w", len(l.shards), err)
			}
		}
	}
	return nil
}

// lockWriters takes every shard trie's writer role for good: from now on
// the holder of a shard's word writes through s.w (the role's writer),
// handed from holder to holder by the word's release and acquire.
func (l *trieLayout[V]) lockWriters() {
	for i := range l.shards {
		s := &l.shards[i]
		w, err := s.c.Load().TryLockWriter()
		if err != nil {
			panic("shards: a new shard's writer role is taken") // nobody else can see the trie yet
		}
		s.w = w
	}
}

// cloneRouter copies the built-in routers, so that Init never changes a
// value another structure uses; no router (a zero Trie) is a HashRouter.
func cloneRouter(r Router) Router {
	switch r := r.(type) {
	case nil:
		return &HashRouter{}
	case *HashRouter:
		return &HashRouter{}
	case *RangeRouter:
		c := *r
		return &c
	}
	return r
}

// Detach implements runtime.Structure: every shard stops accepting writes
// (queued ones fail with ErrClosed); reads go
// on, and the Trie may be attached again. It returns in bounded time under
// any write load: a shard's current holder stops within 32 writes or one
// batch chunk.
func (t *Trie[V]) Detach() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.attached = false
	if t.state.Load() != stateClosed {
		t.closeShards(t.layout.Load(), stateStopped)
	}
}

// Close ends the Trie: every shard stops accepting writes, as at a
// runtime's Stop (queued writes fail with an error matching
// ErrClosed, none is half-applied; bounded time under any write
// load), reads go on, and it can no longer be registered with a runtime.
// A Trie registered with a runtime is ended by its Stop and needs no
// Close. Close is idempotent; it returns nil.
func (t *Trie[V]) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closeShards(t.layout.Load(), stateClosed)
	return nil
}

// closeShards sets state and closes every shard of l (nil: none) for
// writes. Called under t.mu.
func (t *Trie[V]) closeShards(l *trieLayout[V], state uint32) {
	t.state.Store(state)
	if l == nil {
		return
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.own.close(s)
	}
}

// writable returns the shard a write of key goes to.
func (t *Trie[V]) writable(ctx context.Context, key []byte) (*trieShard[V], error) {
	l := t.layout.Load() // acquire: the shards
	if l == nil {
		return nil, ErrNotStarted
	}
	if ctx == nil {
		return nil, errNilContext
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	i := l.route(key)
	if i < 0 {
		return nil, fmt.Errorf("%w: a shard out of range for %d shards (a Router shared between structures?)", ErrRouter, len(l.shards))
	}
	return &l.shards[i], nil
}

// Insert stores v under key and returns once it is applied and visible to
// Get. added reports whether the key is new. A write waits only for the
// current holder of its shard (a running caller applying a bounded amount
// of work) and for nothing on any other shard. When ctx ends before the
// write is taken by a holder, Insert returns ctx's error and the write is
// never applied; once taken, it is applied and Insert returns its result.
// Errors: ErrNotStarted, ErrClosed (not applied), ctx's error
// (not applied), and the shard's (trie.ErrKeyTooLong, pool exhaustion: not
// applied).
func (t *Trie[V]) Insert(ctx context.Context, key []byte, v V) (added bool, err error) {
	s, err := t.writable(ctx, key)
	if err != nil {
		return false, err
	}
	if s.own.tryAcquire() {
		s.begin()
		added, err = s.insert(key, v)
		s.own.serve(s, nil)
		return added, err
	}
	op := trieOp[V]{kind: opInsert, key: key, v: v}
	if err := t.queue(ctx, s, &op); err != nil {
		return false, err
	}
	return op.ok, op.err
}

// Delete removes key and returns the old value once the delete is applied
// (see Insert for ctx and errors).
func (t *Trie[V]) Delete(ctx context.Context, key []byte) (old V, found bool, err error) {
	s, err := t.writable(ctx, key)
	if err != nil {
		return old, false, err
	}
	if s.own.tryAcquire() {
		s.begin()
		old, found, err = s.delete(key)
		s.own.serve(s, nil)
		return old, found, err
	}
	op := trieOp[V]{kind: opDelete, key: key}
	if err := t.queue(ctx, s, &op); err != nil {
		return old, false, err
	}
	return op.old, op.ok, op.err
}

// queue hands op to s's current holder and waits for it (the slow path);
// it returns ctx's error when ctx ended before op was taken (op was not
// applied).
func (t *Trie[V]) queue(ctx context.Context, s *trieShard[V], op *trieOp[V]) error {
	r, _ := t.reqs.Get().(*request[trieOp[V]])
	if r == nil {
		r = newRequest[trieOp[V]]()
	}
	r.op = *op
	s.own.push(r, ctx.Done() != nil)
	if err := s.own.wait(ctx, s, r); err != nil {
		return err // r was cancelled: it stays linked in the queue until a holder drops it
	}
	*op = r.op
	r.op = trieOp[V]{}
	t.reqs.Put(r)
	return nil
}

// Get returns the value stored under key, reading the owner's shard
// directly (lock-free). Before Start it finds nothing.
func (t *Trie[V]) Get(key []byte) (V, bool) {
	if l := t.layout.Load(); l != nil { // acquire: the shards
		if i := l.route(key); i >= 0 {
			return l.shards[i].c.Load().Get(key)
		}
	}
	var zero V
	return zero, false
}

// Contains reports whether key is present (lock-free).
func (t *Trie[V]) Contains(key []byte) bool {
	if l := t.layout.Load(); l != nil {
		if i := l.route(key); i >= 0 {
			return l.shards[i].c.Load().Contains(key)
		}
	}
	return false
}

// Len returns the number of keys: the sum of the shards' counts, each read
// at a slightly different moment while writes go on.
func (t *Trie[V]) Len() int {
	l := t.layout.Load()
	if l == nil {
		return 0
	}
	n := 0
	for i := range l.shards {
		n += l.shards[i].c.Load().Len()
	}
	return n
}

// Reclaim hands back to each shard's arena the memory its writes retired
// and compacts a shard whose arena reserves more than twice what its live
// nodes need plus four chunks (trie.Concurrent.Reclaim): after heavy churn
// Stats' ArenaCapacity comes back close to the live bytes. Shard by shard
// it waits for the readers inside the shard to finish, holding nothing
// (so a goroutine that writes from inside an iteration is never waited for
// while it waits), then reclaims under the shard's ownership word, and
// once more after a second wait to give a compacted shard's old chunks
// back. ctx ends the waits (its error is returned, what was done is kept).
// It is for quiet points; called from inside an iteration over t (or with
// a cursor of one open) it returns trie.ErrSelfWait.
func (t *Trie[V]) Reclaim(ctx context.Context) error {
	l := t.layout.Load()
	if l == nil {
		return ErrNotStarted
	}
	if ctx == nil {
		return errNilContext
	}
	var errs []error
	for i := range l.shards {
		s := &l.shards[i]
		for range 2 {
			if err := s.c.Load().WaitReaders(ctx); err != nil {
				return errors.Join(append(errs, err)...)
			}
			op := trieOp[V]{kind: opReclaim}
			if s.own.tryAcquire() {
				s.begin()
				op.err = s.reclaim()
				s.own.serve(s, nil)
			} else if err := t.queue(ctx, s, &op); err != nil {
				return errors.Join(append(errs, err)...)
			}
			if op.err != nil {
				errs = append(errs, wrapErr(fmt.Sprintf("reclaim: shard %d", i), op.err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// ShardStats describes one shard.
type ShardStats struct {
	Shard int
	Trie  trie.Stats
	// Writes counts the writes applied; Combined those of them applied by
	// another caller's tenure (queued while the shard was held); Tenures
	// the times a caller took the shard's ownership word.
	Writes, Combined, Tenures uint64
}

// Stats returns every shard's statistics, read lock-free (figures of
// different shards are read at slightly different moments).
func (t *Trie[V]) Stats() []ShardStats {
	l := t.layout.Load()
	if l == nil {
		return nil
	}
	out := make([]ShardStats, len(l.shards))
	for i := range l.shards {
		s := &l.shards[i]
		out[i] = ShardStats{Shard: i, Trie: s.c.Load().Stats(), Writes: loadU(&s.writes), Combined: loadU(&s.combined), Tenures: loadU(&s.tenures)}
	}
	return out
}
