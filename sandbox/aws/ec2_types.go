package aws

// Instance type actions: DescribeInstanceTypes, DescribeInstanceTypeOfferings and
// DescribeSpotPriceHistory, answered from the catalogue (sandbox/aws/catalog).

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

type xmlVCpuInfo struct {
	DefaultVCpus          int32 `xml:"defaultVCpus"`
	DefaultCores          int32 `xml:"defaultCores"`
	DefaultThreadsPerCore int32 `xml:"defaultThreadsPerCore"`
}

type xmlMemoryInfo struct {
	SizeInMiB int64 `xml:"sizeInMiB"`
}

type xmlProcessorInfo struct {
	SupportedArchitectures []string `xml:"supportedArchitectures>item"`
	Manufacturer           string   `xml:"manufacturer,omitempty"`
}

type xmlGpuDevice struct {
	Name         string        `xml:"name"`
	Manufacturer string        `xml:"manufacturer"`
	Count        int32         `xml:"count"`
	MemoryInfo   xmlMemoryInfo `xml:"memoryInfo"`
}

type xmlGpuInfo struct {
	Gpus                []xmlGpuDevice `xml:"gpus>item"`
	TotalGpuMemoryInMiB int64          `xml:"totalGpuMemoryInMiB"`
}

type xmlDisk struct {
	SizeInGB int64  `xml:"sizeInGB"`
	Count    int32  `xml:"count"`
	Type     string `xml:"type"`
}

type xmlInstanceStorageInfo struct {
	TotalSizeInGB int64     `xml:"totalSizeInGB"`
	Disks         []xmlDisk `xml:"disks>item"`
	NvmeSupport   string    `xml:"nvmeSupport"`
}

type xmlNetworkCard struct {
	NetworkCardIndex         int32  `xml:"networkCardIndex"`
	NetworkPerformance       string `xml:"networkPerformance"`
	MaximumNetworkInterfaces int32  `xml:"maximumNetworkInterfaces"`
}

type xmlNetworkInfo struct {
	NetworkPerformance        string           `xml:"networkPerformance"`
	MaximumNetworkInterfaces  int32            `xml:"maximumNetworkInterfaces"`
	MaximumNetworkCards       int32            `xml:"maximumNetworkCards"`
	DefaultNetworkCardIndex   int32            `xml:"defaultNetworkCardIndex"`
	NetworkCards              []xmlNetworkCard `xml:"networkCards>item"`
	Ipv4AddressesPerInterface int32            `xml:"ipv4AddressesPerInterface"`
	Ipv6AddressesPerInterface int32            `xml:"ipv6AddressesPerInterface"`
	Ipv6Supported             bool             `xml:"ipv6Supported"`
	EnaSupport                string           `xml:"enaSupport"`
	EfaSupported              bool             `xml:"efaSupported"`
}

type xmlInstanceTypeInfo struct {
	InstanceType                  string                  `xml:"instanceType"`
	CurrentGeneration             bool                    `xml:"currentGeneration"`
	FreeTierEligible              bool                    `xml:"freeTierEligible"`
	SupportedUsageClasses         []string                `xml:"supportedUsageClasses>item"`
	SupportedRootDeviceTypes      []string                `xml:"supportedRootDeviceTypes>item"`
	SupportedVirtualizationTypes  []string                `xml:"supportedVirtualizationTypes>item"`
	BareMetal                     bool                    `xml:"bareMetal"`
	Hypervisor                    string                  `xml:"hypervisor,omitempty"`
	ProcessorInfo                 xmlProcessorInfo        `xml:"processorInfo"`
	VCpuInfo                      xmlVCpuInfo             `xml:"vCpuInfo"`
	MemoryInfo                    xmlMemoryInfo           `xml:"memoryInfo"`
	InstanceStorageSupported      bool                    `xml:"instanceStorageSupported"`
	InstanceStorageInfo           *xmlInstanceStorageInfo `xml:"instanceStorageInfo,omitempty"`
	NetworkInfo                   xmlNetworkInfo          `xml:"networkInfo"`
	GpuInfo                       *xmlGpuInfo             `xml:"gpuInfo,omitempty"`
	BurstablePerformanceSupported bool                    `xml:"burstablePerformanceSupported"`
	HibernationSupported          bool                    `xml:"hibernationSupported"`
	DedicatedHostsSupported       bool                    `xml:"dedicatedHostsSupported"`
	AutoRecoverySupported         bool                    `xml:"autoRecoverySupported"`
}

