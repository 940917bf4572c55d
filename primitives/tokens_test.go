package primitives_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/primitives"
)

func newManager(t *testing.T, l primitives.Level) *primitives.TokenManager {
	t.Helper()
	m, err := primitives.NewTokenManager(l)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNewTokenManagerInvalidLevel(t *testing.T) {
	if _, err := primitives.NewTokenManager(primitives.Level(9)); !errors.Is(err, primitives.ErrInvalidLevel) {
		t.Fatalf("got %v, want ErrInvalidLevel", err)
	}
	if s := primitives.Level(9).String(); s != "Level(9)" {
		t.Fatalf("String() = %q", s)
	}
	if s := primitives.OneWriteMultiRead.String(); s != "OneWriteMultiRead" {
		t.Fatalf("String() = %q", s)
	}
}

func TestReadOnlyLevel(t *testing.T) {
	m := newManager(t, primitives.NoWriteReadOnly)
	if _, err := m.TryWriter(); !errors.Is(err, primitives.ErrReadOnly) {
		t.Fatalf("TryWriter: %v, want ErrReadOnly", err)
	}
	if _, err := m.Writer(context.Background()); !errors.Is(err, primitives.ErrReadOnly) {
		t.Fatalf("Writer: %v, want ErrReadOnly", err)
	}
	r1, err := m.Reader()
	if err != nil {
		t.Fatal(err)
	}
	r2, err := m.Reader()
	if err != nil {
		t.Fatal(err)
	}
	if got := m.ActiveReaders(); got != 2 {
		t.Fatalf("ActiveReaders = %d", got)
	}
	r1.Release()
	r2.Release()
	if got := m.ActiveReaders(); got != 0 {
		t.Fatalf("ActiveReaders after release = %d", got)
	}
}

func TestSingleThreadStrict(t *testing.T) {
	m := newManager(t, primitives.SingleThreadStrict)
	r, err := m.Reader()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reader(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("second reader: %v, want ErrBusy", err)
	}
	if _, err := m.TryWriter(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("writer beside a reader: %v, want ErrBusy", err)
	}
	r.Release()
	w, err := m.Writer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reader(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("reader beside a writer: %v, want ErrBusy", err)
	}
	w.Release()
	if err := m.WithReader(func(*primitives.ReaderToken) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestSingleThreadShared(t *testing.T) {
	m := newManager(t, primitives.SingleThreadShared)
	r1, _ := m.Reader()
	r2, err := m.Reader()
	if err != nil {
		t.Fatalf("two readers at SingleThreadShared: %v", err)
	}
	if _, err := m.TryWriter(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("writer beside readers: %v, want ErrBusy", err)
	}
	r1.Release()
	r2.Release()
	w, err := m.TryWriter()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Reader(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("reader beside a writer: %v, want ErrBusy", err)
	}
	if _, err := m.TryWriter(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("second writer: %v, want ErrBusy", err)
	}
	w.Release()
}

func TestOneWriteMultiReadReadersBesideWriter(t *testing.T) {
	m := newManager(t, primitives.OneWriteMultiRead)
	w, err := m.TryWriter()
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Reader()
	if err != nil {
		t.Fatalf("reader beside the writer: %v", err)
	}
	if _, err := m.TryWriter(); !errors.Is(err, primitives.ErrBusy) {
		t.Fatalf("second writer: %v, want ErrBusy", err)
	}
	if v := w.Publish(); v != 2 || r.Version() != 1 {
		t.Fatalf("published %d, reader pinned %d", v, r.Version())
	}
	r.Release()
	w.Release()
}

func TestOneWriteMultiReadRacingWriters(t *testing.T) {
	for _, n := range goroutineCounts() {
		for round := range 50 {
			m := newManager(t, primitives.OneWriteMultiRead)
			var won atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			tokens := make(chan *primitives.WriterToken, n)
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					w, err := m.TryWriter()
					if err == nil {
						won.Add(1)
						tokens <- w
					} else if !errors.Is(err, primitives.ErrBusy) {
						t.Errorf("TryWriter: %v", err)
					}
				}()
			}
			close(start)
			wg.Wait()
			if won.Load() != 1 {
				t.Fatalf("goroutines=%d round %d: %d writers won, want exactly 1", n, round, won.Load())
			}
			(<-tokens).Release()
		}
	}
}

func TestWriterWaitsAndHonoursContext(t *testing.T) {
	m := newManager(t, primitives.OneWriteMultiRead)
	w, _ := m.TryWriter()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := m.Writer(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Writer with an expiring context: %v", err)
	}

	got := make(chan *primitives.WriterToken)
	go func() {
		w2, err := m.Writer(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- w2
	}()
	w.Release()
	w2 := <-got
	if err := m.CheckWriter(w2); err != nil {
		t.Fatal(err)
	}
	w2.Release()
}

// TestMutualExclusionUnderWithWriter: writers at OneWriteMultiRead increment a
// plain counter inside WithWriter; the race detector and the final sum check
// that the token really excludes.
func TestMutualExclusionUnderWithWriter(t *testing.T) {
	for _, n := range goroutineCounts() {
		m := newManager(t, primitives.OneWriteMultiRead)
		counter := 0
		per := 2000 / scale
		var wg sync.WaitGroup
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					err := m.WithWriter(context.Background(), func(w *primitives.WriterToken) error {
						counter++
						w.Publish()
						return nil
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if counter != n*per || m.Version() != uint64(n*per+1) {
			t.Fatalf("goroutines=%d: counter %d version %d, want %d and %d", n, counter, m.Version(), n*per, n*per+1)
		}
	}
}

func TestTokenMisuse(t *testing.T) {
	m := newManager(t, primitives.MultiWriteMultiRead)
	other := newManager(t, primitives.MultiWriteMultiRead)
	r, _ := m.Reader()
	w, _ := m.TryWriter()
	if err := other.CheckReader(r); !errors.Is(err, primitives.ErrWrongManager) {
		t.Fatalf("CheckReader on another manager: %v", err)
	}
	if err := other.CheckWriter(w); !errors.Is(err, primitives.ErrWrongManager) {
		t.Fatalf("CheckWriter on another manager: %v", err)
	}
	r.Release()
	w.Release()
	if err := m.CheckReader(r); !errors.Is(err, primitives.ErrTokenReleased) {
		t.Fatalf("CheckReader after release: %v", err)
	}
	if err := m.CheckWriter(w); !errors.Is(err, primitives.ErrTokenReleased) {
		t.Fatalf("CheckWriter after release: %v", err)
	}
	mustPanic(t, "primitives:", r.Release)
	mustPanic(t, "primitives:", w.Release)
	mustPanic(t, "primitives:", func() { w.Publish() })
	mustPanic(t, "primitives:", func() { r.Refresh() })
}

func TestWithWriterReleasesOnPanic(t *testing.T) {
	m := newManager(t, primitives.OneWriteMultiRead)
	mustPanic(t, "boom", func() {
		_ = m.WithWriter(context.Background(), func(*primitives.WriterToken) error { panic("boom") })
	})
	w, err := m.TryWriter()
	if err != nil {
		t.Fatalf("writer token leaked by a panicking WithWriter: %v", err)
	}
	w.Release()
}

func TestMinActiveVersion(t *testing.T) {
	m := newManager(t, primitives.OneWriteMultiRead)
	w, _ := m.TryWriter()
	r1, _ := m.Reader() // pins 1
	w.Publish()         // 2
	r2, _ := m.Reader() // pins 2
	w.Publish()         // 3
	if got := m.MinActiveVersion(); got != 1 {
		t.Fatalf("MinActiveVersion = %d, want 1", got)
	}
	r1.Release()
	if got := m.MinActiveVersion(); got != 2 {
		t.Fatalf("MinActiveVersion = %d, want 2", got)
	}
	if got := r2.Refresh(); got != 3 {
		t.Fatalf("Refresh = %d, want 3", got)
	}
	if got := m.MinActiveVersion(); got != 3 {
		t.Fatalf("MinActiveVersion = %d, want 3", got)
	}
	r2.Release()
	w.Release()
}

func TestManyReadersGrowPinBlocks(t *testing.T) {
	m := newManager(t, primitives.MultiWriteMultiRead)
	var rs []*primitives.ReaderToken
	for range 200 {
		r, err := m.Reader()
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	if got := m.ActiveReaders(); got != 200 {
		t.Fatalf("ActiveReaders = %d", got)
	}
	for _, r := range rs {
		r.Release()
	}
	if got := m.ActiveReaders(); got != 0 {
		t.Fatalf("ActiveReaders = %d", got)
	}
}

// object is a published value whose memory a writer retires and reclaims.
type object struct {
	id    int64
	freed atomic.Bool
}

// reclaimer is the free function of the reclamation tests: it marks each
// object freed (readers check the mark) and fails on a second reclaim.
type reclaimer struct {
	t     *testing.T
	seen  map[int64]bool
	freed int
}

func newReclaimer(t *testing.T) *reclaimer { return &reclaimer{t: t, seen: map[int64]bool{}} }

func (r *reclaimer) free(o *object) {
	if r.seen[o.id] {
		r.t.Errorf("object %d reclaimed twice", o.id)
	}
	r.seen[o.id] = true
	o.freed.Store(true)
	r.freed++
}

// TestReclamationNeverFreesVisible: one writer replaces the published object
// over and over, retiring the old one and reclaiming through the list;
// readers pin a version, load the object and check it is not freed for as
// long as they hold the token. Every retired object is reclaimed exactly once
// by the end (conservation).
func TestReclamationNeverFreesVisible(t *testing.T) {
	for _, level := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
		for _, readers := range goroutineCounts() {
			m := newManager(t, level)
			var cur atomic.Pointer[object]
			cur.Store(&object{id: 0})
			var list primitives.RetireList[*object]
			var stop atomic.Bool
			var wg sync.WaitGroup
			for range readers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for !stop.Load() {
						err := m.WithReader(func(*primitives.ReaderToken) error {
							o := cur.Load()
							for range 8 {
								if o.freed.Load() {
									return errors.New("reader saw a reclaimed object")
								}
							}
							return nil
						})
						if err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			updates := 20_000 / scale
			rec := newReclaimer(t)
			free := rec.free
			for i := 1; i <= updates; i++ {
				err := m.WithWriter(context.Background(), func(w *primitives.WriterToken) error {
					old := cur.Swap(&object{id: int64(i)})
					list.Retire(w.Version(), old)
					w.Publish()
					if i%16 == 0 {
						list.Reclaim(m, free)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			stop.Store(true)
			wg.Wait()
			list.Reclaim(m, free)
			if rec.freed != updates || list.Len() != 0 {
				t.Fatalf("%v readers=%d: reclaimed %d of %d retired, %d left", level, readers, rec.freed, updates, list.Len())
			}
		}
	}
}
