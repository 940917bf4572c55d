package cluster

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// A Network is how one node reaches the others: a Raft transport per range
// and a request channel (forwarded writes and linearizable reads, joins),
// all at one address. Two exist: TCP (ListenTCP: one port per node,
// multiplexed) and in-process (InmemHub.Network, for tests and embedding).
// A Network belongs to one Node, which closes it.
type Network interface {
	// Addr is the address other nodes reach this one at.
	Addr() string
	// Close stops serving and releases the address.
	Close() error

	raftTransport(rangeID int) (raft.Transport, error)
	serve(h handler)
	call(ctx context.Context, addr string, req []byte) ([]byte, error)
}

// handler serves one request from a peer and returns the answer.
type handler func(ctx context.Context, req []byte) []byte

// InmemHub connects in-process nodes with raft's InmemTransport (one per
// node and range) and direct calls for requests; links can be cut and
// restored to test partitions. Its zero value is not usable; it is safe for
// concurrent use.
type InmemHub struct {
	ranges int
	mu     sync.Mutex
	eps    map[string]*inmemNet
	cut    map[[2]string]bool
}

// NewInmemHub returns a hub for nodes with the given number of ranges.
func NewInmemHub(ranges int) *InmemHub {
	return &InmemHub{ranges: ranges, eps: map[string]*inmemNet{}, cut: map[[2]string]bool{}}
}

// Network returns a new endpoint at addr, replacing (and closing) any
// earlier endpoint at that address, as a restarted node needs.
func (h *InmemHub) Network(addr string) Network {
	e := &inmemNet{hub: h, addr: addr, trans: make([]*raft.InmemTransport, h.ranges)}
	for r := range e.trans {
		_, e.trans[r] = raft.NewInmemTransportWithTimeout(raft.ServerAddress(addr), 200*time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.eps[addr]; old != nil && !old.closed {
		old.closed = true
		for _, o := range h.eps {
			if o != old {
				h.unlink(old, o)
			}
		}
	}
	h.eps[addr] = e
	for a, o := range h.eps {
		if a != addr && !o.closed && !h.cut[pair(a, addr)] {
			h.link(e, o)
		}
	}
	return e
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// link connects a and b both ways on every range (h.mu held).
func (h *InmemHub) link(a, b *inmemNet) {
	for r := range a.trans {
		a.trans[r].Connect(raft.ServerAddress(b.addr), b.trans[r])
		b.trans[r].Connect(raft.ServerAddress(a.addr), a.trans[r])
	}
}

// unlink disconnects a and b both ways on every range (h.mu held).
func (h *InmemHub) unlink(a, b *inmemNet) {
	for r := range a.trans {
		a.trans[r].Disconnect(raft.ServerAddress(b.addr))
		b.trans[r].Disconnect(raft.ServerAddress(a.addr))
	}
}

// Disconnect cuts the link between the nodes at a and b (both directions,
// Raft traffic and requests) until Reconnect or Heal.
func (h *InmemHub) Disconnect(a, b string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cut[pair(a, b)] = true
	if ea, eb := h.eps[a], h.eps[b]; ea != nil && eb != nil {
		h.unlink(ea, eb)
	}
}

// Reconnect restores the link between a and b.
func (h *InmemHub) Reconnect(a, b string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.cut, pair(a, b))
	if ea, eb := h.eps[a], h.eps[b]; ea != nil && eb != nil && !ea.closed && !eb.closed {
		h.link(ea, eb)
	}
}

// Isolate cuts every link of the node at a.
func (h *InmemHub) Isolate(a string) {
	for _, b := range h.addrs() {
		if b != a {
			h.Disconnect(a, b)
		}
	}
}

// Heal restores every cut link.
func (h *InmemHub) Heal() {
	h.mu.Lock()
	cut := h.cut
	h.cut = map[[2]string]bool{}
	h.mu.Unlock()
	for p := range cut {
		h.Reconnect(p[0], p[1])
	}
}

func (h *InmemHub) addrs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.eps))
	for a := range h.eps {
		out = append(out, a)
	}
	return out
}

type inmemNet struct {
	hub     *InmemHub
	addr    string
	trans   []*raft.InmemTransport
	handler handler // set once by serve, before any call reaches it
	closed  bool    // guarded by hub.mu
}

func (e *inmemNet) Addr() string { return e.addr }

func (e *inmemNet) raftTransport(r int) (raft.Transport, error) {
	if r < 0 || r >= len(e.trans) {
		return nil, fmt.Errorf("%w: range %d of an in-memory hub of %d ranges", ErrConfig, r, len(e.trans))
	}
	return e.trans[r], nil
}

func (e *inmemNet) serve(h handler) {
	e.hub.mu.Lock()
	e.handler = h
	e.hub.mu.Unlock()
}

func (e *inmemNet) call(ctx context.Context, addr string, req []byte) ([]byte, error) {
	h := e.hub
	h.mu.Lock()
	to := h.eps[addr]
	ok := to != nil && !to.closed && !e.closed && !h.cut[pair(e.addr, addr)] && to.handler != nil
	var hd handler
	if ok {
		hd = to.handler
	}
	h.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, addr)
	}
	return hd(ctx, req), nil
}

func (e *inmemNet) Close() error {
	h := e.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	for _, o := range h.eps {
		if o != e {
			h.unlink(e, o)
		}
	}
	return nil
}
