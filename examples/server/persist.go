package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zipora-go/zipora/examples/server/httpindex"
)

// The service's data directory (-data): snapshot files written by
// trie.Save, named snapshot-<20-digit sequence number>.trie so that the
// newest sorts last, written atomically — a temporary file in the same
// directory (.snapshot-*.tmp), fsynced, renamed over its final name, and
// the directory fsynced — so that a crash at any moment leaves the previous
// snapshots whole and at worst a stray temporary file (removed at the next
// start). The newest -keep files are kept.
//
// Rejected: one file rewritten in place (a crash mid-save would lose
// everything); timestamps in the names (a clock stepping back would make an
// older snapshot look newer).

const (
	snapPrefix = "snapshot-"
	snapSuffix = ".trie"
	tmpPattern = ".snapshot-*.tmp"
)

// store is a data directory. save may be called from any goroutine (one
// save runs at a time).
type store struct {
	dir    string
	keep   int
	logger *slog.Logger
	mu     sync.Mutex // serializes saves; guards seq
	seq    uint64     // the newest snapshot's number (0: none)
	lock   *os.File   // dir/LOCK, locked (lockDir) until close
}

// close releases the directory (a nil store is fine).
func (s *store) close() {
	if s != nil {
		s.lock.Close()
	}
}

// openStore creates dir if needed, checks that it is writable, locks it
// (one server per directory: lockDir), removes
// the temporary files of saves a crash interrupted, and finds the newest
// snapshot.
func openStore(dir string, keep int, logger *slog.Logger) (*store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	f, err := os.CreateTemp(dir, tmpPattern)
	if err != nil {
		return nil, fmt.Errorf("data: directory %s is not writable: %w", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	lock, err := lockDir(dir) // before anything is removed: the temporary files may be another server's
	if err != nil {
		return nil, err
	}
	stale, _ := filepath.Glob(filepath.Join(dir, tmpPattern))
	for _, p := range stale {
		logger.Warn("removing the temporary file of an interrupted save", "file", p)
		os.Remove(p)
	}
	s := &store{dir: dir, keep: keep, logger: logger, lock: lock}
	if snaps, err := s.snapshots(); err != nil {
		lock.Close()
		return nil, err
	} else if len(snaps) > 0 {
		s.seq = snaps[len(snaps)-1].seq
	}
	return s, nil
}

type snapFile struct {
	seq  uint64
	path string
}

// snapshots lists the snapshot files, oldest first.
func (s *store) snapshots() ([]snapFile, error) {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	var out []snapFile
	for _, e := range ents {
		name := e.Name()
		num, ok := strings.CutPrefix(name, snapPrefix)
		if num, ok2 := strings.CutSuffix(num, snapSuffix); ok && ok2 && e.Type().IsRegular() {
			if seq, err := strconv.ParseUint(num, 10, 64); err == nil {
				out = append(out, snapFile{seq, filepath.Join(s.dir, name)})
			}
		}
	}
	slices.SortFunc(out, func(a, b snapFile) int { return cmp.Compare(a.seq, b.seq) })
	return out, nil
}

// restore loads the newest snapshot into idx (nothing when there is none).
// A snapshot that does not load is an error naming the file: the service
// does not start on damaged data (starting empty would let the next save
// replace the last good data with nothing).
func (s *store) restore(ctx context.Context, idx httpindex.Index) error {
	snaps, err := s.snapshots()
	if err != nil {
		return err
	}
	if len(snaps) == 0 {
		s.logger.Info("no snapshot: starting empty", "data", s.dir)
		return nil
	}
	newest := snaps[len(snaps)-1].path
	f, err := os.Open(newest)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	start := time.Now()
	if err := idx.Load(ctx, f); err != nil {
		hint := "move it out of the directory to start empty"
		if len(snaps) > 1 {
			hint = fmt.Sprintf("move it out of the directory to start from the one before it (%s)", filepath.Base(snaps[len(snaps)-2].path))
		}
		return fmt.Errorf("data: snapshot %s does not load, not starting: %w (%s)", newest, err, hint)
	}
	s.logger.Info("restored", "file", newest, "keys", idx.Len(), "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// save writes a new snapshot with write (which gets the temporary file),
// atomically, then removes all but the newest s.keep. On error nothing
// changes in the directory (the temporary file is removed).
func (s *store) save(write func(w io.Writer) (int64, error)) (path string, n int64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.CreateTemp(s.dir, tmpPattern)
	if err != nil {
		return "", 0, fmt.Errorf("data: %w", err)
	}
	n, err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	path = filepath.Join(s.dir, fmt.Sprintf("%s%020d%s", snapPrefix, s.seq+1, snapSuffix))
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err == nil {
		err = syncDir(s.dir)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", n, fmt.Errorf("data: saving a snapshot: %w", err)
	}
	s.seq++
	snaps, err := s.snapshots()
	if err == nil {
		for _, old := range snaps[:max(len(snaps)-s.keep, 0)] {
			if err := os.Remove(old.path); err != nil {
				s.logger.Warn("removing an old snapshot", "err", err)
			}
		}
	}
	return path, n, nil
}

// syncDir makes a rename in dir durable (not possible, and not needed, on
// Windows).
func syncDir(dir string) error {
	if goruntime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// saveIndex saves idx as a new snapshot and logs it.
func (s *store) saveIndex(ctx context.Context, idx httpindex.Index, why string) error {
	start := time.Now()
	path, n, err := s.save(func(w io.Writer) (int64, error) { return idx.Save(ctx, w) })
	if err != nil {
		return err
	}
	s.logger.Info("saved", "why", why, "file", path, "keys", idx.Len(), "bytes", n, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// saveEvery saves idx every period until ctx ends; a failed save is logged
// and retried at the next tick. It returns when ctx ends (a save in
// progress is cut short: its snapshot is not kept).
func (s *store) saveEvery(ctx context.Context, idx httpindex.Index, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.saveIndex(ctx, idx, "periodic"); err != nil && ctx.Err() == nil {
			s.logger.Warn("periodic save failed (the service goes on; the next save retries)", "err", err)
		}
	}
}
