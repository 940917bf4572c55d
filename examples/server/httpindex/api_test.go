package httpindex

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, goleak.IgnoreCurrent()) }

// newIndex returns a fresh backend, stopped when the test ends.
func newIndex(t *testing.T, backend string) Index {
	t.Helper()
	if backend == "locked" {
		return NewLocked()
	}
	tr, err := shards.NewTrie[string](shards.TrieConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 3, Spin: runtime.NoSpin}, tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Stop(context.Background()) })
	return &sharded{rt: rt, t: tr}
}

// client talks to one test server.
type client struct {
	t    *testing.T
	base string
}

func startServer(t *testing.T, backend string) (*client, Index) {
	idx := newIndex(t, backend)
	ts := httptest.NewServer(New(idx, Config{}))
	t.Cleanup(ts.Close)
	return &client{t, ts.URL}, idx
}

// do sends a request and returns the status and body; out, if not nil,
// receives the decoded JSON body.
func (c *client) do(method, path string, body io.Reader, out any) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, string(b)
}

func keyPath(k string) string { return "/keys/" + url.PathEscape(k) }

type completion = CompleteAnswer

// modelComplete is what /complete must answer, from a plain map.
func modelComplete(m map[string]string, prefix, after string, limit int) completion {
	keys := []string{}
	for _, k := range slices.Sorted(maps.Keys(m)) { // byte order: Go strings compare bytewise
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	more := len(keys) > limit
	if more {
		keys = keys[:limit]
	}
	return completion{prefix, keys, more}
}

// completeQuery is /complete's URL for prefix, after and limit.
func completeQuery(prefix, after string, limit int) string {
	q := url.Values{"prefix": {prefix}, "limit": {fmt.Sprint(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	return "/complete?" + q.Encode()
}

func (c *client) checkComplete(m map[string]string, prefix, after string, limit int) {
	c.t.Helper()
	var got completion
	code, body := c.do("GET", completeQuery(prefix, after, limit), nil, &got)
	if !utf8.ValidString(prefix) || !utf8.ValidString(after) { // ends inside a character: refused, not rewritten
		if code != 400 || !strings.Contains(body, "not valid UTF-8") {
			c.t.Fatalf("complete %q after %q: %d %s, want 400", prefix, after, code, body)
		}
		return
	}
	want := modelComplete(m, prefix, after, limit)
	if code != 200 || got.Prefix != want.Prefix || got.More != want.More || !slices.Equal(got.Keys, want.Keys) {
		c.t.Fatalf("complete %q after %q limit %d: %d %s\nwant %+v", prefix, after, limit, code, body, want)
	}
}

// checkPages pages through prefix's keys, limit a page, each page's last
// key the next one's after, and compares the whole with m: every key
// exactly once, in order.
func (c *client) checkPages(m map[string]string, prefix string, limit int) {
	c.t.Helper()
	want := modelComplete(m, prefix, "", len(m)+1).Keys
	var all []string
	after := ""
	for page := 0; ; page++ {
		var got completion
		if code, body := c.do("GET", completeQuery(prefix, after, limit), nil, &got); code != 200 || page > len(m) {
			c.t.Fatalf("page %d of %q: %d %s", page, prefix, code, body)
		}
		all = append(all, got.Keys...)
		if !got.More {
			break
		}
		after = got.Keys[len(got.Keys)-1]
	}
	if !slices.Equal(all, want) {
		c.t.Fatalf("paging %q by %d: %d keys, want %d", prefix, limit, len(all), len(want))
	}
}

// checkAll compares the whole Index, every prefix of about 30 of its keys
// (with and without an after), and a paging through it all, with m.
func (c *client) checkAll(m map[string]string) {
	c.t.Helper()
	c.checkComplete(m, "", "", MaxLimit)
	c.checkPages(m, "", 7)
	keys := slices.Sorted(maps.Keys(m))
	for j := 0; j < len(keys); j += 1 + len(keys)/30 {
		k := keys[j]
		for i := range len(k) + 1 {
			c.checkComplete(m, k[:i], "", 3)
			c.checkComplete(m, k[:i], k, 3)
		}
	}
}

// randKey draws from a small space, so that writes collide and keys share
// prefixes; it includes slashes (also doubled), spaces, '%', '?', '#', '.'
// and multi-byte UTF-8.
// randAfter is "" (no bound) half the time, else a random key.
func randAfter(r *rand.Rand) string {
	if r.IntN(2) == 0 {
		return ""
	}
	return randKey(r)
}

func randKey(r *rand.Rand) string {
	parts := []string{"a", "ab", "b", "/", "//", "é", "x y", "%", "?", "#", ".", "..", "z"}
	var b strings.Builder
	for range 1 + r.IntN(4) {
		b.WriteString(parts[r.IntN(len(parts))])
	}
	return b.String()
}

func TestAPIAgainstModel(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			c, _ := startServer(t, backend)
			m := map[string]string{}
			r := rand.New(rand.NewPCG(1, 2))
			for i := range 1500 {
				k := randKey(r)
				switch n := r.IntN(10); {
				case n < 4:
					v := fmt.Sprintf("v%d", i)
					var kv keyValue
					code, body := c.do("PUT", keyPath(k), strings.NewReader(v), &kv)
					_, had := m[k]
					want := 201
					if had {
						want = 200
					}
					if code != want || kv != (keyValue{k, v}) {
						t.Fatalf("PUT %q: %d %s, want %d", k, code, body, want)
					}
					m[k] = v
				case n < 6:
					code, body := c.do("DELETE", keyPath(k), nil, nil)
					_, had := m[k]
					if want := map[bool]int{true: 204, false: 404}[had]; code != want {
						t.Fatalf("DELETE %q: %d %s, want %d", k, code, body, want)
					}
					delete(m, k)
				case n < 8:
					var kv keyValue
					code, body := c.do("GET", keyPath(k), nil, &kv)
					v, had := m[k]
					if had && (code != 200 || kv != (keyValue{k, v})) || !had && code != 404 {
						t.Fatalf("GET %q: %d %s, model %q %v", k, code, body, v, had)
					}
				case n < 9:
					var lines []string
					for j := range 1 + r.IntN(5) {
						bk := randKey(r)
						if r.IntN(3) == 0 {
							lines = append(lines, fmt.Sprintf(`{"op":"delete","key":%q}`, bk))
							delete(m, bk)
						} else {
							v := fmt.Sprintf("b%d.%d", i, j)
							lines = append(lines, fmt.Sprintf(`{"op":"put","key":%q,"value":%q}`, bk, v))
							m[bk] = v
						}
					}
					var res map[string]int
					code, body := c.do("POST", "/batch", strings.NewReader(strings.Join(lines, "\n")+"\n"), &res)
					if code != 200 || res["applied"] != len(lines) {
						t.Fatalf("batch %q: %d %s", lines, code, body)
					}
				default:
					c.checkComplete(m, k[:r.IntN(len(k)+1)], randAfter(r), 1+r.IntN(4))
				}
			}
			c.checkAll(m)
			var st Report
			c.do("GET", "/stats", nil, &st)
			if st.Keys != len(m) || st.Backend != backend {
				t.Fatalf("stats: %d keys of %s, model %d", st.Keys, st.Backend, len(m))
			}
		})
	}
}

func TestBadInputAppliesNothing(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			c, _ := startServer(t, backend)
			m := map[string]string{"keep": "1", "keep/2": "2"}
			for k, v := range m {
				if code, body := c.do("PUT", keyPath(k), strings.NewReader(v), nil); code != 201 {
					t.Fatalf("PUT %q: %d %s", k, code, body)
				}
			}
			long := strings.Repeat("k", trie.MaxKeyLen+1)
			batch := func(lines ...string) string { return strings.Join(lines, "\n") }
			for _, c2 := range []struct {
				method, path, body string
				code               int
				want               string // in the error message
			}{
				{"PUT", "/keys/", "v", 400, "empty key"},
				{"GET", "/keys/", "", 400, "empty key"},
				{"DELETE", "/keys/", "", 400, "empty key"},
				{"PUT", keyPath(long), "v", 400, `"kkkk`},
				{"GET", keyPath(long), "", 400, "(65537 bytes)"},
				{"PUT", "/keys/big", strings.Repeat("v", MaxValue+1), 413, "value over the limit of 1048576 bytes"},
				{"GET", "/complete?prefix=a&limit=0", "", 400, "limit"},
				{"GET", "/complete?prefix=a&limit=1001", "", 400, "from 1 to 1000"},
				{"GET", "/complete?limit=x", "", 400, `limit "x"`},
				{"GET", "/complete?limit=", "", 400, "limit"},
				{"GET", "/complete?prefix=" + long, "", 400, "prefix"},
				{"GET", "/keys/missing", "", 404, `key "missing" not found`},
				{"DELETE", "/keys/missing", "", 404, "not found"},
				{"POST", "/batch", batch(`{"op":"put","key":"n1","value":"x"}`, `{"op":"delete","key":"keep"}`, `{"op":"put","key":"","value":"x"}`), 400, "line 3: empty key"},
				{"POST", "/batch", batch(`{"op":"put","key":"n1","value":"x"}`, fmt.Sprintf(`{"op":"put","key":%q,"value":"x"}`, long)), 400, "line 2: key"},
				{"POST", "/batch", batch(`{"op":"delete","key":"keep"}`, "", `{"op":"upsert","key":"a"}`), 400, `line 3: op "upsert"`},
				{"POST", "/batch", batch(`{"op":"delete","key":"keep"}`, `{"op":"put","key":"a"}`), 400, "line 2: put without a value"},
				{"POST", "/batch", batch(`{"op":"delete","key":"keep"}`, `{"op":"put","key":"a","value":"v"`), 400, "line 2:"},
				{"POST", "/batch", batch(`{"op":"delete","key":"keep"}`, `{"op":"put","key":"a","value":"v","ttl":3}`), 400, "line 2:"},
				{"POST", "/batch", batch(`{"op":"delete","key":"keep"}`, `{"op":"delete"}`), 400, "line 2: no key"},
				{"POST", "/batch", batch(`{"op":"delete","key":"keep"}`, fmt.Sprintf(`{"op":"put","key":"a","value":%q}`, strings.Repeat("v", MaxValue+1))), 400, "line 2: value of 1048577 bytes"},
			} {
				var e struct{ Error string }
				code, body := c.do(c2.method, c2.path, strings.NewReader(c2.body), &e)
				if code != c2.code || !strings.Contains(e.Error, c2.want) || len(e.Error) > 300 {
					t.Errorf("%s %.40s: %d %.300s; want %d and %q", c2.method, c2.path, code, body, c2.code, c2.want)
				}
			}
			c.checkAll(m) // nothing half-applied
		})
	}
}

