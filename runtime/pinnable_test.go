package runtime_test

import "github.com/zipora-go/zipora/primitives"

// pinnable reports whether Config.Pin can work here: the platform pins
// threads and some CPU is allowed.
func pinnable() bool { return primitives.PinSupported && len(primitives.Topology().Allowed) > 0 }
