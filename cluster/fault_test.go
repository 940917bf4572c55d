package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/internal/testutil"
)

// TestPartitionedMinority cuts the leader of range 0 off from the other
// two nodes: it cannot acknowledge a write (each ends with
// ErrOutcomeUnknown or ErrNoLeader, never success) while the majority
// elects a leader and acknowledges writes; after the partition heals, none
// of the minority's writes exists and the majority's do.
func TestPartitionedMinority(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	const r = 0 // keys "b..."
	lone := c.leader(r)
	c.hub.Isolate(lone)
	minority := c.nodes[lone]
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 4*hb)
		_, err := minority.Put(ctx, fmt.Appendf(nil, "b-minority-%d", i), []byte("x"))
		cancel()
		if !errors.Is(err, cluster.ErrOutcomeUnknown) && !errors.Is(err, cluster.ErrNoLeader) {
			t.Fatalf("write on the cut-off leader: %v (want ErrOutcomeUnknown or ErrNoLeader)", err)
		}
	}
	maj := c.any(lone)
	var acked []string
	for i := range 10 {
		k := fmt.Sprintf("b-majority-%d", i)
		mustPut(t, maj, k)
		acked = append(acked, k)
	}
	// The cut-off node's stale reads never show the majority's writes...
	if r, _ := minority.Get(ctxFor(t, opWait), []byte(acked[0]), cluster.Stale); r.Found {
		t.Fatal("the cut-off node applied a write it cannot have received")
	}
	// ...and a linearizable read there cannot be served.
	ctx, cancel := context.WithTimeout(context.Background(), 4*hb)
	_, err := minority.Get(ctx, []byte(acked[0]), cluster.Linearizable)
	cancel()
	if err == nil {
		t.Fatal("a linearizable read was served by a node cut off from the majority")
	}
	c.hub.Heal()
	c.waitVoters(3)
	checkAcked(t, minority, acked)
	for i := range 3 {
		k := fmt.Appendf(nil, "b-minority-%d", i)
		if r, err := maj.Get(ctxFor(t, opWait), k, cluster.Linearizable); err != nil || r.Found {
			t.Fatalf("minority write %s: %+v, %v (never acknowledged, must not exist)", k, r, err)
		}
	}
}

// TestRestartFromSnapshot stops a node, writes enough for the leaders to
// snapshot and compact their logs past what it has, then restarts it from
// its directory: it catches up through an InstallSnapshot (its state
// machines are restored) and has every write.
func TestRestartFromSnapshot(t *testing.T) {
	c := newCluster(t, 3, true, func(cfg *cluster.Config) {
		cfg.SnapshotThreshold, cfg.TrailingLogs, cfg.SnapshotInterval = 32, 8, 50*time.Millisecond
	})
	c.stop("n3")
	nd := c.any()
	var keys []string
	for i := range 300 {
		k := string(key(i))
		mustPut(t, nd, k)
		keys = append(keys, k)
	}
	// Wait until every range's leader has compacted its log past what n3
	// holds (snapshots every 32 entries, 8 kept).
	back := c.open("n3")
	atOpen := 0 // restores from n3's own snapshots at start, if any
	for r := range nRanges {
		atOpen += int(cluster.Restores(back, r))
	}
	c.waitVoters(3)
	checkAcked(t, back, keys)
	restored := -atOpen
	for r := range nRanges {
		restored += int(cluster.Restores(back, r))
	}
	if restored == 0 {
		t.Fatal("n3 caught up without any snapshot: the test did not test snapshots")
	}
	t.Logf("n3 restored %d range snapshots", restored)
	// And once more from its own snapshots and log alone: stop and reopen.
	c.stop("n3")
	back = c.open("n3")
	c.waitVoters(3)
	t.Cleanup(func() { // what each node saw, for a failure (runs before the nodes close)
		if t.Failed() {
			for id, nd := range c.nodes {
				for _, s := range nd.Status() {
					t.Logf("%s: %+v", id, s)
				}
			}
		}
	})
	checkAcked(t, back, keys)
}

// TestMembership removes a node, checks that it no longer serves, adds a
// fresh node instead, and checks it receives everything.
func TestMembership(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	ctx := ctxFor(t, settle)
	var keys []string
	for i := range 30 {
		k := string(key(i))
		mustPut(t, c.nodes["n1"], k)
		keys = append(keys, k)
	}
	if err := c.nodes["n1"].Remove(ctx, "n3"); err != nil {
		t.Fatalf("remove n3: %v", err)
	}
	gone := c.nodes["n3"]
	delete(c.nodes, "n3") // out of waitVoters' view; closed below
	c.waitVoters(2)
	testutil.Eventually(t, "n3 refuses writes once removed", settle, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 4*hb)
		defer cancel()
		_, err := gone.Put(ctx, []byte("b-after-remove"), nil)
		return errors.Is(err, cluster.ErrNotMember) || errors.Is(err, cluster.ErrNoLeader)
	})
	if err := gone.Close(); err != nil {
		t.Fatal(err)
	}
	// Two nodes still make a majority of two.
	mustPut(t, c.nodes["n2"], "j-two")
	keys = append(keys, "j-two")
	n4 := c.open("n4")
	if err := n4.Join(ctx, "n2"); err != nil {
		t.Fatalf("join n4: %v", err)
	}
	c.waitVoters(3)
	checkAcked(t, n4, keys)
}

// TestCloseUnblocks: requests with no deadline on a node cut off from the
// others (no leader to reach, or a leader that can never commit) return at
// the latest when the node closes, instead of hanging.
func TestCloseUnblocks(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	lone := c.leader(0) // leads range 0: its writes there are appended but never committed
	nd := c.nodes[lone]
	c.hub.Isolate(lone)
	errs := make(chan error, 4)
	started := make(chan struct{}, 4)
	for _, f := range []func() error{
		func() error { _, err := nd.Put(context.Background(), []byte("b-stuck"), nil); return err }, // its own range
		func() error { _, err := nd.Put(context.Background(), []byte("r-stuck"), nil); return err }, // another's
		func() error {
			_, err := nd.Get(context.Background(), []byte("b-stuck"), cluster.Linearizable)
			return err
		},
		func() error {
			_, _, err := nd.Scan(context.Background(), nil, nil, 10, cluster.Linearizable)
			return err
		},
	} {
		go func() { started <- struct{}{}; errs <- f() }()
	}
	for range 4 {
		<-started
	}
	// The write to its own range may end before the close, with
	// ErrOutcomeUnknown, when the cut-off leader steps down; the others can
	// only end with the close.
	testutil.Within(t, "requests after Close", func() {
		c.stop(lone)
		for range 4 {
			err := <-errs
			if !errors.Is(err, cluster.ErrClosed) && !errors.Is(err, cluster.ErrOutcomeUnknown) {
				t.Errorf("after Close: %v", err)
			}
		}
	})
}
