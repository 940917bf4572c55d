package trie

// The stream format: what Save writes and Scan, Load and LoadConcurrent
// read. docs/design.md ("The stream format") documents it byte by byte; in
// short (all integers unsigned: uvarint is encoding/binary's varint, fixed
// widths little-endian):
//
//	header   8  magic "\x89ZTRIE\r\n"
//	         1  version (1)
//	         1  flags (bit 0: keys only, no values; other bits 0)
//	         2  reserved (0)
//	         4  CRC-32C (Castagnoli) of the 12 bytes above
//	block    uvarint count (>= 1) of the records in the block
//	         uvarint length of the payload in bytes (<= maxBlock)
//	         payload: count records
//	           uvarint shared   bytes shared with the previous key of the block (0 for the first)
//	           uvarint suffix   length of the rest of the key
//	           [suffix]byte
//	           uvarint vlen, [vlen]byte  the value (absent when keys only)
//	         4  CRC-32C of the count, length and payload bytes
//	...      more blocks
//	trailer  1  0x00 (a block count of 0: the end)
//	         8  the number of records in the stream
//	         4  CRC-32C of every byte of the stream before these 4
//
// Keys are strictly ascending, at most MaxKeyLen bytes. Each block's
// checksum pins down a corruption to a block; the trailer's count and
// whole-stream checksum make a truncation at a block boundary (or a
// dropped or repeated block) an error too. Blocks are self-contained
// (prefix compression restarts at each) so that a later reader may decode
// them in parallel.
//
// Rejected: encoding/gob (5×+ slower and larger: see docs/bench/persist.md);
// one checksum for the whole stream (a corrupted block would only be found
// at the end, after the whole trie was built); fixed-width lengths (keys
// and values are mostly short: varints halve the overhead).

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"iter"
	"math/bits"
	"unsafe"
)

// Errors of the stream format, matchable with errors.Is.
var (
	// ErrUnsorted is returned (wrapped) by Save, Builder.Add and
	// ConcurrentBuilder.Add for a key that is not greater than the key
	// before it (out of order, or a duplicate).
	ErrUnsorted = errors.New("trie: keys not in strictly ascending order")
	// ErrNotStream is returned (wrapped) when the input does not start with
	// the stream's magic bytes.
	ErrNotStream = errors.New("trie: not a trie stream")
	// ErrVersion is returned (wrapped) for a stream of a version or with
	// flags this package does not know.
	ErrVersion = errors.New("trie: unsupported stream version")
	// ErrCorrupt is returned (wrapped) for a stream that is truncated (the
	// error then also matches io.ErrUnexpectedEOF), fails a checksum,
	// breaks the format's rules (key order, lengths, the record count), or
	// holds a value the codec's Decode rejects (the error then also wraps
	// the codec's; a stream saved with another codec, say — the format
	// does not name its codec, so a Decode that accepts any bytes, as
	// StringCodec's does, cannot tell).
	ErrCorrupt = errors.New("trie: corrupt stream")
	// ErrTooLarge is returned (wrapped) by Save for a value whose encoding
	// exceeds the format's limit (1 GiB less 256 KiB).
	ErrTooLarge = errors.New("trie: value too large for the stream")
)

