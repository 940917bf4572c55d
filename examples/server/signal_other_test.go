//go:build !unix

package main

import "testing"

// haveSIGTERM: there is no SIGTERM to send on this system.
const haveSIGTERM = false

func terminate(t *testing.T) { t.Fatal("no SIGTERM on this system") }
