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
// once in msg, or "" when none does.
func RepeatedPrefix(msg string) string {
	for _, p := range errPrefixes {
		if i := strings.Index(msg, p); i >= 0 && strings.Contains(msg[i+len(p):], p) {
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
