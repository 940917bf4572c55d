package httpindex

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"io"
	"net/http"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/structures/trie"
)

// Limits of the API.
const (
	MaxValue      = 1 << 20  // bytes of a value (a PUT body, a batch line's value)
	MaxBatchBody  = 64 << 20 // bytes of a POST /batch body
	DefaultLimit  = 10       // completions when /complete has no limit
	MaxLimit      = 1000     // the largest limit of /complete
	maxBatchLines = 1 << 20
)

//go:embed page/index.html
var page embed.FS

// Server is the HTTP face of an Index: an http.Handler.
type Server struct {
	mux      *http.ServeMux
	idx      Index
	maxBatch int64 // MaxBatchBody; smaller in tests
	start    time.Time
	requests atomic.Uint64
}

// New returns the service's handler over idx.
func New(idx Index) *Server {
	mux := http.NewServeMux()
	s := &Server{mux: mux, idx: idx, maxBatch: MaxBatchBody, start: time.Now()}
	mux.HandleFunc("GET /complete", s.complete)
	mux.HandleFunc("POST /batch", s.batch)
	mux.HandleFunc("GET /stats", s.stats)
	mux.HandleFunc("GET /debug/vars", s.vars)
	mux.HandleFunc("GET /{$}", s.page)
	return s
}

// ServeHTTP implements http.Handler. /keys/{key} is routed here, before
// the mux: the mux cleans paths (redirecting /keys/a//b and /keys/.. away),
// and a key is any byte string, "..", "a//b" and "/x" included; the key is
// the rest of the decoded path.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	key, ok := strings.CutPrefix(r.URL.Path, "/keys/")
	if !ok {
		s.mux.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, key)
	case http.MethodPut:
		s.put(w, r, key)
	case http.MethodDelete:
		s.del(w, r, key)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT, DELETE")
		fail(w, http.StatusMethodNotAllowed, "method %s not allowed on /keys/", r.Method)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v) // the client may be gone: nothing to do about it
}

func fail(w http.ResponseWriter, code int, format string, a ...any) {
	writeJSON(w, code, map[string]string{"error": fmt.Sprintf(format, a...)})
}

// checkKey says what is wrong with key, or nil.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > trie.MaxKeyLen:
		return fmt.Errorf("key %s over the limit of %d bytes", exampleutil.QuoteKey([]byte(key)), trie.MaxKeyLen)
	}
	return nil
}

// bodyError answers a request whose body could not be used, nothing
// applied: 413 when it is over limit, 400 otherwise.
func bodyError(w http.ResponseWriter, err error, what string, limit int64, context string) {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		fail(w, http.StatusRequestEntityTooLarge, "%s over the limit of %d bytes; nothing applied", what, limit)
		return
	}
	fail(w, http.StatusBadRequest, "%s%v; nothing applied", context, err)
}

// writeCtx is the context of a write: not the request's, so that a client
// that goes away cannot leave a write pending on its owner with no answer.
func writeCtx(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }

func (s *Server) complete(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	if len(prefix) > trie.MaxKeyLen {
		fail(w, http.StatusBadRequest, "prefix %s over the limit of %d bytes", exampleutil.QuoteKey([]byte(prefix)), trie.MaxKeyLen)
		return
	}
	limit := DefaultLimit
	if q.Has("limit") {
		l := q.Get("limit")
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			fail(w, http.StatusBadRequest, "limit %s: want an integer from 1 to %d", exampleutil.QuoteKey([]byte(l)), MaxLimit)
			return
		}
		limit = n
	}
	keys, more := s.idx.Complete(prefix, limit)
	writeJSON(w, http.StatusOK, struct {
		Prefix string   `json:"prefix"`
		Keys   []string `json:"keys"`
		More   bool     `json:"more"`
	}{prefix, keys, more})
}

type keyValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s *Server) get(w http.ResponseWriter, key string) {
	if err := checkKey(key); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	v, ok := s.idx.Get(key)
	if !ok {
		fail(w, http.StatusNotFound, "key %s not found", exampleutil.QuoteKey([]byte(key)))
		return
	}
	writeJSON(w, http.StatusOK, keyValue{key, v})
}

func (s *Server) put(w http.ResponseWriter, r *http.Request, key string) {
	if err := checkKey(key); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxValue))
	if err != nil {
		bodyError(w, err, "value", MaxValue, "reading the value: ")
		return
	}
	created, err := s.idx.Put(writeCtx(r), key, string(body))
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, keyValue{key, string(body)})
}

