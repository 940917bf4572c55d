package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error this package returns wraps one of them (or a
// context's error) and starts with "cluster:" once, however many nodes the
// request crossed.
var (
	// ErrNoLeader: the range had no reachable leader before the context
	// ended (an election is under way, or this node is cut off from a
	// majority). Nothing was applied.
	ErrNoLeader = errors.New("cluster: no leader")
	// ErrNotLeader: a request that must run on the leader reached a node
	// that is not (leadership moved meanwhile). Requests retry it inside
	// the package; callers see it only from the low-level paths.
	ErrNotLeader = errors.New("cluster: not the leader")
	// ErrNotMember: this node is not a voter of the range (not joined yet,
	// or removed).
	ErrNotMember = errors.New("cluster: not a member")
	// ErrOutcomeUnknown: a write was handed to the leader but its outcome
	// was not learned (the leader lost leadership or the connection broke
	// before the commit was reported, or the context ended while waiting):
	// it may or may not be applied. Read the key, or send the write again
	// (puts and deletes are idempotent).
	ErrOutcomeUnknown = errors.New("cluster: outcome unknown")
	// ErrClosed: the node was closed.
	ErrClosed = errors.New("cluster: node closed")
	// ErrKeyTooLong: a key longer than MaxKeyLen.
	ErrKeyTooLong = errors.New("cluster: key too long")
	// ErrTooLarge: one command (a put, or a batch's part for one range) is
	// larger than MaxCommandBytes.
	ErrTooLarge = errors.New("cluster: request too large")
	// ErrConfig: an invalid Config.
	ErrConfig = errors.New("cluster: invalid config")
	// ErrProtocol: a malformed or unknown message between nodes (a peer of
	// another version, or not a node of this package).
	ErrProtocol = errors.New("cluster: protocol error")
	// ErrUnreachable: a peer could not be reached (nothing was delivered).
	ErrUnreachable = errors.New("cluster: peer unreachable")
	// ErrRemote: a peer failed a request for a reason that has no sentinel
	// of its own; the message says what.
	ErrRemote = errors.New("cluster: remote error")
)

// codes gives each sentinel its one-byte code on the wire (0 is success).
var codes = []error{nil, ErrNoLeader, ErrNotLeader, ErrNotMember, ErrOutcomeUnknown, ErrClosed,
	ErrKeyTooLong, ErrTooLarge, ErrConfig, ErrProtocol, ErrUnreachable, ErrRemote}

// errCode returns err's wire code and the detail that follows its sentinel's
// text, so that the peer rebuilds the same message (decodeErr).
func errCode(err error) (byte, string) {
	msg := err.Error()
	for i, s := range codes[1:] {
		if errors.Is(err, s) {
			return byte(i + 1), strings.TrimPrefix(msg, s.Error())
		}
	}
	return byte(len(codes) - 1), ": " + strings.TrimPrefix(msg, "cluster: ")
}

// decodeErr is errCode's inverse.
func decodeErr(code byte, detail string) error {
	if code == 0 || int(code) >= len(codes) {
		return fmt.Errorf("%w: error code %d", ErrProtocol, code)
	}
	if detail == "" {
		return codes[code]
	}
	return fmt.Errorf("%w%s", codes[code], detail)
}

// quote shows at most 64 bytes of a key in an error.
func quote(key []byte) string {
	if len(key) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", key[:64], len(key))
	}
	return fmt.Sprintf("%q", key)
}
