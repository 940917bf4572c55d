module github.com/zipora-go/zipora

go 1.26.0

require (
	github.com/klauspost/cpuid/v2 v2.4.2
	go.uber.org/goleak v1.3.0
	golang.org/x/sys v0.50.0
)

require (
	github.com/alitto/pond/v2 v2.7.1 // indirect
	github.com/lmittmann/tint v1.2.1 // indirect
	github.com/panjf2000/ants/v2 v2.12.1
	golang.org/x/sync v0.11.0 // indirect
)
