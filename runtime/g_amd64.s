//go:build gc

#include "textflag.h"

// func getg() uintptr: the current g from thread-local storage (see
// self.go). Safety: the result is an address that is only compared.
TEXT ·getg(SB),NOSPLIT,$0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
