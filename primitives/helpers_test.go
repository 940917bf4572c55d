package primitives_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }

func mustPanic(t testingT, prefix string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one starting %q", prefix)
		}
		msg, _ := r.(string)
		if len(msg) < len(prefix) || msg[:len(prefix)] != prefix {
			t.Fatalf("panic %v, want a message starting %q", r, prefix)
		}
	}()
	f()
}

type testingT interface {
	Helper()
	Fatalf(format string, args ...any)
}
