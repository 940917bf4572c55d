package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/zipora-go/zipora/shards"
	"go.etcd.io/bbolt"
)

// NoBalance as Config.BalanceInterval turns the leader balancer off.
const NoBalance time.Duration = -1

// Config configures one node. Every node of a cluster must be given the
// same Ranges and Router boundaries: a node answers a request from a node
// configured otherwise with ErrConfig (so such a node cannot join, and its
// forwarded requests fail).
type Config struct {
	// ID names the node in every range's membership; unique in the
	// cluster and the same across restarts. Required.
	ID string
	// Dir holds the node's Raft logs, stable state and snapshots, one
	// directory per range. Empty: all in memory (nothing survives Close).
	Dir string
	// Network reaches the other nodes (ListenTCP, InmemHub.Network). The
	// node closes it. Required.
	Network Network
	// Ranges is the number of ranges, each one Raft group (default 1).
	Ranges int
	// Router splits the key space into Ranges ranges; nil is valid for one
	// range only. Open calls its Init.
	Router *shards.RangeRouter

	// Raft's timing (hashicorp/raft Config): a follower starts an election
	// after HeartbeatTimeout to 2×HeartbeatTimeout without a leader, a
	// candidate retries after ElectionTimeout. Defaults 500 ms each,
	// LeaderLeaseTimeout HeartbeatTimeout/2, CommitTimeout 20 ms.
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout, CommitTimeout time.Duration
	// SnapshotThreshold: log entries since the last snapshot that trigger
	// one (checked every SnapshotInterval); TrailingLogs stay after it.
	// Defaults 8192, 10 s, 10240.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	// BalanceInterval: how often a node that is the preferred leader of a
	// range (the range's number modulo the voters, by ID order) and a
	// caught-up follower asks the leader to hand leadership over.
	// 0: 1 s; NoBalance (any negative value): never.
	BalanceInterval time.Duration
	// LogOutput receives Raft's warnings and errors (nil: discarded).
	LogOutput io.Writer
}

func (c *Config) setDefaults() error {
	if c.ID == "" {
		return fmt.Errorf("%w: empty ID", ErrConfig)
	}
	if c.Network == nil {
		return fmt.Errorf("%w: no Network", ErrConfig)
	}
	if c.Ranges == 0 {
		c.Ranges = 1
	}
	if c.Ranges < 0 || c.Ranges > chanRequests {
		return fmt.Errorf("%w: %d ranges", ErrConfig, c.Ranges)
	}
	if c.Router == nil {
		if c.Ranges != 1 {
			return fmt.Errorf("%w: %d ranges need a Router", ErrConfig, c.Ranges)
		}
		c.Router = shards.NewRangeRouter()
	}
	if err := c.Router.Init(c.Ranges); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, 500*time.Millisecond)
	def(&c.ElectionTimeout, 500*time.Millisecond)
	def(&c.LeaderLeaseTimeout, c.HeartbeatTimeout/2)
	def(&c.CommitTimeout, 20*time.Millisecond)
	def(&c.SnapshotInterval, 10*time.Second)
	def(&c.BalanceInterval, time.Second)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	return nil
}

// Node is one member of a cluster: for every range, a Raft replica whose
// state machine is a trie, plus the request paths between members. Build
// it with Open; it is safe for concurrent use; Close it when done. A Node
// must not be copied.
type Node struct {
	cfg    Config
	net    Network
	groups []*group
	bounds [][]byte
	layout uint32        // layoutSum(bounds): carried by every request
	done   chan struct{} // closed by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
	err    error
}

// group is one range's Raft replica on this node.
type group struct {
	id     int
	r      *raft.Raft
	f      *fsm
	closer io.Closer     // the bolt store, or nil
	logs   raft.LogStore // the log, for readBarrier's look at entries not yet applied
	ready  readyTerm
	target struct {
		mu         sync.Mutex
		ci, target uint64 // lastStateEntry's last answer
	}
}

// readyTerm is the last term in which this node, as leader, saw a barrier
// applied: from then on its commit index covers every earlier term's
// entries, so a read index taken from it is safe (readIndex).
type readyTerm struct {
	mu   sync.Mutex
	term uint64
}

// Open starts a node: each range's Raft replica, from Dir when it holds
// state (a restart: the node catches up from its log and snapshots, then
// from the leader), else empty, waiting for Bootstrap or for a member to
// add it (Join).
func Open(cfg Config) (*Node, error) {
	if err := cfg.setDefaults(); err != nil {
		if cfg.Network != nil {
			cfg.Network.Close()
		}
		return nil, err
	}
	n := &Node{cfg: cfg, net: cfg.Network, done: make(chan struct{}), bounds: cfg.Router.Boundaries()}
	n.layout = layoutSum(n.bounds)
	if cfg.Dir != "" {
		if err := claimDir(cfg.Dir, cfg.ID, n.layout); err != nil {
			cfg.Network.Close()
			return nil, err
		}
	}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft-" + cfg.ID, Output: cfg.LogOutput, Level: hclog.Warn})
	if cfg.LogOutput == nil {
		logger = hclog.NewNullLogger()
	}
	for r := range cfg.Ranges {
		g, err := n.openGroup(r, logger)
		if err != nil {
			n.shutdown()
			return nil, err
		}
		n.groups = append(n.groups, g)
	}
	n.net.serve(n.handle)
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if cfg.BalanceInterval > 0 {
		n.wg.Add(1)
		go n.balance(ctx)
	}
	return n, nil
}