func (s *Server) del(w http.ResponseWriter, r *http.Request, key string) {
	if err := checkKey(key); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	found, err := s.idx.Delete(writeCtx(r), key)
	switch {
	case err != nil:
		fail(w, http.StatusServiceUnavailable, "%v", err)
	case !found:
		fail(w, http.StatusNotFound, "key %s not found", exampleutil.QuoteKey([]byte(key)))
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// batchLine is one NDJSON line of POST /batch.
type batchLine struct {
	Op    string  `json:"op"`
	Key   *string `json:"key"`
	Value *string `json:"value"`
}

// parseBatch validates every line before anything is applied. Blank lines
// are skipped.
func parseBatch(body io.Reader) ([]Op, error) {
	var ops []Op
	err := exampleutil.ReadLines(body, 0, func(line []byte, n int) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		if len(ops) == maxBatchLines {
			return fmt.Errorf("line %d: more than %d writes in one batch", n, maxBatchLines)
		}
		var bl batchLine
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&bl); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		if dec.More() {
			return fmt.Errorf("line %d: more than one JSON value", n)
		}
		if bl.Key == nil {
			return fmt.Errorf("line %d: no key", n)
		}
		if err := checkKey(*bl.Key); err != nil {
			return fmt.Errorf("line %d: %v", n, err)
		}
		switch bl.Op {
		case "put":
			if bl.Value == nil {
				return fmt.Errorf("line %d: put without a value", n)
			}
			if len(*bl.Value) > MaxValue {
				return fmt.Errorf("line %d: value of %d bytes over the limit of %d", n, len(*bl.Value), MaxValue)
			}
			ops = append(ops, Op{Key: *bl.Key, Value: *bl.Value})
		case "delete":
			if bl.Value != nil {
				return fmt.Errorf("line %d: delete takes no value", n)
			}
			ops = append(ops, Op{Delete: true, Key: *bl.Key})
		default:
			return fmt.Errorf(`line %d: op %s: want "put" or "delete"`, n, exampleutil.QuoteKey([]byte(bl.Op)))
		}
		return nil
	})
	return ops, err
}

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	ops, err := parseBatch(http.MaxBytesReader(w, r.Body, s.maxBatch))
	if err != nil {
		bodyError(w, err, "batch", s.maxBatch, "")
		return
	}
	if err := s.idx.Apply(writeCtx(r), ops); err != nil {
		fail(w, http.StatusServiceUnavailable, "%v", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"applied": len(ops)})
}

// Report is the body of /stats and the "index" variable of
// /debug/vars.
type Report struct {
	Backend  string       `json:"backend"`
	Keys     int          `json:"keys"`
	Requests uint64       `json:"requests"`
	Uptime   string       `json:"uptime"`
	Shards   []ShardStats `json:"shards"`
	Memory   MemStats     `json:"memory"`
}

// MemStats is the memory part of a Report.
type MemStats struct {
	ArenaBytes  int    `json:"arena_bytes"`  // trie nodes, all shards
	ValueBytes  int    `json:"value_bytes"`  // value slots, all shards
	HeapAlloc   uint64 `json:"heap_alloc"`   // Go heap in use
	HeapObjects uint64 `json:"heap_objects"` // Go heap objects
	Sys         uint64 `json:"sys"`          // memory obtained from the OS
	NumGC       uint32 `json:"num_gc"`
}

// Report returns the figures of /stats.
func (s *Server) Report() Report {
	rep := Report{Backend: s.idx.Name(), Requests: s.requests.Load(),
		Uptime: time.Since(s.start).Round(time.Millisecond).String(), Shards: s.idx.Stats()}
	for _, sh := range rep.Shards {
		rep.Keys += sh.Keys
		rep.Memory.ArenaBytes += sh.ArenaBytes
		rep.Memory.ValueBytes += sh.ValueBytes
	}
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	rep.Memory.HeapAlloc, rep.Memory.HeapObjects, rep.Memory.Sys, rep.Memory.NumGC = ms.HeapAlloc, ms.HeapObjects, ms.Sys, ms.NumGC
	return rep
}

func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Report())
}

// vars serves what expvar.Handler serves (every published variable:
// cmdline, memstats) plus this server's report as "index". The report is
// not published with expvar.Publish because that registry is process-wide
// and one process may run several servers (the tests do).
func (s *Server) vars(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	var buf bytes.Buffer
	buf.WriteString("{\n")
	expvar.Do(func(kv expvar.KeyValue) {
		fmt.Fprintf(&buf, "%q: %s,\n", kv.Key, kv.Value)
	})
	rep, _ := json.Marshal(s.Report())
	fmt.Fprintf(&buf, "%q: %s\n}\n", "index", rep)
	w.Write(buf.Bytes())
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, _ := page.ReadFile("page/index.html")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(b)
}
