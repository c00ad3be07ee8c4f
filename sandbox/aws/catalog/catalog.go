// Package catalog is the sandbox's table of real EC2 instance types: vCPUs, memory,
// architecture, GPUs, ENI limits and us-east-1 on-demand prices, typed in from AWS's public
// documentation (see the source comments on each table in families.go), plus a deterministic
// spot price model (see SpotPrice) that is an emulation, not a fact.
//
// The data is static: it is built once, on first use, from per-family tables. All returns the
// types sorted by name; Lookup finds one in O(1).
package catalog

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"sync"
)

// Architectures, as DescribeInstanceTypes reports them in ProcessorInfo.SupportedArchitectures.
const (
	ArchX86_64 = "x86_64"
	ArchARM64  = "arm64"
)

// Hypervisors, as DescribeInstanceTypes reports them.
const (
	HypervisorNitro = "nitro"
	HypervisorXen   = "xen"
)

// Emulated us-east-1 availability zones.
const (
	ZoneA = "us-east-1a"
	ZoneB = "us-east-1b"
	ZoneC = "us-east-1c"
)

// Region is the only region whose prices the catalogue holds.
const Region = "us-east-1"

// AvailabilityZones returns the emulated zones of Region, in order: us-east-1a, -1b, -1c.
// The result is a fresh slice the caller may modify.
func AvailabilityZones() []string { return []string{ZoneA, ZoneB, ZoneC} }

// InstanceType is one EC2 instance type's facts.
//
// The struct is returned by value, but Zones is shared with the catalogue: treat it as
// read-only (use slices.Clone before modifying it).
type InstanceType struct {
	Name         string // e.g. "m5.large"
	VCPUs        int32
	MemoryMiB    int64  // as DescribeInstanceTypes MemoryInfo.SizeInMiB, e.g. m5.large 8192
	Architecture string // "x86_64" or "arm64"
	// CPUManufacturer is the processor vendor, as DescribeInstanceTypes
	// ProcessorInfo.Manufacturer: "Intel", "AMD" or "AWS" (Graviton).
	CPUManufacturer string
	// GPUs is the count of GPUs; GPUManufacturer/GPUName/GPUMemoryMiB describe each one.
	GPUs            int32
	GPUManufacturer string // e.g. "NVIDIA"
	GPUName         string // e.g. "T4"
	GPUMemoryMiB    int64
	// MaxENIs and IPv4PerENI are the limits the amazon-vpc-cni-k8s eni-max-pods table uses
	// (for multi-network-card types such as p5.48xlarge: the default network card, index 0).
	MaxENIs    int32 // maximum network interfaces
	IPv4PerENI int32 // IPv4 addresses per interface
	Burstable  bool  // T family
	// LocalStorageGB is the instance store size in GB (0 for EBS-only).
	LocalStorageGB     int64
	NetworkPerformance string  // e.g. "Up to 10 Gigabit"
	Hypervisor         string  // "nitro" or "xen"
	OnDemandPrice      float64 // USD/hour, Linux, us-east-1
	// Zones where the type is offered in us-east-1 (subset of us-east-1a/b/c).
	Zones []string
}

// Family returns the part of the name before the dot, e.g. "m5" for "m5.large"
// (the karpenter.k8s.aws/instance-family label value).
func (it InstanceType) Family() string {
	f, _, _ := strings.Cut(it.Name, ".")
	return f
}

// Size returns the part of the name after the dot, e.g. "large" for "m5.large"
// (the karpenter.k8s.aws/instance-size label value); "" if the name has no dot.
func (it InstanceType) Size() string {
	_, s, _ := strings.Cut(it.Name, ".")
	return s
}

// MaxPods is the pod limit the Amazon VPC CNI gives the type without prefix delegation:
// MaxENIs * (IPv4PerENI - 1) + 2 (the first IP of each ENI is the ENI's own, and two
// host-network pods, aws-node and kube-proxy, need no address). Source: the formula in the
// header of amazon-vpc-cni-k8s misc/eni-max-pods.txt. Returns 0 for a zero-valued type.
func (it InstanceType) MaxPods() int32 {
	if it.MaxENIs <= 0 || it.IPv4PerENI <= 0 {
		return 0
	}
	return it.MaxENIs*(it.IPv4PerENI-1) + 2
}

// OfferedIn reports whether the type is offered in the zone.
func (it InstanceType) OfferedIn(zone string) bool { return slices.Contains(it.Zones, zone) }

type index struct {
	types  []InstanceType
	byName map[string]int
}

var catalogue = sync.OnceValue(func() index {
	types, err := build(families)
	if err != nil {
		// The tables are compiled-in constants, not input: a bad row is a programming error,
		// caught by TestBuild before it can ship.
		panic("catalog: invalid built-in table: " + err.Error())
	}
	byName := make(map[string]int, len(types))
	for i, it := range types {
		byName[it.Name] = i
	}
	return index{types: types, byName: byName}
})

