package cluster

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Requests between nodes:
//
//	request = version(1 byte, rpcVersion) op(1 byte) uvarint(range) uvarint(timeout ms) body
//	answer  = code(1 byte: 0 success, else the error's code, errors.go) body-or-error-detail
//
// Bodies by op:
//
//	opApply     command (command.go)          → uvarint(result n) uvarint(commit index)
//	opGet       key                           → found(1 byte) uvarint(applied index) value
//	opScan      uvarint(limit) prefix         → uvarint(applied index) more(1 byte) uvarint(n) n × (uvarint(len) key uvarint(len) value)
//	opAddVoter  uvarint(len id) id addr       → (empty)
//	opRemove    id                            → (empty)
//	opTransfer  uvarint(len id) id addr       → (empty)
//	opJoin      uvarint(len id) id addr       → (empty)   (to any member: adds a voter on every range)
const rpcVersion = 1

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
	rangeID int
	timeout time.Duration
	body    []byte
}

func (q request) encode() []byte {
	b := make([]byte, 0, 2+2*binary.MaxVarintLen64+len(q.body))
	b = append(b, rpcVersion, q.op)
	b = binary.AppendUvarint(b, uint64(q.rangeID))
	b = binary.AppendUvarint(b, uint64(q.timeout/time.Millisecond))
	return append(b, q.body...)
}

func decodeRequest(b []byte) (request, error) {
	if len(b) < 2 || b[0] != rpcVersion {
		return request{}, fmt.Errorf("%w: request version", ErrProtocol)
	}
	q := request{op: b[1]}
	b = b[2:]
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
