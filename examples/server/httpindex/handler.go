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
	"net/url"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

// Limits of the API.
const (
	MaxValue      = 1 << 20  // bytes of a value (a PUT body, a batch line's value)
	MaxBatchBody  = 64 << 20 // bytes of a POST /batch body
	DefaultLimit  = 10       // completions when /complete has no limit
	MaxLimit      = 1000     // the largest limit of /complete
	maxBatchLines = 1 << 20
	// maxBatchLine bounds one NDJSON line: a key and a value of the
	// largest sizes, every byte escaped as \u00XX, and the rest of the line.
	maxBatchLine = 6*(trie.MaxKeyLen+MaxValue) + 256
	// opCost is what one parsed write costs beyond its line and its
	// decoded key and value: the Op and the growth of the slice of them.
	opCost = 128
)

// Defaults of Config.
const (
	DefaultCompleteBytes = 1 << 20   // Config.CompleteBytes
	DefaultInFlight      = 64        // Config.InFlight
	DefaultMemory        = 256 << 20 // Config.Memory
	// MinCompleteBytes is the smallest CompleteBytes that still fits any
	// one key (trie.MaxKeyLen bytes, each escaped as \u00XX) in an answer;
	// the server's flag refuses less.
	MinCompleteBytes = 6*trie.MaxKeyLen + 1
)

// Config bounds what requests may take from the server. The zero value
// means the defaults.
type Config struct {
	// CompleteBytes bounds the keys of one /complete answer: their JSON
	// encodings, a comma each, total at most this many bytes; a cut answer
	// has "more": true. 0 means DefaultCompleteBytes.
	CompleteBytes int
	// InFlight bounds the expensive work done at once, per kind: answers
	// computed (/complete, /stats, /debug/vars) and batches parsed and
	// applied (POST /batch, once its body has arrived). One over the bound
	// is answered 503 with Retry-After at once, not queued. A slot is held
	// for the work only, never while a client is slow to send or to read.
	// 0 means DefaultInFlight.
	InFlight int
	// Memory bounds the bytes that requests hold together while clients
	// send and read: PUT values and batch bodies as they arrive (the
	// buffer, at most twice what arrived), a batch's parsed writes (its
	// keys and values again, and 128 bytes per write) until it is
	// answered, and /complete answers over 64 KiB until they are written
	// (smaller ones stay possible while uploads hold all of it). A request
	// that would go over it is answered 503 with Retry-After (413 when it
	// alone needs more), nothing applied. A slow client thus holds only the
	// bytes it sent or has yet to read, until its timeout. 0 means
	// DefaultMemory.
	Memory int64
}

func (c Config) withDefaults() Config {
	if c.CompleteBytes <= 0 {
		c.CompleteBytes = DefaultCompleteBytes
	}
	if c.InFlight <= 0 {
		c.InFlight = DefaultInFlight
	}
	if c.Memory <= 0 {
		c.Memory = DefaultMemory
	}
	return c
}

//go:embed page/index.html
var page embed.FS

// Server is the HTTP face of an Index: an http.Handler. Every answer,
// errors included, is JSON (but the page at /); see examples/server for
// the API.
type Server struct {
	mux      *http.ServeMux
	idx      Index
	cfg      Config
	maxBatch int64         // MaxBatchBody; smaller in tests
	answers  chan struct{} // a slot per answer being computed
	batches  chan struct{} // a slot per batch being parsed and applied
	mem      budget        // Config.Memory
	start    time.Time
	requests atomic.Uint64
	busy     atomic.Uint64 // requests answered 503 for a limit
}

