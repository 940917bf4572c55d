//go:build gc

#include "textflag.h"

// func Current() uintptr: the current g from thread-local storage (see the
// package doc). Safety: the result is an address that is only compared.
TEXT ·Current(SB),NOSPLIT,$0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
