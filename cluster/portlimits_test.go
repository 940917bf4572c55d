package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/zipora-go/zipora/internal/testutil"
)

// listenWith starts a one-range TCP network with the given limits whose
// request handler echoes "re:" + the request.
func listenWith(t *testing.T, l portLimits) *tcpNet {
	t.Helper()
	old := tcpLimits
	tcpLimits = l
	nw, err := ListenTCP("127.0.0.1:0", 1)
	tcpLimits = old
	if err != nil {
		t.Fatal(err)
	}
	tn := nw.(*tcpNet)
	t.Cleanup(func() { tn.Close() })
	tn.serve(func(_ context.Context, req []byte) []byte { return append([]byte("re:"), req...) })
	return tn
}

// frame is b as a request-channel frame.
func frame(b string) []byte { return append(binary.AppendUvarint(nil, uint64(len(b))), b...) }

// rawConn dials addr and writes b.
func rawConn(t *testing.T, addr string, b []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	return c
}

// answer reads one frame from c (nil and the error if the node closed it).
func answer(t *testing.T, c net.Conn) ([]byte, error) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testutil.HangLimit))
	b, err := readFrame(bufio.NewReader(c))
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the node neither answered nor closed the connection in %v", testutil.HangLimit)
	}
	return b, err
}

// TestPortIdleAndSlowClients: a request connection that sends nothing
// after its channel byte, one that sends half a frame and stalls, and one
// that stalls between two frames are each closed by the node (before: all
// three were held for as long as the client kept them open, each with a
// goroutine and its buffers).
func TestPortIdleAndSlowClients(t *testing.T) {
	tn := listenWith(t, portLimits{MaxConns: 16, Idle: 100 * time.Millisecond, Frame: 100 * time.Millisecond})
	addr := tn.Addr()
	half := append([]byte{chanRequests}, frame("0123456789")[:6]...)
	for name, b := range map[string][]byte{
		"idle":       {chanRequests},
		"slow body":  half,
		"then stall": append([]byte{chanRequests}, frame("one")...),
	} {
		c := rawConn(t, addr, b)
		if name == "then stall" {
			if got, err := answer(t, c); string(got) != "re:one" {
				t.Fatalf("%s: answer %q, %v", name, got, err)
			}
		}
		if got, err := answer(t, c); err == nil {
			t.Fatalf("%s: answered %q, want the connection closed", name, got)
		}
	}
}

// TestPortMaxConns: with MaxConns connections held, the next one is closed
// unanswered; once one is let go its slot serves a new one; and the node's
// own client side still works.
func TestPortMaxConns(t *testing.T) {
	const max = 4
	tn := listenWith(t, portLimits{MaxConns: max, Idle: time.Minute, Frame: time.Minute})
	addr := tn.Addr()
	var held []net.Conn
	for i := range max {
		c := rawConn(t, addr, append([]byte{chanRequests}, frame("held")...))
		if got, err := answer(t, c); string(got) != "re:held" { // served: it holds a slot
			t.Fatalf("conn %d: %q, %v", i, got, err)
		}
		held = append(held, c)
	}
	over := rawConn(t, addr, append([]byte{chanRequests}, frame("over")...))
	if got, err := answer(t, over); err == nil {
		t.Fatalf("connection %d of %d answered %q", max+1, max, got)
	}
	held[0].Close()
	testutil.Eventually(t, "a slot freed by a closed connection serves a new one", testutil.HangLimit, func() bool {
		got, _ := answer(t, rawConn(t, addr, append([]byte{chanRequests}, frame("again")...)))
		return string(got) == "re:again"
	})
}

// TestPortClientDropsStale: a pooled client connection idle for half the
// server's idle cut is not used again (the server may cut it while the
// request travels, which would make a write's outcome unknown); a fresh
// one is dialed and the request answered.
func TestPortClientDropsStale(t *testing.T) {
	srv := listenWith(t, portLimits{MaxConns: 16, Idle: time.Minute, Frame: time.Minute})
	cli := listenWith(t, portLimits{MaxConns: 16, Idle: time.Minute, Frame: time.Minute})
	ctx := context.Background()
	if got, err := cli.call(ctx, srv.Addr(), []byte("a")); err != nil || string(got) != "re:a" {
		t.Fatalf("first call: %q, %v", got, err)
	}
	cli.mu.Lock()
	stale := cli.idle[srv.Addr()]
	if len(stale) != 1 {
		cli.mu.Unlock()
		t.Fatalf("%d pooled connections, want 1", len(stale))
	}
	stale[0].idle = time.Now().Add(-time.Minute)
	old := stale[0]
	cli.mu.Unlock()
	if got, err := cli.call(ctx, srv.Addr(), []byte("b")); err != nil || string(got) != "re:b" {
		t.Fatalf("second call: %q, %v", got, err)
	}
	cli.mu.Lock()
	reused := len(cli.idle[srv.Addr()]) == 1 && cli.idle[srv.Addr()][0] == old
	cli.mu.Unlock()
	if reused {
		t.Fatal("the stale pooled connection was used again")
	}
	if _, err := old.Write([]byte{0}); err == nil {
		t.Fatal("the stale pooled connection was not closed")
	}
}