// New returns the service's handler over idx, bounded by cfg.
func New(idx Index, cfg Config) *Server {
	cfg = cfg.withDefaults()
	mux := http.NewServeMux()
	s := &Server{mux: mux, idx: idx, cfg: cfg, maxBatch: MaxBatchBody, start: time.Now(),
		answers: make(chan struct{}, cfg.InFlight), batches: make(chan struct{}, cfg.InFlight)}
	s.mem.total = cfg.Memory
	mux.HandleFunc("GET /complete", s.complete)
	mux.HandleFunc("POST /batch", s.batch)
	mux.HandleFunc("GET /stats", s.limited(s.answers, s.stats))
	mux.HandleFunc("GET /debug/vars", s.limited(s.answers, s.vars))
	mux.HandleFunc("GET /{$}", s.page)
	// The same paths with any other method, and any other path: JSON
	// errors, not the mux's plain text (a pattern with a method wins over
	// one without).
	for path, allow := range map[string]string{"/complete": "GET, HEAD", "/batch": "POST", "/stats": "GET, HEAD", "/debug/vars": "GET, HEAD", "/{$}": "GET, HEAD"} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			fail(w, http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", exampleutil.QuoteKey([]byte(r.Method)), r.URL.Path, allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, http.StatusNotFound, "no such path %s: see the API (/complete, /keys/{key}, /batch, /stats, /debug/vars)", exampleutil.QuoteKey([]byte(r.URL.Path)))
	})
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
		fail(w, http.StatusMethodNotAllowed, "method %s not allowed on /keys/ (allowed: GET, HEAD, PUT, DELETE)", exampleutil.QuoteKey([]byte(r.Method)))
	}
}

// limited serves h while it holds a slot of sem; when every slot is taken
// it answers 503 with Retry-After at once.
func (s *Server) limited(sem chan struct{}, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.acquire(w, sem) {
			return
		}
		defer func() { <-sem }()
		h(w, r)
	}
}

// acquire takes a slot of sem, or answers 503 with Retry-After and
// reports false when every slot is taken. The caller gives the slot back
// with <-sem.
func (s *Server) acquire(w http.ResponseWriter, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		s.tooBusy(w, "%d requests of this kind being worked on", cap(sem))
		return false
	}
}

// memoryError is returned when Config.Memory cannot cover what a request
// needs next: Need is what the request would then hold.
type memoryError struct{ Need int64 }

func (e *memoryError) Error() string { return fmt.Sprintf("request memory: %d bytes needed", e.Need) }

// memoryRefused answers a request refused by Config.Memory, nothing
// applied: 413 when it alone needs more (retrying cannot help), 503 with
// Retry-After otherwise.
func (s *Server) memoryRefused(w http.ResponseWriter, e *memoryError, what string) {
	if e.Need > s.mem.total {
		fail(w, http.StatusRequestEntityTooLarge, "%s needs more than the server's request memory (%d bytes); nothing applied: send it in parts", what, s.mem.total)
		return
	}
	s.tooBusy(w, "the request memory (%d bytes) is in use by other requests", s.mem.total)
}

// readBody reads a request body of at most limit bytes into a buffer
// charged to s.mem as it grows (doubling from 4 KiB: at most twice what
// arrived; what Content-Length only promises is not charged, but a
// Content-Length that alone needs more than s.mem is refused at once). The
// caller gives back charged, also after an error.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, charged int64, err error) {
	if cl := r.ContentLength; cl > 0 && cl <= limit {
		if c := bufferFor(cl); c > s.mem.total {
			return nil, 0, &memoryError{c}
		}
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	for {
		if len(body) == cap(body) {
			if int64(len(body)) == r.ContentLength { // all of it, unless the body lies
				var one [1]byte
				if n, err := rd.Read(one[:]); n == 0 && err == io.EOF {
					return body, charged, nil
				}
			}
			grow := int64(max(4<<10, cap(body)))
			if !s.mem.take(grow) {
				return nil, charged, &memoryError{charged + grow}
			}
			charged += grow
			nb := make([]byte, len(body), int64(cap(body))+grow) // cap exactly as charged
			copy(nb, body)
			body = nb
		}
		n, err := rd.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, charged, nil
		}
		if err != nil {
			return nil, charged, err
		}
	}
}

// bufferFor is the capacity readBody reaches for a body of n bytes.
func bufferFor(n int64) int64 {
	c := int64(4 << 10)
	for c < n {
		c *= 2
	}
	return c
}