// All returns every instance type of the catalogue, sorted by name. The slice is a fresh copy
// the caller may reorder or truncate; each element's Zones is shared and read-only.
func All() []InstanceType { return slices.Clone(catalogue().types) }

// Lookup returns the named type (e.g. "m5.large") and true, or the zero value and false if the
// catalogue does not hold it. It is O(1): a map built once on first use.
func Lookup(name string) (InstanceType, bool) {
	c := catalogue()
	i, ok := c.byName[name]
	if !ok {
		return InstanceType{}, false
	}
	return c.types[i], true
}

// Len returns the number of instance types in the catalogue without copying them.
func Len() int { return len(catalogue().types) }

// Offering is one (instance type, zone) pool the emulated region sells, with its prices in
// USD/hour.
type Offering struct {
	InstanceType  string
	Zone          string
	OnDemandPrice float64
	SpotPrice     float64 // SpotPrice(type, zone)
}

// Offerings returns every (type, zone) pool of the catalogue, sorted by type name then zone:
// the rows DescribeInstanceTypeOfferings (location type availability-zone) and
// DescribeSpotPriceHistory answer from. The slice is fresh on each call.
func Offerings() []Offering {
	c := catalogue()
	out := make([]Offering, 0, 3*len(c.types))
	for _, it := range c.types {
		for _, z := range it.Zones {
			out = append(out, Offering{InstanceType: it.Name, Zone: z, OnDemandPrice: it.OnDemandPrice, SpotPrice: SpotPrice(it, z)})
		}
	}
	return out
}

// Spot price model (an emulation, not a fact: real spot prices move with supply and demand).
//
// The spot price of a type in a zone is the on-demand price times (1 - discount), where the
// discount lies in [SpotMinDiscount, SpotMaxDiscount] and is taken from a 64-bit FNV-1a hash of
// "<type>/<zone>": discount = min + (max-min) * (hash mod 10001) / 10000. The result is rounded
// to 6 decimals (the precision DescribeSpotPriceHistory's SpotPrice strings carry). So the
// price is deterministic (same inputs, same price, across processes), between 20% and 45% of
// on-demand (a band chosen for the emulation, inside the "up to 90% off" AWS advertises for
// Spot), and differs from zone to zone and type to type.
const (
	SpotMinDiscount = 0.55
	SpotMaxDiscount = 0.80
)

// SpotPrice returns the emulated spot price (USD/hour) of a type in a zone: deterministic,
// strictly below it.OnDemandPrice, varying by zone (model above). It does not check that the
// type is offered in the zone (see OfferedIn). Returns 0 if it.OnDemandPrice is not positive.
func SpotPrice(it InstanceType, zone string) float64 {
	if !(it.OnDemandPrice > 0) {
		return 0
	}
	exact := it.OnDemandPrice * (1 - SpotDiscount(it.Name, zone))
	if p := round6(exact); p > 0 && p < it.OnDemandPrice {
		return p
	}
	return exact // prices below a micro-dollar: rounding would break "0 < spot < on-demand"
}

// SpotDiscount returns the model's discount (a fraction in [0.55, 0.80]) for a type name and
// zone; see SpotPrice.
func SpotDiscount(typeName, zone string) float64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(typeName))
	_, _ = h.Write([]byte{'/'})
	_, _ = h.Write([]byte(zone))
	frac := float64(h.Sum64()%10001) / 10000
	return SpotMinDiscount + (SpotMaxDiscount-SpotMinDiscount)*frac
}

func round6(v float64) float64 { return math.Round(v*1e6) / 1e6 }

// vcpusForSize derives the vCPU count from a size name on the standard EC2 ladder:
// medium 1, large 2, xlarge 4, <N>xlarge 4*N. Sizes outside the ladder (nano, micro, small,
// metal) need explicit vCPUs in the family table.
func vcpusForSize(size string) (int32, error) {
	switch size {
	case "medium":
		return 1, nil
	case "large":
		return 2, nil
	case "xlarge":
		return 4, nil
	}
	n, ok := strings.CutSuffix(size, "xlarge")
	if !ok || n == "" {
		return 0, fmt.Errorf("size %q is not on the medium/large/<N>xlarge ladder", size)
	}
	var mult int32
	if _, err := fmt.Sscanf(n, "%d", &mult); err != nil || mult <= 0 || fmt.Sprint(mult) != n {
		return 0, fmt.Errorf("size %q has no valid multiplier", size)
	}
	return 4 * mult, nil
}

// standardENIs is the ENI ladder shared by Nitro families (see eni-max-pods.txt: medium 8,
// large 29, xlarge and 2xlarge and 3xlarge 58, 4xlarge to 12xlarge 234, 16xlarge and up 737
// pods), as {max ENIs, IPv4 per ENI}.
func standardENIs(vcpus int32) [2]int32 {
	switch {
	case vcpus <= 1:
		return [2]int32{2, 4}
	case vcpus <= 2:
		return [2]int32{3, 10}
	case vcpus <= 12:
		return [2]int32{4, 15}
	case vcpus <= 48:
		return [2]int32{8, 30}
	default:
		return [2]int32{15, 50}
	}
}

