package cluster

import (
	"encoding/binary"
	"fmt"

	"github.com/zipora-go/zipora/structures/trie"
)

// The commands in the Raft log, in a compact binary form:
//
//	command = version(1 byte, cmdVersion) kind(1 byte) body
//	put     : uvarint(len key) key value            (the value is the rest)
//	delete  : key                                   (the rest)
//	batch   : uvarint(n) n × op
//	op      : kind(1 byte: put or delete) uvarint(len key) key [uvarint(len value) value]
//
// A log entry is immutable once written, so every version ever written must
// stay decodable: a new form gets a new version byte, and the FSM keeps the
// old decoders. An entry the FSM cannot decode (written by a newer node)
// fails that command on every replica alike: determinism is kept.
const cmdVersion = 1

const (
	kindPut    = 1
	kindDelete = 2
	kindBatch  = 3
)

// MaxKeyLen is the longest key, in bytes (the trie's limit).
const MaxKeyLen = trie.MaxKeyLen

// MaxCommandBytes bounds one command in the log: a put, or the part of a
// batch that falls in one range (ErrTooLarge beyond).
const MaxCommandBytes = 64 << 20

// Op is one write of a batch: a put of Value under Key, or a delete of Key.
type Op struct {
	Key    []byte
	Value  []byte
	Delete bool
}

func checkKey(key []byte) error {
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %s", ErrKeyTooLong, quote(key))
	}
	return nil
}

func encodePut(key, value []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 2+binary.MaxVarintLen32+len(key)+len(value))
	b = append(b, cmdVersion, kindPut)
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(append(b, key...), value...)
	return checkSize(b)
}

func encodeDelete(key []byte) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return append([]byte{cmdVersion, kindDelete}, key...), nil
}

func encodeBatch(ops []Op) ([]byte, error) {
	n := 2 + binary.MaxVarintLen64
	for _, op := range ops {
		if err := checkKey(op.Key); err != nil {
			return nil, err
		}
		n += 1 + 2*binary.MaxVarintLen32 + len(op.Key) + len(op.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, cmdVersion, kindBatch)
	b = binary.AppendUvarint(b, uint64(len(ops)))
	for _, op := range ops {
		if op.Delete {
			b = append(b, kindDelete)
			b = binary.AppendUvarint(b, uint64(len(op.Key)))
			b = append(b, op.Key...)
			continue
		}
		b = append(b, kindPut)
		b = binary.AppendUvarint(b, uint64(len(op.Key)))
		b = append(b, op.Key...)
		b = binary.AppendUvarint(b, uint64(len(op.Value)))
		b = append(b, op.Value...)
	}
	return checkSize(b)
}

func checkSize(b []byte) ([]byte, error) {
	if len(b) > MaxCommandBytes {
		return nil, fmt.Errorf("%w: %d bytes in one command (max %d)", ErrTooLarge, len(b), MaxCommandBytes)
	}
	return b, nil
}

// decodedOp is one write of a decoded command; key and value alias the
// log entry's bytes.
type decodedOp struct {
	kind       byte
	key, value []byte
}

// decodeCommand parses a whole command before anything is applied, so that
// a malformed one changes nothing (a batch is all or nothing). It appends
// to ops and returns the command's kind.
func decodeCommand(b []byte, ops []decodedOp) (byte, []decodedOp, error) {
	if len(b) < 2 {
		return 0, ops, fmt.Errorf("%w: command of %d bytes", ErrProtocol, len(b))
	}
	if b[0] != cmdVersion {
		return 0, ops, fmt.Errorf("%w: command version %d (this node reads %d)", ErrProtocol, b[0], cmdVersion)
	}
	kind, b := b[1], b[2:]
	switch kind {
	case kindPut:
		key, rest, err := lenPrefixed(b)
		if err != nil {
			return 0, ops, err
		}
		ops = append(ops, decodedOp{kindPut, key, rest})
		return kind, ops, checkKeys(ops)
	case kindDelete:
		if len(b) > MaxKeyLen {
			return 0, ops, fmt.Errorf("%w: %s", ErrKeyTooLong, quote(b))
		}
		return kind, append(ops, decodedOp{kindDelete, b, nil}), nil
	case kindBatch:
		n, w := binary.Uvarint(b)
		if w <= 0 || n > uint64(len(b)) {
			return 0, ops, fmt.Errorf("%w: batch count", ErrProtocol)
		}
		b = b[w:]
		for range n {
			if len(b) == 0 {
				return 0, ops, fmt.Errorf("%w: batch cut short", ErrProtocol)
			}
			k := b[0]
			key, rest, err := lenPrefixed(b[1:])
			if err != nil {
				return 0, ops, err
			}
			switch k {
			case kindDelete:
				ops, b = append(ops, decodedOp{kindDelete, key, nil}), rest
			case kindPut:
				val, rest2, err := lenPrefixed(rest)
				if err != nil {
					return 0, ops, err
				}
				ops, b = append(ops, decodedOp{kindPut, key, val}), rest2
			default:
				return 0, ops, fmt.Errorf("%w: batch op kind %d", ErrProtocol, k)
			}
		}
		if len(b) != 0 {
			return 0, ops, fmt.Errorf("%w: %d bytes after a batch", ErrProtocol, len(b))
		}
		return kind, ops, checkKeys(ops)
	}
	return 0, ops, fmt.Errorf("%w: command kind %d", ErrProtocol, kind)
}

// lenPrefixed splits uvarint(len) bytes off b.
func lenPrefixed(b []byte) (field, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, fmt.Errorf("%w: length prefix", ErrProtocol)
	}
	return b[w : w+int(n)], b[w+int(n):], nil
}

// checkKeys refuses a decoded command with a key the trie would refuse, so
// that the FSM applies all of a batch or none of it.
func checkKeys(ops []decodedOp) error {
	for _, op := range ops {
		if err := checkKey(op.key); err != nil {
			return err
		}
	}
	return nil
}