// freeAnswer is the size up to which an answer is not charged to
// Config.Memory: small answers stay possible while uploads hold all of it
// (they are bounded by the connections, -max-conns × 64 KiB).
const freeAnswer = 64 << 10

// writeCharged writes a prepared JSON answer, charging its bytes to s.mem
// until written (a client slow to read holds them, not a slot); an answer
// of at most freeAnswer bytes is not charged.
func (s *Server) writeCharged(w http.ResponseWriter, b []byte) {
	n := int64(cap(b))
	if len(b) <= freeAnswer {
		n = 0
	}
	if !s.mem.take(n) {
		s.memoryRefused(w, &memoryError{n}, "the answer")
		return
	}
	defer s.mem.give(n)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// tooBusy answers 503 with Retry-After: 1.
func (s *Server) tooBusy(w http.ResponseWriter, format string, a ...any) {
	s.busy.Add(1)
	w.Header().Set("Retry-After", "1")
	fail(w, http.StatusServiceUnavailable, "busy: %s; nothing applied, retry later", fmt.Sprintf(format, a...))
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
	return checkUTF8("key", key)
}

// checkUTF8 refuses a string that is not valid UTF-8: JSON would carry it
// as U+FFFD, so it would come back other than it went in (and two keys
// could collide). what names the string in the error.
func checkUTF8(what, s string) error {
	if utf8.ValidString(s) {
		return nil
	}
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		i += size
	}
	return fmt.Errorf("%s %s is not valid UTF-8 (byte %d): keys and values must be UTF-8", what, exampleutil.QuoteKey([]byte(s)), i)
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
// that goes away cannot leave a write half-done with no answer.
func writeCtx(r *http.Request) context.Context { return context.WithoutCancel(r.Context()) }

// CompleteQuery is what a /complete request asks: the keys that start
// with Prefix and sort after After (empty: from the first), at most Limit.
type CompleteQuery struct {
	Prefix, After string
	Limit         int
}

// ParseComplete reads and checks /complete's parameters: prefix and after
// valid UTF-8 of at most trie.MaxKeyLen bytes, limit from 1 to MaxLimit
// (DefaultLimit when absent). Its errors are the 400 answer's text.
func ParseComplete(q url.Values) (CompleteQuery, error) {
	c := CompleteQuery{Prefix: q.Get("prefix"), After: q.Get("after"), Limit: DefaultLimit}
	for _, p := range [...]struct{ name, v string }{{"prefix", c.Prefix}, {"after", c.After}} {
		if len(p.v) > trie.MaxKeyLen {
			return c, fmt.Errorf("%s %s over the limit of %d bytes", p.name, exampleutil.QuoteKey([]byte(p.v)), trie.MaxKeyLen)
		}
		if err := checkUTF8(p.name, p.v); err != nil {
			return c, err
		}
	}
	if q.Has("limit") {
		l := q.Get("limit")
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			return c, fmt.Errorf("limit %s: want an integer from 1 to %d", exampleutil.QuoteKey([]byte(l)), MaxLimit)
		}
		c.Limit = n
	}
	return c, nil
}

// CompleteAnswer is /complete's answer. When More is true, the next page
// is the same query with after set to the last key.
type CompleteAnswer struct {
	Prefix string   `json:"prefix"`
	Keys   []string `json:"keys"`
	More   bool     `json:"more"`
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request) {
	c, err := ParseComplete(r.URL.Query())
	if err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if b, ok := s.completeJSON(w, c); ok {
		s.writeCharged(w, b) // the slot bounds the work; the bytes are charged while written
	}
}

