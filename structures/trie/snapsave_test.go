package trie

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// TestSnapshotSave: Snapshot.Save writes exactly what Save of the
// snapshot's All writes, at both levels, while a writer changes the trie
// (inserting, overwriting and deleting keys the snapshot holds); the
// stream loads back to the snapshot's keys; a closed snapshot saves as an
// empty trie; codec and writer errors are returned.
func TestSnapshotSave(t *testing.T) {
	for _, level := range []primitives.Level{primitives.OneWriteMultiRead, primitives.MultiWriteMultiRead} {
		t.Run(level.String(), func(t *testing.T) {
			c := newC[string](t, level)
			for i := range 20_000 {
				k := fmt.Appendf(nil, "user/%05d/%d", i*7%20_000, i%3)
				if _, err := c.Insert(k, fmt.Sprint(i)); err != nil {
					t.Fatal(err)
				}
			}
			snap, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			if _, err := Save(&want, snap.All(), StringCodec()); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() { // churn over the snapshot's keys
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					k := fmt.Appendf(nil, "user/%05d/%d", i%20_000, i%4)
					if i%2 == 0 {
						_, err = c.Insert(k, "changed")
					} else {
						_, _, err = c.Delete(k)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
			})
			for range 5 {
				var got bytes.Buffer
				n, err := snap.Save(&got, StringCodec())
				if err != nil || n != int64(got.Len()) || !bytes.Equal(got.Bytes(), want.Bytes()) {
					close(stop)
					wg.Wait()
					t.Fatalf("Snapshot.Save: %d bytes (n %d, %v), Save of All: %d", got.Len(), n, err, want.Len())
				}
			}
			close(stop)
			wg.Wait()
			back, err := Load(bytes.NewReader(want.Bytes()), StringCodec(), Config{})
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, "load of Snapshot.Save", snap.All(), back.All())

			keysOnly := Codec[string]{}
			var ko, koWant bytes.Buffer
			if _, err := snap.Save(&ko, keysOnly); err != nil {
				t.Fatal(err)
			}
			if _, err := Save(&koWant, snap.All(), keysOnly); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ko.Bytes(), koWant.Bytes()) {
				t.Fatal("keys-only Snapshot.Save differs from Save of All")
			}

			bad := errors.New("bad value")
			failing := Codec[string]{Append: func(b []byte, v string) ([]byte, error) { return b, bad }}
			if _, err := snap.Save(&bytes.Buffer{}, failing); !errors.Is(err, bad) {
				t.Fatalf("codec error: %v", err)
			}
			if _, err := snap.Save(&failWriter{left: 100}, StringCodec()); !errors.Is(err, errDiskFull) {
				t.Fatalf("writer error: %v", err)
			}

			snap.Close()
			var empty bytes.Buffer
			if _, err := snap.Save(&empty, StringCodec()); err != nil {
				t.Fatal(err)
			}
			e, err := Load(&empty, StringCodec(), Config{})
			if err != nil || e.Len() != 0 {
				t.Fatalf("closed snapshot's stream: %v keys, %v", e.Len(), err)
			}
		})
	}
}

// TestSnapshotSaveSelfWait: a Write called by Snapshot.Save during its walk
// that waits for the trie's readers (Reclaim) gets ErrSelfWait: the walk
// holds a reader guard, as an iteration does.
func TestSnapshotSaveSelfWait(t *testing.T) {
	if !trackReaders {
		t.Skip("long readers are not recorded on this platform")
	}
	c := newC[string](t, primitives.OneWriteMultiRead)
	for _, k := range []string{"a", "b", "c"} {
		if _, err := c.Insert([]byte(k), "v"); err != nil {
			t.Fatal(err)
		}
	}
	old := testBlockTarget
	testBlockTarget = 1 // a block per key: writes during the walk
	defer func() { testBlockTarget = old }()
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var inWrite error
	w := writerFunc(func(p []byte) (int, error) {
		if err := c.Reclaim(context.Background()); err != nil && inWrite == nil {
			inWrite = err
		}
		return len(p), nil
	})
	if _, err := snap.Save(w, StringCodec()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inWrite, ErrSelfWait) {
		t.Fatalf("Reclaim from Save's writer: %v, want ErrSelfWait", inWrite)
	}
	if err := c.Reclaim(context.Background()); err != nil {
		t.Fatalf("Reclaim after Save: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSaveSnapshots: the snapshots of tries that split a key space into
// ranges save as one stream, the same bytes as Save of their keys in
// order (nil, empty and closed snapshots add nothing); a snapshot whose
// first key does not sort after the previous one's last key stops the
// save with ErrUnsorted.
func TestSaveSnapshots(t *testing.T) {
	bounds := []string{"", "g", "m", "t"} // ranges [b[i], b[i+1])
	var tries []*Concurrent[string]
	all := mustNew[string]()
	for i := range bounds {
		c := newC[string](t, primitives.OneWriteMultiRead)
		if i == 2 {
			c = newC[string](t, primitives.MultiWriteMultiRead)
		}
		tries = append(tries, c)
	}
	for i := range 5000 {
		k := fmt.Appendf(nil, "%c%04d", 'a'+i%26, i)
		r := 0
		for j, b := range bounds {
			if string(k) >= b {
				r = j
			}
		}
		if _, err := tries[r].Insert(k, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
		all.Insert(k, fmt.Sprint(i))
	}
	empty := newC[string](t, primitives.OneWriteMultiRead)
	var snaps []*Snapshot[string]
	for _, c := range append(tries[:2:2], append([]*Concurrent[string]{empty}, tries[2:]...)...) {
		s, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		snaps = append(snaps, s)
	}
	closed, err := tries[0].Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	snaps = append([]*Snapshot[string]{nil, closed}, snaps...)
	var want, got bytes.Buffer
	if _, err := all.Save(&want, StringCodec()); err != nil {
		t.Fatal(err)
	}
	old := testBlockTarget
	testBlockTarget = 100 // many blocks: boundaries inside and at block starts
	defer func() { testBlockTarget = old }()
	want.Reset()
	if _, err := all.Save(&want, StringCodec()); err != nil {
		t.Fatal(err)
	}
	if _, err := SaveSnapshots(&got, snaps, StringCodec()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("SaveSnapshots wrote %d bytes, Trie.Save of the same keys %d", got.Len(), want.Len())
	}

	// Out of order: the last range before the first, or a range twice.
	n := len(snaps)
	for _, order := range [][]*Snapshot[string]{
		{snaps[n-1], snaps[2]},
		{snaps[3], snaps[3]},
	} {
		if _, err := SaveSnapshots(&bytes.Buffer{}, order, StringCodec()); !errors.Is(err, ErrUnsorted) {
			t.Fatalf("snapshots out of order: %v, want ErrUnsorted", err)
		}
	}
}
