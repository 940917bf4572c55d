package testutil

import "testing"

func TestRepeatedPrefix(t *testing.T) {
	for msg, want := range map[string]string{
		"runtime: invalid config: Config.Workers = -1":               "",
		"runtime: Config.Workers = -1: runtime: invalid config":      "runtime: ",
		"trie: key too long (load: value of key \"a\")":              "",
		"shards: load: (trie: corrupt stream)":                       "",
		"shards: too many shards: 9 workers":                         "",
		"runtime: attach structure 0: shards: too many shards: 9":    "",
		"cluster: no leader; cluster: closed":                        "cluster: ",
		"shards: load: shards: invalid router: a shard out of range": "shards: ",
		"trie: load: (trie: corrupt stream: truncated in a block)":   "trie: ",
	} {
		if got := RepeatedPrefix(msg); got != want {
			t.Errorf("RepeatedPrefix(%q) = %q, want %q", msg, got, want)
		}
	}
}
