# zipora for Go — one target per mode. See README.md.
GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 10s
BENCHTIME   ?= 1s
BENCHCOUNT  ?= 1
BENCHCPU    ?= 1,2
BENCHOUT    ?= bench.txt

.PHONY: all test bench compare scale fuzz lint demo serve load cluster

all: test

# vet (here, and for darwin and windows: tests must build on every GOOS the
# library builds for), then every package under the race detector, then the
# production build (no -race: the pools' fast paths on, the one-writer arena
# unpadded, the trie tests at full size), then the primitives again with
# the portable futex fallback forced.
test:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	$(GO) test -race -count=1 ./...
	$(GO) test -count=1 ./...
	$(GO) test -race -count=1 -tags zipora_nofutex ./primitives/...

# Every benchmark, -benchmem, in the plain format benchstat reads.
# Override BENCHTIME/BENCHCOUNT/BENCHCPU/BENCHOUT, e.g. BENCHCOUNT=6 for benchstat.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -cpu $(BENCHCPU) ./... | tee $(BENCHOUT)

# Every package's peers side by side, one benchstat table per suite, into
# BENCHMARKS.md (COUNT, BENCHTIME, CPU override the defaults).
compare:
	./scripts/compare.sh

# The sharded trie and the runtime's hand-offs with their peers at
# -cpu 1,2,4,8,16 (those the machine has): a keys/s table per trie op and a
# table of runtime rows (COUNT, BENCHTIME, KEYS, CPUS override).
scale:
	./scripts/scale.sh

# Each fuzz target for FUZZTIME.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

# vet + staticcheck at a pinned version.
lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# The examples are built into BIN and run from there, not with `go run`:
# `go run` exits 1 on a signal whatever the program returned, so a clean
# Ctrl-C would read as a failure ("Error 1"). Built, a clean stop exits 0
# (when make itself is interrupted too, as from a terminal, make stops on
# the signal after the program has printed its summary, without an error).
BIN ?= bin
$(BIN)/%: FORCE
	$(GO) build -o $@ ./examples/$*
.PHONY: FORCE
FORCE:

# The main example; DEMOFLAGS adds flags, e.g. -keys FILE.
demo: $(BIN)/shardedtrie
	$(BIN)/shardedtrie $(DEMOFLAGS)

# The HTTP index service (examples/server) on ADDR, loaded with WORDS (the
# first word list found) when there is one; Ctrl-C stops it cleanly.
ADDR  ?= 127.0.0.1:8080
WORDS ?= $(firstword $(wildcard /usr/share/dict/words /usr/share/dict/american-english-insane))
serve: $(BIN)/server
	$(BIN)/server -addr $(ADDR) $(if $(WORDS),-keys $(WORDS)) $(SERVEFLAGS)

# The load generator (examples/load) against the server of `make serve`
# (run it in another terminal); LOADFLAGS adds flags, e.g. -duration 30s.
load: $(BIN)/load
	$(BIN)/load -url http://$(ADDR) $(if $(WORDS),-keys $(WORDS)) $(LOADFLAGS)

# Three examples/server nodes on 127.0.0.1 as a replicated index (package
# cluster), a load, then the leader of a range killed with SIGKILL: the
# failover time and whether every acknowledged write is still there.
# KILLS=N repeats the kill (restarting each killed node); see the script.
cluster:
	BIN=$(BIN) GO=$(GO) ./scripts/cluster/run.sh
