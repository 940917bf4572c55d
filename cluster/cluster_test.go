package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/internal/testutil"
)

func TestReplication(t *testing.T) {
	c := newCluster(t, 3, false, nil)
	ctx := ctxFor(t, settle)
	nodes := []*cluster.Node{c.nodes["n1"], c.nodes["n2"], c.nodes["n3"]}
	const n = 90
	for i := range n {
		var created bool
		first := idem(t, "put", func() (err error) {
			created, err = nodes[i%3].Put(ctx, key(i), fmt.Appendf(nil, "v%d", i))
			return err
		})
		if first && !created {
			t.Fatalf("put %s: not created", key(i))
		}
	}
	var created bool
	if idem(t, "replace", func() (err error) { created, err = nodes[1].Put(ctx, key(0), []byte("again")); return err }) && created {
		t.Fatal("replace: created")
	}
	// Every node applies every write; stale reads see them once applied.
	for _, nd := range nodes {
		testutil.Eventually(t, nd.ID()+" applied every put", settle, func() bool {
			for i := range n {
				if r, _ := nd.Get(ctx, key(i), cluster.Stale); !r.Found {
					return false
				}
			}
			return true
		})
	}
	// Linearizable reads from every node (followers forward) see the last
	// acknowledged write at once.
	for _, nd := range nodes {
		r, err := nd.Get(ctx, key(0), cluster.Linearizable)
		if err != nil || r.Value != "again" || r.Index == 0 || r.Range != nd.RangeOf(key(0)) {
			t.Fatalf("%s: linearizable get: %+v, %v", nd.ID(), r, err)
		}
	}
	// A prefix scan over every range comes back in key order, limits and
	// "more" exact.
	for _, cons := range []cluster.Consistency{cluster.Stale, cluster.Linearizable} {
		kvs, more, err := nodes[2].Scan(ctx, nil, nil, 1000, cons)
		if err != nil || more || len(kvs) != n {
			t.Fatalf("scan all (%v): %d pairs, more %v, %v", cons, len(kvs), more, err)
		}
		if !slices.IsSortedFunc(kvs, func(a, b cluster.KV) int { return bytes.Compare(a.Key, b.Key) }) {
			t.Fatalf("scan (%v) not in key order", cons)
		}
		kvs, more, err = nodes[1].Scan(ctx, nil, nil, n/3, cons) // exactly the first range
		if err != nil || !more || len(kvs) != n/3 {
			t.Fatalf("scan limit (%v): %d pairs, more %v, %v", cons, len(kvs), more, err)
		}
		kvs, _, err = nodes[0].Scan(ctx, []byte("j"), nil, 1000, cons)
		if err != nil || len(kvs) != n/3 || kvs[0].Key[0] != 'j' {
			t.Fatalf("scan prefix j (%v): %d pairs, %v", cons, len(kvs), err)
		}
		// Paging with the last key as after, 7 a page, through every
		// node in turn: every key exactly once, in order, across ranges.
		var all []cluster.KV
		var after []byte
		for page := 0; ; page++ {
			kvs, more, err := nodes[page%3].Scan(ctx, nil, after, 7, cons)
			if err != nil || page > n {
				t.Fatalf("page %d (%v): %v", page, cons, err)
			}
			all = append(all, kvs...)
			if !more {
				break
			}
			after = kvs[len(kvs)-1].Key
		}
		if len(all) != n || !slices.IsSortedFunc(all, func(a, b cluster.KV) int { return bytes.Compare(a.Key, b.Key) }) ||
			len(slices.CompactFunc(all, func(a, b cluster.KV) bool { return bytes.Equal(a.Key, b.Key) })) != n {
			t.Fatalf("paging (%v): %d pairs, want %d distinct in order", cons, len(all), n)
		}
		for _, tc := range []struct {
			prefix, after string
			want          int
		}{
			{"j", "a", n / 3}, // after below the prefix: no bound
			{"j", "zzz", 0},   // after above every key
			{"", strings.Repeat("\xff", cluster.MaxKeyLen), 0}, // the longest after
		} {
			kvs, more, err := nodes[0].Scan(ctx, []byte(tc.prefix), []byte(tc.after), 1000, cons)
			if err != nil || more || len(kvs) != tc.want {
				t.Fatalf("scan %q after %.8q (%v): %d pairs, more %v, %v; want %d", tc.prefix, tc.after, cons, len(kvs), more, err, tc.want)
			}
		}
		if _, _, err := nodes[0].Scan(ctx, nil, make([]byte, cluster.MaxKeyLen+1), 1, cons); !errors.Is(err, cluster.ErrKeyTooLong) {
			t.Fatalf("an after longer than a key (%v): %v", cons, err)
		}
	}
	// A batch spanning the ranges, then deletes.
	ops := []cluster.Op{{Key: []byte("b-new"), Value: []byte("1")}, {Key: []byte("r-new"), Value: []byte("2")},
		{Key: key(1), Delete: true}, {Key: []byte("j-new"), Value: []byte("3")}}
	var applied int
	idem(t, "batch", func() (err error) { applied, err = nodes[0].Batch(ctx, ops); return err })
	if applied != len(ops) {
		t.Fatalf("batch: %d applied", applied)
	}
	var found bool
	if idem(t, "delete", func() (err error) { found, err = nodes[2].Delete(ctx, key(2)); return err }) && !found {
		t.Fatal("delete: not found")
	}
	if idem(t, "delete again", func() (err error) { found, err = nodes[2].Delete(ctx, key(2)); return err }) && found {
		t.Fatal("delete again: found")
	}
	for _, nd := range nodes {
		for k, want := range map[string]bool{"b-new": true, "r-new": true, "j-new": true, string(key(1)): false, string(key(2)): false} {
			r, err := nd.Get(ctx, []byte(k), cluster.Linearizable)
			if err != nil || r.Found != want {
				t.Fatalf("%s: get %q: found %v, want %v (%v)", nd.ID(), k, r.Found, want, err)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	c := newCluster(t, 1, false, nil)
	nd := c.nodes["n1"]
	ctx := ctxFor(t, settle)
	long := bytes.Repeat([]byte("k"), cluster.MaxKeyLen+1)
	if _, err := nd.Put(ctx, long, nil); !errors.Is(err, cluster.ErrKeyTooLong) {
		t.Fatalf("long key: %v", err)
	}
	if _, err := nd.Get(ctx, long, cluster.Linearizable); !errors.Is(err, cluster.ErrKeyTooLong) {
		t.Fatalf("long key get: %v", err)
	}
	if _, err := nd.Batch(ctx, []cluster.Op{{Key: []byte("a")}, {Key: long}}); !errors.Is(err, cluster.ErrKeyTooLong) {
		t.Fatalf("long key batch: %v", err)
	}
	if _, err := nd.Put(ctx, []byte("a"), make([]byte, cluster.MaxCommandBytes)); !errors.Is(err, cluster.ErrTooLarge) {
		t.Fatalf("huge value: %v", err)
	}
	if _, err := cluster.Open(cluster.Config{ID: "x", Network: c.hub.Network("x"), Ranges: 2}); !errors.Is(err, cluster.ErrConfig) {
		t.Fatalf("2 ranges without router: %v", err)
	}
	// A node that never joined is no member: it says so at once.
	lone := c.open("lone")
	if _, err := lone.Put(ctx, []byte("a"), nil); !errors.Is(err, cluster.ErrNotMember) {
		t.Fatalf("put on a node that never joined: %v", err)
	}
	if err := nd.Close(); err != nil {
		t.Fatal(err)
	}
	delete(c.nodes, "n1")
	if _, err := nd.Put(ctx, []byte("a"), nil); !errors.Is(err, cluster.ErrClosed) {
		t.Fatalf("put after close: %v", err)
	}
	if _, err := nd.Get(ctx, []byte("a"), cluster.Stale); !errors.Is(err, cluster.ErrClosed) {
		t.Fatalf("get after close: %v", err)
	}
}

// writer puts keys prefix-0, prefix-1, ... through nd until stop, keeping
// each acknowledged key; errors other than ErrNoLeader/ErrOutcomeUnknown
// (both allowed during a failover) fail the test.
type writer struct {
	mu      sync.Mutex
	acked   []string
	n       atomic.Int64 // acknowledged writes
	unknown atomic.Int64
	armed   atomic.Bool
	firstOK chan struct{} // closed at the first acknowledged write once armed
	once    sync.Once
}

func newWriter() *writer { return &writer{firstOK: make(chan struct{})} }

func (w *writer) run(t *testing.T, nd *cluster.Node, prefix string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		k := fmt.Sprintf("%s-%06d", prefix, i)
		armed := w.armed.Load() // the write started after the crash
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := nd.Put(ctx, []byte(k), []byte(k))
		cancel()
		switch {
		case err == nil:
			w.mu.Lock()
			w.acked = append(w.acked, k)
			w.mu.Unlock()
			w.n.Add(1)
			if armed {
				w.once.Do(func() { close(w.firstOK) })
			}
		case errors.Is(err, cluster.ErrOutcomeUnknown):
			w.unknown.Add(1)
		case errors.Is(err, cluster.ErrNoLeader), errors.Is(err, cluster.ErrClosed):
		default:
			t.Errorf("put %s: %v", k, err)
			return
		}
	}
}

// checkAcked fails t unless every acknowledged key is on nd (read
// linearizably, then stale once nd has applied it).
func checkAcked(t *testing.T, nd *cluster.Node, keys []string) {
	t.Helper()
	ctx := ctxFor(t, settle)
	for _, k := range keys {
		r, err := nd.Get(ctx, []byte(k), cluster.Linearizable)
		if err != nil || !r.Found || r.Value != k {
			t.Fatalf("%s: acknowledged %s: %+v, %v", nd.ID(), k, r, err)
		}
	}
	testutil.Eventually(t, nd.ID()+" applied every acknowledged write", settle, func() bool {
		for _, k := range keys {
			if r, _ := nd.Get(ctx, []byte(k), cluster.Stale); !r.Found {
				return false
			}
		}
		return true
	})
}

// TestLeaderLoss crashes the leader of a range while two writers write to
// it through the other nodes: writes resume within a few election
// timeouts, every acknowledged write is on both survivors, and the crashed
// node, restarted from its directory, catches up.
func TestLeaderLoss(t *testing.T) {
	c := newCluster(t, 3, true, nil)
	const r = 1 // keys "j..." live in range 1
	old := c.leader(r)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var ws []*writer
	var survivors []string
	for id, nd := range c.nodes {
		if id == old {
			continue
		}
		survivors = append(survivors, id)
		w := newWriter()
		ws = append(ws, w)
		wg.Add(1)
		go func() { defer wg.Done(); w.run(t, nd, "j-"+id, stop) }()
	}
	testutil.Eventually(t, "writes before the crash", settle, func() bool { return ws[0].n.Load() >= 20 && ws[1].n.Load() >= 20 })
	t0 := time.Now()
	c.stop(old)
	for _, w := range ws {
		w.armed.Store(true)
	}
	select {
	case <-ws[0].firstOK:
	case <-ws[1].firstOK:
	case <-time.After(settle):
		t.Fatalf("no write acknowledged %v after the leader crashed", settle)
	}
	failover := time.Since(t0)
	st := c.nodes[survivors[0]].Status()[r]
	t.Logf("failover: first acknowledged write %v after the crash of %s, leader of range %d (election timeout %v); new leader %s, term %d",
		failover, old, r, hb, st.Leader, st.Term)
	// "Within a few election timeouts": the election itself takes 1-2
	// heartbeat timeouts plus the vote; the bound leaves room for two
	// shared cores under -race.
	if failover > 30*hb {
		t.Errorf("failover took %v (> 30 × %v)", failover, hb)
	}
	testutil.Eventually(t, "writes after the crash", settle, func() bool { return ws[0].n.Load() >= 60 && ws[1].n.Load() >= 60 })
	close(stop)
	wg.Wait()
	var acked []string
	for _, w := range ws {
		acked = append(acked, w.acked...)
	}
	for _, id := range survivors {
		checkAcked(t, c.nodes[id], acked)
	}
	// The crashed node comes back from its directory and catches up.
	back := c.open(old)
	c.waitVoters(3)
	checkAcked(t, back, acked)
	t.Logf("%d acknowledged writes, all present on 3 nodes; %d with unknown outcome", len(acked), ws[0].unknown.Load()+ws[1].unknown.Load())
}

// TestStaleGetAllocs: a stale read is a lock-free lookup in the local
// replica, without allocation.
func TestStaleGetAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := newCluster(t, 1, false, nil)
	nd := c.nodes["n1"]
	mustPut(t, nd, "j-key")
	ctx, k := context.Background(), []byte("j-key")
	if a := testing.AllocsPerRun(1000, func() {
		if r, _ := nd.Get(ctx, k, cluster.Stale); !r.Found {
			t.Fatal("not found")
		}
	}); a != 0 {
		t.Errorf("stale Get: %v allocs, want 0", a)
	}
}
