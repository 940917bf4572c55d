package main

// Cluster mode: with -node-id, -raft-addr and (except on the first node)
// -join, the service is a member of a replicated index (package cluster):
// every write is committed on a majority of the nodes before it is
// answered, reads are served locally (stale, lock-free) or, with
// ?consistency=linearizable, by the range's leader after it confirmed its
// leadership. -data DIR keeps the node's Raft logs and snapshots; a node
// restarted with it catches up.
//
//	server -addr 127.0.0.1:8081 -node-id n1 -raft-addr 127.0.0.1:9081 -data /tmp/n1
//	server -addr 127.0.0.1:8082 -node-id n2 -raft-addr 127.0.0.1:9082 -data /tmp/n2 -join 127.0.0.1:9081
//	server -addr 127.0.0.1:8083 -node-id n3 -raft-addr 127.0.0.1:9083 -data /tmp/n3 -join 127.0.0.1:9081
//	make cluster    # the same three, a load, a leader killed with SIGKILL: the failover time and a check of every acknowledged write
//
// Extra API in cluster mode:
//
//	GET /cluster                                  this node's view: each range's bounds, leader, term, commit and applied indexes, voters
//	GET /keys/{key}?consistency=linearizable      as GET /keys/{key}, read on the leader; header X-Applied-Index
//	GET /complete?prefix=P&limit=N&consistency=linearizable
//
// A write whose outcome is unknown (the leader changed while it was being
// committed) is answered 503 "may or may not be applied"; 503 "no leader"
// means nothing was applied.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zipora-go/zipora/cluster"
	"github.com/zipora-go/zipora/examples/server/httpindex"
	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/shards"
)

// clusterOptions are the flags of cluster mode.
type clusterOptions struct {
	nodeID, raftAddr, join, bounds string
	data                           string // -data (main.go): the Raft logs and snapshots; empty: in memory, lost on exit
	timeout                        time.Duration
	heartbeat                      time.Duration
}

func (c *clusterOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.nodeID, "node-id", "", "cluster mode: this node's ID (unique, stable across restarts); needs -raft-addr")
	fs.StringVar(&c.raftAddr, "raft-addr", "", "cluster mode: host:port for Raft and requests between nodes")
	fs.StringVar(&c.join, "join", "", "cluster mode: -raft-addr of a member to join through (empty: this node bootstraps the cluster, or restarts)")
	fs.StringVar(&c.bounds, "range-bounds", "/o,/t", "cluster mode: comma-separated range boundaries (ranges = boundaries + 1; the same on every node). The default splits examples/load's generated paths in three")
	fs.DurationVar(&c.timeout, "cluster-timeout", 10*time.Second, "cluster mode: how long a request waits for a leader and its commit")
	fs.DurationVar(&c.heartbeat, "raft-heartbeat", 500*time.Millisecond, "cluster mode: Raft heartbeat and election timeout")
}

func (c *clusterOptions) on() bool { return c.nodeID != "" || c.raftAddr != "" || c.join != "" }

func (c *clusterOptions) check() error {
	if !c.on() {
		return nil
	}
	if c.nodeID == "" || c.raftAddr == "" {
		return exampleutil.Usagef("cluster mode needs both -node-id and -raft-addr")
	}
	if c.timeout <= 0 || c.heartbeat <= 0 {
		return exampleutil.Usagef("-cluster-timeout and -raft-heartbeat must be > 0")
	}
	return nil
}

func (c *clusterOptions) boundaries() [][]byte {
	var out [][]byte
	for b := range strings.SplitSeq(c.bounds, ",") {
		if b != "" {
			out = append(out, []byte(b))
		}
	}
	return out
}

