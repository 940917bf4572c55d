package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/zipora-go/zipora/cluster"
)

// TestTCP runs three nodes over real loopback TCP (one multiplexed port
// each): joins, forwarded writes and linearizable reads, a node closed and
// its writes taken over, and requests to a closed address.
func TestTCP(t *testing.T) {
	var nodes []*cluster.Node
	t.Cleanup(func() {
		for _, nd := range nodes {
			nd.Close()
		}
	})
	ctx := ctxFor(t, settle)
	for i := range 3 {
		nw, err := cluster.ListenTCP("127.0.0.1:0", nRanges)
		if err != nil {
			t.Fatal(err)
		}
		nd, err := cluster.Open(cluster.Config{ID: fmt.Sprint("t", i), Network: nw, Ranges: nRanges, Router: bounds(),
			HeartbeatTimeout: hb, ElectionTimeout: hb, LeaderLeaseTimeout: hb / 2, CommitTimeout: 5e6, BalanceInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
		if i == 0 {
			err = nd.Bootstrap(ctx)
		} else {
			err = nd.Join(ctx, nodes[0].Addr())
		}
		if err != nil {
			t.Fatalf("start t%d: %v", i, err)
		}
	}
	// All ranges are led by t0 (no balancer): writes and linearizable reads
	// through t1 and t2 are forwarded over TCP.
	for i := range 60 {
		k := string(key(i))
		if _, err := nodes[1+i%2].Put(ctx, []byte(k), []byte(k)); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	for i := range 60 {
		r, err := nodes[2-i%2].Get(ctx, key(i), cluster.Linearizable)
		if err != nil || !r.Found || r.Value != string(key(i)) {
			t.Fatalf("get %s: %+v, %v", key(i), r, err)
		}
	}
	kvs, more, err := nodes[2].Scan(ctx, nil, 100, cluster.Linearizable)
	if err != nil || more || len(kvs) != 60 {
		t.Fatalf("scan: %d, %v, %v", len(kvs), more, err)
	}
	if _, err := nodes[2].Batch(ctx, []cluster.Op{{Key: []byte("b1"), Value: []byte("x")}, {Key: []byte("r1"), Delete: true}}); err != nil {
		t.Fatal(err)
	}
	// The leader goes away; the other two take over.
	if err := nodes[0].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := nodes[1].Put(ctx, []byte("j-after"), []byte("1")); err != nil {
		t.Fatalf("put after the leader closed: %v", err)
	}
	if r, err := nodes[2].Get(ctx, []byte("j-after"), cluster.Linearizable); err != nil || !r.Found {
		t.Fatalf("get after the leader closed: %+v, %v", r, err)
	}
	if err := nodes[2].Join(ctxFor(t, 4*hb), nodes[0].Addr()); !errors.Is(err, cluster.ErrUnreachable) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("join through a closed node: %v", err)
	}
}
