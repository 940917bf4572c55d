package httpindex

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// startWith serves idx with cfg on a test server.
func startWith(t *testing.T, idx Index, cfg Config) *client {
	t.Helper()
	ts := httptest.NewServer(New(idx, cfg))
	t.Cleanup(ts.Close)
	return &client{t, ts.URL}
}

// limits returns the limits part of /stats (which itself holds an answer
// slot while it runs).
func (c *client) limits() Limits {
	c.t.Helper()
	var rep Report
	if code, body := c.do("GET", "/stats", nil, &rep); code != 200 {
		c.t.Fatalf("/stats: %d %s", code, body)
	}
	return rep.Limits
}

// waitFor polls cond (every millisecond) until it holds, under the hang
// guard: for state another goroutine reaches at its own pace (a handler
// entered, a connection cut by a timeout).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.Within(t, what, func() {
		for !cond() {
			time.Sleep(5 * time.Millisecond) // a poll interval, not a synchronization
		}
	})
}

// TestCompleteByteCap (issue 19, case 10): an answer of long keys is cut at
// Config.CompleteBytes with "more": true, whatever the limit asked; the
// keys given are the first ones in order, and their JSON encodings (HTML
// escapes included) fit the cap.
func TestCompleteByteCap(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			idx := newIndex(t, backend)
			m := map[string]string{}
			var ops []Op
			for i := range 200 {
				k := fmt.Sprintf("p%03d<%s>", i, strings.Repeat("&", 200+i)) // each byte of & < > is 6 in JSON
				ops = append(ops, Op{Key: k, Value: "v"})
				m[k] = "v"
			}
			if err := idx.Apply(context.Background(), ops); err != nil {
				t.Fatal(err)
			}
			const capBytes = 20_000
			c := startWith(t, idx, Config{CompleteBytes: capBytes})
			var got completion
			code, body := c.do("GET", "/complete?prefix=p&limit=1000", nil, &got)
			want := modelComplete(m, "p", "", 1000)
			if code != 200 || !got.More || len(got.Keys) == 0 || len(got.Keys) >= len(want.Keys) {
				t.Fatalf("%d: %d keys, more %v (of %d)", code, len(got.Keys), got.More, len(want.Keys))
			}
			used := 0
			for i, k := range got.Keys {
				if k != want.Keys[i] {
					t.Fatalf("key %d: %q, want %q", i, k, want.Keys[i])
				}
				b, _ := json.Marshal(k)
				used += len(b) + 1
			}
			next, _ := json.Marshal(want.Keys[len(got.Keys)])
			if used > capBytes || used+len(next)+1 <= capBytes {
				t.Fatalf("keys of %d bytes in JSON for a cap of %d (the next is %d): not cut at the cap", used, capBytes, len(next)+1)
			}
			if len(body) > capBytes+200 {
				t.Fatalf("answer of %d bytes for a cap of %d", len(body), capBytes)
			}
			// A limit under the cap is still honoured, and the cut
			// answers page through everything.
			c.checkComplete(m, "p0", "", 3)
			c.checkPages(m, "p", 1000)
		})
	}
}

// blocking is an Index whose Complete and Apply wait, once entered, until
// release is closed: they hold their slots for as long as a test wants.
type blocking struct {
	Index
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) Complete(prefix, after string, limit, maxBytes int) ([]string, bool) {
	b.entered <- struct{}{}
	<-b.release
	return b.Index.Complete(prefix, after, limit, maxBytes)
}

func (b *blocking) Apply(ctx context.Context, ops []Op) error {
	b.entered <- struct{}{}
	<-b.release
	return b.Index.Apply(ctx, ops)
}

// busy checks that a request is answered 503 with Retry-After and a
// "busy:" error mentioning want.
func (c *client) busy(method, path, body, want string) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || !strings.HasPrefix(e.Error, "busy: ") || !strings.Contains(e.Error, want) || !strings.Contains(e.Error, "nothing applied") {
		c.t.Fatalf("%s %s: %d Retry-After %q %q; want 503 busy %q", method, path, resp.StatusCode, resp.Header.Get("Retry-After"), e.Error, want)
	}
}

