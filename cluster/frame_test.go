package cluster

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// TestReadFrameClaimCostsNothing: a frame header claiming the largest
// frame, followed by a few bytes and the end of the connection, costs
// about what arrived, not the claimed 65 MiB (before: readFrame allocated
// the claimed length up front, so a handful of connections that each sent
// 5 bytes and then stalled held gigabytes of the node's memory).
func TestReadFrameClaimCostsNothing(t *testing.T) {
	in := binary.AppendUvarint(nil, maxFrame)
	in = append(in, "0123456789"...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := readFrame(bufio.NewReader(bytes.NewReader(in)))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, want io.ErrUnexpectedEOF", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Fatalf("a 10-byte frame claiming %d bytes allocated %d bytes", maxFrame, got)
	}
}

// TestReadN reads whole frames of every size class across the growth
// steps, from a reader that returns a byte at a time.
func TestReadN(t *testing.T) {
	for _, n := range []int{0, 1, frameChunk - 1, frameChunk, frameChunk + 1, 5*frameChunk + 3} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(i * 7)
		}
		got, err := readN(io.MultiReader(bytes.NewReader(want), bytes.NewReader([]byte("next"))), n)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("n=%d: %d bytes, %v", n, len(got), err)
		}
		if _, err := readN(bytes.NewReader(want), n+1); err == nil {
			t.Fatalf("n=%d short: %v", n, err)
		}
	}
}

// TestWriteFrameCopiesNothing: a 64 MiB frame goes out without a copy of
// its body (before: writeFrame allocated and filled length+body, one more
// 64 MiB per forwarded command on top of the command itself).
func TestWriteFrameCopiesNothing(t *testing.T) {
	body := make([]byte, MaxCommandBytes)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var n countingWriter
	if err := writeFrame(&n, body); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Fatalf("a %d-byte frame allocated %d bytes", len(body), got)
	}
	if want := len(binary.AppendUvarint(nil, uint64(len(body)))) + len(body); int(n) != want {
		t.Fatalf("wrote %d bytes, want %d", n, want)
	}
	r, err := readFrame(bufio.NewReader(io.MultiReader(bytes.NewReader(binary.AppendUvarint(nil, 3)), bytes.NewReader([]byte("abc")))))
	if err != nil || string(r) != "abc" {
		t.Fatalf("%q %v", r, err)
	}
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}
