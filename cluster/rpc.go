package cluster

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"
)

// Requests between nodes:
//
//	request = version(1 byte, rpcVersion) op(1 byte) layout(4 bytes LE) uvarint(range) uvarint(timeout ms) body
//	answer  = code(1 byte: 0 success, else the error's code, errors.go) body-or-error-detail
//
// Bodies by op:
//
//	opApply     command (command.go)          → uvarint(result n) uvarint(commit index)
//	opGet       key                           → found(1 byte) uvarint(applied index) value
//	opScan      uvarint(limit) uvarint(len prefix) prefix after
//	                                          → uvarint(applied index) more(1 byte) uvarint(n) n × (uvarint(len) key uvarint(len) value)
//	opAddVoter  uvarint(len id) id addr       → (empty)
//	opRemove    id                            → (empty)
//	opTransfer  uvarint(len id) id addr       → (empty)
//	opJoin      uvarint(len id) id addr       → (empty)   (to any member: adds a voter on every range)
//
// layout is the sender's layoutSum (its range count and boundaries): a
// node answers a request whose layout is not its own with ErrConfig, so a
// node configured with other ranges can neither join nor route a key to a
// Raft group the others do not route it to.
const rpcVersion = 3 // 3: opScan carries after

const (
	opApply = iota + 1
	opGet
	opScan
	opAddVoter
	opRemove
	opTransfer
	opJoin
)

type request struct {
	op      byte
	layout  uint32 // the sender's layoutSum
	rangeID int
	timeout time.Duration
	body    []byte
}

func (q request) encode() []byte {
	b := make([]byte, 0, 6+2*binary.MaxVarintLen64+len(q.body))
	b = append(b, rpcVersion, q.op)
	b = binary.LittleEndian.AppendUint32(b, q.layout)
	b = binary.AppendUvarint(b, uint64(q.rangeID))
	b = binary.AppendUvarint(b, uint64(q.timeout/time.Millisecond))
	return append(b, q.body...)
}

func decodeRequest(b []byte) (request, error) {
	if len(b) < 6 || b[0] != rpcVersion {
		return request{}, fmt.Errorf("%w: request version", ErrProtocol)
	}
	q := request{op: b[1], layout: binary.LittleEndian.Uint32(b[2:])}
	b = b[6:]
	r, w := binary.Uvarint(b)
	if w <= 0 || r > 1<<16 {
		return request{}, fmt.Errorf("%w: request range", ErrProtocol)
	}
	b = b[w:]
	ms, w := binary.Uvarint(b)
	if w <= 0 || ms > uint64(time.Hour/time.Millisecond) {
		return request{}, fmt.Errorf("%w: request timeout", ErrProtocol)
	}
	q.rangeID, q.timeout, q.body = int(r), time.Duration(ms)*time.Millisecond, b[w:]
	return q, nil
}

func encodeErrResp(err error) []byte {
	code, detail := errCode(err)
	return append([]byte{code}, detail...)
}

func okResp(body []byte) []byte { return append([]byte{0}, body...) }

// decodeResp splits an answer into its body or its error.
func decodeResp(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty answer", ErrProtocol)
	}
	if b[0] != 0 {
		return nil, decodeErr(b[0], string(b[1:]))
	}
	return b[1:], nil
}

// idAddr is the body of opAddVoter, opTransfer and opJoin.
func encodeIDAddr(id, addr string) []byte {
	b := binary.AppendUvarint(nil, uint64(len(id)))
	return append(append(b, id...), addr...)
}

func decodeIDAddr(b []byte) (id, addr string, err error) {
	f, rest, err := lenPrefixed(b)
	if err != nil {
		return "", "", err
	}
	return string(f), string(rest), nil
}

// layoutSum is a checksum of a node's range count and boundaries, which
// every node of a cluster must share (Config).
func layoutSum(bounds [][]byte) uint32 {
	b := binary.AppendUvarint(nil, uint64(len(bounds)+1))
	for _, x := range bounds {
		b = binary.AppendUvarint(b, uint64(len(x)))
		b = append(b, x...)
	}
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}
