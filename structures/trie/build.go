package trie

// Bottom-up building from sorted keys: what Load, LoadConcurrent and the
// Builders use.
//
// Keys arrive in strictly ascending order, so every key goes to the right
// edge of the trie built so far: the builder keeps that right spine as a
// stack of open nodes (each a run [start, end) of the previous key: its
// prefix; plus its value and the children closed so far, which wait in
// one shared stack of (label, ref) pairs, since nodes close in LIFO order).
// For a key k whose longest common prefix with the previous key p has
// length L:
//
//  1. every open node starting past L is closed: its children are final,
//     so it is allocated once, at its final size, and becomes a child of
//     the node below it (label p[start-1]);
//  2. if L falls inside the prefix of the open node now on top (start <= L
//     < end), that node is closed with the prefix p[L+1:end] and replaced by
//     a valueless node with the prefix p[start:L] whose first child it is
//     (the split an insert would make);
//  3. k's own node is opened, holding k's value, with the prefix k[L+1:].
//
// At the end every open node is closed; the bottom one is the root. No key
// is searched for and no node is ever copied or resized: the work is one
// common-prefix comparison per key and one allocation per node.
//
// The shapes are exactly those Insert builds when given the same keys in
// ascending order (tests compare both, node by node): the same prefixes,
// the same inline leaves, and the same capacity classes, which depend on
// how the node was born (node.go's growth rules):
//   - a valueless node is born of a split with two children and grows
//     class by class: it has classFor(n) slots for n children;
//   - a node holding a value with n >= 1 children was born as a leaf; as a
//     childless node with a prefix (class 0) it grew to classFor(1) = 1
//     slot and on: classFor(n); as an inline leaf (its key ended right
//     after its label: L+1 == len(k)) it became a 2-slot node: classFor(max(n, 2));
//   - more than maxSparse children: dense.
//
// Rejected: sorting-free bulk insert through the insert path with a
// remembered cursor (still one growth copy per class step per node);
// building compact (classExact) nodes as Freeze does (the first insert into
// a loaded trie would then reallocate every node it touches, and loaded
// tries would differ from built ones).