type describeInstanceTypesResult struct {
	InstanceTypeSet []xmlInstanceTypeInfo `xml:"instanceTypeSet>item"`
	NextToken       string                `xml:"nextToken,omitempty"`
}

// previousGeneration lists families AWS documents as previous generation (source: EC2 User
// Guide, "Previous generation instances"); every other family is current.
var previousGeneration = map[string]bool{
	"a1": true, "c1": true, "c3": true, "c4": true, "g2": true, "g3": true, "g3s": true, "i2": true,
	"m1": true, "m2": true, "m3": true, "m4": true, "p2": true, "r3": true, "r4": true, "t1": true,
}

// instanceTypeInfo renders a catalogue entry as EC2's InstanceTypeInfo. x86_64 types run two
// threads per core; Graviton (arm64) and burstable t-types under 2 vCPUs run one.
func instanceTypeInfo(it catalog.InstanceType) xmlInstanceTypeInfo {
	threads := int32(2)
	if it.Architecture == catalog.ArchARM64 || it.VCPUs < 2 {
		threads = 1
	}
	metal := strings.HasSuffix(it.Name, ".metal") || strings.Contains(it.Name, ".metal-")
	info := xmlInstanceTypeInfo{
		InstanceType:                 it.Name,
		CurrentGeneration:            !previousGeneration[it.Family()],
		FreeTierEligible:             it.Name == "t2.micro" || it.Name == "t3.micro",
		SupportedUsageClasses:        []string{"on-demand", "spot"},
		SupportedRootDeviceTypes:     []string{"ebs"},
		SupportedVirtualizationTypes: []string{"hvm"},
		BareMetal:                    metal,
		ProcessorInfo:                xmlProcessorInfo{SupportedArchitectures: []string{it.Architecture}, Manufacturer: it.CPUManufacturer},
		VCpuInfo:                     xmlVCpuInfo{DefaultVCpus: it.VCPUs, DefaultCores: max(it.VCPUs/threads, 1), DefaultThreadsPerCore: threads},
		MemoryInfo:                   xmlMemoryInfo{SizeInMiB: it.MemoryMiB},
		InstanceStorageSupported:     it.LocalStorageGB > 0,
		NetworkInfo: xmlNetworkInfo{
			NetworkPerformance: it.NetworkPerformance, MaximumNetworkInterfaces: it.MaxENIs, MaximumNetworkCards: 1,
			NetworkCards:              []xmlNetworkCard{{NetworkCardIndex: 0, NetworkPerformance: it.NetworkPerformance, MaximumNetworkInterfaces: it.MaxENIs}},
			Ipv4AddressesPerInterface: it.IPv4PerENI, Ipv6AddressesPerInterface: it.IPv4PerENI, Ipv6Supported: it.Hypervisor == catalog.HypervisorNitro,
			EnaSupport: "required",
		},
		BurstablePerformanceSupported: it.Burstable,
		DedicatedHostsSupported:       !it.Burstable,
		AutoRecoverySupported:         it.LocalStorageGB == 0,
	}
	if !metal {
		info.Hypervisor = it.Hypervisor
	}
	if it.LocalStorageGB > 0 {
		info.InstanceStorageInfo = &xmlInstanceStorageInfo{TotalSizeInGB: it.LocalStorageGB,
			Disks: []xmlDisk{{SizeInGB: it.LocalStorageGB, Count: 1, Type: "ssd"}}, NvmeSupport: "required"}
	}
	if it.GPUs > 0 {
		info.GpuInfo = &xmlGpuInfo{Gpus: []xmlGpuDevice{{Name: it.GPUName, Manufacturer: it.GPUManufacturer, Count: it.GPUs,
			MemoryInfo: xmlMemoryInfo{SizeInMiB: it.GPUMemoryMiB}}}, TotalGpuMemoryInMiB: int64(it.GPUs) * it.GPUMemoryMiB}
	}
	return info
}