// TestInFlightLimit (issue 19, case 10): with Config.InFlight answers
// being computed, one more /complete (or /stats) is answered 503 with
// Retry-After at once; batches being applied have slots of their own; PUT
// and GET of one key take no slot; once the held work returns, requests
// are served again.
func TestInFlightLimit(t *testing.T) {
	idx := &blocking{Index: newIndex(t, "sharded"), entered: make(chan struct{}), release: make(chan struct{})}
	c := startWith(t, idx, Config{InFlight: 2})
	var wg sync.WaitGroup
	codes := make(chan int, 4)
	for _, r := range [][2]string{{"GET", "/complete?prefix=a"}, {"GET", "/complete?prefix=b"}, {"POST", "/batch"}, {"POST", "/batch"}} {
		wg.Go(func() {
			code, _ := c.do(r[0], r[1], strings.NewReader(`{"op":"put","key":"b","value":"1"}`), nil)
			codes <- code
		})
	}
	testutil.Within(t, "two /complete and two batches entering the index", func() {
		for range 4 {
			<-idx.entered
		}
	})
	c.busy("GET", "/complete?prefix=c", "", "2 requests of this kind")
	c.busy("GET", "/stats", "", "2 requests of this kind")
	c.busy("GET", "/debug/vars", "", "2 requests of this kind")
	c.busy("POST", "/batch", `{"op":"put","key":"c","value":"1"}`, "2 requests of this kind")
	if code, body := c.do("PUT", "/keys/a", strings.NewReader("1"), nil); code != 201 {
		t.Fatalf("PUT beside full slots: %d %s", code, body)
	}
	if code, body := c.do("GET", "/keys/a", nil, nil); code != 200 {
		t.Fatalf("GET beside full slots: %d %s", code, body)
	}
	close(idx.release)
	testutil.Within(t, "the held requests", wg.Wait)
	for range 4 {
		if code := <-codes; code != 200 {
			t.Fatalf("held request: %d", code)
		}
	}
	if l := c.limits(); l.Busy != 4 || l.AnswersInFlight != 1 || l.BatchesInFlight != 0 || l.InFlight != 2 || l.MemoryInUse != 0 {
		t.Fatalf("limits after: %+v", l)
	}
}

// TestSlowUploadsHoldOnlyTheirBytes (issue 19, cases 10 and 12): PUTs
// whose bodies stall hold no slot, only the buffer of what they sent
// (charged to Config.Memory); other PUTs and batches are served beside
// them, until Memory runs out: then 503 with Retry-After, and 413 for one
// that alone needs more; everything comes back when they end.
func TestSlowUploadsHoldOnlyTheirBytes(t *testing.T) {
	c := startWith(t, newIndex(t, "locked"), Config{InFlight: 2, Memory: 64 << 10})
	var wg sync.WaitGroup
	var pws []*io.PipeWriter
	stall := func(n int) { // n more PUTs whose bodies stall after one byte
		for range n {
			i := len(pws)
			pr, pw := io.Pipe()
			pws = append(pws, pw)
			wg.Go(func() {
				req, _ := http.NewRequest("PUT", c.base+fmt.Sprintf("/keys/slow%d", i), pr)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 201 {
					t.Errorf("slow PUT: %d", resp.StatusCode)
				}
			})
			pw.Write([]byte("x")) // the rest of the body comes at the end
		}
	}
	defer func() { // before the server's Close waits for the handlers
		for _, pw := range pws {
			pw.Close()
		}
	}()
	const slow = 10
	stall(slow)
	waitFor(t, "the slow PUTs' first buffers", func() bool { return c.limits().MemoryInUse == slow*4<<10 })
	// 40 KiB of 64 held: a 10 KiB value (a 16 KiB buffer) fits, a batch too.
	if code, body := c.do("PUT", "/keys/k", strings.NewReader(strings.Repeat("v", 10<<10)), nil); code != 201 {
		t.Fatalf("PUT beside slow ones: %d %s", code, body)
	}
	if code, body := c.do("POST", "/batch", strings.NewReader(`{"op":"put","key":"b","value":"1"}`), nil); code != 200 {
		t.Fatalf("batch beside slow PUTs: %d %s", code, body)
	}
	// A 30 KiB value needs a 32 KiB buffer: not now.
	c.busy("PUT", "/keys/k2", strings.Repeat("v", 30<<10), "request memory")
	// 100 KiB needs more than all of it: 413.
	if code, body := c.do("PUT", "/keys/k3", strings.NewReader(strings.Repeat("v", 100<<10)), nil); code != 413 || !strings.Contains(body, "send it in parts") {
		t.Fatalf("a value over the memory: %d %s", code, body)
	}
	for _, k := range []string{"k2", "k3"} {
		if code, _ := c.do("GET", "/keys/"+k, nil, nil); code != 404 {
			t.Fatalf("refused PUT of %s applied", k)
		}
	}
	// 6 more fill it: writes wait, small answers do not.
	stall(6)
	waitFor(t, "the memory full", func() bool { return c.limits().MemoryInUse == 64<<10 })
	c.busy("PUT", "/keys/k4", "v", "request memory")
	if code, body := c.do("GET", "/complete?prefix=slow", nil, nil); code != 200 {
		t.Fatalf("a small answer with the memory full: %d %s", code, body)
	}
	for _, pw := range pws {
		pw.Close()
	}
	testutil.Within(t, "the slow PUTs", wg.Wait)
	if l := c.limits(); l.MemoryInUse != 0 {
		t.Fatalf("memory held after every request ended: %+v", l)
	}
	if code, body := c.do("PUT", "/keys/k2", strings.NewReader(strings.Repeat("v", 30<<10)), nil); code != 201 {
		t.Fatalf("PUT after: %d %s", code, body)
	}
}

