//go:build !unix

package mailbox_test

import "time"

// cpuTime is not measured off Unix: the cpu/wall metric reads 0.
func cpuTime() time.Duration { return 0 }
