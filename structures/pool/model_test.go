package pool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// testConfig is small enough that a few hundred operations grow the arena,
// fill chunk tails, spread huge regions over several chunks and hit MaxBytes.
func testConfig() Config {
	return Config{MaxFastBlock: 1024, Alignment: 16, ChunkSize: 8 << 10, MaxBytes: 1 << 20}
}

// patternSource is random bytes that patterns are cut from.
var patternSource = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b
}()

// patternOf returns the pattern of tag for n bytes: the tag itself in the
// first and last 8 bytes (where free-list links land), and between them
// random bytes from a tag-dependent place. It is built with copy and
// compared with bytes.Equal, which the race detector checks as one range
// each, so that patterns stay cheap under -race.
func patternOf(dst []byte, tag uint64) {
	n := len(dst)
	start := int(tag*0x9E3779B97F4A7C15>>40) % (len(patternSource) - n)
	copy(dst, patternSource[start:start+n])
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], tag)
	copy(dst, t[:])
	if n > 8 {
		copy(dst[max(8, n-8):], t[:])
	}
}

// fillPattern writes tag's pattern into b.
func fillPattern(b []byte, tag uint64) { patternOf(b, tag) }

// checkPattern reports where b differs from tag's pattern.
func checkPattern(b []byte, tag uint64) error {
	want := make([]byte, len(b))
	patternOf(want, tag)
	if bytes.Equal(b, want) {
		return nil
	}
	for i := range b {
		if b[i] != want[i] {
			return fmt.Errorf("byte %d of %d is %#x, want %#x", i, len(b), b[i], want[i])
		}
	}
	return nil
}

type liveBlock struct {
	off  Offset
	size int
	tag  uint64
}

// model drives a pool with alloc/free operations and checks every live
// block's pattern on free and at the end, and that no two live blocks
// overlap.
type model struct {
	t       testing.TB
	p       Pool
	cfg     Config
	live    []liveBlock
	nextTag uint64
	exhaust int
}

func newModel(t testing.TB, p Pool, cfg Config) *model {
	cfg, err := cfg.Validate()
	if err != nil {
		t.Fatal(err)
	}
	return &model{t: t, p: p, cfg: cfg, nextTag: 1}
}

func (m *model) alloc(size int) {
	m.t.Helper()
	off, err := m.p.Alloc(size)
	if errors.Is(err, ErrExhausted) {
		m.exhaust++
		return
	}
	if err != nil {
		m.t.Fatalf("Alloc(%d): %v", size, err)
	}
	if off == Nil {
		m.t.Fatalf("Alloc(%d) returned the nil offset", size)
	}
	if int64(off)%int64(m.cfg.Alignment) != 0 {
		m.t.Fatalf("Alloc(%d) = %#x, not aligned to %d", size, uint64(off), m.cfg.Alignment)
	}
	b := m.p.Bytes(off, size)
	if len(b) != size || cap(b) != size {
		m.t.Fatalf("Bytes(%#x, %d): len %d cap %d", uint64(off), size, len(b), cap(b))
	}
	fillPattern(b, m.nextTag)
	m.live = append(m.live, liveBlock{off, size, m.nextTag})
	m.nextTag++
}

func (m *model) free(i int) {
	m.t.Helper()
	lb := m.live[i]
	if err := checkPattern(m.p.Bytes(lb.off, lb.size), lb.tag); err != nil {
		m.t.Fatalf("block %#x size %d corrupted before free: %v", uint64(lb.off), lb.size, err)
	}
	if err := m.p.Free(lb.off, lb.size); err != nil {
		m.t.Fatalf("Free(%#x, %d): %v", uint64(lb.off), lb.size, err)
	}
	m.live[i] = m.live[len(m.live)-1]
	m.live = m.live[:len(m.live)-1]
}

