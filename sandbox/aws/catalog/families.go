package catalog

import "strings"

// This file holds the facts, typed in from AWS's public documentation. Each family row lists
// its sizes and, aligned with them, the us-east-1 Linux on-demand price of each size; vCPUs
// come from the size name (medium 1, large 2, xlarge 4, <N>xlarge 4*N) unless listed, memory
// is vCPUs times the family's MiB per vCPU unless listed, and the ENI limits follow the
// standard Nitro ladder (standardENIs) unless listed per family or in eniExceptions.
//
// Sources:
//   - vCPUs, memory, instance store, GPUs, network performance:
//     Amazon EC2 instance types - General purpose: https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html
//     Amazon EC2 instance types - Compute optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html
//     Amazon EC2 instance types - Memory optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/mo.html
//     Amazon EC2 instance types - Storage optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/so.html
//     Amazon EC2 instance types - Accelerated computing: https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html
//   - network interfaces and IPv4 addresses per interface: the same pages ("Network
//     specifications"), equal to amazon-vpc-cni-k8s misc/eni-max-pods.txt
//     (max pods = ENIs * (IPv4 per ENI - 1) + 2).
//   - prices: us-east-1 on-demand Linux prices, AWS price list, January 2026 (USD/hour,
//     exactly as listed; AWS rounds each size separately, so a few sizes differ from a strict
//     linear scaling in the last digit, e.g. c7g.medium 0.0363 vs c7g.large 0.0725).

// Zone sets. Most types are offered in all three emulated zones; the emulation offers a few
// scarce GPU and network/storage-optimized types in two zones only, so that zone-aware
// scheduling and offering checks are exercised:
//
//	p3, g6, im4gn:  us-east-1a, us-east-1b
//	p4d, c7gn:      us-east-1a, us-east-1c
//	p5, i4g, g5g:   us-east-1b, us-east-1c
var (
	zonesAll = []string{ZoneA, ZoneB, ZoneC}
	zonesAB  = []string{ZoneA, ZoneB}
	zonesAC  = []string{ZoneA, ZoneC}
	zonesBC  = []string{ZoneB, ZoneC}
)

// family is one instance family's row; per-size columns are aligned with sizes.
type family struct {
	name       string
	arch       string
	hypervisor string // "" means nitro
	burstable  bool
	mibPerVCPU int64
	sizes      string            // space-separated size names
	prices     []float64         // USD/hour per size (required)
	network    map[string]string // NetworkPerformance by size name
	storageGB  []int64           // instance store GB per size; nil = EBS only
	gpus       []int32           // GPU count per size; nil = none
	gpu        gpuModel
	zones      []string   // nil = all zones
	vcpus      []int32    // per size; nil = from the size name
	memoryMiB  []int64    // per size; nil = vCPUs * mibPerVCPU (or memoryExceptions)
	enis       [][2]int32 // {max ENIs, IPv4 per ENI} per size; nil = standardENIs
}

type gpuModel struct {
	manufacturer string
	name         string // as DescribeInstanceTypes GpuInfo.Gpus[].Name
	memoryMiB    int64  // per GPU, as GpuInfo.Gpus[].MemoryInfo.SizeInMiB
}

// MiB per vCPU ratios.
const (
	gib2 = 2 * 1024 // compute optimized (c)
	gib4 = 4 * 1024 // general purpose (m)
	gib8 = 8 * 1024 // memory optimized (r)
)

// memoryExceptions lists types whose memory is not vCPUs * the family ratio (MiB).
var memoryExceptions = map[string]int64{
	"c5n.9xlarge":  96 * 1024,  // 96 GiB (smaller sizes have 5.25 GiB per 2 vCPUs)
	"c5n.18xlarge": 192 * 1024, // 192 GiB
}

// eniExceptions lists types whose {max ENIs, IPv4 per ENI} differ from their family's ladder.
var eniExceptions = map[string][2]int32{}

// Network performance ladders (NetworkPerformance strings of DescribeInstanceTypes).
func ladder(pairs ...string) map[string]string {
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		for _, size := range strings.Fields(pairs[i]) {
			m[size] = pairs[i+1]
		}
	}
	return m
}

const (
	upTo5    = "Up to 5 Gigabit"
	upTo10   = "Up to 10 Gigabit"
	upTo12_5 = "Up to 12.5 Gigabit"
)

