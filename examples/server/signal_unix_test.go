//go:build unix

package main

import (
	"os"
	"syscall"
	"testing"
)

// haveSIGTERM: the signal test can run.
const haveSIGTERM = true

// terminate sends this process SIGTERM, as a service manager would.
func terminate(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
}
