// Package netcap caps how many accepted connections a server holds at
// once. It is the one mechanism behind the HTTP example's connection limit
// and the cluster port's.
package netcap

import (
	"net"
	"sync"
	"sync/atomic"
)

// Cap counts the connections it admitted and that are not yet closed. The
// zero value admits none; create one with New. A Cap must not be copied
// after first use.
type Cap struct {
	max  int64
	open atomic.Int64 // counter: connections admitted and not yet closed
}

// New returns a Cap of max connections.
func New(max int) *Cap { return &Cap{max: int64(max)} }

// Admit returns c wrapped so that closing it (once, however many times
// Close is called) gives its place back, and true; or, when max are held,
// c itself and false (the caller refuses and closes it).
func (p *Cap) Admit(c net.Conn) (net.Conn, bool) {
	if p.open.Add(1) <= p.max {
		return &conn{Conn: c, p: p}, true
	}
	p.open.Add(-1)
	return c, false
}

// Open returns how many admitted connections are not yet closed.
func (p *Cap) Open() int { return int(p.open.Load()) }

type conn struct {
	net.Conn
	p    *Cap
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.p.open.Add(-1) })
	return err
}