// startCluster opens this node, bootstraps or joins, and returns the index
// to serve, how to stop it, and the handler wrapper for the cluster API.
func startCluster(ctx context.Context, c clusterOptions, logger *slog.Logger, stderr io.Writer) (httpindex.Index, func() error, func(http.Handler) http.Handler, error) {
	bounds := c.boundaries()
	nw, err := cluster.ListenTCP(c.raftAddr, len(bounds)+1)
	if err != nil {
		return nil, nil, nil, err
	}
	node, err := cluster.Open(cluster.Config{ID: c.nodeID, Dir: c.data, Network: nw, Ranges: len(bounds) + 1,
		Router: shards.NewRangeRouter(bounds...), HeartbeatTimeout: c.heartbeat, ElectionTimeout: c.heartbeat,
		LogOutput: stderr})
	if err != nil {
		return nil, nil, nil, err
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if c.join == "" {
		err = node.Bootstrap(sctx)
	} else {
		err = node.Join(sctx, c.join)
	}
	if err != nil {
		node.Close()
		return nil, nil, nil, fmt.Errorf("cluster start: %w", err)
	}
	logger.Info("cluster member", "node", c.nodeID, "raft", node.Addr(), "ranges", node.Ranges(), "data", c.data, "joined", c.join)
	idx := &clusterIndex{n: node, timeout: c.timeout}
	return idx, node.Close, func(h http.Handler) http.Handler { return &clusterHandler{idx: idx, next: h} }, nil
}

// clusterIndex serves a cluster.Node as the service's Index: writes are
// committed on a majority before they return; Get and Complete read this
// node's replicas (stale, lock-free).
type clusterIndex struct {
	n       *cluster.Node
	timeout time.Duration
}

// maybeApplied marks a write whose outcome is unknown for the handler
// (httpindex.ErrMaybeApplied), keeping the cluster's message.
type maybeApplied struct{ error }

func (m maybeApplied) Is(target error) bool { return target == httpindex.ErrMaybeApplied }
func (m maybeApplied) Unwrap() error        { return m.error }

func (x *clusterIndex) wrap(err error) error {
	if errors.Is(err, cluster.ErrOutcomeUnknown) {
		return maybeApplied{err}
	}
	return err
}

func (x *clusterIndex) Name() string { return "cluster" }

func (x *clusterIndex) Get(key string) (string, bool) {
	r, _ := x.n.Get(context.Background(), []byte(key), cluster.Stale)
	return r.Value, r.Found
}

func (x *clusterIndex) Put(ctx context.Context, key, value string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	created, err := x.n.Put(ctx, []byte(key), []byte(value))
	return created, x.wrap(err)
}

func (x *clusterIndex) Delete(ctx context.Context, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	found, err := x.n.Delete(ctx, []byte(key))
	return found, x.wrap(err)
}

func (x *clusterIndex) Apply(ctx context.Context, ops []httpindex.Op) error {
	ctx, cancel := context.WithTimeout(ctx, x.timeout)
	defer cancel()
	cops := make([]cluster.Op, len(ops))
	for i, o := range ops {
		cops[i] = cluster.Op{Key: []byte(o.Key), Value: []byte(o.Value), Delete: o.Delete}
	}
	_, err := x.n.Batch(ctx, cops)
	return x.wrap(err)
}

func (x *clusterIndex) Complete(prefix, after string, limit, maxBytes int) ([]string, bool) {
	keys, more, _ := x.complete(context.Background(), httpindex.CompleteQuery{Prefix: prefix, After: after, Limit: limit}, maxBytes, cluster.Stale)
	return keys, more
}

// complete is Complete with a consistency: up to limit keys, their JSON
// encodings (and a comma each) at most maxBytes in all.
func (x *clusterIndex) complete(ctx context.Context, q httpindex.CompleteQuery, maxBytes int, c cluster.Consistency) ([]string, bool, error) {
	kvs, more, err := x.n.Scan(ctx, []byte(q.Prefix), []byte(q.After), q.Limit, c)
	if err != nil {
		return nil, false, err
	}
	keys := make([]string, 0, len(kvs))
	used := 0
	for _, kv := range kvs {
		b, _ := json.Marshal(string(kv.Key))
		if used += len(b) + 1; used > maxBytes {
			return keys, true, nil
		}
		keys = append(keys, string(kv.Key))
	}
	return keys, more, nil
}

func (x *clusterIndex) Len() int {
	n := 0
	for _, s := range x.n.Status() {
		n += s.Keys
	}
	return n
}

func (x *clusterIndex) Stats() []httpindex.ShardStats {
	var out []httpindex.ShardStats
	for _, s := range x.n.Status() {
		out = append(out, httpindex.ShardStats{Shard: s.Range, Keys: s.Keys, Writes: s.Applied})
	}
	return out
}

// clusterHandler serves the cluster API in front of the index handler.
type clusterHandler struct {
	idx  *clusterIndex
	next http.Handler
}

func (h *clusterHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/cluster" {
		h.status(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Query().Get("consistency") == "linearizable" {
		if key, ok := strings.CutPrefix(r.URL.Path, "/keys/"); ok {
			h.linGet(w, r, key)
			return
		}
		if r.URL.Path == "/complete" {
			h.linComplete(w, r)
			return
		}
	}
	h.next.ServeHTTP(w, r)
}

type rangeJSON struct {
	Range      int      `json:"range"`
	Start      string   `json:"start"`
	End        *string  `json:"end"` // null: no upper bound
	State      string   `json:"state"`
	Leader     string   `json:"leader"`
	LeaderAddr string   `json:"leader_addr"`
	Term       uint64   `json:"term"`
	Commit     uint64   `json:"commit_index"`
	Applied    uint64   `json:"applied_index"`
	LastIndex  uint64   `json:"last_index"`
	Keys       int      `json:"keys"`
	Voters     []string `json:"voters"`
}

func (h *clusterHandler) status(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed on /cluster (allowed: GET, HEAD)")
		return
	}
	var out struct {
		Node   string      `json:"node"`
		Addr   string      `json:"raft_addr"`
		PID    int         `json:"pid"`
		Ranges []rangeJSON `json:"ranges"`
	}
	out.Node, out.Addr, out.PID = h.idx.n.ID(), h.idx.n.Addr(), os.Getpid()
	for _, s := range h.idx.n.Status() {
		rj := rangeJSON{Range: s.Range, Start: string(s.Start), State: s.State, Leader: s.Leader, LeaderAddr: s.LeaderAddr,
			Term: s.Term, Commit: s.Commit, Applied: s.Applied, LastIndex: s.LastIndex, Keys: s.Keys, Voters: s.Voters}
		if s.End != nil {
			e := string(s.End)
			rj.End = &e
		}
		out.Ranges = append(out.Ranges, rj)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// readFailed answers a linearizable read that could not be served: 503
// (no leader within -cluster-timeout), or 400 for a bad key.
func readFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, cluster.ErrKeyTooLong) {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	writeJSONError(w, http.StatusServiceUnavailable, err.Error())
}

func (h *clusterHandler) linGet(w http.ResponseWriter, r *http.Request, key string) {
	if key == "" || !utf8.ValidString(key) {
		writeJSONError(w, http.StatusBadRequest, "key must be non-empty UTF-8")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.idx.timeout)
	defer cancel()
	rd, err := h.idx.n.Get(ctx, []byte(key), cluster.Linearizable)
	if err != nil {
		readFailed(w, err)
		return
	}
	w.Header().Set("X-Applied-Index", strconv.FormatUint(rd.Index, 10))
	if !rd.Found {
		writeJSONError(w, http.StatusNotFound, fmt.Sprintf("key %s not found", exampleutil.QuoteKey([]byte(key))))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}{key, rd.Value})
}

func (h *clusterHandler) linComplete(w http.ResponseWriter, r *http.Request) {
	q, err := httpindex.ParseComplete(r.URL.Query())
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.idx.timeout)
	defer cancel()
	keys, more, err := h.idx.complete(ctx, q, httpindex.DefaultCompleteBytes, cluster.Linearizable)
	if err != nil {
		readFailed(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(httpindex.CompleteAnswer{Prefix: q.Prefix, Keys: keys, More: more})
}

// errRaftSnapshots: in cluster mode the state is saved by Raft (its logs
// and snapshots in -data), not by the service's snapshot files.
var errRaftSnapshots = errors.New("cluster mode: the index is kept by Raft's logs and snapshots, not by snapshot files")

// Save is refused in cluster mode (errRaftSnapshots).
func (x *clusterIndex) Save(context.Context, io.Writer) (int64, error) {
	return 0, errRaftSnapshots
}

// Load is refused in cluster mode (errRaftSnapshots).
func (x *clusterIndex) Load(context.Context, io.Reader) error { return errRaftSnapshots }