func (n *Node) openGroup(r int, logger hclog.Logger) (*group, error) {
	f, err := newFSM()
	if err != nil {
		return nil, err
	}
	c := n.cfg
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.ID)
	rc.HeartbeatTimeout, rc.ElectionTimeout = c.HeartbeatTimeout, c.ElectionTimeout
	rc.LeaderLeaseTimeout, rc.CommitTimeout = c.LeaderLeaseTimeout, c.CommitTimeout
	rc.SnapshotThreshold, rc.SnapshotInterval, rc.TrailingLogs = c.SnapshotThreshold, c.SnapshotInterval, c.TrailingLogs
	rc.BatchApplyCh = false // see await; the leader still commits what is waiting as one batch (BenchmarkCluster/put: no difference measured, x3 each way)
	rc.ShutdownOnRemove = false
	rc.NoLegacyTelemetry = true // nobody reads raft's metrics; skip the duplicate legacy names
	rc.Logger = logger.Named(fmt.Sprint("range-", r))
	g := &group{id: r, f: f}
	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	if c.Dir == "" {
		s := raft.NewInmemStore()
		logs, stable, snaps = s, s, raft.NewInmemSnapshotStore()
	} else {
		dir := filepath.Join(c.Dir, fmt.Sprint("range-", r))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrConfig, err)
		}
		bs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), BoltOptions: boltOptions()})
		if err != nil {
			return nil, fmt.Errorf("%w: range %d log: %v", ErrConfig, r, err)
		}
		g.closer = bs
		logs, stable = bs, bs
		if logs, err = raft.NewLogCache(1024, bs); err != nil {
			bs.Close()
			return nil, err
		}
		if snaps, err = raft.NewFileSnapshotStoreWithLogger(dir, 2, rc.Logger); err != nil {
			bs.Close()
			return nil, fmt.Errorf("%w: range %d snapshots: %v", ErrConfig, r, err)
		}
	}
	g.logs = logs
	tr, err := n.net.raftTransport(r)
	if err != nil {
		g.close()
		return nil, err
	}
	if g.r, err = raft.NewRaft(rc, f, logs, stable, snaps, tr); err != nil {
		g.close()
		return nil, fmt.Errorf("%w: range %d: %v", ErrConfig, r, err)
	}
	return g, nil
}

// claimDir checks that dir was written by node id with these ranges
// (the file NODE: "<id> <layout>"), writing NODE on first use: a node
// started on another node's directory would take over that node's Raft
// identity under its own name, and a node restarted with other ranges or
// boundaries would route keys to Raft groups that do not hold them.
func claimDir(dir, id string, layout uint32) error {
	want := fmt.Sprintf("%s %08x\n", id, layout)
	path := filepath.Join(dir, "NODE")
	got, err := os.ReadFile(path)
	if err == nil {
		if string(got) == want {
			return nil
		}
		gotID, gotLayout, _ := strings.Cut(strings.TrimSpace(string(got)), " ")
		if gotID != id {
			return fmt.Errorf("%w: Dir %s belongs to node %.64q, not %.64q", ErrConfig, dir, gotID, id)
		}
		return fmt.Errorf("%w: Dir %s was written with other ranges or boundaries (layout %.8s, now %08x)", ErrConfig, dir, gotLayout, layout)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(want), 0o644); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return nil
}

// boltOptions: a second process on the same directory fails at once
// instead of waiting for the file lock forever. (NoFreelistSync was
// measured: no gain here, BenchmarkCluster/put.)
func boltOptions() *bbolt.Options { return &bbolt.Options{Timeout: time.Second} }

func (g *group) close() {
	if g.closer != nil {
		g.closer.Close()
	}
}

// ID returns the node's ID.
func (n *Node) ID() string { return n.cfg.ID }

// Addr returns the node's network address.
func (n *Node) Addr() string { return n.net.Addr() }

// Ranges returns the number of ranges.
func (n *Node) Ranges() int { return len(n.groups) }

// RangeOf returns the range that holds key.
func (n *Node) RangeOf(key []byte) int { return n.cfg.Router.Route(key) }

// Bootstrap makes this node the one voter of every range that has no state
// yet (a new cluster's first node); ranges with state are left alone, so it
// is safe on every start. It returns once every range has a leader, or
// ctx's error.
func (n *Node) Bootstrap(ctx context.Context) error {
	for _, g := range n.groups {
		cfg := raft.Configuration{Servers: []raft.Server{{
			Suffrage: raft.Voter, ID: raft.ServerID(n.cfg.ID), Address: raft.ServerAddress(n.net.Addr())}}}
		if err := g.r.BootstrapCluster(cfg).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return fmt.Errorf("%w: bootstrap range %d: %v", ErrConfig, g.id, err)
		}
	}
	return n.WaitLeaders(ctx)
}

