package cluster

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/zipora-go/zipora/internal/netcap"
)

// The TCP network multiplexes one listener: a connection's first byte
// names its channel, a range's Raft transport (0..254) or the request
// channel (255). Requests travel as frames, uvarint(length) then the bytes,
// one request then one answer at a time per connection; idle client
// connections are pooled per peer.
//
// What one peer (or anything else that reaches the port) can hold, the
// limits in tcpLimits bound: at most MaxConns accepted connections at once
// (a connection beyond is closed as it comes), the channel byte within
// headerTimeout, a request connection with no frame started for Idle is
// closed (the client side drops a pooled connection idle for Idle/2, so a
// request never goes out on a connection the server is about to cut),
// and a frame's bytes must all arrive within Frame plus a second per MiB
// (a body sent at a byte a second is cut, its buffer freed). A Raft
// connection, once routed, is raft's: the cap counts it, its reads are
// raft's own.
//
// Rejected: one port per range (every member's address list would carry
// a port per range, and a range added later would need a new port on
// every node); gRPC (a dependency and a code generator for two messages).
const (
	chanRequests  = 255
	maxFrame      = MaxCommandBytes + 1<<20
	headerTimeout = 5 * time.Second
	poolPerPeer   = 64
)

// portLimits are what one node's port lets others hold.
type portLimits struct {
	MaxConns    int           // accepted connections held at once
	Idle, Frame time.Duration // a request connection's idle cut; a frame's base time
}

// frameTime is how long a frame of l bytes may take to arrive or leave:
// Frame plus a second per MiB.
func (p portLimits) frameTime(l int) time.Duration { return p.Frame + time.Duration(l>>20)*time.Second }

// tcpLimits are the port's limits (a variable so that tests can shrink
// them; ListenTCP copies them).
var tcpLimits = portLimits{MaxConns: 1024, Idle: 2 * time.Minute, Frame: 30 * time.Second}

type tcpNet struct {
	ln     net.Listener
	addr   string
	ranges []*muxListener
	logger hclog.Logger

	mu      sync.Mutex
	handler handler
	idle    map[string][]*clientConn
	conns   map[net.Conn]struct{} // served request connections and every raft connection, closed by Close
	closed  bool
	limits  portLimits
	cap     *netcap.Cap // accepted connections held (MaxConns)
	done    chan struct{}
	wg      sync.WaitGroup
}

// ListenTCP listens on addr (host:port; port 0 picks one) for a node with
// the given number of ranges. The address other nodes use is the
// listener's (Addr), so give a reachable host, not 0.0.0.0.
func ListenTCP(addr string, ranges int) (Network, error) {
	if ranges < 1 || ranges > chanRequests {
		return nil, fmt.Errorf("%w: %d ranges (1 to %d over TCP)", ErrConfig, ranges, chanRequests)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	n := &tcpNet{ln: ln, addr: ln.Addr().String(), idle: map[string][]*clientConn{}, conns: map[net.Conn]struct{}{},
		done: make(chan struct{}), logger: hclog.NewNullLogger(), // raft-net logs every connection closed under it as an error
		limits: tcpLimits, cap: netcap.New(tcpLimits.MaxConns)}
	n.ranges = make([]*muxListener, ranges)
	for r := range n.ranges {
		n.ranges[r] = &muxListener{net: n, id: byte(r), ch: make(chan net.Conn), done: make(chan struct{})}
	}
	n.wg.Add(1)
	go n.acceptLoop()
	return n, nil
}

func (n *tcpNet) Addr() string { return n.addr }

func (n *tcpNet) raftTransport(r int) (raft.Transport, error) {
	if r < 0 || r >= len(n.ranges) {
		return nil, fmt.Errorf("%w: range %d of a network of %d ranges", ErrConfig, r, len(n.ranges))
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: n.ranges[r], MaxPool: 4, Timeout: 10 * time.Second, Logger: n.logger,
	}), nil
}