const (
	streamMagic   = "\x89ZTRIE\r\n"
	streamVersion = 1
	flagKeysOnly  = 1
	headerLen     = 16
	trailerLen    = 1 + 8 + 4
	// blockTarget is the payload size after which Save closes a block.
	blockTarget = 64 << 10
	// maxBlock is the largest payload a reader accepts. A block is closed
	// once its payload reaches blockTarget (64 KiB), so with a key of at
	// most MaxKeyLen (64 KiB) and a value of at most maxValueLen every
	// block fits.
	maxBlock = 1 << 30
	// maxValueLen is the largest value encoding Save accepts.
	maxValueLen = maxBlock - 4*MaxKeyLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// testBlockTarget is the block size Save aims for: blockTarget, lowered
// by tests to get many blocks from few keys.
var testBlockTarget = blockTarget

// quoteKey quotes at most 64 bytes of key for an error message.
func quoteKey(key []byte) string {
	if len(key) > 64 {
		return fmt.Sprintf("%q… (%d bytes)", key[:64], len(key))
	}
	return fmt.Sprintf("%q", key)
}

// saver builds the stream block by block.
type saver[V any] struct {
	w        io.Writer
	n        int64  // bytes written
	sum      uint32 // CRC-32C of every byte written
	block    []byte // the current block: room for its count and length, then the payload
	count    int    // records in the current block
	total    uint64 // records written
	prev     []byte // the previous key (whole stream: the order check)
	inBlock  bool   // prev is in the current block (prefix compression)
	keysOnly bool
	target   int // testBlockTarget
	c        Codec[V]
}

// blockHead is the room reserved in front of a block's payload for its
// count and length varints (each at most 5 bytes for these bounds).
const blockHead = 2 * binary.MaxVarintLen32

// Save writes pairs to w as a stream (see the package documentation and
// docs/design.md for the format) and returns the number of bytes written.
// pairs must yield keys in strictly ascending order, as every All, Prefix,
// Seek and Range of this module does; a key out of order or repeated stops
// the save with ErrUnsorted, a key longer than MaxKeyLen with
// ErrKeyTooLong, a value the codec fails on with the codec's error, a value
// over 1 GiB with ErrTooLarge (each wrapped, naming the key), and a failed
// write with w's error. The stream written up to an error has no trailer,
// so Load refuses it. Save writes whole blocks (about 64 KiB) to w: it
// needs no bufio.Writer. A zero Codec writes a keys-only stream.
//
// Saving a trie that others change meanwhile is safe where its All is
// (Concurrent), but the stream then holds no single state of it: save a
// snapshot for that.
func Save[V any](w io.Writer, pairs iter.Seq2[[]byte, V], c Codec[V]) (n int64, err error) {
	s, err := newSaver(w, c)
	if err != nil {
		return s.n, err
	}
	for k, v := range pairs {
		if err = s.add(k, v); err != nil {
			return s.n, err
		}
	}
	return s.finish()
}

// newSaver writes the header.
func newSaver[V any](w io.Writer, c Codec[V]) (*saver[V], error) {
	s := &saver[V]{w: w, c: c, target: testBlockTarget, keysOnly: c.keysOnly()}
	if !s.keysOnly && c.Append == nil {
		return s, errors.New("trie: save: codec without Append")
	}
	s.block = make([]byte, blockHead, blockHead+blockTarget+1024)
	var hdr [headerLen]byte
	copy(hdr[:], streamMagic)
	hdr[8] = streamVersion
	if s.keysOnly {
		hdr[9] = flagKeysOnly
	}
	binary.LittleEndian.PutUint32(hdr[12:], crc32.Checksum(hdr[:12], castagnoli))
	return s, s.write(hdr[:])
}

// finish writes the last block and the trailer.
func (s *saver[V]) finish() (int64, error) {
	if err := s.flush(); err != nil {
		return s.n, err
	}
	var tr [trailerLen]byte
	binary.LittleEndian.PutUint64(tr[1:], s.total)
	sum := crc32.Update(s.sum, castagnoli, tr[:9])
	binary.LittleEndian.PutUint32(tr[9:], sum)
	return s.n, s.write(tr[:])
}

// write writes p whole, adding it to the stream checksum.
func (s *saver[V]) write(p []byte) error {
	s.sum = crc32.Update(s.sum, castagnoli, p)
	m, err := s.w.Write(p)
	s.n += int64(m)
	if err == nil && m < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return wrapErr("save", err)
	}
	return nil
}

// add appends one record after checking its order and length.
func (s *saver[V]) add(key []byte, v V) error {
	if len(key) > MaxKeyLen {
		return keyErr("save", key)
	}
	m := 0
	if s.total > 0 || s.count > 0 {
		var err error
		if m, err = after(s.prev, key); err != nil {
			return err
		}
	}
	s.prev = append(s.prev[:m], key[m:]...) // the first m bytes are already there
	return s.record(key, m, v)
}

