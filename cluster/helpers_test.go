package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/shards"
)

// Test timing: raft's timeouts at 100 ms (the brief's 50–200 ms), so an
// election takes a few hundred ms even on two loaded cores under -race.
const (
	hb       = 100 * time.Millisecond
	settle   = 15 * time.Second // bound on any convergence a test waits for
	opWait   = 5 * time.Second  // bound on one request
	nRanges  = 3
	nodeBase = "n"
)

// tcluster is a set of in-process nodes on one InmemHub.
type tcluster struct {
	t     testing.TB
	hub   *cluster.InmemHub
	nodes map[string]*cluster.Node
	dirs  map[string]string // data dir per node ("" = in memory)
	tweak func(*cluster.Config)
}

func bounds() *shards.RangeRouter { return shards.NewRangeRouter([]byte("h"), []byte("p")) }

func (c *tcluster) config(id string) cluster.Config {
	cfg := cluster.Config{
		ID: id, Dir: c.dirs[id], Network: c.hub.Network(id), Ranges: nRanges, Router: bounds(),
		HeartbeatTimeout: hb, ElectionTimeout: hb, LeaderLeaseTimeout: hb / 2, CommitTimeout: 5 * time.Millisecond,
		BalanceInterval: 100 * time.Millisecond,
	}
	if c.tweak != nil {
		c.tweak(&cfg)
	}
	return cfg
}

// newCluster starts n nodes n1..nN: n1 bootstraps, the others join it;
// it returns once every node sees every range with n voters and a leader.
// durable gives each node a data directory.
func newCluster(t testing.TB, n int, durable bool, tweak func(*cluster.Config)) *tcluster {
	t.Helper()
	c := &tcluster{t: t, hub: cluster.NewInmemHub(nRanges), nodes: map[string]*cluster.Node{},
		dirs: map[string]string{}, tweak: tweak}
	for i := 1; i <= n && durable; i++ {
		c.dirs[fmt.Sprint(nodeBase, i)] = t.TempDir()
	}
	// Registered after the TempDirs, so it runs before their removal
	// (cleanups run last-in first-out): a node still running while its
	// directory is removed writes into it and fails the removal.
	t.Cleanup(c.closeAll)
	for i := 1; i <= n; i++ {
		id := fmt.Sprint(nodeBase, i)
		c.open(id)
		ctx, cancel := context.WithTimeout(context.Background(), settle)
		var err error
		if i == 1 {
			err = c.nodes[id].Bootstrap(ctx)
		} else {
			err = c.nodes[id].Join(ctx, "n1")
		}
		cancel()
		if err != nil {
			t.Fatalf("%s: start: %v", id, err)
		}
	}
	c.waitVoters(n)
	if n == 3 {
		c.waitBalanced()
	}
	return c
}

// waitBalanced waits until each of three nodes leads one range (the
// balancer's work), so that tests start from the same layout.
func (c *tcluster) waitBalanced() {
	c.t.Helper()
	testutil.Eventually(c.t, "one range led by each node", settle, func() bool {
		seen := map[string]bool{}
		for r := range nRanges {
			seen[c.leader(r)] = true
		}
		return len(seen) == nRanges
	})
}

func (c *tcluster) open(id string) *cluster.Node {
	c.t.Helper()
	nd, err := cluster.Open(c.config(id))
	if err != nil {
		c.t.Fatalf("open %s: %v", id, err)
	}
	c.nodes[id] = nd
	return nd
}

// stop closes one node (as a crash does for in-memory state; a durable
// node keeps its directory for a restart).
func (c *tcluster) stop(id string) {
	c.t.Helper()
	if err := c.nodes[id].Close(); err != nil {
		c.t.Errorf("close %s: %v", id, err)
	}
	delete(c.nodes, id)
}

func (c *tcluster) closeAll() {
	for id := range c.nodes {
		c.stop(id)
	}
}

// waitVoters waits until every running node sees every range with want
// voters and a leader.
func (c *tcluster) waitVoters(want int) {
	c.t.Helper()
	testutil.Eventually(c.t, fmt.Sprintf("%d voters and a leader on every range", want), settle, func() bool {
		for _, nd := range c.nodes {
			for _, s := range nd.Status() {
				if len(s.Voters) != want || s.Leader == "" {
					return false
				}
			}
		}
		return true
	})
}

// leader returns the ID of range r's leader, as the running nodes agree on
// it (waiting until they do).
func (c *tcluster) leader(r int) string {
	c.t.Helper()
	var id string
	testutil.Eventually(c.t, fmt.Sprintf("a leader of range %d", r), settle, func() bool {
		id = ""
		for nid, nd := range c.nodes {
			if nd.Status()[r].State == "Leader" {
				id = nid
			}
		}
		if id == "" {
			return false
		}
		for _, nd := range c.nodes {
			if nd.Status()[r].Leader != id {
				return false
			}
		}
		return true
	})
	return id
}

// any returns a running node other than except.
func (c *tcluster) any(except ...string) *cluster.Node {
	for id, nd := range c.nodes {
		skip := false
		for _, e := range except {
			skip = skip || e == id
		}
		if !skip {
			return nd
		}
	}
	c.t.Fatal("no node left")
	return nil
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// key returns the i-th test key; keys cycle over the three ranges
// ([..h), [h..p), [p..)).
func key(i int) []byte { return fmt.Appendf(nil, "%c%05d", "bjr"[i%3], i) }

// idem runs an idempotent write, sending it again after
// ErrOutcomeUnknown (on two shared cores under -race, a missed heartbeat
// can start an election that deposes a leader with the write in flight);
// first reports whether the first attempt's result stands (a retried put
// may report "replaced" for the key its first attempt created).
func idem(t testing.TB, what string, f func() error) (first bool) {
	t.Helper()
	for i := range 10 {
		err := f()
		if err == nil {
			return i == 0
		}
		if !errors.Is(err, cluster.ErrOutcomeUnknown) {
			t.Fatalf("%s: %v", what, err)
		}
	}
	t.Fatalf("%s: outcome unknown 10 times", what)
	return false
}

// mustPut puts k=k (idem).
func mustPut(t testing.TB, nd *cluster.Node, k string) {
	t.Helper()
	idem(t, "put "+k, func() error {
		_, err := nd.Put(ctxFor(t, settle), []byte(k), []byte(k))
		return err
	})
}
