//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockDir takes an exclusive advisory lock (flock) on dir/LOCK, held for
// as long as the returned file is open, and writes this process's id into
// it; a second server on the same directory gets an error naming the
// holder's pid instead of sharing it (each would remove the other's
// temporary files at start, number its snapshots from the same sequence
// and overwrite or delete the other's). The kernel drops the lock when the
// process dies, kill -9 included, so a stale LOCK file never blocks a
// restart.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := make([]byte, 20)
		n, _ := f.ReadAt(holder, 0)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data: directory %s is in use by another server (pid %s)", dir, strings.TrimSpace(string(holder[:n])))
		}
		return nil, fmt.Errorf("data: locking %s: %w", dir, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