// record appends key's record (a key known to be in order and to share
// its first m bytes with the previous key), flushing the block first when
// it is full.
func (s *saver[V]) record(key []byte, m int, v V) error {
	if len(s.block)-blockHead >= s.target {
		if err := s.flush(); err != nil {
			return err
		}
	}
	shared := 0
	if s.inBlock {
		shared = m
	}
	b := binary.AppendUvarint(s.block, uint64(shared))
	b = binary.AppendUvarint(b, uint64(len(key)-shared))
	b = append(b, key[shared:]...)
	if !s.keysOnly {
		// The value goes straight into the block after a one-byte length;
		// a longer encoding moves up to make room for its varint.
		at := len(b)
		var err error
		if b, err = s.c.Append(append(b, 0), v); err != nil {
			return wrapErr("save: value of key "+quoteKey(key), err)
		}
		vl := len(b) - at - 1
		if vl > maxValueLen {
			return fmt.Errorf("%w: save: value of key %s: %d bytes", ErrTooLarge, quoteKey(key), vl)
		}
		if vl < 0x80 {
			b[at] = byte(vl)
		} else {
			extra := uvarintLen(vl) - 1
			b = append(b, make([]byte, extra)...)
			copy(b[at+1+extra:], b[at+1:len(b)-extra])
			binary.PutUvarint(b[at:], uint64(vl))
		}
	}
	s.block = b
	s.count++
	s.inBlock = true
	return nil
}

// after returns the length of the prefix key shares with prev, or
// ErrUnsorted (wrapped) unless key sorts after prev.
func after(prev, key []byte) (int, error) {
	m := lcp(prev, key)
	if m == len(key) || m < len(prev) && key[m] < prev[m] {
		return m, fmt.Errorf("%w: save: key %s after %s", ErrUnsorted, quoteKey(key), quoteKey(prev))
	}
	return m, nil
}

// lcp returns the length of the longest common prefix of a and b, 8 bytes
// at a time (the first differing byte of two little-endian words is their
// XOR's lowest set byte).
func lcp(a, b []byte) int {
	n := min(len(a), len(b))
	i := 0
	for ; i+8 <= n; i += 8 {
		if x := binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:]); x != 0 {
			return i + bits.TrailingZeros64(x)>>3
		}
	}
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// uvarintLen is the length of x's uvarint encoding.
func uvarintLen(x int) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// flush writes the current block (if it holds records): its count and
// length varints are placed right in front of the payload, in the room
// reserved for them, so the block goes out in one Write.
func (s *saver[V]) flush() error {
	if s.count == 0 {
		return nil
	}
	payload := len(s.block) - blockHead
	var head [blockHead]byte
	h := binary.AppendUvarint(head[:0], uint64(s.count))
	h = binary.AppendUvarint(h, uint64(payload))
	start := blockHead - len(h)
	copy(s.block[start:], h)
	s.block = binary.LittleEndian.AppendUint32(s.block, crc32.Checksum(s.block[start:], castagnoli))
	err := s.write(s.block[start:])
	s.total += uint64(s.count)
	s.count = 0
	s.inBlock = false
	s.block = s.block[:blockHead]
	return err
}

// Save is Save(w, t.All(), c), about twice as fast: it walks the nodes
// and writes each record as it reaches it (no iterator, no comparison of
// consecutive keys). t must not change during the call.
func (t *Trie[V]) Save(w io.Writer, c Codec[V]) (int64, error) { return saveCore(w, &t.c, c) }

// Save is Save(w, f.All(), c) by a walk of the nodes, as Trie.Save. Any
// number of Saves and reads may run at once.
func (f *Frozen[V]) Save(w io.Writer, c Codec[V]) (int64, error) { return saveCore(w, &f.c, c) }

// Save is Save(w, s.All(), c) by a walk of the snapshot's nodes, as
// Trie.Save: the same bytes, written faster (no iterator, no comparison of
// consecutive keys). Writes to the trie meanwhile do not change what it
// saves; any number of Saves and reads may run at once. The walk holds the
// trie's epoch guard from start to end, as an iteration does (so
// WaitReaders and Reclaim of the same trie called from w's Write during
// the walk return ErrSelfWait). A closed snapshot saves as an empty trie, as its All
// yields nothing.
func (s *Snapshot[V]) Save(w io.Writer, c Codec[V]) (int64, error) {
	return SaveSnapshots(w, []*Snapshot[V]{s}, c)
}

