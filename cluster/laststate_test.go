package cluster

import (
	"errors"
	"testing"

	"github.com/hashicorp/raft"
)

// failingLogs is a log store whose reads fail with a store error at and
// below bad.
type failingLogs struct {
	raft.LogStore
	bad uint64
}

func (f failingLogs) GetLog(i uint64, l *raft.Log) error {
	if i <= f.bad {
		return errors.New("disk on fire")
	}
	return f.LogStore.GetLog(i, l)
}

// TestLastStateEntryAfterCompaction: after a snapshot the log starts above
// the FSM's applied index (the snapshot's index counts no-ops the FSM never
// saw); the entries below the log's first are in the state, so the read
// index is known without a barrier. Before, every such read took the
// barrier path (and, before that, stalled until its ctx ended).
func TestLastStateEntryAfterCompaction(t *testing.T) {
	f, err := newFSM()
	if err != nil {
		t.Fatal(err)
	}
	f.applied.Store(5) // the snapshot header's index
	store := raft.NewInmemStore()
	put := func(i uint64, typ raft.LogType) {
		if err := store.StoreLog(&raft.Log{Index: i, Term: 2, Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	// Entries 6-9 were compacted into the snapshot; 10-12 are no-ops and
	// barriers, 13 a command, 14 a barrier.
	put(10, raft.LogNoop)
	put(11, raft.LogBarrier)
	put(12, raft.LogNoop)
	put(13, raft.LogCommand)
	put(14, raft.LogBarrier)
	g := &group{f: f, logs: store}

	for _, c := range []struct {
		ci, want uint64
	}{
		{12, 5},  // only no-ops above the compacted entries: nothing to wait for
		{14, 13}, // the command
		{13, 13},
		{12, 5}, // asked again after a different ci (the kept answer is per ci)
	} {
		got, known := g.lastStateEntry(c.ci)
		if !known || got != c.want {
			t.Fatalf("lastStateEntry(%d) = %d, %v; want %d, true", c.ci, got, known, c.want)
		}
	}

	// A store error is not a compaction: the kind of the entry is unknown.
	g2 := &group{f: f, logs: failingLogs{store, 11}}
	if got, known := g2.lastStateEntry(12); known {
		t.Fatalf("lastStateEntry over a failing store = %d, known; want unknown", got)
	}
}
