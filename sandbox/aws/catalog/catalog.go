// Package catalog is the sandbox's table of real EC2 instance types: vCPUs, memory,
// architecture, GPUs, ENI limits and us-east-1 on-demand prices, typed in from AWS's public
// documentation (see the source comments on each table), plus a deterministic spot price model.
package catalog

// InstanceType is one EC2 instance type's facts.
type InstanceType struct {
	Name         string // e.g. "m5.large"
	VCPUs        int32
	MemoryMiB    int64
	Architecture string // "x86_64" or "arm64"
	// GPUs is the count of GPUs; GPUManufacturer/GPUName/GPUMemoryMiB describe each one.
	GPUs            int32
	GPUManufacturer string // e.g. "NVIDIA"
	GPUName         string // e.g. "T4"
	GPUMemoryMiB    int64
	MaxENIs         int32 // maximum network interfaces
	IPv4PerENI      int32 // IPv4 addresses per interface
	Burstable       bool  // T family
	// LocalStorageGB is the instance store size in GB (0 for EBS-only).
	LocalStorageGB     int64
	NetworkPerformance string  // e.g. "Up to 10 Gigabit"
	Hypervisor         string  // "nitro" or "xen"
	OnDemandPrice      float64 // USD/hour, Linux, us-east-1
	// Zones where the type is offered in us-east-1 (subset of us-east-1a/b/c).
	Zones []string
}

// STUB: owned by the catalogue work; replace with the real table (at least 300 types).
func All() []InstanceType { return nil }

// Lookup returns the named type.
func Lookup(name string) (InstanceType, bool) {
	for _, it := range All() {
		if it.Name == name {
			return it, true
		}
	}
	return InstanceType{}, false
}

// SpotPrice returns the emulated spot price (USD/hour) of a type in a zone: deterministic,
// below on-demand, varying by zone. STUB: replace.
func SpotPrice(it InstanceType, zone string) float64 { return it.OnDemandPrice * 0.35 }
