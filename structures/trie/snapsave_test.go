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

// TestSnapshotSaveSelfWait: a Write called by Snapshot.Save that waits for
// the trie's readers (Reclaim) gets ErrSelfWait: the save holds a reader
// guard, as an iteration does.
func TestSnapshotSaveSelfWait(t *testing.T) {
	if !trackReaders {
		t.Skip("long readers are not recorded on this platform")
	}
	c := newC[string](t, primitives.OneWriteMultiRead)
	if _, err := c.Insert([]byte("k"), "v"); err != nil {
		t.Fatal(err)
	}
	snap, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var inWrite error
	w := writerFunc(func(p []byte) (int, error) {
		if inWrite == nil {
			inWrite = c.Reclaim(context.Background())
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
