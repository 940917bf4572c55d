package shards_test

import "runtime"

func runtimeGosched() { runtime.Gosched() }