// WaitLeaders returns once every range has a known leader (as this node
// sees it), or ctx's error wrapped in ErrNoLeader.
func (n *Node) WaitLeaders(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		missing := -1
		for _, g := range n.groups {
			if addr, _ := g.r.LeaderWithID(); addr == "" {
				missing = g.id
				break
			}
		}
		if missing < 0 {
			return nil
		}
		if err := n.pause(ctx, attempt); err != nil {
			return fmt.Errorf("%w (range %d): %w", ErrNoLeader, missing, err)
		}
	}
}

// pause waits a little before the next attempt (2 ms doubling to 50 ms),
// or returns ctx's error or ErrClosed.
func (n *Node) pause(ctx context.Context, attempt int) error {
	d := 2 * time.Millisecond << min(attempt, 5)
	t := time.NewTimer(min(d, 50*time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-n.done:
		return ErrClosed
	}
}

// Join asks the member at addr to add this node as a voter of every range
// (each range's leader runs AddVoter); the node then receives the ranges'
// logs or snapshots. Joining again is harmless.
func (n *Node) Join(ctx context.Context, addr string) error {
	q := request{op: opJoin, layout: n.layout, body: encodeIDAddr(n.cfg.ID, n.net.Addr())}
	for attempt := 0; ; attempt++ {
		q.timeout = remaining(ctx)
		resp, err := n.net.call(ctx, addr, q.encode())
		if err == nil {
			_, err = decodeResp(resp)
		}
		if err == nil {
			break
		}
		if !retryable(err) {
			return err
		}
		if perr := n.pause(ctx, attempt); perr != nil {
			return fmt.Errorf("%w (joining via %s: %w)", err, addr, perr)
		}
	}
	// The leaders committed the new configurations; wait until this node
	// has received them, so that its first request finds it a member.
	for attempt := 0; ; attempt++ {
		ok := true
		for _, g := range n.groups {
			a, _ := g.r.LeaderWithID()
			ok = ok && a != "" && g.member(n.cfg.ID)
		}
		if ok {
			return nil
		}
		if err := n.pause(ctx, attempt); err != nil {
			return fmt.Errorf("%w: joined via %s but not yet a voter everywhere: %w", ErrNotMember, addr, err)
		}
	}
}

// Remove takes the node id out of every range (through each range's
// leader). A removed node keeps running but serves no range until it is
// added again; close it.
func (n *Node) Remove(ctx context.Context, id string) error {
	for _, g := range n.groups {
		if _, err := n.leaderDo(ctx, request{op: opRemove, rangeID: g.id, body: []byte(id)}); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the node: the balancer, every range's Raft replica (waiting
// for its goroutines), the stores and the network. Requests in flight
// return ErrClosed or ErrOutcomeUnknown. Idempotent.
func (n *Node) Close() error {
	n.once.Do(n.shutdown)
	return n.err
}

func (n *Node) shutdown() {
	close(n.done)
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	var errs []error
	for _, g := range n.groups {
		if err := g.r.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
		g.close()
	}
	errs = append(errs, n.net.Close())
	n.err = errors.Join(errs...)
}

// RangeStatus is what one node knows of one range.
type RangeStatus struct {
	Range      int
	Start, End []byte // the range holds Start <= key < End; nil End: no upper bound
	State      string // this node's role: Leader, Follower, Candidate, Shutdown
	Leader     string // the leader's ID, "" when unknown
	LeaderAddr string
	Term       uint64
	Commit     uint64 // commit index as this node knows it
	Applied    uint64 // last index applied to this node's trie
	LastIndex  uint64 // last index in this node's log
	Keys       int    // keys in this node's trie
	Voters     []string
}

// Status reports every range as this node sees it.
func (n *Node) Status() []RangeStatus {
	out := make([]RangeStatus, len(n.groups))
	for i, g := range n.groups {
		addr, id := g.r.LeaderWithID()
		s := RangeStatus{Range: i, State: g.r.State().String(), Leader: string(id), LeaderAddr: string(addr),
			Term: g.r.CurrentTerm(), Commit: g.r.CommitIndex(), Applied: g.f.applied.Load(),
			LastIndex: g.r.LastIndex(), Keys: g.f.t.Load().Len()}
		if i > 0 {
			s.Start = n.bounds[i-1]
		} else {
			s.Start = []byte{}
		}
		if i < len(n.bounds) {
			s.End = n.bounds[i]
		}
		if f := g.r.GetConfiguration(); f.Error() == nil {
			for _, sv := range f.Configuration().Servers {
				if sv.Suffrage == raft.Voter {
					s.Voters = append(s.Voters, string(sv.ID))
				}
			}
			slices.Sort(s.Voters)
		}
		out[i] = s
	}
	return out
}