// completeJSON computes the answer of /complete under an answer slot.
func (s *Server) completeJSON(w http.ResponseWriter, c CompleteQuery) ([]byte, bool) {
	if !s.acquire(w, s.answers) {
		return nil, false
	}
	defer func() { <-s.answers }()
	keys, more := s.idx.Complete(c.Prefix, c.After, c.Limit, s.cfg.CompleteBytes)
	var buf bytes.Buffer
	json.NewEncoder(&buf).Encode(CompleteAnswer{c.Prefix, keys, more})
	return buf.Bytes(), true
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

// writeFailed answers a write the index refused (the runtime is
// stopping): 503, and for a batch what was applied.
func writeFailed(w http.ResponseWriter, err error) {
	if be, ok := errors.AsType[*shards.BatchError](err); ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(struct {
			Error   string `json:"error"`
			Applied int    `json:"applied"`
			Failed  int    `json:"failed"`
		}{fmt.Sprintf("%v; the batch is partly applied: re-read its keys or send it again", err), be.Total - be.Failed, be.Failed})
		return
	}
	if errors.Is(err, ErrMaybeApplied) {
		fail(w, http.StatusServiceUnavailable, "%v; it may or may not be applied: re-read the key or send it again", err)
		return
	}
	fail(w, http.StatusServiceUnavailable, "%v; nothing applied", err)
}

// ErrMaybeApplied is matched (errors.Is) by an Index's write error whose
// outcome is unknown (a replicated index whose leader changed during the
// commit): the answer then says so instead of "nothing applied".
var ErrMaybeApplied = errors.New("httpindex: outcome unknown")

