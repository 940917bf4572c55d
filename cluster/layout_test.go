package cluster_test

import (
	"errors"
	"testing"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/shards"
)

// TestJoinWithOtherRanges: a node whose ranges differ from the cluster's
// (other boundaries, or another count) is refused at Join with ErrConfig,
// and the cluster's membership is unchanged (before: the join succeeded;
// with other boundaries each node then routed a key to another Raft group,
// so a key put through the newcomer was missing when read through the
// others; with fewer ranges the newcomer became a voter of ranges it has
// no replica for).
func TestJoinWithOtherRanges(t *testing.T) {
	c := newCluster(t, 1, false, nil)
	for name, tweak := range map[string]func(*cluster.Config){
		"other bounds": func(cfg *cluster.Config) { cfg.Router = shards.NewRangeRouter([]byte("h"), []byte("q")) },
		"fewer ranges": func(cfg *cluster.Config) {
			cfg.Ranges, cfg.Router = 2, shards.NewRangeRouter([]byte("h"))
		},
	} {
		cfg := c.config("n9")
		tweak(&cfg)
		nd, err := cluster.Open(cfg)
		if err != nil {
			t.Fatalf("%s: open: %v", name, err)
		}
		err = nd.Join(ctxFor(t, settle), "n1")
		nd.Close()
		if !errors.Is(err, cluster.ErrConfig) {
			t.Fatalf("%s: join: %v, want ErrConfig", name, err)
		}
	}
	c.waitVoters(1)
	mustPut(t, c.nodes["n1"], "after")
}

// TestDirClaimed: a node's Dir is its own: opening it under another ID,
// or with other ranges or boundaries, is ErrConfig (before: the node
// started on the other's Raft state under its own name, or routed keys to
// Raft groups that do not hold them: a key put before the restart read as
// missing after it); the same node with the same ranges restarts from it.
func TestDirClaimed(t *testing.T) {
	c := newCluster(t, 1, true, nil)
	mustPut(t, c.nodes["n1"], "j-before") // range 1: [h..p)
	c.stop("n1")
	for name, tweak := range map[string]func(*cluster.Config){
		"another node's dir": func(cfg *cluster.Config) { cfg.ID = "n2" },
		"other bounds":       func(cfg *cluster.Config) { cfg.Router = shards.NewRangeRouter([]byte("k"), []byte("p")) },
		"other count": func(cfg *cluster.Config) {
			cfg.Ranges, cfg.Router = 2, shards.NewRangeRouter([]byte("h"))
		},
	} {
		cfg := c.config("n1")
		tweak(&cfg)
		nd, err := cluster.Open(cfg)
		if err == nil {
			nd.Close()
		}
		if !errors.Is(err, cluster.ErrConfig) {
			t.Fatalf("%s: open: %v, want ErrConfig", name, err)
		}
	}
	nd := c.open("n1")
	if err := nd.WaitLeaders(ctxFor(t, settle)); err != nil {
		t.Fatal(err)
	}
	if r, err := nd.Get(ctxFor(t, settle), []byte("j-before"), cluster.Linearizable); err != nil || !r.Found {
		t.Fatalf("after a restart: %+v %v", r, err)
	}
}