// TestBatchMemoryCap (issue 19, case 12): the batches share
// Config.Memory with every other request: while one, its body stalled,
// holds half of it, another is answered 503 with Retry-After and nothing
// of it applied; one that alone needs more is 413; the memory comes back
// when a batch is answered, whatever its fate.
func TestBatchMemoryCap(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			const budget = 256 << 10
			c := startWith(t, newIndex(t, backend), Config{Memory: budget})
			lines := func(from, size int) string {
				var b strings.Builder
				for i := from; b.Len() < size; i++ {
					fmt.Fprintf(&b, `{"op":"put","key":"k%06d","value":"%s"}`+"\n", i, strings.Repeat("v", 1000))
				}
				return b.String()
			}
			// Batch A: 100 KiB (a 128 KiB buffer), then its body stalls.
			a := lines(0, 100<<10)
			pr, pw := io.Pipe()
			defer pw.Close() // before the server's Close waits for the handler
			done := make(chan int, 1)
			go func() {
				code, body := c.do("POST", "/batch", pr, nil)
				if code != 200 {
					t.Errorf("batch A: %d %s", code, body)
				}
				done <- code
			}()
			pw.Write([]byte(a))
			waitFor(t, "batch A's body charged", func() bool { return c.limits().MemoryInUse == 128<<10 })

			// Batch B: 100 KiB too; its body fits beside A's, its parsed
			// writes do not.
			b := lines(100_000, 100<<10)
			c.busy("POST", "/batch", b, "request memory")
			if code, _ := c.do("GET", "/keys/k100000", nil, nil); code != 404 {
				t.Fatal("batch B half applied")
			}
			pw.Close()
			testutil.Within(t, "batch A", func() { <-done })
			if l := c.limits(); l.MemoryInUse != 0 || l.Memory != budget {
				t.Fatalf("after: %+v", l)
			}
			if code, body := c.do("POST", "/batch", strings.NewReader(b), nil); code != 200 {
				t.Fatalf("batch B alone: %d %s", code, body)
			}
			if code, _ := c.do("GET", "/keys/k000000", nil, nil); code != 200 {
				t.Fatal("batch A's first line missing")
			}
			// Alone, a batch that needs more than the memory: 413, also
			// when its size is not announced.
			big := lines(200_000, 200<<10)
			if code, body := c.do("POST", "/batch", strings.NewReader(big), nil); code != 413 || !strings.Contains(body, "send it in parts") {
				t.Fatalf("a batch over the memory: %d %s", code, body)
			}
			if code, body := c.do("POST", "/batch", io.MultiReader(strings.NewReader(big)), nil); code != 413 || !strings.Contains(body, "send it in parts") {
				t.Fatalf("a chunked batch over the memory: %d %s", code, body)
			}
		})
	}
}

