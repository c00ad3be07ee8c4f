package catalog

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

// minTypes is the size the catalogue must keep (the sandbox seeds DescribeInstanceTypes from it).
const minTypes = 320

func TestBuild(t *testing.T) {
	if _, err := build(families); err != nil {
		t.Fatalf("build: %v", err)
	}
}

func TestExceptionsReferToTypes(t *testing.T) {
	for name := range memoryExceptions {
		if _, ok := Lookup(name); !ok {
			t.Errorf("memoryExceptions[%q]: no such type", name)
		}
	}
	for name := range eniExceptions {
		if _, ok := Lookup(name); !ok {
			t.Errorf("eniExceptions[%q]: no such type", name)
		}
	}
}

func TestCount(t *testing.T) {
	all := All()
	if len(all) < minTypes {
		t.Errorf("catalogue holds %d types, want at least %d", len(all), minTypes)
	}
	if Len() != len(all) {
		t.Errorf("Len() = %d, len(All()) = %d", Len(), len(all))
	}
}

func TestNamesUniqueAndSorted(t *testing.T) {
	all := All()
	seen := map[string]bool{}
	for i, it := range all {
		if seen[it.Name] {
			t.Errorf("duplicate type %s", it.Name)
		}
		seen[it.Name] = true
		if i > 0 && all[i-1].Name >= it.Name {
			t.Errorf("not sorted: %s before %s", all[i-1].Name, it.Name)
		}
		fam, size, ok := strings.Cut(it.Name, ".")
		if !ok || fam == "" || size == "" || it.Family() != fam || it.Size() != size {
			t.Errorf("%s: bad name split family=%q size=%q", it.Name, it.Family(), it.Size())
		}
	}
}

func TestFieldsSane(t *testing.T) {
	for _, it := range All() {
		if it.VCPUs <= 0 || it.MemoryMiB <= 0 {
			t.Errorf("%s: vcpus=%d memory=%d", it.Name, it.VCPUs, it.MemoryMiB)
		}
		if it.Architecture != ArchX86_64 && it.Architecture != ArchARM64 {
			t.Errorf("%s: arch %q", it.Name, it.Architecture)
		}
		if it.MaxENIs <= 0 || it.IPv4PerENI <= 0 || it.MaxPods() < 4 {
			t.Errorf("%s: enis=%d ipv4/eni=%d maxpods=%d", it.Name, it.MaxENIs, it.IPv4PerENI, it.MaxPods())
		}
		if !(it.OnDemandPrice > 0) || it.OnDemandPrice > 200 {
			t.Errorf("%s: on-demand price %v", it.Name, it.OnDemandPrice)
		}
		if len(it.Zones) == 0 {
			t.Errorf("%s: no zones", it.Name)
		}
		for _, z := range it.Zones {
			if !slices.Contains(AvailabilityZones(), z) {
				t.Errorf("%s: zone %q", it.Name, z)
			}
		}
		if it.Hypervisor != HypervisorNitro && it.Hypervisor != HypervisorXen {
			t.Errorf("%s: hypervisor %q", it.Name, it.Hypervisor)
		}
		if it.NetworkPerformance == "" {
			t.Errorf("%s: no network performance", it.Name)
		}
		if (it.GPUs > 0) != (it.GPUName != "") || (it.GPUs > 0) != (it.GPUMemoryMiB > 0) ||
			(it.GPUs > 0) != (it.GPUManufacturer != "") {
			t.Errorf("%s: inconsistent GPU fields %d %q %q %d", it.Name, it.GPUs, it.GPUManufacturer, it.GPUName, it.GPUMemoryMiB)
		}
		if it.Burstable != strings.HasPrefix(it.Name, "t") {
			t.Errorf("%s: burstable=%v", it.Name, it.Burstable)
		}
		// Graviton families carry a "g" after the generation digit (m6g, c7gn, t4g, i4g, im4gn, g5g).
		fam := it.Family()
		graviton := strings.ContainsRune(strings.TrimLeft(fam, "abcdefghijklmnopqrstuvwxyz")[1:], 'g')
		if graviton != (it.Architecture == ArchARM64) {
			t.Errorf("%s: arch %s but family suggests graviton=%v", it.Name, it.Architecture, graviton)
		}
	}
}