// instanceTypeAttr gives the DescribeInstanceTypes filter values of a type.
func instanceTypeAttr(it catalog.InstanceType, info xmlInstanceTypeInfo) attrFunc {
	b := strconv.FormatBool
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-type":
			return []string{it.Name}, true
		case "current-generation":
			return []string{b(info.CurrentGeneration)}, true
		case "bare-metal":
			return []string{b(info.BareMetal)}, true
		case "burstable-performance-supported":
			return []string{b(it.Burstable)}, true
		case "hypervisor":
			return []string{info.Hypervisor}, true
		case "free-tier-eligible":
			return []string{b(info.FreeTierEligible)}, true
		case "processor-info.supported-architecture":
			return []string{it.Architecture}, true
		case "processor-info.manufacturer":
			return []string{info.ProcessorInfo.Manufacturer}, true
		case "vcpu-info.default-vcpus":
			return []string{itoa(int64(it.VCPUs))}, true
		case "vcpu-info.default-cores":
			return []string{itoa(int64(info.VCpuInfo.DefaultCores))}, true
		case "vcpu-info.default-threads-per-core":
			return []string{itoa(int64(info.VCpuInfo.DefaultThreadsPerCore))}, true
		case "memory-info.size-in-mib":
			return []string{itoa(it.MemoryMiB)}, true
		case "supported-usage-class":
			return info.SupportedUsageClasses, true
		case "supported-root-device-type":
			return info.SupportedRootDeviceTypes, true
		case "supported-virtualization-type":
			return info.SupportedVirtualizationTypes, true
		case "instance-storage-supported":
			return []string{b(info.InstanceStorageSupported)}, true
		case "instance-storage-info.total-size":
			return []string{itoa(it.LocalStorageGB)}, true
		case "network-info.maximum-network-interfaces":
			return []string{itoa(int64(it.MaxENIs))}, true
		case "network-info.ipv4-addresses-per-interface":
			return []string{itoa(int64(it.IPv4PerENI))}, true
		case "network-info.ipv6-supported":
			return []string{b(info.NetworkInfo.Ipv6Supported)}, true
		case "network-info.network-performance":
			return []string{it.NetworkPerformance}, true
		case "network-info.ena-support":
			return []string{info.NetworkInfo.EnaSupport}, true
		case "gpu-info.total-gpu-memory-in-mib":
			return []string{itoa(int64(it.GPUs) * it.GPUMemoryMiB)}, true
		}
		return nil, false
	}
}

// describeInstanceTypes lists the catalogue, 100 per page by default (AWS's default and
// maximum page size for this action; minimum 5).
func (e *Emulator) describeInstanceTypes(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	names := formList(form, "InstanceType")
	var missing []string
	for _, n := range names {
		if _, ok := catalog.Lookup(n); !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, errorf(http.StatusBadRequest, "InvalidInstanceType", "The following supplied instance types do not exist: [%s]", strings.Join(missing, ", "))
	}
	e.mu.Lock()
	s := &e.state.ec2
	offset, size, err := s.pageParams(form, "DescribeInstanceTypes", 5, 100, 100)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []xmlInstanceTypeInfo
	for _, it := range catalog.All() {
		if len(names) > 0 && !contains(names, it.Name) {
			continue
		}
		info := instanceTypeInfo(it)
		ok, err := matchFilters(filters, nil, instanceTypeAttr(it, info))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, info)
		}
	}
	lo, hi, next := s.page("DescribeInstanceTypes", form, len(out), offset, size)
	return describeInstanceTypesResult{InstanceTypeSet: out[lo:hi], NextToken: next}, nil
}