// TestWeirdKeysRefused (issue 19, case 13): keys, values and prefixes that
// are not valid UTF-8, raw or as escaped lone surrogates, are refused with
// 400 and nothing applied: "\ud800" and "\udc00" no longer both become
// U+FFFD. A surrogate pair and an escaped backslash are fine, and every
// accepted key comes back byte for byte.
func TestWeirdKeysRefused(t *testing.T) {
	for _, backend := range []string{"sharded", "locked"} {
		t.Run(backend, func(t *testing.T) {
			c, _ := startServer(t, backend)
			for _, bad := range []struct{ method, path, body, want string }{
				{"POST", "/batch", `{"op":"put","key":"\ud800","value":"a"}`, `line 1: \ud800 at byte 19 is a lone UTF-16 surrogate`},
				{"POST", "/batch", `{"op":"put","key":"ok","value":"v"}` + "\n" + `{"op":"put","key":"\udc00","value":"b"}`, `line 2: \udc00`},
				{"POST", "/batch", `{"op":"put","key":"x\ud83d","value":"a"}`, "lone UTF-16 surrogate"},
				{"POST", "/batch", `{"op":"put","key":"x\ud83d\u0041","value":"a"}`, "lone UTF-16 surrogate"},
				{"POST", "/batch", `{"op":"put","key":"k","value":"\uDFFF"}`, "lone UTF-16 surrogate"},
				{"POST", "/batch", "{\"op\":\"put\",\"key\":\"k\xff\",\"value\":\"a\"}", "line 1: line \"{\\\"op\\\":\\\"put\\\",\\\"key\\\":\\\"k\\xff\\\",\\\"value\\\":\\\"a\\\"}\" is not valid UTF-8 (byte 20)"},
				{"POST", "/batch", "{\"op\":\"delete\",\"key\":\"\xc3\"}", "not valid UTF-8"},
				{"PUT", "/keys/%FF", "v", `key "\xff" is not valid UTF-8 (byte 0)`},
				{"PUT", "/keys/ok%C3", "v", "byte 2"},
				{"GET", "/keys/%ED%A0%80", "", "not valid UTF-8"}, // a surrogate encoded in UTF-8 (CESU): invalid
				{"DELETE", "/keys/%FF", "", "not valid UTF-8"},
				{"PUT", "/keys/ok", "a\xffb", `value "a\xffb" is not valid UTF-8 (byte 1)`},
				{"GET", "/complete?prefix=%C3", "", "prefix"},
			} {
				var e struct{ Error string }
				code, body := c.do(bad.method, bad.path, strings.NewReader(bad.body), &e)
				if code != 400 || !strings.Contains(e.Error, bad.want) {
					t.Errorf("%s %s %q: %d %s; want 400 with %q", bad.method, bad.path, bad.body, code, body, bad.want)
				}
			}
			m := map[string]string{}
			c.checkAll(m) // nothing applied
			good := `{"op":"put","key":"\ud83d\ude00","value":"\\ud800"}` + "\n" + `{"op":"put","key":"a\\udc00","value":"\u00e9"}`
			if code, body := c.do("POST", "/batch", strings.NewReader(good), nil); code != 200 {
				t.Fatalf("surrogate pair and escaped backslashes: %d %s", code, body)
			}
			m["😀"], m[`a\udc00`] = `\ud800`, "é"
			c.checkAll(m)
			for k, v := range m {
				var kv keyValue
				if code, body := c.do("GET", keyPath(k), nil, &kv); code != 200 || kv != (keyValue{k, v}) {
					t.Fatalf("GET %q: %d %s", k, code, body)
				}
			}
		})
	}
}

