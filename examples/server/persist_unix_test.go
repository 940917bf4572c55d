//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
)

// buildServer builds this command into a directory of t's.
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// proc is a running server binary.
type proc struct {
	cmd  *exec.Cmd
	base string
	log  *syncBuffer
	done chan struct{} // closed once stderr is drained
}

var listening = regexp.MustCompile(`msg=listening url=(http://[^/ ]+)/`)

// startBinary runs the built server with args and waits until it listens.
func startBinary(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-workers", "2"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(p.log, sc.Text())
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
		io.Copy(io.Discard, stderr)
		close(found)
	}()
	testutil.Within(t, "the server binary's start", func() { p.base = <-found })
	if p.base == "" {
		p.wait(t)
		t.Fatalf("the server did not start:\n%s", p.log)
	}
	return p
}

// wait waits for the process's exit and returns its exit code (-1 for a
// signal).
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	testutil.Within(t, "the server binary's exit", func() { <-p.done; p.cmd.Wait() })
	return p.cmd.ProcessState.ExitCode()
}

// TestDataSurvivesSIGTERM (issue 20): the server binary takes writes from
// several clients while it saves every 10ms, gets SIGTERM, and a new one
// started on the same -data serves every acknowledged write: each put key
// with its last value, each deleted key absent. Then a SIGKILL during the
// periodic saves: the next start still loads (an atomic save never leaves
// a damaged snapshot, and the temporary file is removed).
func TestDataSurvivesSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server")
	}
	bin := buildServer(t)
	dir := t.TempDir()
	p := startBinary(t, bin, "-data", dir, "-save-every", "10ms")
	const clients, perClient = 4, 150
	models := make([]map[string]string, clients) // key -> value ("" = deleted)
	var wg sync.WaitGroup
	for c := range clients {
		models[c] = map[string]string{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				key := fmt.Sprintf("c%d/k%04d", c, i%100) // rewrites and deletes some keys
				u := p.base + "/keys/" + url.PathEscape(key)
				if i%7 == 3 {
					code, err := httpDo("DELETE", u, "")
					if err != nil || code != 204 && code != 404 {
						t.Errorf("DELETE %s: %d %v", key, code, err)
						return
					}
					models[c][key] = ""
					continue
				}
				val := fmt.Sprintf("v%d", i)
				if code, err := httpDo("PUT", u, val); err != nil || code != 200 && code != 201 {
					t.Errorf("PUT %s: %d %v", key, code, err)
					return
				}
				models[c][key] = val
			}
		}()
	}
	wg.Wait()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 || !strings.Contains(p.log.String(), "msg=saved why=stop") {
		t.Fatalf("exit %d:\n%s", code, p.log)
	}
	if !strings.Contains(p.log.String(), "why=periodic") {
		t.Errorf("no periodic save in the log:\n%s", p.log)
	}

	q := startBinary(t, bin, "-data", dir, "-save-every", "5ms", "-keep", "3")
	if !strings.Contains(q.log.String(), "msg=restored") {
		t.Fatalf("not restored:\n%s", q.log)
	}
	for c := range clients {
		for key, val := range models[c] {
			var kv struct{ Value string }
			code := get(t, q.base, "/keys/"+url.PathEscape(key), &kv)
			if val == "" && code != 404 || val != "" && (code != 200 || kv.Value != val) {
				t.Fatalf("%s after restart: %d %q, want %q", key, code, kv.Value, val)
			}
		}
	}
	// A crash during the periodic saves.
	for i := range 50 {
		httpDo("PUT", q.base+"/keys/crash"+fmt.Sprint(i), "x")
	}
	q.cmd.Process.Signal(syscall.SIGKILL)
	q.wait(t)
	r := startBinary(t, bin, "-data", dir, "-save-every", "0")
	if !strings.Contains(r.log.String(), "msg=restored") {
		t.Fatalf("not restored after SIGKILL:\n%s", r.log)
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	if code := r.wait(t); code != 0 {
		t.Fatalf("exit %d:\n%s", code, r.log)
	}
	if tmp, _ := filepath.Glob(filepath.Join(dir, tmpPattern)); len(tmp) != 0 {
		t.Fatalf("temporary files left: %v", tmp)
	}
}