type xmlInstanceTypeOffering struct {
	InstanceType string `xml:"instanceType"`
	LocationType string `xml:"locationType"`
	Location     string `xml:"location"`
}

type describeInstanceTypeOfferingsResult struct {
	InstanceTypeOfferingSet []xmlInstanceTypeOffering `xml:"instanceTypeOfferingSet>item"`
	NextToken               string                    `xml:"nextToken,omitempty"`
}

// describeInstanceTypeOfferings lists where each type is offered: LocationType "region"
// (default), "availability-zone" or "availability-zone-id"; 1000 per page at most.
func (e *Emulator) describeInstanceTypeOfferings(form url.Values) (any, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return nil, err
	}
	lt := form.Get("LocationType")
	if lt == "" {
		lt = "region"
	}
	if lt != "region" && lt != "availability-zone" && lt != "availability-zone-id" {
		return nil, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter LocationType is invalid. Expecting one of: region, availability-zone, availability-zone-id.", lt)
	}
	zoneIDs := e.zoneIDs()
	e.mu.Lock()
	s := &e.state.ec2
	offset, size, err := s.pageParams(form, "DescribeInstanceTypeOfferings", 5, 1000, 1000)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var out []xmlInstanceTypeOffering
	for _, it := range catalog.All() {
		var locs []string
		switch lt {
		case "region":
			if len(it.Zones) > 0 {
				locs = []string{e.opts.Region}
			}
		case "availability-zone":
			for _, z := range it.Zones {
				locs = append(locs, e.zoneName(z))
			}
		case "availability-zone-id":
			for _, z := range it.Zones {
				locs = append(locs, zoneIDs[z])
			}
		}
		for _, loc := range locs {
			o := xmlInstanceTypeOffering{InstanceType: it.Name, LocationType: lt, Location: loc}
			ok, err := matchFilters(filters, nil, func(name string) ([]string, bool) {
				switch name {
				case "instance-type":
					return []string{o.InstanceType}, true
				case "location":
					return []string{o.Location}, true
				}
				return nil, false
			})
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, o)
			}
		}
	}
	lo, hi, next := s.page("DescribeInstanceTypeOfferings", form, len(out), offset, size)
	return describeInstanceTypeOfferingsResult{InstanceTypeOfferingSet: out[lo:hi], NextToken: next}, nil
}

type xmlSpotPrice struct {
	InstanceType       string `xml:"instanceType"`
	ProductDescription string `xml:"productDescription"`
	SpotPrice          string `xml:"spotPrice"`
	Timestamp          string `xml:"timestamp"`
	AvailabilityZone   string `xml:"availabilityZone"`
	AvailabilityZoneID string `xml:"availabilityZoneId"`
}

type describeSpotPriceHistoryResult struct {
	SpotPriceHistorySet []xmlSpotPrice `xml:"spotPriceHistorySet>item"`
	NextToken           string         `xml:"nextToken,omitempty"`
}

// spotProductDescriptions are the Linux product descriptions the emulator prices (the model
// has one price per pool, so both carry the same price).
var spotProductDescriptions = []string{"Linux/UNIX", "Linux/UNIX (Amazon VPC)"}

// spotPriceQuery is the pool selection of a DescribeSpotPriceHistory request: instance types,
// product descriptions (both empty for all), a zone name and a zone ID (empty for any) and the
// request's filters.
type spotPriceQuery struct {
	types, products []string
	zone, zoneID    string
	filters         []ec2Filter
}

