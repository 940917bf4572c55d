package main

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitConns returns a listener of ln that keeps at most max connections
// open: one accepted beyond that is answered 503 (JSON, Retry-After: 1)
// and closed on a goroutine of its own, so that Accept goes on and the
// clients over the limit learn why at once, rather than waiting in the
// kernel's backlog behind connections that may be slow on purpose.
func limitConns(ln net.Listener, max int) net.Listener {
	return &connLimiter{Listener: ln, max: int64(max)}
}

type connLimiter struct {
	net.Listener
	max  int64
	open atomic.Int64 // connections accepted and not yet closed
}

// refusal is the whole answer to a connection over the limit.
const refusal = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 52\r\n\r\n" +
	`{"error":"busy: too many connections; retry later"}` + "\n"

func (l *connLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &limitedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		go refuse(c)
	}
}

// refuse answers c 503 and closes it, within a second: it half-closes and
// reads what the client sent meanwhile, so that closing with unread data
// does not reset the connection before the client has read the answer.
func refuse(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(refusal)); err != nil {
		return
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	io.Copy(io.Discard, io.LimitReader(c, 1<<20))
}

// limitedConn gives its place back when closed (once: net/http may close
// a connection more than once).
type limitedConn struct {
	net.Conn
	l    *connLimiter
	once sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}
