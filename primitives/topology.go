package primitives

import (
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

// CacheLineSize is the cache line size the padding in this module is computed
// from (the size of golang.org/x/sys/cpu.CacheLinePad for this architecture).
const CacheLineSize = int(unsafe.Sizeof(cpu.CacheLinePad{}))

// CPUTopology describes the machine and the CPUs this process may run on.
// It is a plain value; copies are independent.
type CPUTopology struct {
	// LogicalCPUs is the number of logical CPUs of the machine (hardware
	// threads), as the operating system reports them.
	LogicalCPUs int
	// PhysicalCores is the number of physical cores (from cpuid); it equals
	// LogicalCPUs where cpuid cannot tell.
	PhysicalCores int
	// ThreadsPerCore is the number of hardware threads per core (at least 1).
	ThreadsPerCore int
	// CacheLine is the L1 data cache line size in bytes reported by cpuid,
	// or CacheLineSize where cpuid cannot tell.
	CacheLine int
	// Vendor and Brand identify the processor (empty where unknown).
	Vendor, Brand string
	// Allowed lists, in ascending order, the CPU numbers this process may run
	// on (its affinity mask on Linux; 0..LogicalCPUs-1 elsewhere).
	Allowed []int
}

var (
	topoOnce sync.Once
	topo     CPUTopology
)

// Topology returns the CPU topology, read once per process. The Allowed list
// is the affinity mask at the first call; the returned slice is a copy the
// caller may modify.
func Topology() CPUTopology {
	topoOnce.Do(func() { topo = readTopology() })
	t := topo
	t.Allowed = slices.Clone(topo.Allowed)
	return t
}

func readTopology() CPUTopology {
	t := CPUTopology{
		LogicalCPUs:    runtime.NumCPU(),
		PhysicalCores:  cpuid.CPU.PhysicalCores,
		ThreadsPerCore: cpuid.CPU.ThreadsPerCore,
		CacheLine:      cpuid.CPU.CacheLine,
		Vendor:         cpuid.CPU.VendorString,
		Brand:          cpuid.CPU.BrandName,
	}
	if l := cpuid.CPU.LogicalCores; l > t.LogicalCPUs {
		t.LogicalCPUs = l
	}
	if t.ThreadsPerCore <= 0 {
		t.ThreadsPerCore = 1
	}
	if t.PhysicalCores <= 0 {
		t.PhysicalCores = max(1, t.LogicalCPUs/t.ThreadsPerCore)
	}
	if t.CacheLine <= 0 {
		t.CacheLine = CacheLineSize
	}
	allowed, err := AllowedCPUs()
	if err != nil || len(allowed) == 0 {
		allowed = make([]int, runtime.NumCPU())
		for i := range allowed {
			allowed[i] = i
		}
	}
	t.Allowed = allowed
	return t
}
