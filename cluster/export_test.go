package cluster

// Restores returns how many times range r's state machine on n was
// replaced by a snapshot (at start, or sent by the leader).
func Restores(n *Node, r int) int64 { return n.groups[r].f.restores.Load() }

// SetScanBytes sets the byte bound of one range's part of a Scan and
// returns a function that restores it.
func SetScanBytes(n int) (restore func()) {
	old := scanBytes
	scanBytes = n
	return func() { scanBytes = old }
}
