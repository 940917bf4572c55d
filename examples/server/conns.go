package main

import (
	"io"
	"net"
	"time"

	"github.com/zipora-go/zipora/internal/netcap"
)

// limitConns returns a listener of ln that keeps at most max connections
// open: one accepted beyond that is answered 503 (JSON, Retry-After: 1)
// and closed on a goroutine of its own, so that Accept goes on and the
// clients over the limit learn why at once, rather than waiting in the
// kernel's backlog behind connections that may be slow on purpose.
func limitConns(ln net.Listener, max int) net.Listener {
	return &connLimiter{Listener: ln, cap: netcap.New(max)}
}

type connLimiter struct {
	net.Listener
	cap *netcap.Cap
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
		if lc, ok := l.cap.Admit(c); ok {
			return lc, nil
		}
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