import (
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// open is one open node of the right spine.
type open struct {
	start, end int    // its prefix is prev[start:end]
	kbase      int    // its children start at this index of the child stack
	vidx       uint32 // its value slot (when val)
	val        bool   // a key ends here
	inl        bool   // born as an inline leaf (see the file comment)
}

// builder builds a trie bottom-up into core c (see the file comment).
type builder[V any] struct {
	c      *core[V]
	newVal func(v V) (uint32, error) // the target's value slots
	spine  []open
	labels []byte   // the child stack: labels of closed children
	refs   []uint32 // and their refs
	prev   []byte   // the previous key
	n      int      // keys added
	err    error    // the first error: the builder is then dead
}

// add adds key (strictly above the previous one) with value v.
func (b *builder[V]) add(key []byte, v V) error {
	if b.err != nil {
		return b.err
	}
	if len(key) > MaxKeyLen {
		return keyErr("build", key)
	}
	if b.n == 0 {
		return b.addL(key, -1, v)
	}
	L := lcp(b.prev, key)
	if L == len(key) || L < len(b.prev) && key[L] < b.prev[L] {
		return fmt.Errorf("%w: build: key %s after %s", ErrUnsorted, quoteKey(key), quoteKey(b.prev))
	}
	return b.addL(key, L, v)
}

// addL is add for a key known to be in order, of at most MaxKeyLen bytes,
// whose longest common prefix with the previous key has length L (-1 for
// the first key).
func (b *builder[V]) addL(key []byte, L int, v V) error {
	if b.err != nil {
		return b.err
	}
	if L < 0 {
		return b.push(0, key, v)
	}
	for b.spine[len(b.spine)-1].start > L {
		e := b.spine[len(b.spine)-1]
		b.spine = b.spine[:len(b.spine)-1]
		if err := b.closeInto(&e, e.start); err != nil {
			return err
		}
	}
	if t := &b.spine[len(b.spine)-1]; t.end > L {
		e := *t
		*t = open{start: e.start, end: L, kbase: e.kbase}
		if err := b.closeInto(&e, L+1); err != nil {
			return err
		}
	}
	return b.push(L+1, key, v)
}

// push opens key's node with the prefix key[start:].
func (b *builder[V]) push(start int, key []byte, v V) error {
	vidx, err := b.newVal(v)
	if err != nil {
		return b.fail(err)
	}
	b.spine = append(b.spine, open{start: start, end: len(key), kbase: len(b.labels), vidx: vidx, val: true, inl: start == len(key)})
	// The previous key's first start-1 bytes are key's too: copy the rest.
	b.prev = append(b.prev[:max(start-1, 0)], key[max(start-1, 0):]...)
	b.n++
	return nil
}

// closeInto closes e (popped from the spine) with the prefix
// prev[start:e.end] and adds it as a child of the node now on top.
func (b *builder[V]) closeInto(e *open, start int) error {
	label := b.prev[start-1]
	r, err := b.close(e, start)
	if err != nil {
		return err
	}
	b.labels = append(b.labels, label)
	b.refs = append(b.refs, r)
	return nil
}

// close allocates e's node, at its final size, with the children e has on
// the child stack (which it pops), and returns its ref.
func (b *builder[V]) close(e *open, start int) (uint32, error) {
	prefix := b.prev[start:e.end]
	labels, refs := b.labels[e.kbase:], b.refs[e.kbase:]
	n := len(labels)
	b.labels, b.refs = b.labels[:e.kbase], b.refs[:e.kbase]
	var h header
	switch {
	case n == 0 && len(prefix) == 0:
		return leafRef(e.vidx), nil // a value node without children: an inline leaf
	case n > maxSparse:
		h = makeHeader(len(prefix), n, 0, e.val, true)
	case n == 0:
		h = makeHeader(len(prefix), 0, 0, true, false)
	case e.val && e.inl:
		h = makeHeader(len(prefix), n, classFor(max(n, 2)), true, false)
	default:
		h = makeHeader(len(prefix), n, classFor(n), e.val, false)
	}
	off, nd, err := b.c.allocNode(h)
	if err != nil {
		return 0, b.fail(err)
	}
	nd.setValueIdx(e.vidx)
	copy(nd.prefix(h), prefix)
	if h.dense() {
		// Safety: a dense node has 256 child slots.
		cs := unsafe.Slice(nd.childSlot(h, 0), denseSlots)
		clear(cs)
		for i, l := range labels {
			cs[l] = refs[i]
		}
	} else if n > 0 {
		copy(nd.labels(h, n), labels)
		// Safety: the node's capacity holds n children.
		copy(unsafe.Slice(nd.childSlot(h, 0), n), refs)
	}
	return off, nil
}

// fail records err: the builder is dead from now on.
func (b *builder[V]) fail(err error) error {
	b.err = wrapErr("build", err)
	return b.err
}

// finish closes every open node and returns the root (0: no keys).
func (b *builder[V]) finish() (uint32, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.n == 0 {
		return 0, nil
	}
	for len(b.spine) > 1 {
		e := b.spine[len(b.spine)-1]
		b.spine = b.spine[:len(b.spine)-1]
		if err := b.closeInto(&e, e.start); err != nil {
			return 0, err
		}
	}
	root, err := b.close(&b.spine[0], 0)
	b.spine = b.spine[:0]
	if err == nil {
		b.err = errBuilt
	}
	return root, err
}

var errBuilt = errors.New("trie: build: the builder was already finished")

// ---- single-owner ----

// Builder builds a Trie from keys given in strictly ascending order,
// bottom-up: no key is searched for and no node is copied or resized, so
// it costs less than half what inserting the same keys does
// (docs/bench/persist.md), and the trie it builds is node for node the one
// inserting them in order would. Add the keys, then call Trie once. The
// zero Builder is not usable; a Builder is for one goroutine and must not
// be copied. A key Add refuses (ErrUnsorted, ErrKeyTooLong) leaves the
// Builder as it was; after any other error (node memory) the Builder is
// dead (every later call returns that error) and its memory is released
// by dropping it.
type Builder[V any] struct {
	t *Trie[V]
	b builder[V]
}

// NewBuilder returns a Builder for a trie configured by cfg (as for New,
// whose errors it returns).
func NewBuilder[V any](cfg Config) (*Builder[V], error) {
	t, err := New[V](cfg)
	if err != nil {
		return nil, err
	}
	b := &Builder[V]{t: t}
	b.b.c = &t.c
	b.b.newVal = t.c.newValue
	return b, nil
}

// Add adds key with value v. key must be strictly greater than the key
// added before it (ErrUnsorted, wrapped) and at most MaxKeyLen bytes
// (ErrKeyTooLong); node memory past a Config.Pool.MaxBytes cap fails with
// an error wrapping pool.ErrExhausted. The builder copies key.
func (b *Builder[V]) Add(key []byte, v V) error { return b.b.add(key, v) }

// Trie finishes the build and returns the trie. It may be called once.
func (b *Builder[V]) Trie() (*Trie[V], error) {
	root, err := b.b.finish()
	if err != nil {
		b.discard()
		return nil, err
	}
	b.t.c.root = root
	b.t.c.keys = b.b.n
	t := b.t
	b.t = nil
	return t, nil
}

// discard gives the half-built trie's node memory back.
func (b *Builder[V]) discard() {
	if b.t != nil {
		b.t.c.mem.reset()
		b.t = nil
	}
}

// Load reads one stream written by Save and builds a Trie from it
// bottom-up (see Builder). On any error — a truncated or corrupt stream
// (ErrCorrupt), another format (ErrNotStream), an unknown version
// (ErrVersion), a value the codec rejects, node memory past a MaxBytes
// cap, r's own error — it returns nil and the error, and the memory of
// what was built goes back. cfg is as for New. Values are decoded
// with c.Decode unless the trie stores none (Config.NoValues, a V of size
// zero, a keys-only stream, or a zero Codec: zero values). Load reads r
// through a bufio.Reader and so may read past the stream's end; pass a
// *bufio.Reader (used as is) to read exactly the stream's bytes.
func Load[V any](r io.Reader, c Codec[V], cfg Config) (*Trie[V], error) {
	b, err := NewBuilder[V](cfg)
	if err != nil {
		return nil, err
	}
	if _, err := scan(r, c, !b.t.c.noValues, b.b.addL); err != nil {
		b.discard()
		return nil, err
	}
	return b.Trie()
}

// Scan reads one stream written by Save and calls f with every key and
// value in order, without building anything: to inspect a stream, to
// re-shard it, to load it into another structure. key (and any bytes
// Decode did not copy) is valid only during the call. The stream is
// checked as Load checks it; f's error stops the scan and is returned as
// it is. It returns the number of pairs passed to f. A stream that fails a
// check after some pairs were passed to f still returns the error: act on
// the pairs only once Scan returned nil. Decode is not called for a zero
// Codec (f gets zero values).
func Scan[V any](r io.Reader, c Codec[V], f func(key []byte, v V) error) (int, error) {
	return scan(r, c, true, func(key []byte, _ int, v V) error { return f(key, v) })
}

// ---- concurrent ----

// ConcurrentBuilder is Builder for a Concurrent of either form: the trie
// is built in its own arena where no other goroutine can see it and
// published whole by Concurrent (a release store of its root: the return
// happens-before any use of the trie by another goroutine the caller hands
// it to). The zero ConcurrentBuilder is not usable; it is for one
// goroutine and must not be copied; refused keys and dead builders are as
// for Builder.
type ConcurrentBuilder[V any] struct {
	c *Concurrent[V]
	w *wstate[V] // the writer state building (one-writer: c.w; multi-writer: slot 0)
	b builder[V]
}

// NewConcurrentBuilder returns a builder for a Concurrent of the given
// level configured by cfg (as for NewConcurrent, whose errors it returns).
func NewConcurrentBuilder[V any](level primitives.Level, cfg Config) (*ConcurrentBuilder[V], error) {
	c, err := NewConcurrent[V](level, cfg)
	if err != nil {
		return nil, err
	}
	b := &ConcurrentBuilder[V]{c: c, w: &c.w}
	if c.multi {
		b.w = &c.slots[0].w
	}
	b.b.c = &b.w.core
	b.b.newVal = b.w.newValue
	return b, nil
}

// Add is Builder.Add. A MaxBytes cap applies as to Insert: the build
// fails once the arena would grow past it.
func (b *ConcurrentBuilder[V]) Add(key []byte, v V) error { return b.b.add(key, v) }

// Concurrent finishes the build and returns the trie. It may be called once.
func (b *ConcurrentBuilder[V]) Concurrent() (*Concurrent[V], error) {
	root, err := b.b.finish()
	c := b.c
	b.c = nil
	if err == nil && c.insertCap > 0 && c.capacity.Load() > c.insertCap {
		err = fmt.Errorf("trie: build: arena of %d bytes past its cap of %d: %w", c.capacity.Load(), c.insertCap, pool.ErrExhausted)
	}
	if err != nil {
		return nil, err
	}
	if c.multi {
		c.root.Store(root) // release: publishes every node and value built (no reader yet anyway)
		b.w.mwKeys.Store(int64(b.b.n))
		b.w.publishStatsNow()
		return c, nil
	}
	w, err := c.TryLockWriter()
	if err != nil {
		panic("trie: a new trie's writer role is taken") // nobody else can see c
	}
	c.w.root = root
	c.w.keys = int64(b.b.n)
	c.w.dirty = true
	c.w.publishStatsNow() // exact statistics from the start (publishStats lets them drift)
	w.Unlock()            // publishes the root and the count
	return c, nil
}

// LoadConcurrent is Load for a Concurrent of the given level
// (OneWriteMultiRead or MultiWriteMultiRead): the trie is built bottom-up
// off to the side and returned whole, or not at all. cfg is as for
// NewConcurrent.
func LoadConcurrent[V any](r io.Reader, level primitives.Level, c Codec[V], cfg Config) (*Concurrent[V], error) {
	b, err := NewConcurrentBuilder[V](level, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := scan(r, c, !b.c.noValues, b.b.addL); err != nil {
		return nil, err
	}
	return b.Concurrent()
}