func (n *tcpNet) serve(h handler) {
	n.mu.Lock()
	n.handler = h
	n.mu.Unlock()
}

func (n *tcpNet) acceptLoop() {
	defer n.wg.Done()
	for {
		c, err := n.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		c, ok := n.cap.Admit(c)
		if !ok {
			c.Close() // over MaxConns
			continue
		}
		n.wg.Add(1)
		go n.route(c)
	}
}

// route reads a new connection's channel byte and hands it on.
func (n *tcpNet) route(c net.Conn) {
	defer n.wg.Done()
	_ = c.SetReadDeadline(time.Now().Add(headerTimeout))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		c.Close()
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if b[0] == chanRequests {
		n.serveConn(c)
		return
	}
	if int(b[0]) >= len(n.ranges) {
		c.Close()
		return
	}
	l := n.ranges[b[0]]
	tc, ok := n.track(c)
	if !ok {
		return
	}
	select {
	case l.ch <- tc:
	case <-l.done:
		tc.Close()
	case <-n.done:
		tc.Close()
	}
}

// track registers a raft connection so that Close closes it: raft's
// NetworkTransport closes neither the connections it accepted nor its
// pooled ones when it closes, and their goroutines would block reading
// them for as long as the peer keeps them open.
func (n *tcpNet) track(c net.Conn) (net.Conn, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		c.Close()
		return nil, false
	}
	n.conns[c] = struct{}{}
	return &trackedConn{Conn: c, n: n}, true
}

type trackedConn struct {
	net.Conn
	n *tcpNet
}

func (t *trackedConn) Close() error {
	t.n.mu.Lock()
	delete(t.n.conns, t.Conn)
	t.n.mu.Unlock()
	return t.Conn.Close()
}

// serveConn answers the requests of one connection in turn.
func (n *tcpNet) serveConn(c net.Conn) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		c.Close()
		return
	}
	n.conns[c] = struct{}{}
	h := n.handler
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		delete(n.conns, c)
		n.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(n.limits.Idle))
		req, err := readFrameBy(br, func(l uint64) {
			_ = c.SetReadDeadline(time.Now().Add(n.limits.frameTime(int(l))))
		})
		if err != nil {
			return
		}
		var resp []byte
		if h == nil {
			resp = encodeErrResp(fmt.Errorf("%w: node starting", ErrUnreachable))
		} else {
			resp = h(context.Background(), req)
		}
		_ = c.SetWriteDeadline(time.Now().Add(n.limits.frameTime(len(resp)))) // a client that does not read
		if err := writeFrame(c, resp); err != nil {
			return
		}
	}
}

// clientConn is a request connection with its reader (kept with the
// connection in the pool: a reader per call would allocate its buffer
// each time).
type clientConn struct {
	net.Conn
	br   *bufio.Reader
	idle time.Time // when it went back to the pool
}

// call sends one request to addr. A failure to connect or to send is
// ErrUnreachable (nothing delivered); a failure after the request was sent
// is errAfterSend (also ErrUnreachable; a write's caller makes it
// ErrOutcomeUnknown).
func (n *tcpNet) call(ctx context.Context, addr string, req []byte) ([]byte, error) {
	c, err := n.conn(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(time.Minute)
	}
	_ = c.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	defer stop()
	if err := writeFrame(c.Conn, req); err != nil { // the net.Conn itself: writev
		c.Close()
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	resp, err := readFrame(c.br)
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %v", errAfterSend, addr, err)
	}
	if !stop() {
		c.Close() // the deadline may have been cut short
		return resp, nil
	}
	_ = c.SetDeadline(time.Time{})
	n.putIdle(addr, c)
	return resp, nil
}

// errAfterSend marks a transport failure after the request left: the
// caller decides whether that is ErrOutcomeUnknown (a write) or merely a
// retry (a read).
var errAfterSend = fmt.Errorf("%w (connection lost after sending)", ErrUnreachable)

