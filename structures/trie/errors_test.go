package trie

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
	"github.com/zipora-go/zipora/structures/pool"
)

// TestErrorPrefixOnce walks the package's sentinels and a sample of the
// errors that wrap them: each names the package once, and errors.Is still
// matches.
func TestErrorPrefixOnce(t *testing.T) {
	errs := map[string]error{
		"ErrKeyTooLong": ErrKeyTooLong, "ErrLevel": ErrLevel, "ErrSelfWait": ErrSelfWait, "ErrUnsorted": ErrUnsorted,
		"ErrNotStream": ErrNotStream, "ErrVersion": ErrVersion, "ErrCorrupt": ErrCorrupt,
		"ErrTooLarge": ErrTooLarge,
	}
	must := func(name string, err, target error) {
		t.Helper()
		if !errors.Is(err, target) {
			t.Errorf("%s: %v does not match %v", name, err, target)
		}
		errs[name] = err
	}
	long := bytes.Repeat([]byte{'k'}, MaxKeyLen+1)
	tr := mustNew[string]()
	_, err := tr.Insert(long, "v")
	must("Trie.Insert", err, ErrKeyTooLong)
	c, err := NewConcurrent[string](primitives.OneWriteMultiRead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Insert(long, "v")
	must("Concurrent.Insert", err, ErrKeyTooLong)
	_, err = NewConcurrent[string](primitives.SingleThreadStrict, Config{})
	must("NewConcurrent", err, ErrLevel)

	unsorted := func(yield func([]byte, string) bool) {
		_ = yield([]byte("b"), "1") && yield([]byte("a"), "2")
	}
	var buf bytes.Buffer
	_, err = Save(&buf, unsorted, StringCodec())
	must("Save unsorted", err, ErrUnsorted)
	b, err := NewBuilder[string](Config{})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Add([]byte("b"), "1")
	must("Builder unsorted", b.Add([]byte("a"), "2"), ErrUnsorted)
	bad := Codec[string]{
		Append: func(dst []byte, v string) ([]byte, error) { return nil, errors.New("no encoding") },
		Decode: func([]byte) (string, error) { return "", errUint64Len },
	}
	tr.Insert([]byte("a"), "1")
	tr.Insert([]byte("b"), "2")
	_, err = Save(&buf, tr.All(), bad)
	errs["Save with a codec error"] = err // a user's error: the prefix once
	buf.Reset()
	if _, err := Save(&buf, tr.All(), StringCodec()); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	_, err = Load(bytes.NewReader(data[:len(data)-3]), StringCodec(), Config{})
	must("Load truncated", err, ErrCorrupt)
	flip := slices.Clone(data)
	flip[len(flip)/2] ^= 0xff
	_, err = Load(bytes.NewReader(flip), StringCodec(), Config{})
	must("Load corrupt", err, ErrCorrupt)
	_, err = Load(strings.NewReader("not a stream at all, not at all"), StringCodec(), Config{})
	must("Load garbage", err, ErrNotStream)
	_, err = Load(bytes.NewReader(data), bad, Config{})
	errs["Load with a codec error"] = err
	_, err = LoadConcurrent(bytes.NewReader(data), primitives.OneWriteMultiRead, StringCodec(), Config{Pool: pool.Config{MaxBytes: 1}})
	errs["LoadConcurrent with a tiny pool"] = err
	testutil.CheckErrors(t, errs)
}