// parseSpotPriceQuery parses and validates a DescribeSpotPriceHistory request: its filters,
// product descriptions (a known operating system prefix) and the ISO 8601 StartTime and
// EndTime, which are checked but otherwise ignored.
func parseSpotPriceQuery(form url.Values) (spotPriceQuery, *apiError) {
	filters, err := parseFilters(form)
	if err != nil {
		return spotPriceQuery{}, err
	}
	q := spotPriceQuery{
		types:    formList(form, "InstanceType"),
		products: formList(form, "ProductDescription"),
		zone:     form.Get("AvailabilityZone"),
		zoneID:   form.Get("AvailabilityZoneId"),
		filters:  filters,
	}
	for _, p := range q.products {
		if !strings.HasPrefix(p, "Linux/UNIX") && !strings.HasPrefix(p, "Windows") && !strings.HasPrefix(p, "SUSE") && !strings.HasPrefix(p, "Red Hat") {
			return spotPriceQuery{}, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter ProductDescription is invalid.", p)
		}
	}
	for _, k := range []string{"StartTime", "EndTime"} {
		if v := form.Get(k); v != "" {
			if _, perr := time.Parse(time.RFC3339, v); perr != nil {
				return spotPriceQuery{}, errorf(http.StatusBadRequest, "InvalidParameterValue", "Value (%s) for parameter %s is invalid: not an ISO 8601 time", v, k)
			}
		}
	}
	return q, nil
}

// spotPriceRecords builds one record stamped now for every pool and product the query selects
// and its filters match, in catalogue order. zoneName maps the catalogue's zone names to the
// emulator's (Emulator.zoneName), zoneIDs the catalogue's zone names to the emulator's zone IDs.
func (q spotPriceQuery) spotPriceRecords(now time.Time, zoneName func(string) string, zoneIDs map[string]string) ([]xmlSpotPrice, *apiError) {
	var out []xmlSpotPrice
	for _, it := range catalog.All() {
		if len(q.types) > 0 && !contains(q.types, it.Name) {
			continue
		}
		for _, z := range it.Zones {
			if (q.zone != "" && zoneName(z) != q.zone) || (q.zoneID != "" && zoneIDs[z] != q.zoneID) {
				continue
			}
			for _, pd := range spotProductDescriptions {
				if len(q.products) > 0 && !contains(q.products, pd) {
					continue
				}
				p := xmlSpotPrice{InstanceType: it.Name, ProductDescription: pd, SpotPrice: strconv.FormatFloat(catalog.SpotPrice(it, z), 'f', 6, 64),
					Timestamp: now.Format(ec2TimeFormat), AvailabilityZone: zoneName(z), AvailabilityZoneID: zoneIDs[z]}
				ok, err := matchFilters(q.filters, nil, spotPriceAttr(p))
				if err != nil {
					return nil, err
				}
				if ok {
					out = append(out, p)
				}
			}
		}
	}
	return out, nil
}

// spotPriceAttr resolves the DescribeSpotPriceHistory filter names against record p.
func spotPriceAttr(p xmlSpotPrice) attrFunc {
	return func(name string) ([]string, bool) {
		switch name {
		case "instance-type":
			return []string{p.InstanceType}, true
		case "availability-zone":
			return []string{p.AvailabilityZone}, true
		case "product-description":
			return []string{p.ProductDescription}, true
		case "spot-price":
			return []string{p.SpotPrice}, true
		case "timestamp":
			return []string{p.Timestamp}, true
		}
		return nil, false
	}
}

// describeSpotPriceHistory returns the current spot price (catalog.SpotPrice, USD/hour, 6
// decimals) of every matching pool, stamped with the start of the current hour; the emulated
// price does not change over time, so one record per pool and product describes any window.
func (e *Emulator) describeSpotPriceHistory(form url.Values) (any, *apiError) {
	q, err := parseSpotPriceQuery(form)
	if err != nil {
		return nil, err
	}
	zoneIDs := e.zoneIDs()
	e.mu.Lock()
	s := &e.state.ec2
	now := s.clock.Now().UTC().Truncate(time.Hour)
	offset, size, err := s.pageParams(form, "DescribeSpotPriceHistory", 0, 1000, 1000)
	e.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if form.Get("MaxResults") == "0" {
		size = 1000
	}
	out, err := q.spotPriceRecords(now, e.zoneName, zoneIDs)
	if err != nil {
		return nil, err
	}
	lo, hi, next := s.page("DescribeSpotPriceHistory", form, len(out), offset, size)
	return describeSpotPriceHistoryResult{SpotPriceHistorySet: out[lo:hi], NextToken: next}, nil
}
