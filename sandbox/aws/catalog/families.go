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
//     linear scaling in the last digit, e.g. c7g.medium 0.0363 vs c7g.large 0.0725). Every
//     price here is a listed one; none is extrapolated from another size.
//   - NetworkPerformance is the pages' "Network bandwidth (Gbps)" column written the way
//     DescribeInstanceTypes writes it; it is descriptive only (no decision in this project
//     depends on it).
//
// Metal sizes and the families not named above (e.g. m5zn, c6in, x2, u-*) are left out.

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
	name string
	arch string
	// cpu is the processor vendor where the naming convention misleads ("" = by the name:
	// see family.cpuManufacturer).
	cpu        string
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

// Processor vendors, as DescribeInstanceTypes ProcessorInfo.Manufacturer spells them.
const (
	CPUIntel = "Intel"
	CPUAMD   = "AMD"
	CPUAWS   = "AWS"
)

// cpuManufacturer is the family's processor vendor: its cpu column when set, else by the EC2
// instance naming convention (EC2 User Guide, "Instance type naming conventions"): Graviton
// (arm64) is AWS, an "a" among the attributes after the generation digit (m5a, c6a, g4ad) is AMD,
// otherwise Intel. Accelerated families do not follow it, hence the cpu column.
func (f *family) cpuManufacturer() string {
	if f.cpu != "" {
		return f.cpu
	}
	if f.arch == ArchARM64 {
		return CPUAWS
	}
	if i := strings.IndexAny(f.name, "0123456789"); i >= 0 && strings.Contains(f.name[i+1:], "a") {
		return CPUAMD
	}
	return CPUIntel
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

// eniExceptions lists types whose {max ENIs, IPv4 per ENI} differ from their family's ladder
// (eni-max-pods.txt value in parentheses).
var eniExceptions = map[string][2]int32{
	"g5.12xlarge":  {15, 50}, // 737
	"g5.16xlarge":  {8, 30},  // 234
	"g5.48xlarge":  {7, 50},  // 345
	"i4i.24xlarge": {15, 30}, // 437
	"p3.16xlarge":  {8, 30},  // 234
	// p5.48xlarge has 32 network cards (64 ENIs in all); the VPC CNI and eni-max-pods.txt
	// count only the default card, index 0: 2 ENIs of 50 addresses (100 pods).
	"p5.48xlarge": {2, 50},
}

// Network performance ladders (NetworkPerformance strings of DescribeInstanceTypes), by size.
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
	upTo25   = "Up to 25 Gigabit"
)