// SaveSnapshots writes the keys of snaps, one snapshot after the other, as
// one stream (see Save), each by Snapshot.Save's walk: for tries that
// split one key space into ranges (the shards of a range-routed sharded
// trie). Every key of a snapshot must be greater than every key of the
// snapshots before it; the first key that is not stops the save with
// ErrUnsorted (wrapped, naming both keys). The snapshots may belong to
// different tries; nil entries are skipped.
func SaveSnapshots[V any](w io.Writer, snaps []*Snapshot[V], c Codec[V]) (int64, error) {
	sv, err := newSaver(w, c)
	if err != nil {
		return sv.n, err
	}
	ts := treeSaver[V, atomicLoads]{s: sv, key: make([]byte, 0, 256)}
	for _, s := range snaps {
		if s == nil {
			continue
		}
		if err := ts.saveSnapshot(s); err != nil {
			return sv.n, err
		}
	}
	return sv.finish()
}

// saveSnapshot walks s's nodes through w.s, under the trie's epoch guard;
// after the first snapshot saved, its first key is checked against the
// last key saved.
func (w *treeSaver[V, L]) saveSnapshot(s *Snapshot[V]) error {
	st, ct := s.st, s.st.c
	var hold longHold
	hold.enter(&ct.epoch, &ct.readers, &ct.rdIn)
	defer hold.exit(&ct.readers)
	if st.closed.Load() || st.root == 0 { // acquire: inside the guard (snapshot.go)
		return nil
	}
	if w.s.total+uint64(w.s.count) > 0 {
		w.check = true
		w.prev = append(w.prev[:0], w.key...) // the last key saved (see treeSaver)
	}
	w.key, w.low = w.key[:0], 0
	w.it.c, w.it.v = ct, ct.view.Load() // acquire: covers the snapshot's root
	return w.walk(st.root)
}

func saveCore[V any](w io.Writer, core *core[V], c Codec[V]) (int64, error) {
	s, err := newSaver(w, c)
	if err != nil {
		return s.n, err
	}
	if err := core.saveTree(s); err != nil {
		return s.n, err
	}
	return s.finish()
}

// ---- reading ----

// streamReader reads one stream: the header, then block by block.
type streamReader struct {
	br       *bufio.Reader
	sum      uint32 // CRC-32C of every byte read
	buf      []byte // the current block (payload and its checksum)
	keysOnly bool
	total    uint64 // records read
}

// corrupt returns an ErrCorrupt error.
func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

// decodeErr is the error of a value the codec's Decode rejects (a stream
// saved with another codec, say): ErrCorrupt, naming the key, wrapping the
// codec's error too; the prefix once, also when the codec's error is this
// package's (Uint64Codec's is ErrCorrupt already).
func decodeErr(key []byte, err error) error {
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("%w (the value of key %s)", err, quoteKey(key))
	}
	return fmt.Errorf("%w: value of key %s: %w", ErrCorrupt, quoteKey(key), err)
}

// truncated is the error of a stream that ends early.
func truncated(where string) error {
	return fmt.Errorf("%w: truncated in %s: %w", ErrCorrupt, where, io.ErrUnexpectedEOF)
}

// newStreamReader reads and checks the header. A *bufio.Reader is used as
// it is (so that a stream embedded in a longer input is read exactly);
// other readers are wrapped in one.
func newStreamReader(r io.Reader) (*streamReader, error) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 64<<10)
	}
	sr := &streamReader{br: br}
	var hdr [headerLen]byte
	if err := sr.readFull(hdr[:], "the header"); err != nil {
		return nil, err
	}
	if string(hdr[:8]) != streamMagic {
		return nil, ErrNotStream
	}
	if crc32.Checksum(hdr[:12], castagnoli) != binary.LittleEndian.Uint32(hdr[12:]) {
		return nil, corrupt("header checksum")
	}
	if hdr[8] != streamVersion || hdr[9]&^flagKeysOnly != 0 || hdr[10] != 0 || hdr[11] != 0 {
		return nil, fmt.Errorf("%w: version %d, flags %#x (this package reads version %d)", ErrVersion, hdr[8], hdr[9], streamVersion)
	}
	sr.keysOnly = hdr[9]&flagKeysOnly != 0
	sr.sum = crc32.Update(0, castagnoli, hdr[:])
	return sr, nil
}

// readFull reads len(p) bytes (not added to the checksum).
func (sr *streamReader) readFull(p []byte, where string) error {
	if _, err := io.ReadFull(sr.br, p); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return truncated(where)
		}
		return wrapErr("load", err)
	}
	return nil
}