// verify checks all patterns, that live blocks do not overlap, and the
// stats identities.
func (m *model) verify() {
	m.t.Helper()
	for _, lb := range m.live {
		if err := checkPattern(m.p.Bytes(lb.off, lb.size), lb.tag); err != nil {
			m.t.Fatalf("live block %#x size %d corrupted: %v", uint64(lb.off), lb.size, err)
		}
	}
	s := slices.Clone(m.live)
	slices.SortFunc(s, func(a, b liveBlock) int { return int(int64(a.off) - int64(b.off)) })
	for i := 1; i < len(s); i++ {
		if s[i-1].off+Offset(s[i-1].size) > s[i].off {
			m.t.Fatalf("blocks %#x+%d and %#x overlap", uint64(s[i-1].off), s[i-1].size, uint64(s[i].off))
		}
	}
	st := m.p.Stats()
	var want int64
	for _, lb := range m.live {
		want += int64(blockSize(&m.cfg, lb.size))
	}
	if st.InUse != want {
		m.t.Fatalf("Stats.InUse = %d, want %d (%+v)", st.InUse, want, st)
	}
	if st.Capacity > m.cfg.MaxBytes {
		m.t.Fatalf("Capacity %d above MaxBytes %d", st.Capacity, m.cfg.MaxBytes)
	}
	if st.Allocs-st.Frees != uint64(len(m.live)) {
		m.t.Fatalf("Allocs-Frees = %d, want %d live", st.Allocs-st.Frees, len(m.live))
	}
	if st.Free < 0 || st.Untouched < 0 || st.Fragment < 0 || st.Fragment > st.Capacity/8+int64(m.cfg.Alignment) {
		m.t.Fatalf("bad stats %+v", st)
	}
}

func (m *model) freeAll() {
	m.t.Helper()
	for len(m.live) > 0 {
		m.free(len(m.live) - 1)
	}
	m.verify()
}

// randomSize picks mostly small sizes, some class edges and some huge ones.
func (m *model) randomSize(r *rand.Rand) int {
	switch k := r.IntN(20); {
	case k < 12:
		return 1 + r.IntN(128)
	case k < 16:
		return 1 + r.IntN(m.cfg.MaxFastBlock)
	case k < 17:
		return m.cfg.MaxFastBlock
	case k < 19:
		return m.cfg.MaxFastBlock + 1 + r.IntN(2*m.cfg.ChunkSize)
	default:
		return m.cfg.MaxFastBlock + 1 + r.IntN(4*m.cfg.ChunkSize)
	}
}

var (
	modelOps    = 3000
	verifyEvery = 64
)

func init() {
	if raceEnabled {
		modelOps, verifyEvery = 1500, 256
	}
}

func (m *model) run(r *rand.Rand, ops int) {
	for i := range ops {
		if len(m.live) == 0 || r.IntN(100) < 55 {
			m.alloc(m.randomSize(r))
		} else {
			m.free(r.IntN(len(m.live)))
		}
		if i%verifyEvery == 0 {
			m.verify()
		}
	}
	m.verify()
}

// levels constructs each level for cfg.
var levels = []struct {
	name string
	make func(Config) (Pool, error)
}{
	{"nolock", func(c Config) (Pool, error) { return NewNoLocking(c) }},
	{"mutex", func(c Config) (Pool, error) { return NewMutex(c) }},
	{"lockfree", func(c Config) (Pool, error) { return NewLockFree(c) }},
	{"threadlocal", func(c Config) (Pool, error) { return NewThreadLocal(c) }},
	{"cache", func(c Config) (Pool, error) {
		p, err := NewThreadLocal(c)
		if err != nil {
			return nil, err
		}
		return p.NewCache(), nil
	}},
	{"fixed", func(c Config) (Pool, error) { c.FixedCapacity = c.MaxBytes; return NewFixedCapacity(c) }},
}

func TestModel(t *testing.T) {
	for _, l := range levels {
		for seed := range uint64(4) {
			t.Run(fmt.Sprintf("%s/seed=%d", l.name, seed), func(t *testing.T) {
				cfg := testConfig()
				if seed%2 == 1 {
					cfg.Alignment = 8
				}
				p, err := l.make(cfg)
				if err != nil {
					t.Fatal(err)
				}
				m := newModel(t, p, cfg)
				r := rand.New(rand.NewPCG(seed, 99))
				m.run(r, modelOps)
				m.freeAll()
				// Everything is reusable: the same workload again fits.
				m.run(r, modelOps/3)
				m.freeAll()
			})
		}
	}
}
