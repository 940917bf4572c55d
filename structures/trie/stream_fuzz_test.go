package trie

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"testing"

	"github.com/zipora-go/zipora/primitives"
)

// fuzzPairs decodes data into sorted, distinct keys (over a small alphabet
// with 0x00 and 0xff, so that prefixes and splits are common) with values.
func fuzzPairs(data []byte) ([]string, map[string]string) {
	m := map[string]string{}
	for len(data) > 0 {
		n := int(data[0]) % 12
		data = data[1:]
		n = min(n, len(data))
		k := make([]byte, n)
		for i := range k {
			k[i] = []byte{0, 'a', 'b', 'c', 0xff}[data[i]%5]
		}
		data = data[n:]
		m[string(k)] = string(data[:min(len(data), n/2)])
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, m
}

// FuzzSaveLoad saves arbitrary key sets (in small blocks), loads them back
// in every form and checks the contents, and that Load built the trie
// Insert builds.
func FuzzSaveLoad(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 4, 1, 2, 3, 4, 0, 2, 1, 1})
	f.Add([]byte{0, 1, 1, 2, 1, 1, 3, 1, 1, 1})
	f.Add(bytes.Repeat([]byte{5, 1, 1, 2, 2, 3, 6, 1, 1, 2, 2, 3, 3}, 10))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, m := fuzzPairs(data)
		ins := mustNew[string]()
		for _, k := range keys {
			if _, err := ins.Insert([]byte(k), m[k]); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := saveBlocks(&buf, ins.All(), StringCodec(), 1+len(data)%64); err != nil {
			t.Fatal(err)
		}
		var tree bytes.Buffer
		old := testBlockTarget
		testBlockTarget = 1 + len(data)%64
		_, err := ins.Save(&tree, StringCodec())
		testBlockTarget = old
		if err != nil || !bytes.Equal(tree.Bytes(), buf.Bytes()) {
			t.Fatalf("Trie.Save differs from Save of All (%v)", err)
		}
		got, err := Load(bytes.NewReader(buf.Bytes()), StringCodec(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := got.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		if shapeOf(ins) != shapeOf(got) {
			t.Fatalf("shapes differ:\n%s\n%s", shapeOf(ins), shapeOf(got))
		}
		checkSame(t, "load", ins.All(), got.All())
		l := primitives.OneWriteMultiRead
		if len(data)%2 == 1 {
			l = primitives.MultiWriteMultiRead
		}
		c, err := LoadConcurrent(bytes.NewReader(buf.Bytes()), l, StringCodec(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		mustCheck(t, c)
		checkSame(t, "load concurrent", ins.All(), c.All())
		snap, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		defer snap.Close()
		var ss bytes.Buffer
		testBlockTarget = 1 + len(data)%64
		_, err = snap.Save(&ss, StringCodec())
		testBlockTarget = old
		if err != nil || !bytes.Equal(ss.Bytes(), buf.Bytes()) {
			t.Fatalf("Snapshot.Save differs from Save of All (%v)", err)
		}
		// The same keys split at a boundary into two tries (a range-routed
		// pair of shards): SaveSnapshots of both writes the same bytes.
		var lo, hi *Concurrent[string]
		if lo, err = NewConcurrent[string](l, Config{}); err == nil {
			hi, err = NewConcurrent[string](l, Config{})
		}
		if err != nil {
			t.Fatal(err)
		}
		cut := ""
		if len(keys) > 0 {
			cut = keys[len(data)%len(keys)]
		}
		for _, k := range keys {
			dst := lo
			if k >= cut {
				dst = hi
			}
			if _, err := dst.Insert([]byte(k), m[k]); err != nil {
				t.Fatal(err)
			}
		}
		var parts []*Snapshot[string]
		for _, c := range []*Concurrent[string]{lo, hi} {
			s, err := c.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			parts = append(parts, s)
		}
		var split bytes.Buffer
		testBlockTarget = 1 + len(data)%64
		_, err = SaveSnapshots(&split, parts, StringCodec())
		testBlockTarget = old
		if err != nil || !bytes.Equal(split.Bytes(), buf.Bytes()) {
			t.Fatalf("SaveSnapshots of a split differs from Save of All (%v)", err)
		}
	})
}

// FuzzLoad loads arbitrary bytes: never a panic or a hang; an error, or a
// valid trie that saves back to an equivalent stream.
func FuzzLoad(f *testing.F) {
	for _, keys := range keySets()[:12] {
		tr := mustNew[string]()
		for _, k := range keys {
			tr.Insert([]byte(k), k)
		}
		var buf bytes.Buffer
		saveBlocks(&buf, tr.All(), StringCodec(), 8)
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkLoaded(t, data)
	})
}

// FuzzLoadRecords frames arbitrary bytes as one block's payload of a
// stream with correct checksums and counts, so that the record parser and
// the builder see what the checksums would otherwise stop: bad varints,
// lengths past the end, keys out of order, repeated keys.
func FuzzLoadRecords(f *testing.F) {
	f.Add(byte(2), []byte{0, 1, 'a', 1, 'x', 1, 1, 'b', 0})
	f.Add(byte(2), []byte{0, 1, 'b', 0, 0, 1, 'a', 0})
	f.Add(byte(3), []byte{0, 0, 0, 0, 1, 'a', 0, 1, 1, 'b', 2, 'v', 'w'})
	f.Fuzz(func(t *testing.T, count byte, payload []byte) {
		checkLoaded(t, frameStream(int(count), payload))
	})
}

// frameStream wraps payload as a one-block stream with valid checksums and a
// trailer counting count records.
func frameStream(count int, payload []byte) []byte {
	out := []byte(streamMagic)
	out = append(out, streamVersion, 0, 0, 0)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
	if count > 0 {
		start := len(out)
		out = binary.AppendUvarint(out, uint64(count))
		out = binary.AppendUvarint(out, uint64(len(payload)))
		out = append(out, payload...)
		out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out[start:], castagnoli))
	}
	out = append(out, 0)
	out = binary.LittleEndian.AppendUint64(out, uint64(count))
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

func checkLoaded(t *testing.T, data []byte) {
	tr, err := Load(bytes.NewReader(data), StringCodec(), Config{})
	if err != nil {
		if tr != nil {
			t.Fatal("a trie and an error")
		}
		if _, err2 := LoadConcurrent(bytes.NewReader(data), primitives.OneWriteMultiRead, StringCodec(), Config{}); err2 == nil {
			t.Fatalf("Load failed (%v), LoadConcurrent did not", err)
		}
		return
	}
	if err := tr.CheckInvariants(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Save(&buf, tr.All(), StringCodec()); err != nil {
		t.Fatal(err)
	}
	again, err := Load(&buf, StringCodec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "reload", tr.All(), again.All())
	c, err := LoadConcurrent(bytes.NewReader(data), primitives.MultiWriteMultiRead, StringCodec(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	checkSame(t, "concurrent", tr.All(), c.All())
}