// uvarint reads a varint of a block head, appending its bytes to head.
func (sr *streamReader) uvarint(head []byte, where string) (uint64, []byte, error) {
	var x uint64
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := sr.br.ReadByte()
		if err != nil {
			if err == io.EOF {
				return 0, head, truncated(where)
			}
			return 0, head, wrapErr("load", err)
		}
		head = append(head, b)
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<(7*i), head, nil
		}
		x |= uint64(b&0x7f) << (7 * i)
	}
	return 0, head, corrupt("%s: bad varint", where)
}

// next reads the next block and returns its record count and payload
// (valid until the next call); count 0 means the stream ended (the trailer
// was read and checked).
func (sr *streamReader) next() (int, []byte, error) {
	var hb [2 * binary.MaxVarintLen64]byte
	count, head, err := sr.uvarint(hb[:0], "a block header")
	if err != nil {
		return 0, nil, err
	}
	if count == 0 {
		return 0, nil, sr.trailer(head)
	}
	size, head, err := sr.uvarint(head, "a block header")
	if err != nil {
		return 0, nil, err
	}
	if size > maxBlock || count > size/2 {
		return 0, nil, corrupt("block of %d records in %d bytes", count, size)
	}
	if err := sr.fill(int(size) + 4); err != nil {
		return 0, nil, err
	}
	payload, want := sr.buf[:size], binary.LittleEndian.Uint32(sr.buf[size:])
	bsum := crc32.Update(crc32.Update(0, castagnoli, head), castagnoli, payload)
	if bsum != want {
		return 0, nil, corrupt("block checksum (block after record %d)", sr.total)
	}
	sr.sum = crc32.Update(crc32.Update(sr.sum, castagnoli, head), castagnoli, sr.buf[:size+4])
	sr.total += count
	return int(count), payload, nil
}

// fill reads n bytes into buf, growing it at most by doubling (from
// 1 MiB), so that a corrupt length costs memory only as the bytes come.
func (sr *streamReader) fill(n int) error {
	buf := sr.buf[:0]
	for len(buf) < n {
		step := n - len(buf)
		if step > cap(buf)-len(buf) {
			step = min(step, max(len(buf), 1<<20))
			buf = append(buf, make([]byte, step)...)[:len(buf)]
		}
		m, err := io.ReadFull(sr.br, buf[len(buf):len(buf)+step])
		buf = buf[:len(buf)+m]
		if err != nil {
			sr.buf = buf
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return truncated("a block")
			}
			return wrapErr("load", err)
		}
	}
	sr.buf = buf
	return nil
}

// trailer checks the record count and the stream checksum after the end
// marker (whose byte is head).
func (sr *streamReader) trailer(head []byte) error {
	var tr [trailerLen - 1]byte
	if err := sr.readFull(tr[:], "the trailer"); err != nil {
		return err
	}
	sum := crc32.Update(crc32.Update(sr.sum, castagnoli, head), castagnoli, tr[:8])
	if sum != binary.LittleEndian.Uint32(tr[8:]) {
		return corrupt("stream checksum")
	}
	if n := binary.LittleEndian.Uint64(tr[:8]); n != sr.total {
		return corrupt("trailer counts %d records, the blocks %d", n, sr.total)
	}
	return nil
}

// scan reads a whole stream and calls f for every record in order, with
// the length of the key's longest common prefix with the key before it (-1
// for the first); key and the value bytes are valid only during the call. It checks the
// format (lengths, key order, the checksums); f checks nothing. With
// decode false (or a keys-only stream) values are not decoded: f gets the
// zero V.
func scan[V any](r io.Reader, c Codec[V], decode bool, f func(key []byte, lcp int, v V) error) (int, error) {
	sr, err := newStreamReader(r)
	if err != nil {
		return 0, err
	}
	if sr.keysOnly || c.Decode == nil {
		decode = false
	}
	key := make([]byte, 0, 256)
	first := true
	n := 0
	for {
		count, p, err := sr.next()
		if err != nil {
			return n, err
		}
		if count == 0 {
			return n, nil
		}
		inBlock := 0
		for i := 0; i < count; i++ {
			shared, k := binary.Uvarint(p)
			if k <= 0 {
				return n, corrupt("record %d: bad varint", n)
			}
			p = p[k:]
			suffix, k := binary.Uvarint(p)
			if k <= 0 || suffix > uint64(len(p)-k) {
				return n, corrupt("record %d: bad key length", n)
			}
			p = p[k:]
			if shared > uint64(inBlock) || shared+suffix > MaxKeyLen {
				return n, corrupt("record %d: key of %d+%d bytes", n, shared, suffix)
			}
			common := -1
			if !first {
				// The key is the previous one's first shared bytes, then
				// suffix: it must be above the previous key.
				rest := key[shared:]
				m := lcp(p[:suffix], rest)
				if m == int(suffix) || m < len(rest) && p[m] < rest[m] {
					return n, corrupt("record %d: key not above the one before it", n)
				}
				common = int(shared) + m
			}
			key = append(key[:shared], p[:suffix]...)
			p = p[suffix:]
			var v V
			if !sr.keysOnly {
				vl, k := binary.Uvarint(p)
				if k <= 0 || vl > uint64(len(p)-k) {
					return n, corrupt("record %d: bad value length", n)
				}
				if decode {
					if v, err = c.Decode(p[k : k+int(vl)]); err != nil {
						return n, decodeErr(key, err)
					}
				}
				p = p[k+int(vl):]
			}
			if err := f(key, common, v); err != nil {
				return n, err
			}
			first = false
			inBlock = len(key)
			n++
		}
		if len(p) != 0 {
			return n, corrupt("block with %d bytes past its records", len(p))
		}
	}
}