func TestLoneSurrogate(t *testing.T) {
	for in, want := range map[string]int{
		`"a"`: -1, `"\ud800"`: 1, `"\udc00"`: 1, `"\ud83d\ude00"`: -1, `"\ud83d\ud83d"`: 1,
		`"\\ud800"`: -1, `"\\\ud800"`: 3, `"x\ud83d"`: 2, `"\u0041\uD800\u0042"`: 7, `"\uDBFF\uDFFF"`: -1,
		`"\ud83d\ude0"`: 1, `"\ud83d\\ude00"`: 1, `{"k":"\n\ud800"}`: 8,
	} {
		if got := loneSurrogate([]byte(in)); got != want {
			t.Errorf("loneSurrogate(%s) = %d, want %d", in, got, want)
		}
	}
}

// FuzzJSONLen: jsonLen is what encoding/json writes for any bytes, valid
// UTF-8 or not, the quotes included.
func FuzzJSONLen(f *testing.F) {
	for _, s := range []string{"", "abc", "<&>", "\u2028\u2029", "\x00\x1f\x7f", "\b\f\n\r\t\"\\", "\xff\xc3é😀", "\xed\xa0\x80"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		b, err := json.Marshal(string(s))
		if err != nil {
			t.Fatal(err)
		}
		if got := jsonLen(s); got != len(b) {
			t.Fatalf("jsonLen(%q) = %d, json.Marshal writes %d: %s", s, got, len(b), b)
		}
	})
}