var (
	// t3, t3a, t4g.
	netBurst = ladder("nano micro small medium large xlarge 2xlarge", upTo5)
	// m5, m5d, r5, r5d.
	netIntel5 = ladder("large xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "10 Gigabit",
		"12xlarge", "12 Gigabit", "16xlarge", "20 Gigabit", "24xlarge", "25 Gigabit")
	// c5, c5d.
	netC5 = ladder("large xlarge 2xlarge 4xlarge", upTo10, "9xlarge 12xlarge", "12 Gigabit",
		"18xlarge 24xlarge", "25 Gigabit")
	// Graviton2: m6g, m6gd, c6g, c6gd, r6g, r6gd.
	netGraviton2 = ladder("medium large xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "12 Gigabit",
		"12xlarge", "20 Gigabit", "16xlarge", "25 Gigabit")
	// c5n.
	netC5n = ladder("large xlarge 2xlarge 4xlarge", "Up to 25 Gigabit", "9xlarge", "50 Gigabit",
		"18xlarge", "100 Gigabit")
)

// families is the catalogue. Keep rows grouped by category, as the documentation pages are.
var families = []family{
	// Amazon EC2 instance types - General purpose: https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.

	// Burstable: nano/micro/small/medium/large have 2 vCPUs; memory 0.5/1/2/4/8/16/32 GiB.
	{name: "t3", arch: ArchX86_64, burstable: true, sizes: "nano micro small medium large xlarge 2xlarge",
		vcpus: tVCPUs, memoryMiB: tMemory, enis: tENIs, network: netBurst,
		prices: []float64{0.0052, 0.0104, 0.0208, 0.0416, 0.0832, 0.1664, 0.3328}},
	{name: "t3a", arch: ArchX86_64, burstable: true, sizes: "nano micro small medium large xlarge 2xlarge",
		vcpus: tVCPUs, memoryMiB: tMemory, enis: t3aENIs, network: netBurst,
		prices: []float64{0.0047, 0.0094, 0.0188, 0.0376, 0.0752, 0.1504, 0.3008}},
	{name: "t4g", arch: ArchARM64, burstable: true, sizes: "nano micro small medium large xlarge 2xlarge",
		vcpus: tVCPUs, memoryMiB: tMemory, enis: tENIs, network: netBurst,
		prices: []float64{0.0042, 0.0084, 0.0168, 0.0336, 0.0672, 0.1344, 0.2688}},

	{name: "m5", arch: ArchX86_64, mibPerVCPU: gib4, network: netIntel5,
		sizes:  "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
		prices: []float64{0.096, 0.192, 0.384, 0.768, 1.536, 2.304, 3.072, 4.608}},
	{name: "m6g", arch: ArchARM64, mibPerVCPU: gib4, network: netGraviton2,
		sizes:  "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
		prices: []float64{0.0385, 0.077, 0.154, 0.308, 0.616, 1.232, 1.848, 2.464}},

	// Amazon EC2 instance types - Compute optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.
	{name: "c5", arch: ArchX86_64, mibPerVCPU: gib2, network: netC5,
		sizes:  "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge",
		prices: []float64{0.085, 0.17, 0.34, 0.68, 1.53, 2.04, 3.06, 4.08}},

	{name: "c5n", arch: ArchX86_64, mibPerVCPU: 2688, network: netC5n, // 5.25 GiB per 2 vCPUs
		sizes:  "large xlarge 2xlarge 4xlarge 9xlarge 18xlarge",
		prices: []float64{0.108, 0.216, 0.432, 0.864, 1.944, 3.888}},

	// Amazon EC2 instance types - Memory optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/mo.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.
	{name: "r5", arch: ArchX86_64, mibPerVCPU: gib8, network: netIntel5,
		sizes:  "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
		prices: []float64{0.126, 0.252, 0.504, 1.008, 2.016, 3.024, 4.032, 6.048}},
}

// Burstable (T) family columns for sizes nano micro small medium large xlarge 2xlarge.
var (
	tVCPUs  = []int32{2, 2, 2, 2, 2, 4, 8}
	tMemory = []int64{512, 1024, 2048, 4096, 8192, 16384, 32768}
	// eni-max-pods: nano 4, micro 4, small 11, medium 17, large 35, xlarge 58, 2xlarge 58.
	tENIs = [][2]int32{{2, 2}, {2, 2}, {3, 4}, {3, 6}, {3, 12}, {4, 15}, {4, 15}}
	// t3a.small has 2 ENIs of 4 addresses (8 pods) where t3.small and t4g.small have 3.
	t3aENIs = [][2]int32{{2, 2}, {2, 2}, {2, 4}, {3, 6}, {3, 12}, {4, 15}, {4, 15}}
)