// ---- saving a whole tree ----

// saveTree writes every key of c through s by a depth-first walk of the
// nodes (treeSaver).
func (c *core[V]) saveTree(s *saver[V]) error {
	if c.root == 0 {
		return nil
	}
	w := treeSaver[V, plainLoads]{s: s, key: make([]byte, 0, 256)}
	w.it.own = c
	return w.walk(c.root)
}

// treeSaver writes a tree's keys through a saver by a depth-first walk of
// its nodes: the key is built in one buffer, and the bytes a key shares
// with the previous one are known from the walk (the shortest the buffer
// was since the previous key), so no key is compared: what Trie.Save,
// Frozen.Save and Snapshot.Save cost over the walk itself is the records'
// bytes. The form is the cursor's (L): it reads nodes through it.nodes,
// it.hv, it.vidx and it.slot, plain loads for the single-owner forms and
// atomic loads under the caller's epoch guard for a Concurrent's
// snapshot. A recursion, not the cursor's explicit stack: the cursor's
// bookkeeping (frames, warming, resumption) cost Trie.Save 14% on
// ascending keys and 31% on paths when tried.
//
// After a walk, key holds the last key emitted: nothing truncates it once
// the last record is written (a visit appends only before it recurses).
type treeSaver[V any, L loads] struct {
	it    cursor[V, L] // the form's loads (no walk state used)
	s     *saver[V]
	key   []byte
	low   int    // the shortest len(key) since the previous record
	check bool   // the next record is the first of a later walk: compare it with prev
	prev  []byte // the last key of the walks before (check)
}

func (w *treeSaver[V, L]) emit(idx uint32) error {
	if w.check {
		w.check = false
		m, err := after(w.prev, w.key)
		if err != nil {
			return err
		}
		w.low = m
	}
	var v V
	if !w.s.keysOnly {
		var l L
		if unsafe.Sizeof(l) != 0 {
			v = w.it.c.value(idx)
		} else {
			v = w.it.own.value(idx)
		}
	}
	err := w.s.record(w.key, w.low, v)
	w.low = len(w.key)
	return err
}

func (w *treeSaver[V, L]) walk(ref uint32) error {
	if isLeafRef(ref) {
		return w.emit(ref >> 1)
	}
	n := w.it.nodes()(ref)
	h, vi := w.it.hv(n)
	w.key = append(w.key, n.prefix(h)...)
	if h.hasValue() {
		if err := w.emit(w.it.vidx(n, vi)); err != nil {
			return err
		}
	}
	base := len(w.key)
	visit := func(label byte, r uint32) error {
		w.key = append(w.key[:base], label)
		if err := w.walk(r); err != nil {
			return err
		}
		w.low = min(w.low, base)
		return nil
	}
	if h.dense() {
		for i := range denseSlots {
			if r := w.it.slot(n.childSlot(h, i)); r != 0 {
				if err := visit(byte(i), r); err != nil {
					return err
				}
			}
		}
	} else {
		cnt := h.count()
		for i := range cnt {
			if r := w.it.slot(n.childSlot(h, i)); r != 0 {
				if err := visit(n.label(h, i), r); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
