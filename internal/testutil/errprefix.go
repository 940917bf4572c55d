package testutil

import (
	"strings"
	"testing"
)

// errPrefixes are the prefixes the module's packages put on their errors.
// The convention (docs/design.md, "Conventions"): a package adds its
// prefix once — its sentinels carry it, and an error that wraps one of its
// own sentinels puts the sentinel first ("%w: detail") instead of adding
// the prefix again. An error from another package keeps that package's
// prefix: "runtime: attach structure 0: shards: invalid router" is fine.
var errPrefixes = []string{
	"primitives: ", "mailbox: ", "runtime: ", "pool: ", "trie: ",
	"shards: ", "cluster: ",
}

// RepeatedPrefix returns the first package prefix that occurs more than
// once in msg as a prefix (at the start, or after ": ", "(" or "; "; not
// as the end of a word, as in "too many shards: 9"), or "" when none does.
func RepeatedPrefix(msg string) string {
	for _, p := range errPrefixes {
		n := 0
		for i := 0; i+len(p) <= len(msg); i++ {
			if msg[i:i+len(p)] == p && (i == 0 || msg[i-1] == '(' ||
				strings.HasSuffix(msg[:i], ": ") || strings.HasSuffix(msg[:i], "; ")) {
				n++
			}
		}
		if n > 1 {
			return p
		}
	}
	return ""
}

// CheckErrors fails t for every error in errs that is nil or whose message
// repeats a package prefix.
func CheckErrors(t testing.TB, errs map[string]error) {
	t.Helper()
	for name, err := range errs {
		switch {
		case err == nil:
			t.Errorf("%s: no error", name)
		case RepeatedPrefix(err.Error()) != "":
			t.Errorf("%s: prefix %q repeated in %q", name, RepeatedPrefix(err.Error()), err.Error())
		}
	}
}
