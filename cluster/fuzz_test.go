package cluster

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to every decoder of data from the log,
// from peers and from snapshots: none may panic or allocate beyond the
// input's bounds, and what encodes decodes back.
func FuzzDecode(f *testing.F) {
	p, _ := encodePut([]byte("key"), []byte("value"))
	d, _ := encodeDelete([]byte("k"))
	b, _ := encodeBatch([]Op{{Key: []byte("a"), Value: []byte("1")}, {Key: []byte("b"), Delete: true}})
	for _, s := range [][]byte{p, d, b, {1}, {1, 3, 200}, request{op: opGet, rangeID: 2, body: []byte("k")}.encode(),
		encodeScan([]KV{{Key: []byte("a"), Value: "b"}}, true, 9), encodeScanReq(7, []byte("p"), []byte("pq"))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, ops, err := decodeCommand(in, nil); err == nil {
			// re-encoding the decoded ops as a batch decodes to the same ops
			var bops []Op
			for _, o := range ops {
				bops = append(bops, Op{Key: o.key, Value: o.value, Delete: o.kind == kindDelete})
			}
			enc, err := encodeBatch(bops)
			if err != nil {
				t.Fatal(err)
			}
			_, again, err := decodeCommand(enc, nil)
			if err != nil || len(again) != len(ops) {
				t.Fatalf("re-decode: %d ops, %v", len(again), err)
			}
			for i := range ops {
				if !bytes.Equal(again[i].key, ops[i].key) || !bytes.Equal(again[i].value, ops[i].value) {
					t.Fatalf("op %d changed", i)
				}
			}
		}
		if q, err := decodeRequest(in); err == nil {
			if !bytes.Equal(q.encode(), in) && q.timeout%1e6 == 0 {
				// a request re-encodes to itself (uvarints may be
				// non-minimal in the input, so only decode again)
				if _, err := decodeRequest(q.encode()); err != nil {
					t.Fatal(err)
				}
			}
		}
		_, _, _ = decodeScan(in, nil)
		if limit, prefix, after, err := decodeScanReq(in); err == nil {
			// what decodes re-encodes to bytes that decode to the same parts
			l2, p2, a2, err := decodeScanReq(encodeScanReq(limit, prefix, after))
			if err != nil || l2 != limit || !bytes.Equal(p2, prefix) || !bytes.Equal(a2, after) {
				t.Fatalf("scan request re-decoded as %d %q %q, %v; want %d %q %q", l2, p2, a2, err, limit, prefix, after)
			}
		}
		_, _ = decodeResp(in)
		_, _, _ = decodeIDAddr(in)
		_, _ = loadState(bytes.NewReader(in))
		_, _ = readSnapshotHeader(bytes.NewReader(in))
	})
}
