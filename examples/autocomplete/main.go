// Command autocomplete loads a word list into a sharded trie and serves
// prefix completions: each line read from stdin is a prefix, answered with
// up to -limit completions in order (lock-free reads merged across shards).
//
//	go run ./examples/autocomplete [-limit N] [WORDFILE] < prefixes
//
// With no word file it uses a small built-in list.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/zipora-go/zipora/runtime"
	"github.com/zipora-go/zipora/shards"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "autocomplete:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

var errUsage = errors.New("usage")

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
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 1 || *limit <= 0 || *workers < 0 {
		return fmt.Errorf("%w: autocomplete [-limit N>0] [-workers N>=0] [WORDFILE]", errUsage)
	}
	var words io.Reader = strings.NewReader(builtin)
	if fs.NArg() == 1 {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		words = f
	}

	// Values are word frequencies in the list: a repeated word counts up.
	tr := shards.NewTrie[int]()
	rt, err := runtime.Start(ctx, runtime.Config{Workers: *workers}, tr)
	if err != nil {
		return err
	}
	defer rt.Stop(context.Background())

	counts := map[string]int{}
	sc := bufio.NewScanner(words)
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		counts[strings.ToLower(sc.Text())]++
	}
	if err := sc.Err(); err != nil {
		return err
	}
	b := tr.Batch()
	for w, n := range counts {
		b.Insert([]byte(w), n)
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d words loaded on %d shards; type a prefix per line\n", tr.Len(), rt.Workers())

	in := bufio.NewScanner(stdin)
	for in.Scan() {
		p := strings.ToLower(strings.TrimSpace(in.Text()))
		var got []string
		for k, n := range tr.Prefix([]byte(p)) {
			if len(got) == *limit {
				break
			}
			if n > 1 {
				got = append(got, fmt.Sprintf("%s(%d)", k, n))
			} else {
				got = append(got, string(k))
			}
		}
		if len(got) == 0 {
			fmt.Fprintf(stdout, "%s: no completion\n", p)
			continue
		}
		fmt.Fprintf(stdout, "%s: %s\n", p, strings.Join(got, " "))
	}
	if err := in.Err(); err != nil {
		return err
	}
	return rt.Stop(ctx)
}