func (n *tcpNet) conn(ctx context.Context, addr string) (*clientConn, error) {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, ErrClosed
	}
	for l := n.idle[addr]; len(l) > 0; l = n.idle[addr] {
		c := l[len(l)-1]
		n.idle[addr] = l[:len(l)-1]
		if time.Since(c.idle) < n.limits.Idle/2 {
			n.mu.Unlock()
			return c, nil
		}
		c.Close() // the server may cut it any moment: a request sent on it could be lost
	}
	n.mu.Unlock()
	d := net.Dialer{Timeout: 2 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{chanRequests}); err != nil {
		c.Close()
		return nil, err
	}
	return &clientConn{Conn: c, br: bufio.NewReaderSize(c, 4096)}, nil
}

func (n *tcpNet) putIdle(addr string, c *clientConn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || len(n.idle[addr]) >= poolPerPeer {
		c.Close()
		return
	}
	c.idle = time.Now()
	n.idle[addr] = append(n.idle[addr], c)
}

func (n *tcpNet) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	close(n.done)
	for _, l := range n.idle {
		for _, c := range l {
			c.Close()
		}
	}
	n.idle = nil
	for c := range n.conns {
		c.Close()
	}
	n.mu.Unlock()
	err := n.ln.Close()
	n.wg.Wait()
	return err
}

// writeFrame writes b's length and b in one write: a small frame copied
// behind its length (one allocation), a large one (a forwarded command may
// be 64 MiB) without a copy, to a *net.TCPConn in one writev (net.Buffers:
// two allocations more, BenchmarkCluster/get-linearizable 25 -> 27
// allocs/op had it been used for every frame).
func writeFrame(w io.Writer, b []byte) error {
	if len(b) <= frameChunk {
		buf := make([]byte, 0, binary.MaxVarintLen64+len(b))
		buf = binary.AppendUvarint(buf, uint64(len(b)))
		_, err := w.Write(append(buf, b...))
		return err
	}
	var hdr [binary.MaxVarintLen64]byte
	bufs := net.Buffers{binary.AppendUvarint(hdr[:0], uint64(len(b))), b}
	_, err := bufs.WriteTo(w)
	return err
}

func readFrame(r *bufio.Reader) ([]byte, error) { return readFrameBy(r, nil) }

// readFrameBy is readFrame calling started, if not nil, with the frame's
// length once it has been read (a server sets the body's deadline there).
func readFrameBy(r *bufio.Reader, started func(length uint64)) ([]byte, error) {
	l, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if l > maxFrame {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, l)
	}
	if started != nil {
		started(l)
	}
	return readN(r, int(l))
}

// frameChunk is the most readFrame allocates ahead of the bytes that came.
const frameChunk = 64 << 10

// readN reads n bytes, growing its buffer only as they arrive (at most
// doubling, from frameChunk): a frame's length is the peer's word, and a
// connection that claims 65 MiB and then sends nothing must not cost
// 65 MiB (a few such connections would exhaust the node's memory).
func readN(r io.Reader, n int) ([]byte, error) {
	b := make([]byte, 0, min(n, frameChunk))
	for len(b) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, min(n-len(b), len(b)))
		}
		m, err := io.ReadFull(r, b[len(b):min(n, cap(b))])
		b = b[:len(b)+m]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// muxListener is one range's share of the listener, as raft's
// StreamLayer.
type muxListener struct {
	net  *tcpNet
	id   byte
	ch   chan net.Conn
	once sync.Once
	done chan struct{}
}

func (l *muxListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-l.net.done:
		return nil, net.ErrClosed
	}
}

func (l *muxListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *muxListener) Addr() net.Addr { return l.net.ln.Addr() }

func (l *muxListener) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	if _, err := c.Write([]byte{l.id}); err != nil {
		c.Close()
		return nil, err
	}
	tc, ok := l.net.track(c)
	if !ok {
		return nil, net.ErrClosed
	}
	return tc, nil
}
