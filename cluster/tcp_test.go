package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/zipora-go/zipora/cluster"
)

// TestTCP runs three nodes over real loopback TCP (one multiplexed port
// each): joins, forwarded writes and linearizable reads, a node closed and
// its writes taken over, and requests to a closed address.
func TestTCP(t *testing.T) {
	ctx := ctxFor(t, settle)
	nodes := tcpNodes(t, func(i int, cfg *cluster.Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = hb, hb, hb/2
		cfg.CommitTimeout, cfg.BalanceInterval = 5*time.Millisecond, cluster.NoBalance
	})
	// All ranges are led by t0 (no balancer): writes and linearizable reads
	// through t1 and t2 are forwarded over TCP.
	for i := range 60 {
		mustPut(t, nodes[1+i%2], string(key(i)))
	}
	for i := range 60 {
		r, err := nodes[2-i%2].Get(ctx, key(i), cluster.Linearizable)
		if err != nil || !r.Found || r.Value != string(key(i)) {
			t.Fatalf("get %s: %+v, %v", key(i), r, err)
		}
	}
	kvs, more, err := nodes[2].Scan(ctx, nil, nil, 100, cluster.Linearizable)
	if err != nil || more || len(kvs) != 60 {
		t.Fatalf("scan: %d, %v, %v", len(kvs), more, err)
	}
	idem(t, "batch", func() error {
		_, err := nodes[2].Batch(ctx, []cluster.Op{{Key: []byte("b1"), Value: []byte("x")}, {Key: []byte("r1"), Delete: true}})
		return err
	})
	// The leader goes away; the other two take over.
	if err := nodes[0].Close(); err != nil {
		t.Fatal(err)
	}
	mustPut(t, nodes[1], "j-after")
	if r, err := nodes[2].Get(ctx, []byte("j-after"), cluster.Linearizable); err != nil || !r.Found {
		t.Fatalf("get after the leader closed: %+v, %v", r, err)
	}
	if err := nodes[2].Join(ctxFor(t, 4*hb), nodes[0].Addr()); !errors.Is(err, cluster.ErrUnreachable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("join through a closed node: %v", err)
	}
}

// tcpNodes starts three nodes over loopback TCP (node i configured by
// tweak): t0 bootstraps, the others join it.
func tcpNodes(tb testing.TB, tweak func(i int, cfg *cluster.Config)) []*cluster.Node {
	tb.Helper()
	var nodes []*cluster.Node
	ctx := ctxFor(tb, time.Minute)
	for i := range 3 {
		nw, err := cluster.ListenTCP("127.0.0.1:0", nRanges)
		if err != nil {
			tb.Fatal(err)
		}
		cfg := cluster.Config{ID: fmt.Sprint("t", i), Network: nw, Ranges: nRanges, Router: bounds()}
		tweak(i, &cfg)
		nd, err := cluster.Open(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		// Registered after tweak's TempDir, if any, so the node closes
		// before its directory is removed (cleanups run last-in first-out).
		tb.Cleanup(func() { nd.Close() })
		nodes = append(nodes, nd)
		if i == 0 {
			err = nd.Bootstrap(ctx)
		} else {
			err = nd.Join(ctx, nodes[0].Addr())
		}
		if err != nil {
			tb.Fatalf("start t%d: %v", i, err)
		}
	}
	return nodes
}

// TestTCPGarbage: bytes that are not this protocol on a node's port (an
// unknown channel, a frame claiming 1 TiB, a request of another version,
// raw garbage for a range's Raft transport, a connection that sends
// nothing) close that connection or answer an error; the node goes on
// serving.
func TestTCPGarbage(t *testing.T) {
	nodes := tcpNodes(t, func(i int, cfg *cluster.Config) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = hb, hb, hb/2
		cfg.BalanceInterval = cluster.NoBalance
	})
	addr := nodes[0].Addr()
	for _, junk := range [][]byte{
		{200}, // no such range
		{255, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, // a 2^56-byte frame
		{255, 3, 9, 1, 0},                  // a request of version 9
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, // garbage for range 0's Raft transport
		{},                                 // nothing at all
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(junk)
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, c) // until the node closes it, answers, or the deadline
		c.Close()
	}
	ctx := ctxFor(t, settle)
	mustPut(t, nodes[1], "j-after-junk")
	if r, err := nodes[2].Get(ctx, []byte("j-after-junk"), cluster.Linearizable); err != nil || !r.Found {
		t.Fatalf("get after the junk: %+v %v", r, err)
	}
}
