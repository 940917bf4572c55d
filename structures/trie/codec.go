package trie

import (
	"encoding"
	"encoding/binary"
	"fmt"
)

// Codec turns values into bytes and back for Save and Load (and Scan).
//
// It is a pair of functions, not an interface the value type implements,
// so that any V works — strings, byte slices, integers, structs from other
// packages that implement nothing — and so that an encoding appends straight
// into the stream's block buffer (Append) and a decoding reads straight out
// of it (Decode): no intermediate allocation per value. BinaryCodec adapts
// the encoding.BinaryMarshaler / BinaryUnmarshaler types; StringCodec,
// BytesCodec and Uint64Codec cover the common values.
//
// Append appends v's encoding to dst and returns the extended slice (as
// the append built-in does). Decode turns one encoding back into a value;
// src aliases the stream's buffer and is valid only during the call, so a
// Decode that keeps bytes must copy them. Errors from either are returned
// by Save or Load, wrapped with the key they concern.
//
// The zero Codec (both functions nil) stands for a set: Save writes a
// keys-only stream (no value bytes at all) and Load gives every key the
// zero V. Load also gives zero values, without calling Decode, when the
// trie stores no values (Config.NoValues, or a V of size zero). A Codec is
// a pair of function values: copy it freely.
type Codec[V any] struct {
	// Append appends v's encoding to dst.
	Append func(dst []byte, v V) ([]byte, error)
	// Decode decodes one value; src is only valid during the call.
	Decode func(src []byte) (V, error)
}

// keysOnly reports whether the codec writes no values.
func (c Codec[V]) keysOnly() bool { return c.Append == nil && c.Decode == nil }

// StringCodec stores strings as their bytes.
func StringCodec() Codec[string] {
	return Codec[string]{
		Append: func(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil },
		Decode: func(src []byte) (string, error) { return string(src), nil },
	}
}

// BytesCodec stores byte slices as they are; Decode returns a copy (a nil
// slice is decoded as an empty one).
func BytesCodec() Codec[[]byte] {
	return Codec[[]byte]{
		Append: func(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil },
		Decode: func(src []byte) ([]byte, error) { return append([]byte{}, src...), nil },
	}
}

// errUint64Len is Uint64Codec's Decode error for an encoding of the wrong
// size: ErrCorrupt.
var errUint64Len = fmt.Errorf("%w: uint64 value is not 8 bytes", ErrCorrupt)

// Uint64Codec stores uint64 values as 8 bytes, little-endian; Decode of
// any other length is an error matching ErrCorrupt.
func Uint64Codec() Codec[uint64] {
	return Codec[uint64]{
		Append: func(dst []byte, v uint64) ([]byte, error) { return binary.LittleEndian.AppendUint64(dst, v), nil },
		Decode: func(src []byte) (uint64, error) {
			if len(src) != 8 {
				return 0, fmt.Errorf("%w: %d bytes", errUint64Len, len(src))
			}
			return binary.LittleEndian.Uint64(src), nil
		},
	}
}

// BinaryCodec stores values of a type implementing
// encoding.BinaryMarshaler (its pointer implementing
// encoding.BinaryUnmarshaler), such as time.Time or netip.Addr. When V also
// implements encoding.BinaryAppender, Append uses it and allocates
// nothing. Decode calls UnmarshalBinary on a zero V with src, which the
// encoding package's contract says must be copied if kept.
func BinaryCodec[V encoding.BinaryMarshaler, PV interface {
	*V
	encoding.BinaryUnmarshaler
}]() Codec[V] {
	return Codec[V]{
		Append: func(dst []byte, v V) ([]byte, error) {
			if a, ok := any(v).(encoding.BinaryAppender); ok {
				return a.AppendBinary(dst)
			}
			b, err := v.MarshalBinary()
			return append(dst, b...), err
		},
		Decode: func(src []byte) (V, error) {
			var v V
			err := PV(&v).UnmarshalBinary(src)
			return v, err
		},
	}
}
