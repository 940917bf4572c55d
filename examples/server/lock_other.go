//go:build !unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir: on systems without flock the directory is not locked (one
// server per -data DIR stays the operator's rule); the file is created so
// that the layout is the same everywhere.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return f, nil
}
