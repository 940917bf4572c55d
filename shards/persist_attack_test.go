package shards_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/structures/trie"
)

// tricklingReader yields data, then one byte per Read forever (a peer that
// keeps the connection alive by sending a byte now and then); its first
// trickled Read calls onTrickle. A Read more than a million calls into
// the trickle fails with errKeptReading: the loader went on reading after
// its ctx ended.
type tricklingReader struct {
	data      []byte
	onTrickle func()
	reads     int
}

var errKeptReading = errors.New("test: load kept reading a million times after its ctx ended")

func (r *tricklingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	if r.reads++; r.reads == 1 {
		r.onTrickle()
	} else if r.reads > 1<<20 {
		return 0, errKeptReading
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = 0
	return 1, nil
}

// TestShardedLoadTrickleEndsWithCtx: a stream whose block claims 512 MiB
// and whose bytes then come one at a time ends with ctx's error soon after
// ctx ends (before: ctx was checked only between records, so the load went
// on reading the block, a byte per Read, for as long as the peer kept
// sending; memory grew with it).
func TestShardedLoadTrickleEndsWithCtx(t *testing.T) {
	var one bytes.Buffer
	if _, err := trie.Save(&one, func(yield func([]byte, uint64) bool) { yield([]byte("k"), 1) }, u64()); err != nil {
		t.Fatal(err)
	}
	head := one.Bytes()[:16] // the stream header
	head = binary.AppendUvarint(head, 1)
	head = binary.AppendUvarint(head, 1<<29)
	_, dst := startTrie(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &tricklingReader{data: head, onTrickle: cancel}
	var err error
	testutil.Within(t, "load of a trickling stream after ctx ended", func() {
		err = dst.Load(ctx, io.Reader(r), u64())
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("load: %v, want context.Canceled", err)
	}
}

// TestShardedLoadBlockedReadEndsByDeadline pins the documented bound of a
// Read that blocks: ctx cannot interrupt it, but a reader that ends its
// Read when ctx ends (a connection's read deadline set by
// context.AfterFunc, as Load's doc says) ends the load.
func TestShardedLoadBlockedReadEndsByDeadline(t *testing.T) {
	var one bytes.Buffer
	if _, err := trie.Save(&one, func(yield func([]byte, uint64) bool) { yield([]byte("k"), 1) }, u64()); err != nil {
		t.Fatal(err)
	}
	_, dst := startTrie(t, 2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, peer := net.Pipe()
	defer conn.Close()
	defer peer.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	var err error
	testutil.Within(t, "load of a stalled connection after ctx ended", func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			err = dst.Load(ctx, conn, u64())
		}()
		if _, werr := peer.Write(one.Bytes()[:20]); werr != nil { // the header and part of a block, then nothing
			t.Error(werr)
		}
		cancel()
		<-done
	})
	if !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, context.Canceled) {
		t.Fatalf("load: %v, want the deadline's error", err)
	}
	if _, ok := dst.Get([]byte("k")); ok {
		t.Fatal("a failed load changed the trie")
	}
}