func (s *Server) put(w http.ResponseWriter, r *http.Request, key string) {
	if err := checkKey(key); err != nil {
		fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	body, charged, err := s.readBody(w, r, MaxValue)
	defer s.mem.give(charged)
	if me, ok := errors.AsType[*memoryError](err); ok {
		s.memoryRefused(w, me, "the value")
		return
	}
	if err != nil {
		bodyError(w, err, "value", MaxValue, "reading the value: ")
		return
	}
	if err := checkUTF8("value", string(body)); err != nil {
		fail(w, http.StatusBadRequest, "%v; nothing applied", err)
		return
	}
	created, err := s.idx.Put(writeCtx(r), key, string(body))
	if err != nil {
		writeFailed(w, err)
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
		writeFailed(w, err)
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
// are skipped. Each line is charged to mem before it is decoded (its
// length: its key and value are at most as long; and opCost), on top of
// the body already charged; the caller gives back the returned charge,
// also after an error.
func parseBatch(body io.Reader, mem *budget) (ops []Op, charged int64, err error) {
	err = exampleutil.ReadLines(body, maxBatchLine, func(line []byte, n int) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		if len(ops) == maxBatchLines {
			return fmt.Errorf("line %d: more than %d writes in one batch", n, maxBatchLines)
		}
		// The line, then (at most as long) its key and value, and an Op.
		cost := int64(len(line)) + opCost
		if !mem.take(cost) {
			return &memoryError{charged + cost}
		}
		charged += cost
		if !utf8.Valid(line) {
			return fmt.Errorf("line %d: %w", n, checkUTF8("line", string(line)))
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
		// encoding/json turns an escaped lone surrogate into U+FFFD: two
		// keys would collide, and a key would not come back as sent.
		if i := loneSurrogate(line); i >= 0 {
			return fmt.Errorf("line %d: %s at byte %d is a lone UTF-16 surrogate: keys and values must be valid UTF-8", n, line[i:i+6], i)
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
	return ops, charged, err
}

// loneSurrogate returns the offset in the raw JSON b of a \u escape of a
// UTF-16 surrogate that is not half of a pair, or -1. b must be valid
// JSON: a backslash is then always inside a string and starts an escape.
func loneSurrogate(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if b[i+1] != 'u' {
			i++ // a two-byte escape: \\ \" \n ...
			continue
		}
		r := hex4(b[i+2:])
		switch {
		case r < 0xD800 || r > 0xDFFF: // not a surrogate (or not hex: invalid JSON)
			i += 5
		case r >= 0xDC00: // a low half first
			return i
		case i+12 <= len(b) && b[i+6] == '\\' && b[i+7] == 'u' && hex4(b[i+8:]) >= 0xDC00 && hex4(b[i+8:]) <= 0xDFFF:
			i += 11 // a pair
		default:
			return i
		}
	}
	return -1
}

// hex4 decodes the 4 hex digits at the start of b, or returns -1.
func hex4(b []byte) int {
	if len(b) < 4 {
		return -1
	}
	v := 0
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			v = v<<4 | int(c-'A'+10)
		default:
			return -1
		}
	}
	return v
}

// jsonLen returns the length of s as encoding/json writes it in a string
// (HTML escaping on, its default), without the quotes.
func jsonLen(s []byte) int {
	n := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n + 2
}

// budget is a count of bytes that concurrent users take from and give
// back; the zero value with total set is ready.
type budget struct {
	total int64
	used  atomic.Int64 // acq/rel: a CAS loop keeps used <= total
}

// take takes n bytes if they fit.
func (b *budget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.total {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// give gives back n bytes.
func (b *budget) give(n int64) { b.used.Add(-n) }

func (s *Server) batch(w http.ResponseWriter, r *http.Request) {
	// The body first, charged as it arrives: a slow client holds no slot.
	body, bodyCharged, err := s.readBody(w, r, s.maxBatch)
	defer s.mem.give(bodyCharged)
	if me, ok := errors.AsType[*memoryError](err); ok {
		s.memoryRefused(w, me, "the batch")
		return
	}
	if err != nil {
		bodyError(w, err, "batch", s.maxBatch, "")
		return
	}
	if !s.acquire(w, s.batches) {
		return
	}
	defer func() { <-s.batches }()
	ops, charged, err := parseBatch(bytes.NewReader(body), &s.mem)
	defer s.mem.give(charged)
	if me, ok := errors.AsType[*memoryError](err); ok {
		me.Need += bodyCharged
		s.memoryRefused(w, me, "the batch")
		return
	}
	if err != nil {
		bodyError(w, err, "batch", s.maxBatch, "")
		return
	}
	if err := s.idx.Apply(writeCtx(r), ops); err != nil {
		writeFailed(w, err)
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
	Limits   Limits       `json:"limits"`
}

// Limits is the part of a Report about the bounds of Config: each bound
// and how much of it is in use.
type Limits struct {
	CompleteBytes   int    `json:"complete_bytes"`    // Config.CompleteBytes
	InFlight        int    `json:"in_flight"`         // Config.InFlight, per kind
	AnswersInFlight int    `json:"answers_in_flight"` // /complete, /stats, /debug/vars being computed
	BatchesInFlight int    `json:"batches_in_flight"` // POST /batch being parsed and applied
	Memory          int64  `json:"memory"`            // Config.Memory
	MemoryInUse     int64  `json:"memory_in_use"`     // held by bodies, parsed batches, answers being written
	Busy            uint64 `json:"busy"`              // requests answered 503 for a limit
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
		Uptime: time.Since(s.start).Round(time.Millisecond).String(), Shards: s.idx.Stats(),
		Limits: Limits{CompleteBytes: s.cfg.CompleteBytes, InFlight: s.cfg.InFlight,
			AnswersInFlight: len(s.answers), BatchesInFlight: len(s.batches),
			Memory: s.mem.total, MemoryInUse: s.mem.used.Load(), Busy: s.busy.Load()}}
	for _, sh := range rep.Shards {
		rep.Keys += sh.Keys
		rep.Memory.ArenaBytes += sh.ArenaBytes
		rep.Memory.ValueBytes += sh.ValueBytes
	}
	// runtime/metrics, not runtime.ReadMemStats: no stop-the-world per
	// request of /stats.
	ms := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/objects:objects"},
		{Name: "/memory/classes/total:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(ms)
	rep.Memory.HeapAlloc, rep.Memory.HeapObjects, rep.Memory.Sys = ms[0].Value.Uint64(), ms[1].Value.Uint64(), ms[2].Value.Uint64()
	rep.Memory.NumGC = uint32(ms[3].Value.Uint64())
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