// TestBatchTooLarge: a batch body over the limit is refused whole, even
// when its first lines are valid and were already parsed.
func TestBatchTooLarge(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			s := New(newIndex(t, backend), Config{})
			s.maxBatch = 200
			ts := httptest.NewServer(s)
			defer ts.Close()
			c := &client{t, ts.URL}
			var lines []string
			for i := range 10 {
				lines = append(lines, fmt.Sprintf(`{"op":"put","key":"k%d","value":"v"}`, i))
			}
			var e struct{ Error string }
			code, body := c.do("POST", "/batch", strings.NewReader(strings.Join(lines, "\n")), &e)
			if code != 413 || e.Error != "batch over the limit of 200 bytes; nothing applied" {
				t.Fatalf("%d %s", code, body)
			}
			c.checkAll(map[string]string{})
			if code, _ := c.do("POST", "/batch", strings.NewReader(strings.Join(lines[:3], "\n")), nil); code != 200 {
				t.Fatalf("a batch under the limit: %d", code)
			}
			c.checkAll(map[string]string{"k0": "v", "k1": "v", "k2": "v"})
		})
	}
}

func TestStatsVarsAndPage(t *testing.T) {
	c, idx := startServer(t, "sharded")
	code, body := c.do("POST", "/batch", strings.NewReader(`{"op":"put","key":"a","value":"1"}`+"\n"+`{"op":"put","key":"b","value":"2"}`+"\n"+`{"op":"put","key":"c","value":"3"}`), nil)
	if code != 200 {
		t.Fatal(code, body)
	}
	var st Report
	c.do("GET", "/stats", nil, &st)
	var writes uint64
	for _, sh := range st.Shards {
		writes += sh.Writes
	}
	if st.Backend != "sharded" || st.Keys != 3 || len(st.Shards) != 3 || writes != 3 || st.Memory.ArenaBytes == 0 || st.Memory.HeapAlloc == 0 {
		t.Fatalf("stats: %+v", st)
	}
	var vars struct {
		Index    Report         `json:"index"`
		Memstats map[string]any `json:"memstats"`
	}
	if code, body := c.do("GET", "/debug/vars", nil, &vars); code != 200 || vars.Index.Keys != 3 || len(vars.Index.Shards) != 3 || vars.Memstats == nil {
		t.Fatalf("/debug/vars: %d %.500s", code, body)
	}
	if idx.Len() != 3 {
		t.Fatal(idx.Len())
	}
	code, body = c.do("GET", "/", nil, nil)
	if code != 200 || !strings.Contains(body, `<input id="q"`) || !strings.Contains(body, `id="shards"`) {
		t.Fatalf("page: %d %.200s", code, body)
	}
	if code, _ := c.do("GET", "/nothing-here", nil, nil); code != 404 {
		t.Fatalf("unknown path: %d", code)
	}
}