// FuzzBatchLine: any line is accepted with its key and value exactly as a
// strict decoder reads them, or refused with an error; never rewritten.
// The strict reading: the line is valid UTF-8, has no lone surrogate, and
// re-encoding what was decoded and decoding again gives the same strings.
func FuzzBatchLine(f *testing.F) {
	for _, s := range []string{`{"op":"put","key":"k","value":"v"}`, `{"op":"put","key":"\ud800","value":"v"}`,
		`{"op":"delete","key":"\ud83d\ude00"}`, "{\"op\":\"put\",\"key\":\"\xff\",\"value\":\"\"}", `{"op":"put","key":"\\ud800","value":"\u00e9"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		mem := budget{total: 1 << 30}
		ops, charged, err := parseBatch(strings.NewReader(line), &mem)
		if mem.used.Load() != charged {
			t.Fatalf("charged %d, budget holds %d", charged, mem.used.Load())
		}
		if err != nil {
			return
		}
		for _, op := range ops {
			for _, s := range []string{op.Key, op.Value} {
				b, _ := json.Marshal(s)
				var back string
				if json.Unmarshal(b, &back); back != s || !utf8.ValidString(s) {
					t.Fatalf("accepted %q from %q: not kept exactly", s, line)
				}
			}
		}
		if strings.ContainsRune(line, '\uFFFD') {
			return // a literal U+FFFD is valid and kept
		}
		for _, op := range ops {
			if strings.ContainsRune(op.Key, '\uFFFD') || strings.ContainsRune(op.Value, '\uFFFD') {
				if !strings.Contains(strings.ToLower(line), `\ufffd`) {
					t.Fatalf("U+FFFD appeared from %q: a rewrite", line)
				}
			}
		}
	})
}

// TestBatchAfterStop: a write refused because the runtime stopped is a 503
// that says what was applied (nothing for a PUT; counts for a batch).
func TestWriteAfterStop(t *testing.T) {
	tr, err := shards.NewTrie[string](shards.TrieConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), runtime.Config{Workers: 2, Spin: runtime.NoSpin}, tr)
	if err != nil {
		t.Fatal(err)
	}
	c := startWith(t, NewSharded(rt, tr), Config{})
	if code, _ := c.do("PUT", "/keys/a", strings.NewReader("1"), nil); code != 201 {
		t.Fatal(code)
	}
	rt.Stop(context.Background())
	var e struct {
		Error           string
		Applied, Failed *int
	}
	if code, body := c.do("PUT", "/keys/b", strings.NewReader("1"), &e); code != 503 || !strings.Contains(e.Error, "nothing applied") || e.Applied != nil {
		t.Fatalf("PUT after Stop: %d %s", code, body)
	}
	if code, body := c.do("POST", "/batch", strings.NewReader(`{"op":"put","key":"c","value":"v"}`+"\n"+`{"op":"delete","key":"a"}`), &e); code != 503 || e.Error == "" {
		t.Fatalf("batch after Stop: %d %s", code, body)
	}
	c.checkAll(map[string]string{"a": "1"})
}

// TestErrorsAreJSON (issue 19, case 16): unknown paths and wrong methods
// are answered with the API's JSON error (and Allow for a 405), not the
// mux's plain text.
func TestErrorsAreJSON(t *testing.T) {
	c, _ := startServer(t, "sharded")
	for _, r := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/nothing-here", 404, ""},
		{"GET", "/complete/", 404, ""},
		{"POST", "/complete", 405, "GET, HEAD"},
		{"GET", "/batch", 405, "POST"},
		{"DELETE", "/stats", 405, "GET, HEAD"},
		{"PUT", "/debug/vars", 405, "GET, HEAD"},
		{"POST", "/", 405, "GET, HEAD"},
		{"PATCH", "/keys/a", 405, "GET, HEAD, PUT, DELETE"},
		{"BREW", "/keys/a", 405, "GET, HEAD, PUT, DELETE"},
	} {
		req, _ := http.NewRequest(r.method, c.base+r.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		derr := json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != r.code || resp.Header.Get("Content-Type") != "application/json" || derr != nil || e.Error == "" || resp.Header.Get("Allow") != r.allow {
			t.Errorf("%s %s: %d %q Allow %q, %q %v; want %d JSON, Allow %q", r.method, r.path, resp.StatusCode,
				resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), e.Error, derr, r.code, r.allow)
		}
	}
}

// TestStatsHaveNoMailbox (issue 19, case 17): writes no longer go through
// the workers' mailboxes, so /stats no longer shows a mailbox depth that
// is always 0.
func TestStatsHaveNoMailbox(t *testing.T) {
	c, _ := startServer(t, "sharded")
	_, body := c.do("GET", "/stats", nil, nil)
	if strings.Contains(body, "mailbox") || !strings.Contains(body, `"limits"`) {
		t.Fatalf("/stats: %s", body)
	}
	b, _ := page.ReadFile("page/index.html")
	if strings.Contains(string(b), "mailbox") {
		t.Fatal("the page still shows a mailbox column")
	}
}

// FuzzKeyValueRoundTrip: any key and value bytes are stored and read back
// byte for byte (GET and /complete), or refused with 400; never rewritten.
func FuzzKeyValueRoundTrip(f *testing.F) {
	for _, s := range [][2]string{{"a", "v"}, {"\xff", "v"}, {"k", "\xed\xa0\x80"}, {"a//b/..", "é😀"}, {"<&>\u2028", "\x00"}, {"", "x"}} {
		f.Add(s[0], s[1])
	}
	s := New(NewLocked(), Config{})
	f.Fuzz(func(t *testing.T, key, value string) {
		do := func(method, target, body string) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest(method, target, strings.NewReader(body)))
			return rec
		}
		put := do("PUT", keyPath(key), value)
		valid := key != "" && len(key) <= trie.MaxKeyLen && len(value) <= MaxValue && utf8.ValidString(key) && utf8.ValidString(value)
		if !valid {
			if put.Code != 400 && put.Code != 413 {
				t.Fatalf("PUT %q = %q: %d %s, want 400", key, value, put.Code, put.Body)
			}
			return
		}
		if put.Code != 200 && put.Code != 201 {
			t.Fatalf("PUT %q = %q: %d %s", key, value, put.Code, put.Body)
		}
		var kv keyValue
		get := do("GET", keyPath(key), "")
		if json.Unmarshal(get.Body.Bytes(), &kv); get.Code != 200 || kv != (keyValue{key, value}) {
			t.Fatalf("GET %q: %d %s, want the value %q", key, get.Code, get.Body, value)
		}
		var comp completion
		got := do("GET", "/complete?limit=1000&prefix="+url.QueryEscape(key), "")
		if json.Unmarshal(got.Body.Bytes(), &comp); got.Code != 200 || comp.Prefix != key || len(comp.Keys) == 0 || comp.Keys[0] != key {
			t.Fatalf("complete %q: %d %.200s", key, got.Code, got.Body)
		}
		do("DELETE", keyPath(key), "")
	})
}
