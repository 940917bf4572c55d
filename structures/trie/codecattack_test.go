package trie

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zipora-go/zipora/internal/testutil"
	"github.com/zipora-go/zipora/primitives"
)

// TestLoadOtherCodec: a stream saved with one codec and loaded with a
// codec whose Decode rejects its values fails with ErrCorrupt (also
// wrapping the codec's error), names the key, and carries the package
// prefix once, in Load, LoadConcurrent and Scan (before: the error matched
// no exported sentinel, and read "trie: load: value of key …: trie: uint64
// value is not 8 bytes").
func TestLoadOtherCodec(t *testing.T) {
	src := mustNew[string]()
	src.Insert([]byte("key"), "a string value")
	var buf bytes.Buffer
	if _, err := src.Save(&buf, StringCodec()); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	custom := errors.New("custom codec refused")
	refusing := Codec[uint64]{Append: Uint64Codec().Append, Decode: func([]byte) (uint64, error) { return 0, custom }}
	errs := map[string]error{}
	for name, load := range map[string]func(r io.Reader, c Codec[uint64]) error{
		"Load": func(r io.Reader, c Codec[uint64]) error { _, err := Load(r, c, Config{}); return err },
		"LoadConcurrent": func(r io.Reader, c Codec[uint64]) error {
			_, err := LoadConcurrent(r, primitives.MultiWriteMultiRead, c, Config{})
			return err
		},
		"Scan": func(r io.Reader, c Codec[uint64]) error {
			_, err := Scan(r, c, func([]byte, uint64) error { return nil })
			return err
		},
	} {
		err := load(bytes.NewReader(data), Uint64Codec())
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, errUint64Len) || !bytes.Contains([]byte(err.Error()), []byte(`"key"`)) {
			t.Errorf("%s with Uint64Codec: %v", name, err)
		}
		errs[name+"/uint64"] = err
		err = load(bytes.NewReader(data), refusing)
		if !errors.Is(err, ErrCorrupt) || !errors.Is(err, custom) {
			t.Errorf("%s with a refusing codec: %v", name, err)
		}
		errs[name+"/custom"] = err
	}
	testutil.CheckErrors(t, errs)
}
