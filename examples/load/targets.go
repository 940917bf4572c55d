package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/zipora-go/zipora/internal/exampleutil"
)

// target is what the requests go to and how they are spelled:
// examples/server (its own API, ?consistency=linearizable for reads on
// the leader) or etcd's JSON gateway (/v3/kv/put, /v3/kv/range with
// base64 keys; serializable for stale reads), so that the two are driven
// by the same clients with the same keys. Several -url values spread the
// clients over the nodes (client i uses url i mod n).
type target struct {
	kind        string // "zipora" or "etcd"
	consistency string // "stale" or "linearizable"
	scanLimit   int
	urls        []string

	failover   bool          // failover.go
	pids       string        // the servers' pids, in -url order
	failPrefix string        // keys written during a failover run
	failRange  int           // zipora: the range whose leader is killed (its keys: failPrefix)
	pre, post  time.Duration // writes before the kill and after the first acknowledged write
	writers    int
}

func (t *target) register(fs *flag.FlagSet) {
	fs.StringVar(&t.kind, "target", "zipora", "zipora (examples/server's API) or etcd (etcd's /v3/kv JSON gateway, base64 keys)")
	fs.StringVar(&t.consistency, "consistency", "stale", "reads: stale (a zipora node's local replica; etcd serializable) or linearizable (on the leader after a quorum check)")
	fs.IntVar(&t.scanLimit, "scan-limit", 10, "keys per completion/prefix scan")
	fs.BoolVar(&t.failover, "failover", false, "failover run: write through the followers, SIGKILL the leader (-pids), report the time to the first acknowledged write and the acknowledged writes lost")
	fs.StringVar(&t.pids, "pids", "", "failover: comma-separated pids of the servers, in -url order")
	fs.StringVar(&t.failPrefix, "failover-prefix", "/etc/failover", "failover: prefix of the keys written (zipora: must fall in -failover-range)")
	fs.IntVar(&t.failRange, "failover-range", 0, "failover: zipora range whose leader is killed")
	fs.DurationVar(&t.pre, "failover-pre", time.Second, "failover: writes before the kill")
	fs.DurationVar(&t.post, "failover-post", time.Second, "failover: writes after the first acknowledged write past the kill")
	fs.IntVar(&t.writers, "failover-writers", 8, "failover: concurrent writers")
}

func (t *target) check() error {
	switch {
	case t.kind != "zipora" && t.kind != "etcd":
		return exampleutil.Usagef("-target must be zipora or etcd, not %q", t.kind)
	case t.consistency != "stale" && t.consistency != "linearizable":
		return exampleutil.Usagef("-consistency must be stale or linearizable, not %q", t.consistency)
	case t.scanLimit < 1 || t.scanLimit > 1000:
		return exampleutil.Usagef("-scan-limit must be in [1, 1000]")
	case t.failover && (t.writers < 1 || t.pre <= 0 || t.post <= 0):
		return exampleutil.Usagef("-failover-writers, -failover-pre and -failover-post must be > 0")
	}
	return nil
}

func (t *target) ping(ctx context.Context, client *http.Client, base string) error {
	if t.kind == "etcd" {
		return ping(ctx, client, base, "/health")
	}
	return ping(ctx, client, base, "/stats")
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// prefixEnd is etcd's range_end for a prefix: the prefix with its last
// byte below 0xff incremented ("\x00" for the empty prefix: every key).
func prefixEnd(p string) string {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// request spells one operation: a get of key, a completion/scan of the
// prefix key, or a put of value under key.
func (t *target) request(op int, key, value string) (method, path string, body io.Reader) {
	lin := t.consistency == "linearizable"
	if t.kind == "etcd" {
		var m map[string]any
		path = "/v3/kv/range"
		switch op {
		case opGet:
			m = map[string]any{"key": b64(key), "serializable": !lin}
		case opComplete:
			m = map[string]any{"key": b64(key), "range_end": b64(prefixEnd(key)), "limit": t.scanLimit, "serializable": !lin, "keys_only": true}
		case opPut:
			m, path = map[string]any{"key": b64(key), "value": b64(value)}, "/v3/kv/put"
		}
		b, _ := json.Marshal(m)
		return "POST", path, bytes.NewReader(b)
	}
	q := ""
	if lin {
		q = "consistency=linearizable"
	}
	switch op {
	case opGet:
		if q != "" {
			q = "?" + q
		}
		return "GET", "/keys/" + url.PathEscape(key) + q, nil
	case opComplete:
		return "GET", "/complete?limit=" + strconv.Itoa(t.scanLimit) + "&prefix=" + url.QueryEscape(key) + "&" + q, nil
	}
	return "PUT", "/keys/" + url.PathEscape(key), strings.NewReader(value)
}

// found reports whether a get's answer (status and body) holds the key.
func (t *target) found(code int, body []byte) bool {
	if code != http.StatusOK {
		return false
	}
	if t.kind == "zipora" {
		return true
	}
	var r struct {
		Count string `json:"count"`
	}
	return json.Unmarshal(body, &r) == nil && r.Count != "" && r.Count != "0"
}

// fetchJSON sends one request and decodes its JSON answer into out.
func fetchJSON(ctx context.Context, client *http.Client, method, u string, body io.Reader, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
