//go:build unix

package testutil

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// MakeRun is a `make` run in a process group of its own, as a shell runs
// a job: Interrupt sends SIGINT to the whole group, as Ctrl-C in a
// terminal does.
type MakeRun struct {
	t       testing.TB
	cmd     *exec.Cmd
	mu      sync.Mutex
	out     bytes.Buffer // stdout and stderr
	grew    chan struct{}
	done    chan struct{}
	waitErr error
}

// StartMake runs `make -C dir args...` with stdin. With ignoreInt, make
// runs with SIGINT ignored (as in a background job, or under nohup): the
// signal then reaches only the programs that catch it (a Go program's
// signal.Notify does), and make reports how the program exited. The group
// is killed when the test ends.
func StartMake(t testing.TB, dir string, stdin io.Reader, ignoreInt bool, args ...string) *MakeRun {
	t.Helper()
	margs := append([]string{"-C", dir}, args...)
	cmd := exec.Command("make", margs...)
	if ignoreInt {
		cmd = exec.Command("sh", append([]string{"-c", `trap "" INT; exec make "$@"`, "sh"}, margs...)...)
	}
	m := &MakeRun{t: t, cmd: cmd, grew: make(chan struct{}, 1), done: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, m, m
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		m.waitErr = cmd.Wait()
		close(m.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	})
	return m
}

// Write implements io.Writer for the run's output.
func (m *MakeRun) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	select {
	case m.grew <- struct{}{}:
	default:
	}
	return m.out.Write(p)
}

// Output returns what the run has written so far.
func (m *MakeRun) Output() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.String()
}

// WaitOutput waits (under the hang guard) until the output contains s,
// failing the test if make ends first.
func (m *MakeRun) WaitOutput(s string) {
	m.t.Helper()
	Within(m.t, "make output "+s, func() {
		for !strings.Contains(m.Output(), s) {
			select {
			case <-m.grew:
			case <-m.done:
				if !strings.Contains(m.Output(), s) {
					m.t.Errorf("make ended without writing %q:\n%s", s, m.Output())
				}
				return
			}
		}
	})
}

// Interrupt sends SIGINT to the run's process group.
func (m *MakeRun) Interrupt() {
	m.t.Helper()
	if err := syscall.Kill(-m.cmd.Process.Pid, syscall.SIGINT); err != nil {
		m.t.Fatal(err)
	}
}

// Wait waits (under the hang guard) for make to end and returns its exit
// code (-1 if a signal ended it), the signal, and the output.
func (m *MakeRun) Wait() (code int, sig syscall.Signal, out string) {
	m.t.Helper()
	Within(m.t, "make", func() { <-m.done })
	code = 0
	if ee, ok := errors.AsType[*exec.ExitError](m.waitErr); ok {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig = ws.Signal()
		}
	} else if m.waitErr != nil {
		m.t.Fatal(m.waitErr)
	}
	return code, sig, m.Output()
}
