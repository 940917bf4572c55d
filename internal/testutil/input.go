package testutil

import (
	"io"
	"sync"
)

// StallingReader is the input of a command-line tool under test that
// behaves like a pipe whose writer stays open: it yields its data, then its
// next Read calls onStall (which typically cancels the tool's context, as
// Ctrl-C would) and blocks until Release. A tool that stops reading on
// Ctrl-C returns; one that does not hangs (guard it with Within). Release
// (call it in a deferred cleanup) ends the blocked Read with io.EOF.
type StallingReader struct {
	data    []byte
	onStall func()
	stalled sync.Once
	release chan struct{}
	once    sync.Once
}

// NewStallingReader returns a reader of data that stalls after it.
func NewStallingReader(data string, onStall func()) *StallingReader {
	return &StallingReader{data: []byte(data), onStall: onStall, release: make(chan struct{})}
}

// Read implements io.Reader.
func (r *StallingReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	r.stalled.Do(r.onStall)
	<-r.release
	return 0, io.EOF
}

// Release ends the stall: the blocked Read, and every later one, returns
// io.EOF. It may be called more than once.
func (r *StallingReader) Release() { r.once.Do(func() { close(r.release) }) }
