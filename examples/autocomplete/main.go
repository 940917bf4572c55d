// Command autocomplete loads a word list into a sharded trie and serves
// prefix completions: each line read from stdin is a prefix, answered with
// up to -limit completions in order (lock-free reads merged across shards).
//
//	go run ./examples/autocomplete [-limit N] [WORDFILE] < prefixes
//
// With no word file it uses a small built-in list. Words are split on
// white space; lines of any length are read, and a word over
// trie.MaxKeyLen is an error naming its line. Ctrl-C (or the end of the
// prefixes) stops it cleanly with a summary; -h exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zipora-go/zipora/internal/exampleutil"
	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
	"github.com/zipora-go/zipora/structures/trie"
)

func main() {
	os.Exit(exampleutil.Main(context.Background(), "autocomplete", os.Args[1:], os.Stdin, os.Stdout, os.Stderr, run))
}

// builtin is the word list used without a word file.
const builtin = `actor affinity allocate allocation allocator arena atomic barrier batch
benchmark bound buffer cache channel chunk class compare concurrent consumer
context core counter deadline drain epoch exhausted fence flag fragment
freeze futex garbage goroutine growth handoff hash heap huge index invariant
iterate iterator key label latency lease level linearizable local lock
lockfree mailbox memory merge message mutex node offset order owner padding
park parker patricia pin pool prefix producer publish queue range reader
reclaim retire ring route router runtime scan scheduler segment seek
sequence shard slab snapshot spin stack stats stop structure task thread
throughput token topology trie version wake worker writer yield`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("autocomplete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limit := fs.Int("limit", 5, "completions per prefix")
	workers := fs.Int("workers", 0, "workers = shards (0 = one per usable CPU)")
	if err := exampleutil.Parse(fs, args, 1); err != nil {
		return err
	}
	if *limit <= 0 || *workers < 0 {
		return exampleutil.Usagef("autocomplete [-limit N>0] [-workers N>=0] [WORDFILE]")
	}
	var words io.Reader = strings.NewReader(builtin)
	name := "the built-in list"
	if fs.NArg() == 1 {
		r, closeWords, err := exampleutil.Open(ctx, fs.Arg(0), stdin)
		if err != nil {
			return err
		}
		defer closeWords()
		words, name = r, fs.Arg(0)
	}

	// Values are word frequencies in the list: a repeated word counts up.
	counts := map[string]int{}
	err := exampleutil.ReadLines(words, 0, func(line []byte, n int) error {
		for _, w := range strings.Fields(string(line)) {
			if len(w) > trie.MaxKeyLen {
				return fmt.Errorf("line %d: word %s over the limit of %d bytes", n, exampleutil.QuoteKey([]byte(w)), trie.MaxKeyLen)
			}
			counts[strings.ToLower(w)]++
		}
		return nil
	})
	if interrupted(ctx, err) {
		fmt.Fprintf(stdout, "interrupted while reading %s: %d words read, none answered\n", name, len(counts))
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}

	tr, err := shards.NewTrie[int](shards.TrieConfig{}) // sized by the runtime: one shard per worker
	if err != nil {
		return err
	}
	rt, err := runtime.Start(ctx, runtime.Config{Workers: *workers}, tr)
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())
	b := tr.Batch()
	for w, n := range counts {
		b.Insert([]byte(w), n)
	}
	if err := b.Commit(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d words loaded on %d shards; type a prefix per line\n", tr.Len(), rt.Workers())

	// A signal ends the reading at once, even while stdin has nothing to
	// say (ContextReader).
	answered := 0
	err = exampleutil.ReadLines(exampleutil.ContextReader(ctx, stdin), 0, func(line []byte, _ int) error {
		answer(stdout, tr, strings.ToLower(strings.TrimSpace(string(line))), *limit)
		answered++
		return nil
	})
	if err != nil && !interrupted(ctx, err) {
		return err
	}
	fmt.Fprintf(stdout, "answered %d prefixes\n", answered)
	return rt.Stop(context.Background())
}

// interrupted reports whether err is ctx's: the run was stopped by a
// signal.
func interrupted(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// answer prints up to limit completions of p.
func answer(w io.Writer, tr *shards.Trie[int], p string, limit int) {
	var got []string
	for k, n := range tr.Prefix([]byte(p)) {
		if len(got) == limit {
			break
		}
		if n > 1 {
			got = append(got, fmt.Sprintf("%s(%d)", k, n))
		} else {
			got = append(got, string(k))
		}
	}
	if len(got) == 0 {
		fmt.Fprintf(w, "%s: no completion\n", p)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", p, strings.Join(got, " "))
}
