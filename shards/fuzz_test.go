package shards_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/structures/trie"
)

// FuzzTrieWrites: a byte program of single writes and batches against a
// sharded trie of 3 shards and a map model. Each op byte picks insert,
// delete or batch; the next byte is a key length (up to 255, empty keys
// included), then the key. After every op the trie answers Get like the
// model; at the end All yields the model's keys in order.
func FuzzTrieWrites(f *testing.F) {
	f.Add([]byte("\x00\x03abc\x01\x03abc\x02\x02xy\x00\x00"))
	f.Add([]byte("\x00\x01a\x00\x02ab\x00\x03abc\x01\x02ab\x02\x01a"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		tr := mustTrie[int]()
		rt, err := startRT(3, tr)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Stop(context.Background())
		ctx := context.Background()
		model := map[string]int{}
		b := tr.Batch()
		for i := 0; i+1 < len(prog); {
			op, n := prog[i]%3, int(prog[i+1])
			i += 2
			key := prog[i:min(i+n, len(prog))]
			i += n
			switch op {
			case 0:
				added, err := tr.Insert(ctx, key, i)
				_, had := model[string(key)]
				if err != nil || added == had {
					t.Fatalf("Insert %q: added %v (had %v), %v", key, added, had, err)
				}
				model[string(key)] = i
			case 1:
				old, found, err := tr.Delete(ctx, key)
				want, had := model[string(key)]
				if err != nil || found != had || old != want {
					t.Fatalf("Delete %q: %d %v, want %d %v (%v)", key, old, found, want, had, err)
				}
				delete(model, string(key))
			case 2:
				// A batch of the key and its extensions, then the key deleted
				// again if it is long: writes of one shard apply in order.
				b.Insert(key, -i)
				b.Insert(append(bytes.Clone(key), 'x'), i)
				model[string(key)] = -i
				model[string(key)+"x"] = i
				if len(key) > 3 {
					b.Delete(key)
					delete(model, string(key))
				}
				if err := b.Commit(ctx); err != nil {
					t.Fatalf("Commit: %v", err)
				}
			}
			want, had := model[string(key)]
			if v, ok := tr.Get(key); v != want || ok != had {
				t.Fatalf("Get %q after op %d: %d %v, want %d %v", key, op, v, ok, want, had)
			}
		}
		var got []string
		for k, v := range tr.All() {
			if model[string(k)] != v {
				t.Fatalf("All: %q = %d, want %d", k, v, model[string(k)])
			}
			got = append(got, string(k))
		}
		if want := slices.Sorted(maps.Keys(model)); !slices.Equal(got, want) {
			t.Fatalf("All yields %q, want %q", got, want)
		}
		if tr.Len() != len(model) {
			t.Fatalf("Len %d, want %d", tr.Len(), len(model))
		}
		if _, err := tr.Insert(ctx, make([]byte, trie.MaxKeyLen+1), 1); !errors.Is(err, trie.ErrKeyTooLong) {
			t.Fatalf("over-long key: %v", err)
		}
	})
}