// build expands the family tables into instance types sorted by name, checking every row.
func build(fams []family) ([]InstanceType, error) {
	var out []InstanceType
	seen := map[string]bool{}
	for fi, f := range fams {
		path := fmt.Sprintf("families[%d](%s)", fi, f.name)
		sizes := strings.Fields(f.sizes)
		if len(sizes) == 0 {
			return nil, fmt.Errorf("%s.sizes: empty", path)
		}
		if err := aligned(path, len(sizes), map[string]int{
			"prices": len(f.prices), "storageGB": len(f.storageGB), "gpus": len(f.gpus),
			"vcpus": len(f.vcpus), "memoryMiB": len(f.memoryMiB), "enis": len(f.enis),
		}, "prices"); err != nil {
			return nil, err
		}
		if f.arch != ArchX86_64 && f.arch != ArchARM64 {
			return nil, fmt.Errorf("%s.arch: %q is not x86_64 or arm64", path, f.arch)
		}
		if f.gpus != nil && f.gpu.name == "" {
			return nil, fmt.Errorf("%s.gpu: gpus given without a GPU model", path)
		}
		hv := f.hypervisor
		if hv == "" {
			hv = HypervisorNitro
		}
		zones := f.zones
		if zones == nil {
			zones = zonesAll
		}
		for si, size := range sizes {
			name := f.name + "." + size
			rp := fmt.Sprintf("%s.sizes[%d](%s)", path, si, name)
			if seen[name] {
				return nil, fmt.Errorf("%s: duplicate type", rp)
			}
			seen[name] = true
			it := InstanceType{
				Name:               name,
				Architecture:       f.arch,
				CPUManufacturer:    f.cpuManufacturer(),
				Burstable:          f.burstable,
				Hypervisor:         hv,
				OnDemandPrice:      f.prices[si],
				Zones:              zones,
				NetworkPerformance: f.network[size],
			}
			if f.vcpus != nil {
				it.VCPUs = f.vcpus[si]
			} else {
				v, err := vcpusForSize(size)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", rp, err)
				}
				it.VCPUs = v
			}
			switch {
			case f.memoryMiB != nil:
				it.MemoryMiB = f.memoryMiB[si]
			case memoryExceptions[name] != 0:
				it.MemoryMiB = memoryExceptions[name]
			default:
				it.MemoryMiB = int64(it.VCPUs) * f.mibPerVCPU
			}
			enis := standardENIs(it.VCPUs)
			if f.enis != nil {
				enis = f.enis[si]
			}
			if e, ok := eniExceptions[name]; ok {
				enis = e
			}
			it.MaxENIs, it.IPv4PerENI = enis[0], enis[1]
			if f.storageGB != nil {
				it.LocalStorageGB = f.storageGB[si]
			}
			if f.gpus != nil {
				it.GPUs = f.gpus[si]
				it.GPUManufacturer, it.GPUName, it.GPUMemoryMiB = f.gpu.manufacturer, f.gpu.name, f.gpu.memoryMiB
			}
			if err := check(it); err != nil {
				return nil, fmt.Errorf("%s: %w", rp, err)
			}
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b InstanceType) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// aligned checks that every optional per-size column is either absent or one entry per size;
// the columns listed in required must be present.
func aligned(path string, n int, cols map[string]int, required ...string) error {
	keys := make([]string, 0, len(cols))
	for k := range cols {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		l := cols[k]
		if (l == 0 && !slices.Contains(required, k)) || l == n {
			continue
		}
		return fmt.Errorf("%s.%s: %d entries for %d sizes", path, k, l, n)
	}
	return nil
}

// check validates one built row.
func check(it InstanceType) error {
	switch {
	case it.VCPUs <= 0:
		return fmt.Errorf("vcpus: %d, want > 0", it.VCPUs)
	case it.MemoryMiB <= 0:
		return fmt.Errorf("memoryMiB: %d, want > 0", it.MemoryMiB)
	case it.MaxENIs <= 0 || it.IPv4PerENI <= 0:
		return fmt.Errorf("enis: %d x %d, want both > 0", it.MaxENIs, it.IPv4PerENI)
	case !(it.OnDemandPrice > 0):
		return fmt.Errorf("prices: %v, want > 0", it.OnDemandPrice)
	case it.LocalStorageGB < 0:
		return fmt.Errorf("storageGB: %d, want >= 0", it.LocalStorageGB)
	case it.GPUs < 0 || (it.GPUs > 0 && it.GPUMemoryMiB <= 0):
		return fmt.Errorf("gpus: %d of %d MiB", it.GPUs, it.GPUMemoryMiB)
	case it.NetworkPerformance == "":
		return fmt.Errorf("network: no entry for size %q", it.Size())
	case len(it.Zones) == 0:
		return fmt.Errorf("zones: empty")
	}
	for _, z := range it.Zones {
		if z != ZoneA && z != ZoneB && z != ZoneC {
			return fmt.Errorf("zones: %q is not an emulated zone", z)
		}
	}
	return nil
}