var (
	// t3, t3a, t4g.
	netBurst = ladder("nano micro small medium large xlarge 2xlarge", upTo5)
	// m5, m5d, r5, r5d.
	netIntel5 = ladder("large xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "10 Gigabit",
		"12xlarge", "12 Gigabit", "16xlarge", "20 Gigabit", "24xlarge", "25 Gigabit")
	// m5a, r5a.
	netAMD5 = ladder("large xlarge 2xlarge 4xlarge 8xlarge", upTo10, "12xlarge", "10 Gigabit",
		"16xlarge", "12 Gigabit", "24xlarge", "20 Gigabit")
	// m5n, r5n.
	netN5 = ladder("large xlarge 2xlarge 4xlarge", upTo25, "8xlarge", "25 Gigabit",
		"12xlarge", "50 Gigabit", "16xlarge", "75 Gigabit", "24xlarge", "100 Gigabit")
	// c5, c5d.
	netC5 = ladder("large xlarge 2xlarge 4xlarge", upTo10, "9xlarge 12xlarge", "12 Gigabit",
		"18xlarge 24xlarge", "25 Gigabit")
	// c5a.
	netC5a = ladder("large xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "10 Gigabit",
		"12xlarge", "12 Gigabit", "16xlarge 24xlarge", "20 Gigabit")
	// c5n.
	netC5n = ladder("large xlarge 2xlarge 4xlarge", upTo25, "9xlarge", "50 Gigabit",
		"18xlarge", "100 Gigabit")
	// 6th and 7th generation Intel and AMD: m6i, m6a, m6id, c6i, c6a, c6id, r6i, r6a, r6id,
	// m7i, m7a, c7i, c7a, r7i, r7a.
	netX86Gen67 = ladder("medium large xlarge 2xlarge 4xlarge", upTo12_5, "8xlarge", "12.5 Gigabit",
		"12xlarge", "18.75 Gigabit", "16xlarge", "25 Gigabit", "24xlarge", "37.5 Gigabit",
		"32xlarge 48xlarge", "50 Gigabit")
	// Graviton2: m6g, m6gd, c6g, c6gd, r6g, r6gd.
	netGraviton2 = ladder("medium large xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "12 Gigabit",
		"12xlarge", "20 Gigabit", "16xlarge", "25 Gigabit")
	// c6gn.
	netC6gn = ladder("medium large xlarge 2xlarge 4xlarge", upTo25, "8xlarge", "50 Gigabit",
		"12xlarge", "75 Gigabit", "16xlarge", "100 Gigabit")
	// Graviton3: m7g, m7gd, c7g, c7gd, r7g, r7gd.
	netGraviton3 = ladder("medium large xlarge 2xlarge 4xlarge", upTo12_5, "8xlarge", "15 Gigabit",
		"12xlarge", "22.5 Gigabit", "16xlarge", "30 Gigabit")
	// c7gn.
	netC7gn = ladder("medium", upTo25, "large", "Up to 30 Gigabit", "xlarge", "Up to 40 Gigabit",
		"2xlarge", "Up to 50 Gigabit", "4xlarge", "50 Gigabit", "8xlarge", "100 Gigabit",
		"12xlarge", "150 Gigabit", "16xlarge", "200 Gigabit")
	// i3.
	netI3 = ladder("large xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "10 Gigabit", "16xlarge", "25 Gigabit")
	// i3en.
	netI3en = ladder("large xlarge 2xlarge 3xlarge", upTo25, "6xlarge", "25 Gigabit",
		"12xlarge", "50 Gigabit", "24xlarge", "100 Gigabit")
	// i4i, i4g.
	netI4 = ladder("large xlarge", upTo10, "2xlarge", "Up to 12 Gigabit", "4xlarge", upTo25,
		"8xlarge", "18.75 Gigabit", "12xlarge", "28.125 Gigabit", "16xlarge", "37.5 Gigabit",
		"24xlarge", "56.25 Gigabit", "32xlarge", "75 Gigabit")
	// im4gn.
	netIm4gn = ladder("large xlarge 2xlarge", upTo25, "4xlarge", "25 Gigabit", "8xlarge", "50 Gigabit",
		"16xlarge", "100 Gigabit")
	// g4dn.
	netG4dn = ladder("xlarge 2xlarge 4xlarge", upTo25, "8xlarge 12xlarge 16xlarge", "50 Gigabit")
	// g5, g6.
	netG56 = ladder("xlarge 2xlarge", upTo10, "4xlarge", upTo25, "8xlarge 16xlarge", "25 Gigabit",
		"12xlarge", "40 Gigabit", "24xlarge", "50 Gigabit", "48xlarge", "100 Gigabit")
	// g5g.
	netG5g = ladder("xlarge 2xlarge 4xlarge", upTo10, "8xlarge", "12 Gigabit", "16xlarge", "25 Gigabit")
	// p3.
	netP3  = ladder("2xlarge", upTo10, "8xlarge", "10 Gigabit", "16xlarge", "25 Gigabit")
	netP4d = ladder("24xlarge", "4x 100 Gigabit")
	netP5  = ladder("48xlarge", "3200 Gigabit")
)

// Size ladders shared by many families.
const (
	sizesIntel5 = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge"
	sizesC5     = "large xlarge 2xlarge 4xlarge 9xlarge 12xlarge 18xlarge 24xlarge"
	sizesGen6i  = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge"
	sizesGen6a  = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge"
	sizesGen7i  = "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge"
	sizesGen7a  = "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 32xlarge 48xlarge"
	sizesGravtn = "medium large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge"
	sizesBurst  = "nano micro small medium large xlarge 2xlarge"
	sizesStore6 = "large xlarge 2xlarge 4xlarge 8xlarge 16xlarge"
)

// Instance store (GB) columns shared by several families.
var (
	storeM5d     = []int64{75, 150, 300, 600, 1200, 1800, 2400, 3600}        // m5d, r5d
	storeC5d     = []int64{50, 100, 200, 400, 900, 1800, 1800, 3600}         // c5d
	storeGravtnD = []int64{59, 118, 237, 474, 950, 1900, 2850, 3800}         // m6gd, c6gd, r6gd, m7gd, c7gd, r7gd
	storeGen6iD  = []int64{118, 237, 474, 950, 1900, 2850, 3800, 5700, 7600} // m6id, c6id, r6id
)

// families is the catalogue. Rows are grouped as the documentation pages group them.
var families = []family{
	// ---------------------------------------------------------------------------------------
	// Amazon EC2 instance types - General purpose: https://docs.aws.amazon.com/ec2/latest/instancetypes/gp.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.

	// Burstable: nano/micro/small/medium/large have 2 vCPUs; memory 0.5/1/2/4/8/16/32 GiB.
	{name: "t3", arch: ArchX86_64, burstable: true, sizes: sizesBurst,
		vcpus: tVCPUs, memoryMiB: tMemory, enis: tENIs, network: netBurst,
		prices: []float64{0.0052, 0.0104, 0.0208, 0.0416, 0.0832, 0.1664, 0.3328}},
	{name: "t3a", arch: ArchX86_64, burstable: true, sizes: sizesBurst,
		vcpus: tVCPUs, memoryMiB: tMemory, enis: t3aENIs, network: netBurst,
		prices: []float64{0.0047, 0.0094, 0.0188, 0.0376, 0.0752, 0.1504, 0.3008}},
	{name: "t4g", arch: ArchARM64, burstable: true, sizes: sizesBurst,
		vcpus: tVCPUs, memoryMiB: tMemory, enis: tENIs, network: netBurst,
		prices: []float64{0.0042, 0.0084, 0.0168, 0.0336, 0.0672, 0.1344, 0.2688}},

	// 4 GiB per vCPU.
	{name: "m5", arch: ArchX86_64, mibPerVCPU: gib4, network: netIntel5, sizes: sizesIntel5,
		prices: []float64{0.096, 0.192, 0.384, 0.768, 1.536, 2.304, 3.072, 4.608}},
	{name: "m5a", arch: ArchX86_64, mibPerVCPU: gib4, network: netAMD5, sizes: sizesIntel5,
		prices: []float64{0.086, 0.172, 0.344, 0.688, 1.376, 2.064, 2.752, 4.128}},
	{name: "m5d", arch: ArchX86_64, mibPerVCPU: gib4, network: netIntel5, sizes: sizesIntel5, storageGB: storeM5d,
		prices: []float64{0.113, 0.226, 0.452, 0.904, 1.808, 2.712, 3.616, 5.424}},
	{name: "m5n", arch: ArchX86_64, mibPerVCPU: gib4, network: netN5, sizes: sizesIntel5,
		prices: []float64{0.119, 0.238, 0.476, 0.952, 1.904, 2.856, 3.808, 5.712}},
	{name: "m6i", arch: ArchX86_64, mibPerVCPU: gib4, network: netX86Gen67, sizes: sizesGen6i,
		prices: []float64{0.096, 0.192, 0.384, 0.768, 1.536, 2.304, 3.072, 4.608, 6.144}},
	{name: "m6a", arch: ArchX86_64, mibPerVCPU: gib4, network: netX86Gen67, sizes: sizesGen6a,
		prices: []float64{0.0864, 0.1728, 0.3456, 0.6912, 1.3824, 2.0736, 2.7648, 4.1472, 5.5296, 8.2944}},
	{name: "m6id", arch: ArchX86_64, mibPerVCPU: gib4, network: netX86Gen67, sizes: sizesGen6i, storageGB: storeGen6iD,
		prices: []float64{0.11865, 0.2373, 0.4746, 0.9492, 1.8984, 2.8476, 3.7968, 5.6952, 7.5936}},
	{name: "m6g", arch: ArchARM64, mibPerVCPU: gib4, network: netGraviton2, sizes: sizesGravtn,
		prices: []float64{0.0385, 0.077, 0.154, 0.308, 0.616, 1.232, 1.848, 2.464}},
	{name: "m6gd", arch: ArchARM64, mibPerVCPU: gib4, network: netGraviton2, sizes: sizesGravtn, storageGB: storeGravtnD,
		prices: []float64{0.0452, 0.0904, 0.1808, 0.3616, 0.7232, 1.4464, 2.1696, 2.8928}},
	{name: "m7i", arch: ArchX86_64, mibPerVCPU: gib4, network: netX86Gen67, sizes: sizesGen7i,
		prices: []float64{0.1008, 0.2016, 0.4032, 0.8064, 1.6128, 2.4192, 3.2256, 4.8384, 9.6768}},
	{name: "m7a", arch: ArchX86_64, mibPerVCPU: gib4, network: netX86Gen67, sizes: sizesGen7a,
		prices: []float64{0.05796, 0.11592, 0.23184, 0.46368, 0.92736, 1.85472, 2.78208, 3.70944, 5.56416, 7.41888, 11.12832}},
	{name: "m7g", arch: ArchARM64, mibPerVCPU: gib4, network: netGraviton3, sizes: sizesGravtn,
		prices: []float64{0.0408, 0.0816, 0.1632, 0.3264, 0.6528, 1.3056, 1.9584, 2.6112}},
	{name: "m7gd", arch: ArchARM64, mibPerVCPU: gib4, network: netGraviton3, sizes: sizesGravtn, storageGB: storeGravtnD,
		prices: []float64{0.0534, 0.1068, 0.2136, 0.4271, 0.8543, 1.7086, 2.5628, 3.4171}},

	// ---------------------------------------------------------------------------------------
	// Amazon EC2 instance types - Compute optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/co.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.
	// 2 GiB per vCPU, except c5n (5.25 GiB per 2 vCPUs; 9xlarge 96 GiB, 18xlarge 192 GiB).
	{name: "c5", arch: ArchX86_64, mibPerVCPU: gib2, network: netC5, sizes: sizesC5,
		prices: []float64{0.085, 0.17, 0.34, 0.68, 1.53, 2.04, 3.06, 4.08}},
	{name: "c5a", arch: ArchX86_64, mibPerVCPU: gib2, network: netC5a,
		sizes:  "large xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge",
		prices: []float64{0.077, 0.154, 0.308, 0.616, 1.232, 1.848, 2.464, 3.696}},
	{name: "c5d", arch: ArchX86_64, mibPerVCPU: gib2, network: netC5, sizes: sizesC5, storageGB: storeC5d,
		prices: []float64{0.096, 0.192, 0.384, 0.768, 1.728, 2.304, 3.456, 4.608}},
	{name: "c5n", arch: ArchX86_64, mibPerVCPU: 2688, network: netC5n,
		sizes:  "large xlarge 2xlarge 4xlarge 9xlarge 18xlarge",
		prices: []float64{0.108, 0.216, 0.432, 0.864, 1.944, 3.888}},
	{name: "c6i", arch: ArchX86_64, mibPerVCPU: gib2, network: netX86Gen67, sizes: sizesGen6i,
		prices: []float64{0.085, 0.17, 0.34, 0.68, 1.36, 2.04, 2.72, 4.08, 5.44}},
	{name: "c6a", arch: ArchX86_64, mibPerVCPU: gib2, network: netX86Gen67, sizes: sizesGen6a,
		prices: []float64{0.0765, 0.153, 0.306, 0.612, 1.224, 1.836, 2.448, 3.672, 4.896, 7.344}},
	{name: "c6id", arch: ArchX86_64, mibPerVCPU: gib2, network: netX86Gen67, sizes: sizesGen6i, storageGB: storeGen6iD,
		prices: []float64{0.1008, 0.2016, 0.4032, 0.8064, 1.6128, 2.4192, 3.2256, 4.8384, 6.4512}},
	{name: "c6g", arch: ArchARM64, mibPerVCPU: gib2, network: netGraviton2, sizes: sizesGravtn,
		prices: []float64{0.034, 0.068, 0.136, 0.272, 0.544, 1.088, 1.632, 2.176}},
	{name: "c6gd", arch: ArchARM64, mibPerVCPU: gib2, network: netGraviton2, sizes: sizesGravtn, storageGB: storeGravtnD,
		prices: []float64{0.0384, 0.0768, 0.1536, 0.3072, 0.6144, 1.2288, 1.8432, 2.4576}},
	{name: "c6gn", arch: ArchARM64, mibPerVCPU: gib2, network: netC6gn, sizes: sizesGravtn,
		prices: []float64{0.0432, 0.0864, 0.1728, 0.3456, 0.6912, 1.3824, 2.0736, 2.7648}},
	{name: "c7i", arch: ArchX86_64, mibPerVCPU: gib2, network: netX86Gen67, sizes: sizesGen7i,
		prices: []float64{0.08925, 0.1785, 0.357, 0.714, 1.428, 2.142, 2.856, 4.284, 8.568}},
	{name: "c7a", arch: ArchX86_64, mibPerVCPU: gib2, network: netX86Gen67, sizes: sizesGen7a,
		prices: []float64{0.05132, 0.10264, 0.20528, 0.41056, 0.82112, 1.64224, 2.46336, 3.28448, 4.92672, 6.56896, 9.85344}},
	{name: "c7g", arch: ArchARM64, mibPerVCPU: gib2, network: netGraviton3, sizes: sizesGravtn,
		prices: []float64{0.0363, 0.0725, 0.145, 0.29, 0.58, 1.16, 1.74, 2.32}},
	{name: "c7gd", arch: ArchARM64, mibPerVCPU: gib2, network: netGraviton3, sizes: sizesGravtn, storageGB: storeGravtnD,
		prices: []float64{0.0454, 0.0907, 0.1814, 0.3629, 0.7258, 1.4515, 2.1773, 2.903}},
	{name: "c7gn", arch: ArchARM64, mibPerVCPU: gib2, network: netC7gn, sizes: sizesGravtn, zones: zonesAC,
		prices: []float64{0.0624, 0.1248, 0.2496, 0.4992, 0.9984, 1.9968, 2.9952, 3.9936}},

	// ---------------------------------------------------------------------------------------
	// Amazon EC2 instance types - Memory optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/mo.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.
	// 8 GiB per vCPU.
	{name: "r5", arch: ArchX86_64, mibPerVCPU: gib8, network: netIntel5, sizes: sizesIntel5,
		prices: []float64{0.126, 0.252, 0.504, 1.008, 2.016, 3.024, 4.032, 6.048}},
	{name: "r5a", arch: ArchX86_64, mibPerVCPU: gib8, network: netAMD5, sizes: sizesIntel5,
		prices: []float64{0.113, 0.226, 0.452, 0.904, 1.808, 2.712, 3.616, 5.424}},
	{name: "r5d", arch: ArchX86_64, mibPerVCPU: gib8, network: netIntel5, sizes: sizesIntel5, storageGB: storeM5d,
		prices: []float64{0.144, 0.288, 0.576, 1.152, 2.304, 3.456, 4.608, 6.912}},
	{name: "r5n", arch: ArchX86_64, mibPerVCPU: gib8, network: netN5, sizes: sizesIntel5,
		prices: []float64{0.149, 0.298, 0.596, 1.192, 2.384, 3.576, 4.768, 7.152}},
	{name: "r6i", arch: ArchX86_64, mibPerVCPU: gib8, network: netX86Gen67, sizes: sizesGen6i,
		prices: []float64{0.126, 0.252, 0.504, 1.008, 2.016, 3.024, 4.032, 6.048, 8.064}},
	{name: "r6a", arch: ArchX86_64, mibPerVCPU: gib8, network: netX86Gen67, sizes: sizesGen6a,
		prices: []float64{0.1134, 0.2268, 0.4536, 0.9072, 1.8144, 2.7216, 3.6288, 5.4432, 7.2576, 10.8864}},
	{name: "r6id", arch: ArchX86_64, mibPerVCPU: gib8, network: netX86Gen67, sizes: sizesGen6i, storageGB: storeGen6iD,
		prices: []float64{0.1512, 0.3024, 0.6048, 1.2096, 2.4192, 3.6288, 4.8384, 7.2576, 9.6768}},
	{name: "r6g", arch: ArchARM64, mibPerVCPU: gib8, network: netGraviton2, sizes: sizesGravtn,
		prices: []float64{0.0504, 0.1008, 0.2016, 0.4032, 0.8064, 1.6128, 2.4192, 3.2256}},
	{name: "r6gd", arch: ArchARM64, mibPerVCPU: gib8, network: netGraviton2, sizes: sizesGravtn, storageGB: storeGravtnD,
		prices: []float64{0.0576, 0.1152, 0.2304, 0.4608, 0.9216, 1.8432, 2.7648, 3.6864}},
	{name: "r7i", arch: ArchX86_64, mibPerVCPU: gib8, network: netX86Gen67, sizes: sizesGen7i,
		prices: []float64{0.1323, 0.2646, 0.5292, 1.0584, 2.1168, 3.1752, 4.2336, 6.3504, 12.7008}},
	{name: "r7a", arch: ArchX86_64, mibPerVCPU: gib8, network: netX86Gen67, sizes: sizesGen7a,
		prices: []float64{0.07608, 0.15215, 0.3043, 0.6086, 1.2172, 2.4344, 3.6516, 4.8688, 7.3032, 9.7376, 14.6064}},
	{name: "r7g", arch: ArchARM64, mibPerVCPU: gib8, network: netGraviton3, sizes: sizesGravtn,
		prices: []float64{0.0536, 0.1071, 0.2142, 0.4284, 0.8568, 1.7136, 2.5704, 3.4272}},
	{name: "r7gd", arch: ArchARM64, mibPerVCPU: gib8, network: netGraviton3, sizes: sizesGravtn, storageGB: storeGravtnD,
		prices: []float64{0.068, 0.1361, 0.2722, 0.5443, 1.0886, 2.1773, 3.2659, 4.3546}},

	// ---------------------------------------------------------------------------------------
	// Amazon EC2 instance types - Storage optimized: https://docs.aws.amazon.com/ec2/latest/instancetypes/so.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.
	// i3: Xen, 15.25 GiB per 2 vCPUs (7808 MiB per vCPU), NVMe 475 GB per 2 vCPUs up to 8x1900.
	{name: "i3", arch: ArchX86_64, hypervisor: HypervisorXen, mibPerVCPU: 7808, network: netI3, sizes: sizesStore6,
		storageGB: []int64{475, 950, 1900, 3800, 7600, 15200},
		prices:    []float64{0.156, 0.312, 0.624, 1.248, 2.496, 4.992}},
	{name: "i3en", arch: ArchX86_64, mibPerVCPU: gib8, network: netI3en,
		sizes:     "large xlarge 2xlarge 3xlarge 6xlarge 12xlarge 24xlarge",
		storageGB: []int64{1250, 2500, 5000, 7500, 15000, 30000, 60000},
		prices:    []float64{0.226, 0.452, 0.904, 1.356, 2.712, 5.424, 10.848}},
	{name: "i4i", arch: ArchX86_64, mibPerVCPU: gib8, network: netI4, sizes: sizesGen6i,
		storageGB: []int64{468, 937, 1875, 3750, 7500, 11250, 15000, 22500, 30000},
		prices:    []float64{0.172, 0.343, 0.686, 1.373, 2.746, 4.118, 5.491, 8.2368, 10.9824}},
	// i4g is not in eni-max-pods.txt; its network specifications follow the standard ladder.
	{name: "i4g", arch: ArchARM64, mibPerVCPU: gib8, network: netI4, sizes: sizesStore6, zones: zonesBC,
		storageGB: []int64{468, 937, 1875, 3750, 7500, 15000},
		prices:    []float64{0.15444, 0.30888, 0.61776, 1.23552, 2.47104, 4.94208}},
	{name: "im4gn", arch: ArchARM64, mibPerVCPU: gib4, network: netIm4gn, sizes: sizesStore6, zones: zonesAB,
		storageGB: []int64{937, 1875, 3750, 7500, 15000, 30000},
		prices:    []float64{0.1819, 0.36379, 0.72758, 1.45517, 2.91034, 5.82067}},

	// ---------------------------------------------------------------------------------------
	// Amazon EC2 instance types - Accelerated computing: https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html
	// us-east-1 on-demand Linux prices, AWS price list, January 2026.
	// GPU price does not scale with vCPUs: each size's price is listed as is.
	{name: "g4dn", arch: ArchX86_64, mibPerVCPU: gib4, network: netG4dn,
		sizes:     "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge",
		gpu:       gpuModel{"NVIDIA", "T4", 16384},
		gpus:      []int32{1, 1, 1, 1, 4, 1},
		storageGB: []int64{125, 225, 225, 900, 900, 900},
		// eni-max-pods: 29, 29, 29, 58, 234, 58.
		enis:   [][2]int32{{3, 10}, {3, 10}, {3, 10}, {4, 15}, {8, 30}, {4, 15}},
		prices: []float64{0.526, 0.752, 1.204, 2.176, 3.912, 4.352}},
	// g5: 2nd generation AMD EPYC (7R32), https://aws.amazon.com/ec2/instance-types/g5/.
	{name: "g5", arch: ArchX86_64, cpu: CPUAMD, mibPerVCPU: gib4, network: netG56, sizes: sizesGPU8,
		gpu:       gpuModel{"NVIDIA", "A10G", 22888},
		gpus:      []int32{1, 1, 1, 1, 4, 1, 4, 8},
		storageGB: []int64{250, 450, 600, 900, 3800, 1900, 3800, 7600},
		prices:    []float64{1.006, 1.212, 1.624, 2.448, 5.672, 4.096, 8.144, 16.288}},
	{name: "g5g", arch: ArchARM64, mibPerVCPU: gib2, network: netG5g, zones: zonesBC,
		sizes:  "xlarge 2xlarge 4xlarge 8xlarge 16xlarge",
		gpu:    gpuModel{"NVIDIA", "T4g", 16384},
		gpus:   []int32{1, 1, 1, 1, 2},
		prices: []float64{0.42, 0.556, 0.828, 1.372, 2.744}},
	// g6: 3rd generation AMD EPYC (7R13), https://aws.amazon.com/ec2/instance-types/g6/.
	{name: "g6", arch: ArchX86_64, cpu: CPUAMD, mibPerVCPU: gib4, network: netG56, sizes: sizesGPU8, zones: zonesAB,
		gpu:       gpuModel{"NVIDIA", "L4", 22888},
		gpus:      []int32{1, 1, 1, 1, 4, 1, 4, 8},
		storageGB: []int64{250, 450, 600, 900, 3760, 1880, 3760, 7520},
		prices:    []float64{0.8048, 0.9776, 1.3232, 2.0144, 4.6016, 3.3968, 6.6752, 13.3504}},
	// p3: Xen, 61 GiB per 8 vCPUs (7808 MiB per vCPU), EBS only.
	{name: "p3", arch: ArchX86_64, hypervisor: HypervisorXen, mibPerVCPU: 7808, network: netP3, zones: zonesAB,
		sizes:  "2xlarge 8xlarge 16xlarge",
		gpu:    gpuModel{"NVIDIA", "V100", 16384},
		gpus:   []int32{1, 4, 8},
		prices: []float64{3.06, 12.24, 24.48}},
	// p4d.24xlarge: 1152 GiB, 8 x 1000 GB NVMe.
	{name: "p4d", arch: ArchX86_64, mibPerVCPU: 12 * 1024, network: netP4d, zones: zonesAC,
		sizes: "24xlarge", gpu: gpuModel{"NVIDIA", "A100", 40960}, gpus: []int32{8},
		storageGB: []int64{8000}, prices: []float64{21.957642}},
	// p5.48xlarge: 2048 GiB, 8 x 3800 GB NVMe; 3rd generation AMD EPYC (7R13),
	// https://aws.amazon.com/ec2/instance-types/p5/.
	{name: "p5", arch: ArchX86_64, cpu: CPUAMD, network: netP5, zones: zonesBC,
		sizes: "48xlarge", gpu: gpuModel{"NVIDIA", "H100", 81920}, gpus: []int32{8},
		memoryMiB: []int64{2048 * 1024}, storageGB: []int64{30400}, prices: []float64{55.04}},
}

// sizesGPU8 is the g5/g6 size ladder.
const sizesGPU8 = "xlarge 2xlarge 4xlarge 8xlarge 12xlarge 16xlarge 24xlarge 48xlarge"

// Burstable (T) family columns for sizes nano micro small medium large xlarge 2xlarge.
var (
	tVCPUs  = []int32{2, 2, 2, 2, 2, 4, 8}
	tMemory = []int64{512, 1024, 2048, 4096, 8192, 16384, 32768}
	// eni-max-pods: nano 4, micro 4, small 11, medium 17, large 35, xlarge 58, 2xlarge 58.
	tENIs = [][2]int32{{2, 2}, {2, 2}, {3, 4}, {3, 6}, {3, 12}, {4, 15}, {4, 15}}
	// t3a.small has 2 ENIs of 4 addresses (8 pods) where t3.small and t4g.small have 3.
	t3aENIs = [][2]int32{{2, 2}, {2, 2}, {2, 4}, {3, 6}, {3, 12}, {4, 15}, {4, 15}}
)