// Within a family, a bigger size never has fewer vCPUs, less memory or a lower price.
func TestMonotonicWithinFamily(t *testing.T) {
	byFamily := map[string][]InstanceType{}
	for _, it := range All() {
		byFamily[it.Family()] = append(byFamily[it.Family()], it)
	}
	for fam, types := range byFamily {
		slices.SortFunc(types, func(a, b InstanceType) int {
			if a.VCPUs != b.VCPUs {
				return int(a.VCPUs - b.VCPUs)
			}
			return int(a.MemoryMiB - b.MemoryMiB)
		})
		for i := 1; i < len(types); i++ {
			a, b := types[i-1], types[i]
			if b.MemoryMiB < a.MemoryMiB {
				t.Errorf("%s: %s has less memory than %s", fam, b.Name, a.Name)
			}
			if b.VCPUs == a.VCPUs && b.MemoryMiB == a.MemoryMiB {
				t.Errorf("%s: %s and %s have the same shape", fam, a.Name, b.Name)
			}
			// GPU families price by GPU count too (g5.16xlarge, 1 GPU, is cheaper than
			// g5.12xlarge, 4 GPUs), so compare prices only at equal GPU counts.
			if a.GPUs == b.GPUs && b.OnDemandPrice <= a.OnDemandPrice {
				t.Errorf("%s: %s ($%v) is not dearer than %s ($%v)", fam, b.Name, b.OnDemandPrice, a.Name, a.OnDemandPrice)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	for _, it := range All() {
		got, ok := Lookup(it.Name)
		if !ok || got.Name != it.Name || got.OnDemandPrice != it.OnDemandPrice {
			t.Fatalf("Lookup(%q) = %v, %v", it.Name, got.Name, ok)
		}
	}
	for _, name := range []string{"", "m5", "m5.", "m5.huge", "M5.LARGE", "m5.large "} {
		if it, ok := Lookup(name); ok || it.Name != "" {
			t.Errorf("Lookup(%q) = %q, %v; want not found", name, it.Name, ok)
		}
	}
}

func TestAllReturnsCopy(t *testing.T) {
	n := Len()
	a := All()
	if n == 0 || len(a) != n {
		t.Fatalf("len(All()) = %d, Len() = %d; want equal and non-zero", len(a), n)
	}
	// Writing through the returned slice must not reach the catalogue.
	a[0].Name = "mutated"
	clear(a[1:])
	if got := All(); got[0].Name == "mutated" || got[len(got)-1].Name == "" || Len() != n {
		t.Fatal("All() exposes the catalogue's own slice")
	}
}

func TestSpotPrice(t *testing.T) {
	differ := 0
	all := All()
	for _, it := range all {
		prices := map[float64]bool{}
		for _, z := range AvailabilityZones() {
			p := SpotPrice(it, z)
			if !(p > 0) || p >= it.OnDemandPrice {
				t.Errorf("%s %s: spot %v, on-demand %v", it.Name, z, p, it.OnDemandPrice)
			}
			// Within the documented band (allowing for rounding to 6 decimals).
			lo, hi := it.OnDemandPrice*(1-SpotMaxDiscount), it.OnDemandPrice*(1-SpotMinDiscount)
			if p < lo-1e-6 || p > hi+1e-6 {
				t.Errorf("%s %s: spot %v outside [%v, %v]", it.Name, z, p, lo, hi)
			}
			if p != SpotPrice(it, z) {
				t.Errorf("%s %s: not deterministic", it.Name, z)
			}
			prices[p] = true
		}
		if len(prices) == len(AvailabilityZones()) {
			differ++
		}
	}
	if differ < len(all)*9/10 {
		t.Errorf("spot prices differ across all zones for only %d of %d types", differ, len(all))
	}
}

func TestSpotPriceModelValues(t *testing.T) {
	// Pin the model so an accidental change (hash input, rounding) shows up in review.
	m5, _ := Lookup("m5.large")
	d := SpotDiscount("m5.large", ZoneA)
	want := math.Round(0.096*(1-d)*1e6) / 1e6
	if got := SpotPrice(m5, ZoneA); got != want {
		t.Errorf("SpotPrice(m5.large, a) = %v, want %v", got, want)
	}
	if SpotDiscount("m5.large", ZoneA) == SpotDiscount("m5.large", ZoneB) {
		t.Error("discount does not depend on zone")
	}
	if SpotDiscount("m5.large", ZoneA) == SpotDiscount("m5.xlarge", ZoneA) {
		t.Error("discount does not depend on type")
	}
	// Arbitrary input never yields a price at or above on-demand, nor a negative one.
	for _, p := range []float64{0, -1, 1e-9, 0.0001, 1, 1e6} {
		got := SpotPrice(InstanceType{Name: "x.y", OnDemandPrice: p}, "nowhere")
		if p <= 0 && got != 0 {
			t.Errorf("SpotPrice(od=%v) = %v, want 0", p, got)
		}
		if p > 0 && (got <= 0 || got > p) {
			t.Errorf("SpotPrice(od=%v) = %v", p, got)
		}
	}
}

func TestBuildRejectsBadRows(t *testing.T) {
	ok := family{name: "zz9", arch: ArchX86_64, mibPerVCPU: gib4, sizes: "large",
		prices: []float64{0.1}, network: netIntel5}
	cases := map[string]func(f *family){
		"prices":    func(f *family) { f.prices = nil },
		"arch":      func(f *family) { f.arch = "sparc" },
		"sizes":     func(f *family) { f.sizes = "huge" },
		"network":   func(f *family) { f.network = nil },
		"memoryMiB": func(f *family) { f.mibPerVCPU = 0 },
		"storageGB": func(f *family) { f.storageGB = []int64{1, 2} },
		"zones":     func(f *family) { f.zones = []string{"eu-west-1a"} },
		"gpu":       func(f *family) { f.gpus = []int32{1} },
	}
	if _, err := build([]family{ok}); err != nil {
		t.Fatalf("baseline row rejected: %v", err)
	}
	for field, mutate := range cases {
		f := ok
		mutate(&f)
		_, err := build([]family{f})
		if err == nil || !strings.Contains(err.Error(), "zz9") {
			t.Errorf("%s: error %v, want one naming the row", field, err)
			continue
		}
		if !strings.Contains(err.Error(), field) && !strings.Contains(err.Error(), "size") {
			t.Errorf("%s: error %q does not name the field", field, err)
		}
	}
	if _, err := build([]family{ok, ok}); err == nil || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("duplicate rows: %v", err)
	}
}

// Well-known facts, checked one by one against the documentation and price list.
func TestKnownFacts(t *testing.T) {
	type fact struct {
		name      string
		vcpus     int32
		memoryMiB int64
		enis      int32
		ipv4      int32
		maxPods   int32
		price     float64
		arch      string
	}
	for _, f := range []fact{
		{"t3.micro", 2, 1024, 2, 2, 4, 0.0104, ArchX86_64},
		{"t3.medium", 2, 4096, 3, 6, 17, 0.0416, ArchX86_64},
		{"t3a.small", 2, 2048, 2, 4, 8, 0.0188, ArchX86_64},
		{"t4g.large", 2, 8192, 3, 12, 35, 0.0672, ArchARM64},
		{"m5.large", 2, 8192, 3, 10, 29, 0.096, ArchX86_64},
		{"m5.24xlarge", 96, 393216, 15, 50, 737, 4.608, ArchX86_64},
		{"c5.xlarge", 4, 8192, 4, 15, 58, 0.17, ArchX86_64},
		{"c5.9xlarge", 36, 73728, 8, 30, 234, 1.53, ArchX86_64},
		{"c5n.large", 2, 5376, 3, 10, 29, 0.108, ArchX86_64},
		{"c5n.18xlarge", 72, 196608, 15, 50, 737, 3.888, ArchX86_64},
		{"m6g.large", 2, 8192, 3, 10, 29, 0.077, ArchARM64},
		{"m6g.medium", 1, 4096, 2, 4, 8, 0.0385, ArchARM64},
		{"r5.large", 2, 16384, 3, 10, 29, 0.126, ArchX86_64},
		{"c7g.medium", 1, 2048, 2, 4, 8, 0.0363, ArchARM64},
		{"m7i.48xlarge", 192, 786432, 15, 50, 737, 9.6768, ArchX86_64},
		{"i3en.3xlarge", 12, 98304, 4, 15, 58, 1.356, ArchX86_64},
		{"i4i.24xlarge", 96, 786432, 15, 30, 437, 8.2368, ArchX86_64},
		{"g4dn.xlarge", 4, 16384, 3, 10, 29, 0.526, ArchX86_64},
		{"g5.48xlarge", 192, 786432, 7, 50, 345, 16.288, ArchX86_64},
		{"p3.2xlarge", 8, 62464, 4, 15, 58, 3.06, ArchX86_64},
		{"p4d.24xlarge", 96, 1179648, 15, 50, 737, 21.957642, ArchX86_64},
		{"p5.48xlarge", 192, 2097152, 2, 50, 100, 55.04, ArchX86_64},
	} {
		it, ok := Lookup(f.name)
		if !ok {
			t.Errorf("%s: missing", f.name)
			continue
		}
		if it.VCPUs != f.vcpus || it.MemoryMiB != f.memoryMiB || it.MaxENIs != f.enis ||
			it.IPv4PerENI != f.ipv4 || it.MaxPods() != f.maxPods || it.OnDemandPrice != f.price ||
			it.Architecture != f.arch {
			t.Errorf("%s = %d vCPU %d MiB %dx%d ENIs (%d pods) $%v %s; want %+v",
				f.name, it.VCPUs, it.MemoryMiB, it.MaxENIs, it.IPv4PerENI, it.MaxPods(), it.OnDemandPrice, it.Architecture, f)
		}
	}
}

// Processor vendors as AWS documents them (instance type pages): the naming convention's "a"
// (m5a, c6a) is AMD, Graviton is AWS, and the accelerated families g5 (AMD EPYC 7R32), g6 and
// p5 (AMD EPYC 7R13) run AMD processors that their names do not show.
func TestCPUManufacturers(t *testing.T) {
	for name, want := range map[string]string{
		"m5.large": CPUIntel, "m5a.large": CPUAMD, "c6a.large": CPUAMD, "t3a.small": CPUAMD, "m6g.large": CPUAWS,
		"g4dn.xlarge": CPUIntel, "g5.xlarge": CPUAMD, "g5.48xlarge": CPUAMD, "g6.xlarge": CPUAMD, "g5g.xlarge": CPUAWS,
		"p3.2xlarge": CPUIntel, "p4d.24xlarge": CPUIntel, "p5.48xlarge": CPUAMD,
	} {
		it, ok := Lookup(name)
		if !ok {
			t.Errorf("%s: missing", name)
			continue
		}
		if it.CPUManufacturer != want {
			t.Errorf("%s: CPU manufacturer %q, want %q", name, it.CPUManufacturer, want)
		}
	}
	for _, it := range All() {
		if it.CPUManufacturer != CPUIntel && it.CPUManufacturer != CPUAMD && it.CPUManufacturer != CPUAWS {
			t.Errorf("%s: CPU manufacturer %q", it.Name, it.CPUManufacturer)
		}
	}
}

func TestKnownGPUsAndStorage(t *testing.T) {
	type fact struct {
		name      string
		gpus      int32
		gpuName   string
		gpuMiB    int64
		storageGB int64
		hv        string
	}
	for _, f := range []fact{
		{"p3.2xlarge", 1, "V100", 16384, 0, HypervisorXen},
		{"p3.16xlarge", 8, "V100", 16384, 0, HypervisorXen},
		{"g4dn.xlarge", 1, "T4", 16384, 125, HypervisorNitro},
		{"g4dn.12xlarge", 4, "T4", 16384, 900, HypervisorNitro},
		{"g5.xlarge", 1, "A10G", 22888, 250, HypervisorNitro},
		{"g5g.16xlarge", 2, "T4g", 16384, 0, HypervisorNitro},
		{"g6.48xlarge", 8, "L4", 22888, 7520, HypervisorNitro},
		{"p4d.24xlarge", 8, "A100", 40960, 8000, HypervisorNitro},
		{"p5.48xlarge", 8, "H100", 81920, 30400, HypervisorNitro},
		{"m5.large", 0, "", 0, 0, HypervisorNitro},
		{"m5d.large", 0, "", 0, 75, HypervisorNitro},
		{"c5d.12xlarge", 0, "", 0, 1800, HypervisorNitro},
		{"c6gd.medium", 0, "", 0, 59, HypervisorNitro},
		{"i3.large", 0, "", 0, 475, HypervisorXen},
		{"im4gn.large", 0, "", 0, 937, HypervisorNitro},
	} {
		it, ok := Lookup(f.name)
		if !ok {
			t.Errorf("%s: missing", f.name)
			continue
		}
		if it.GPUs != f.gpus || it.GPUName != f.gpuName || it.GPUMemoryMiB != f.gpuMiB ||
			it.LocalStorageGB != f.storageGB || it.Hypervisor != f.hv {
			t.Errorf("%s = %d x %q (%d MiB), %d GB, %s; want %+v", f.name, it.GPUs, it.GPUName,
				it.GPUMemoryMiB, it.LocalStorageGB, it.Hypervisor, f)
		}
		if it.GPUs > 0 && it.GPUManufacturer != "NVIDIA" {
			t.Errorf("%s: GPU manufacturer %q", f.name, it.GPUManufacturer)
		}
	}
}

// Max pods per size, typed in separately from amazon-vpc-cni-k8s misc/eni-max-pods.txt, in the
// order of each family's sizes (smallest first); a cross-check of the ENI ladder and exceptions.
var eniMaxPods = map[string]string{
	"t3": "4 4 11 17 35 58 58", "t3a": "4 4 8 17 35 58 58", "t4g": "4 4 11 17 35 58 58",
	"m5": "29 58 58 234 234 234 737 737", "m5a": "29 58 58 234 234 234 737 737",
	"m5d": "29 58 58 234 234 234 737 737", "m5n": "29 58 58 234 234 234 737 737",
	"m6i": "29 58 58 234 234 234 737 737 737", "m6a": "29 58 58 234 234 234 737 737 737 737",
	"m6id": "29 58 58 234 234 234 737 737 737", "m6g": "8 29 58 58 234 234 234 737",
	"m6gd": "8 29 58 58 234 234 234 737", "m7i": "29 58 58 234 234 234 737 737 737",
	"m7a": "8 29 58 58 234 234 234 737 737 737 737", "m7g": "8 29 58 58 234 234 234 737",
	"m7gd": "8 29 58 58 234 234 234 737",
	"c5":   "29 58 58 234 234 234 737 737", "c5a": "29 58 58 234 234 234 737 737",
	"c5d": "29 58 58 234 234 234 737 737", "c5n": "29 58 58 234 234 737",
	"c6i": "29 58 58 234 234 234 737 737 737", "c6a": "29 58 58 234 234 234 737 737 737 737",
	"c6id": "29 58 58 234 234 234 737 737 737", "c6g": "8 29 58 58 234 234 234 737",
	"c6gd": "8 29 58 58 234 234 234 737", "c6gn": "8 29 58 58 234 234 234 737",
	"c7i": "29 58 58 234 234 234 737 737 737", "c7a": "8 29 58 58 234 234 234 737 737 737 737",
	"c7g": "8 29 58 58 234 234 234 737", "c7gd": "8 29 58 58 234 234 234 737",
	"c7gn": "8 29 58 58 234 234 234 737",
	"r5":   "29 58 58 234 234 234 737 737", "r5a": "29 58 58 234 234 234 737 737",
	"r5d": "29 58 58 234 234 234 737 737", "r5n": "29 58 58 234 234 234 737 737",
	"r6i": "29 58 58 234 234 234 737 737 737", "r6a": "29 58 58 234 234 234 737 737 737 737",
	"r6id": "29 58 58 234 234 234 737 737 737", "r6g": "8 29 58 58 234 234 234 737",
	"r6gd": "8 29 58 58 234 234 234 737", "r7i": "29 58 58 234 234 234 737 737 737",
	"r7a": "8 29 58 58 234 234 234 737 737 737 737", "r7g": "8 29 58 58 234 234 234 737",
	"r7gd": "8 29 58 58 234 234 234 737",
	"i3":   "29 58 58 234 234 737", "i3en": "29 58 58 58 234 234 737",
	"i4i": "29 58 58 234 234 234 737 437 737", "im4gn": "29 58 58 234 234 737",
	"g4dn": "29 29 29 58 234 58", "g5": "58 58 234 234 737 234 737 345",
	"g5g": "58 58 234 234 737", "g6": "58 58 234 234 234 737 737 737",
	"p3": "58 234 234", "p4d": "737", "p5": "100",
}

func TestMaxPodsMatchesENIMaxPodsTable(t *testing.T) {
	for _, f := range families {
		want, ok := eniMaxPods[f.name]
		if !ok {
			continue // i4g is not in eni-max-pods.txt
		}
		var got []string
		for _, size := range strings.Fields(f.sizes) {
			it, _ := Lookup(f.name + "." + size)
			got = append(got, fmt.Sprint(it.MaxPods()))
		}
		if g := strings.Join(got, " "); g != want {
			t.Errorf("%s: max pods %s, eni-max-pods.txt %s", f.name, g, want)
		}
	}
}

// Outside GPU families, price scales linearly with size (with vCPUs; for T, with memory), to
// within AWS's per-size rounding. A mistyped digit breaks this.
func TestPriceScalesWithinFamily(t *testing.T) {
	for _, f := range families {
		if f.gpus != nil {
			continue
		}
		var ref float64
		for _, size := range strings.Fields(f.sizes) {
			it, _ := Lookup(f.name + "." + size)
			unit := float64(it.VCPUs)
			if it.Burstable {
				unit = float64(it.MemoryMiB)
			}
			per := it.OnDemandPrice / unit
			if ref == 0 {
				ref = per
				continue
			}
			if math.Abs(per-ref)/ref > 0.005 {
				t.Errorf("%s: $%v is %.2f%% off the family's per-unit price", it.Name, it.OnDemandPrice, 100*(per-ref)/ref)
			}
		}
	}
}

// Instance store: the "d" variants, the storage optimized families and the GPU types that
// carry NVMe have it; the others are EBS only.
func TestLocalStorage(t *testing.T) {
	withNVMe := map[string]bool{"i3": true, "i3en": true, "i4i": true, "i4g": true, "im4gn": true,
		"g5": true, "g6": true, "p5": true}
	for _, it := range All() {
		fam := it.Family()
		suffix := strings.TrimLeft(fam, "abcdefghijklmnopqrstuvwxyz")[1:]
		want := strings.Contains(suffix, "d") || withNVMe[fam]
		if (it.LocalStorageGB > 0) != want {
			t.Errorf("%s: local storage %d GB", it.Name, it.LocalStorageGB)
		}
	}
}

func TestOfferings(t *testing.T) {
	offs := Offerings()
	n := 0
	for _, it := range All() {
		n += len(it.Zones)
	}
	if len(offs) != n {
		t.Fatalf("%d offerings, want %d (sum of zones)", len(offs), n)
	}
	zonesOf := map[string][]string{}
	for i, o := range offs {
		it, ok := Lookup(o.InstanceType)
		if !ok || !it.OfferedIn(o.Zone) || o.OnDemandPrice != it.OnDemandPrice || o.SpotPrice != SpotPrice(it, o.Zone) {
			t.Errorf("offering %+v does not match the catalogue", o)
		}
		if i > 0 && (offs[i-1].InstanceType > o.InstanceType ||
			(offs[i-1].InstanceType == o.InstanceType && offs[i-1].Zone >= o.Zone)) {
			t.Errorf("offerings not sorted at %d: %+v then %+v", i, offs[i-1], o)
		}
		zonesOf[o.InstanceType] = append(zonesOf[o.InstanceType], o.Zone)
	}
	// The two-zone types named in families.go.
	for name, want := range map[string][]string{
		"p5.48xlarge": {ZoneB, ZoneC}, "p4d.24xlarge": {ZoneA, ZoneC}, "p3.2xlarge": {ZoneA, ZoneB},
		"g6.xlarge": {ZoneA, ZoneB}, "c7gn.large": {ZoneA, ZoneC}, "m5.large": {ZoneA, ZoneB, ZoneC},
	} {
		if !slices.Equal(zonesOf[name], want) {
			t.Errorf("%s offered in %v, want %v", name, zonesOf[name], want)
		}
	}
	it, _ := Lookup("p5.48xlarge")
	if it.OfferedIn(ZoneA) || !it.OfferedIn(ZoneB) {
		t.Error("OfferedIn disagrees with Zones")
	}
}

func TestCoverage(t *testing.T) {
	fams := map[string]bool{}
	for _, it := range All() {
		fams[it.Family()] = true
	}
	for _, want := range strings.Fields(`t3 t3a t4g m5 m5a m5d m5n m6i m6a m6g m6gd m6id m7i m7a m7g m7gd
		c5 c5a c5d c5n c6i c6a c6g c6gn c6id c7i c7a c7g c7gn r5 r5a r5d r5n r6i r6a r6g r6id r7i r7a r7g
		i3 i3en i4i i4g im4gn g4dn g5 g5g g6 p3 p4d p5`) {
		if !fams[want] {
			t.Errorf("family %s missing", want)
		}
	}
}

func BenchmarkAll(b *testing.B) {
	for b.Loop() {
		_ = All()
	}
}

func BenchmarkLookup(b *testing.B) {
	names := []string{"m5.large", "c7g.16xlarge", "t3.micro", "p5.48xlarge", "nope.large"}
	for b.Loop() {
		for _, n := range names {
			_, _ = Lookup(n)
		}
	}
}

func BenchmarkSpotPrice(b *testing.B) {
	it, _ := Lookup("m5.large")
	for b.Loop() {
		_ = SpotPrice(it, ZoneB)
	}
}
