package aws

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// Capacity and overhead constants. Sources:
//   - VMMemoryOverheadPercent: Karpenter's vmMemoryOverheadPercent default (0.075): the share of
//     an instance's advertised memory the hypervisor and OS take before the kubelet sees it.
//   - Kube-reserved CPU tiers and memory (11 MiB per pod + 255 MiB): the EKS-optimized AL2
//     AMI's bootstrap.sh (get_cpu_millicores_to_reserve / get_memory_mebibytes_to_reserve).
//   - EvictionHardMemory 100Mi: the kubelet's default memory.available hard eviction threshold.
//   - EphemeralStorage 20Gi: the root volume of the generated launch template; of it, 1Gi is
//     kube-reserved (EKS AL2 bootstrap) and 10% is the kubelet's default nodefs.available hard
//     eviction threshold, so 17Gi is allocatable.
//   - ENI pod limit: ENIs * (IPv4 per ENI - 1) + 2, the formula of amazon-vpc-cni-k8s's
//     eni-max-pods.txt.
const (
	VMMemoryOverheadPercent = 0.075
	InstanceTypesCacheTTL   = 5 * time.Minute
	SpotPricesCacheTTL      = 5 * time.Minute
	ResourceNvidiaGPU       = corev1.ResourceName("nvidia.com/gpu")
	kubeReservedMemPerPodMi = 11
	kubeReservedMemBaseMi   = 255
	evictionHardMemoryMi    = 100
	rootVolumeGi            = 20
	kubeReservedEphemeralGi = 1
	evictionNodefsPercent   = 10
)

// instanceTypeProvider lists EC2 instance types, their zone offerings and spot prices, with
// caching, and turns them into cloudprovider.InstanceTypes for a provisioner.
type instanceTypeProvider struct {
	region  string // for the topology.kubernetes.io/region label
	ec2     EC2API
	pricing Pricing
	ice     *unavailableOfferings
	clk     clock.Clock

	mu        sync.Mutex
	infos     []ec2types.InstanceTypeInfo
	infosAt   time.Time
	offered   map[string]sets.Set[string] // instance type -> zones it is offered in
	offeredAt time.Time
	spot      map[string]float64 // "type/zone" -> USD/hour
	spotAt    time.Time
}

func newInstanceTypeProvider(region string, api EC2API, pricing Pricing, ice *unavailableOfferings, clk clock.Clock) *instanceTypeProvider {
	return &instanceTypeProvider{region: region, ec2: api, pricing: pricing, ice: ice, clk: clk}
}

// instanceTypeInfos returns every x86_64/arm64 instance type of the region
// (DescribeInstanceTypes, paginated), cached for InstanceTypesCacheTTL.
func (p *instanceTypeProvider) instanceTypeInfos(ctx context.Context) ([]ec2types.InstanceTypeInfo, error) {
	p.mu.Lock()
	if p.infos != nil && p.clk.Since(p.infosAt) < InstanceTypesCacheTTL {
		defer p.mu.Unlock()
		return p.infos, nil
	}
	p.mu.Unlock()
	return p.refreshInfos(ctx)
}

// refreshInfos reads the instance types from EC2 now and caches them.
func (p *instanceTypeProvider) refreshInfos(ctx context.Context) ([]ec2types.InstanceTypeInfo, error) {
	var out []ec2types.InstanceTypeInfo
	pager := ec2.NewDescribeInstanceTypesPaginator(p.ec2, &ec2.DescribeInstanceTypesInput{MaxResults: awssdk.Int32(100)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instance types: %w", err)
		}
		for _, info := range page.InstanceTypes {
			if architecture(info) == "" || info.VCpuInfo == nil || info.MemoryInfo == nil {
				continue
			}
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].InstanceType < out[j].InstanceType })
	p.mu.Lock()
	p.infos, p.infosAt = out, p.clk.Now()
	p.mu.Unlock()
	return out, nil
}

// offerings returns, per instance type, the availability zones it is offered in
// (DescribeInstanceTypeOfferings with LocationType availability-zone), cached.
func (p *instanceTypeProvider) offerings(ctx context.Context) (map[string]sets.Set[string], error) {
	p.mu.Lock()
	if p.offered != nil && p.clk.Since(p.offeredAt) < InstanceTypesCacheTTL {
		defer p.mu.Unlock()
		return p.offered, nil
	}
	p.mu.Unlock()
	return p.refreshOfferings(ctx)
}

// refreshOfferings reads the offerings from EC2 now and caches them.
func (p *instanceTypeProvider) refreshOfferings(ctx context.Context) (map[string]sets.Set[string], error) {
	out := map[string]sets.Set[string]{}
	pager := ec2.NewDescribeInstanceTypeOfferingsPaginator(p.ec2, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing instance type offerings: %w", err)
		}
		for _, o := range page.InstanceTypeOfferings {
			name := string(o.InstanceType)
			if out[name] == nil {
				out[name] = sets.New[string]()
			}
			out[name].Insert(awssdk.ToString(o.Location))
		}
	}
	p.mu.Lock()
	p.offered, p.offeredAt = out, p.clk.Now()
	p.mu.Unlock()
	return out, nil
}

// spotPrices returns the current Linux/UNIX spot price (USD/hour) per "type/zone"
// (DescribeSpotPriceHistory from now, the newest entry per pool wins), cached for
// SpotPricesCacheTTL. When the refresh fails and an earlier result exists, the earlier
// (stale) prices are returned and the error is logged: stale spot prices rank types better
// than no launch at all.
func (p *instanceTypeProvider) spotPrices(ctx context.Context) (map[string]float64, error) {
	p.mu.Lock()
	if p.spot != nil && p.clk.Since(p.spotAt) < SpotPricesCacheTTL {
		defer p.mu.Unlock()
		return p.spot, nil
	}
	p.mu.Unlock()
	return p.refreshSpotPrices(ctx)
}

// refreshSpotPrices reads the spot prices from EC2 now and caches them (see spotPrices for
// a failed refresh).
func (p *instanceTypeProvider) refreshSpotPrices(ctx context.Context) (map[string]float64, error) {
	out := map[string]float64{}
	newest := map[string]time.Time{}
	now := p.clk.Now()
	pager := ec2.NewDescribeSpotPriceHistoryPaginator(p.ec2, &ec2.DescribeSpotPriceHistoryInput{
		ProductDescriptions: []string{"Linux/UNIX"},
		StartTime:           awssdk.Time(now),
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			p.mu.Lock()
			stale := p.spot
			p.mu.Unlock()
			if stale != nil {
				log.FromContext(ctx).Error(err, "refreshing spot prices failed, using the previous prices")
				return stale, nil
			}
			return nil, fmt.Errorf("describing spot price history: %w", err)
		}
		for _, sp := range page.SpotPriceHistory {
			price, err := strconv.ParseFloat(awssdk.ToString(sp.SpotPrice), 64)
			if err != nil || price <= 0 {
				continue // a malformed price makes the pool unavailable, not the whole call fail
			}
			key := string(sp.InstanceType) + "/" + awssdk.ToString(sp.AvailabilityZone)
			ts := awssdk.ToTime(sp.Timestamp)
			if t, seen := newest[key]; seen && t.After(ts) {
				continue
			}
			newest[key], out[key] = ts, price
		}
	}
	p.mu.Lock()
	p.spot, p.spotAt = out, p.clk.Now()
	p.mu.Unlock()
	return out, nil
}

// refresh reads the instance types, their offerings and the spot prices from EC2 now, whatever
// the age of the cached ones. Errors: EC2 errors (joined); a failed spot refresh with earlier
// prices cached keeps those and is only logged.
func (p *instanceTypeProvider) refresh(ctx context.Context) error {
	_, ierr := p.refreshInfos(ctx)
	_, oerr := p.refreshOfferings(ctx)
	_, serr := p.refreshSpotPrices(ctx)
	return errors.Join(ierr, oerr, serr)
}

// List returns every instance type with its offerings in zones (the zones of the
// provisioner's discovered subnets), the pod capacity and the overhead given by the
// provisioner's kubelet configuration (nil: the ENI limit and the EKS AL2 defaults). Offerings: every zone x capacity type (spot only when the type supports spot);
// an offering is Available when the type is offered in the zone, it has a price, and the pool
// is not in the insufficient-capacity cache. unpriced names, sorted, the types sold on demand
// in one of zones whose on-demand offerings are unavailable for want of a price.
//
// storageGi is the size (GiB) of the volume holding the kubelet's data (ephemeralStorageGi),
// the nodes' ephemeral-storage capacity.
func (p *instanceTypeProvider) List(ctx context.Context, zones sets.Set[string], kc *v1alpha5.KubeletConfiguration, storageGi int64) (types []*cloudprovider.InstanceType, unpriced []string, err error) {
	infos, err := p.instanceTypeInfos(ctx)
	if err != nil {
		return nil, nil, err
	}
	offered, err := p.offerings(ctx)
	if err != nil {
		return nil, nil, err
	}
	spot, err := p.spotPrices(ctx)
	if err != nil {
		return nil, nil, err
	}
	sortedZones := sets.List(zones)
	out := make([]*cloudprovider.InstanceType, 0, len(infos))
	for i := range infos {
		info := &infos[i]
		name := string(info.InstanceType)
		it := &cloudprovider.InstanceType{
			Name:         name,
			Labels:       instanceTypeLabels(info, p.region),
			Capacity:     capacityOn(info, kc, storageGi),
			VolumeLimits: volumeLimits(info),
		}
		if it.Overhead, err = kubeletOverhead(it.Capacity, kc); err != nil {
			return nil, nil, err
		}
		it.Labels[v1alpha5.LabelInstancePods] = strconv.FormatInt(it.Capacity.Pods().Value(), 10)
		odPrice, hasOD := p.pricing.OnDemandPrice(name)
		if !hasOD && supportsOnDemand(info) && offered[name].HasAny(sortedZones...) {
			unpriced = append(unpriced, name)
		}
		for _, zone := range sortedZones {
			inZone := offered[name].Has(zone)
			if supportsSpot(info) {
				price, ok := spot[name+"/"+zone]
				it.Offerings = append(it.Offerings, cloudprovider.Offering{
					Zone: zone, CapacityType: v1alpha5.CapacityTypeSpot, Price: price,
					Available: inZone && ok && !p.ice.IsUnavailable(name, zone, v1alpha5.CapacityTypeSpot),
				})
			}
			if supportsOnDemand(info) {
				it.Offerings = append(it.Offerings, cloudprovider.Offering{
					Zone: zone, CapacityType: v1alpha5.CapacityTypeOnDemand, Price: odPrice,
					Available: inZone && hasOD && !p.ice.IsUnavailable(name, zone, v1alpha5.CapacityTypeOnDemand),
				})
			}
		}
		out = append(out, it)
	}
	return out, unpriced, nil
}

func supportsSpot(info *ec2types.InstanceTypeInfo) bool {
	for _, c := range info.SupportedUsageClasses {
		if c == ec2types.UsageClassTypeSpot {
			return true
		}
	}
	return false
}

func supportsOnDemand(info *ec2types.InstanceTypeInfo) bool {
	if len(info.SupportedUsageClasses) == 0 {
		return true // older responses omit usage classes; every type is sold on demand
	}
	for _, c := range info.SupportedUsageClasses {
		if c == ec2types.UsageClassTypeOnDemand {
			return true
		}
	}
	return false
}

// architecture maps EC2's processor architecture to the Kubernetes GOARCH name ("amd64",
// "arm64"), or "" for architectures this controller does not launch (i386, x86_64_mac, ...).
func architecture(info ec2types.InstanceTypeInfo) string {
	if info.ProcessorInfo == nil {
		return ""
	}
	for _, a := range info.ProcessorInfo.SupportedArchitectures {
		switch a {
		case ec2types.ArchitectureTypeX8664:
			return "amd64"
		case ec2types.ArchitectureTypeArm64:
			return "arm64"
		}
	}
	return ""
}

// nvidiaGPUs returns the number of NVIDIA GPUs of the type.
func nvidiaGPUs(info *ec2types.InstanceTypeInfo) int64 {
	var n int64
	if info.GpuInfo != nil {
		for _, g := range info.GpuInfo.Gpus {
			if strings.EqualFold(awssdk.ToString(g.Manufacturer), "NVIDIA") {
				n += int64(awssdk.ToInt32(g.Count))
			}
		}
	}
	return n
}

// gpuCount returns the number of GPUs of any manufacturer.
func gpuCount(info *ec2types.InstanceTypeInfo) int64 {
	var n int64
	if info.GpuInfo != nil {
		for _, g := range info.GpuInfo.Gpus {
			n += int64(awssdk.ToInt32(g.Count))
		}
	}
	return n
}

// ENIMaxPods is the amazon-vpc-cni pod limit of an instance type: ENIs * (IPv4 per ENI - 1) + 2
// (one address per ENI is the ENI's own; +2 for host-network pods aws-node and kube-proxy).
// It returns 0 when the network info is missing.
func ENIMaxPods(info *ec2types.InstanceTypeInfo) int64 {
	if info.NetworkInfo == nil {
		return 0
	}
	enis := int64(awssdk.ToInt32(info.NetworkInfo.MaximumNetworkInterfaces))
	ips := int64(awssdk.ToInt32(info.NetworkInfo.Ipv4AddressesPerInterface))
	if enis <= 0 || ips <= 1 {
		return 0
	}
	return enis*(ips-1) + 2
}

// capacity is the node capacity: cpu = vCPUs (cores), memory = MiB minus
// VMMemoryOverheadPercent (rounded up), pods as podCapacity (maxPods or the ENI limit, capped
// by podsPerCore), nvidia.com/gpu, ephemeral-storage 20Gi (the default root volume).
func capacity(info *ec2types.InstanceTypeInfo, kc *v1alpha5.KubeletConfiguration) corev1.ResourceList {
	return capacityOn(info, kc, rootVolumeGi)
}

// capacityOn is capacity with ephemeral-storage of storageGi GiB.
func capacityOn(info *ec2types.InstanceTypeInfo, kc *v1alpha5.KubeletConfiguration, storageGi int64) corev1.ResourceList {
	mib := awssdk.ToInt64(info.MemoryInfo.SizeInMiB)
	overheadMiB := int64(float64(mib)*VMMemoryOverheadPercent + 0.999999)
	pods := podCapacity(ENIMaxPods(info), int64(awssdk.ToInt32(info.VCpuInfo.DefaultVCpus)), kc)
	rl := corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(awssdk.ToInt32(info.VCpuInfo.DefaultVCpus)), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity((mib-overheadMiB)*1024*1024, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(pods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(storageGi<<30, resource.BinarySI),
	}
	if n := nvidiaGPUs(info); n > 0 {
		rl[ResourceNvidiaGPU] = *resource.NewQuantity(n, resource.DecimalSI)
	}
	return rl
}

// KubeReservedCPUMillicores is the EKS AL2 bootstrap's kube-reserved CPU for a node of the
// given cores (millicores): 6% of the first core, 1% of the second, 0.5% of the third and
// fourth, 0.25% of every core above four.
func KubeReservedCPUMillicores(cores int64) int64 {
	tiers := []struct {
		upTo    int64 // cores
		permyri int64 // per ten thousand
	}{{1, 600}, {2, 100}, {4, 50}, {1 << 30, 25}}
	var reserved, prev int64
	for _, t := range tiers {
		if cores <= prev {
			break
		}
		n := min(cores, t.upTo) - prev
		reserved += n * 1000 * t.permyri / 10000
		prev = t.upTo
	}
	return reserved
}

// instanceTypeLabels are the labels every node of the type carries, in region: the well-known
// ones, topology.kubernetes.io/region and every karpenter.k8s.aws/instance-* label whose fact
// DescribeInstanceTypes gives (v1alpha5.WellKnownLabels), as Karpenter's AWS provider computes
// them; instance-pods is added by List (it depends on the kubelet configuration).
func instanceTypeLabels(info *ec2types.InstanceTypeInfo, region string) map[string]string {
	name := string(info.InstanceType)
	family, size, _ := strings.Cut(name, ".")
	category, generation := splitFamily(family)
	labels := map[string]string{
		v1alpha5.LabelInstanceType:     name,
		v1alpha5.LabelArch:             architecture(*info),
		v1alpha5.LabelOS:               "linux",
		v1alpha5.LabelInstanceFamily:   family,
		v1alpha5.LabelInstanceSize:     size,
		v1alpha5.LabelInstanceCPU:      strconv.FormatInt(int64(awssdk.ToInt32(info.VCpuInfo.DefaultVCpus)), 10),
		v1alpha5.LabelInstanceMemory:   strconv.FormatInt(awssdk.ToInt64(info.MemoryInfo.SizeInMiB), 10),
		v1alpha5.LabelInstanceCategory: category,
	}
	// The GPU and accelerator labels exist only on types that have GPUs or accelerators, as in
	// Karpenter: a pod keeps off GPU nodes with instance-gpu-count DoesNotExist.
	if n := gpuCount(info); n > 0 {
		labels[v1alpha5.LabelInstanceGPUCount] = strconv.FormatInt(n, 10)
	}
	if generation != "" {
		labels[v1alpha5.LabelInstanceGen] = generation
	}
	if region != "" {
		labels[v1alpha5.LabelRegion] = region
	}
	if info.Hypervisor != "" {
		labels[v1alpha5.LabelInstanceHypervisor] = string(info.Hypervisor)
	}
	if info.ProcessorInfo != nil && info.ProcessorInfo.Manufacturer != nil {
		labels[v1alpha5.LabelInstanceCPUManufacturer] = labelValue(*info.ProcessorInfo.Manufacturer)
	}
	if n := info.NetworkInfo; n != nil {
		if n.EncryptionInTransitSupported != nil {
			labels[v1alpha5.LabelInstanceEncryptionInTransitSupported] = strconv.FormatBool(*n.EncryptionInTransitSupported)
		}
		for _, c := range n.NetworkCards {
			if awssdk.ToInt32(c.NetworkCardIndex) == awssdk.ToInt32(n.DefaultNetworkCardIndex) && c.BaselineBandwidthInGbps != nil {
				labels[v1alpha5.LabelInstanceNetworkBandwidth] = strconv.FormatInt(int64(*c.BaselineBandwidthInGbps*1000+0.5), 10)
			}
		}
	}
	if e := info.EbsInfo; e != nil && e.EbsOptimizedInfo != nil && e.EbsOptimizedInfo.MaximumBandwidthInMbps != nil {
		labels[v1alpha5.LabelInstanceEBSBandwidth] = strconv.FormatInt(int64(*e.EbsOptimizedInfo.MaximumBandwidthInMbps), 10)
	}
	if s := info.InstanceStorageInfo; s != nil && s.NvmeSupport != ec2types.EphemeralNvmeSupportUnsupported && s.TotalSizeInGB != nil {
		labels[v1alpha5.LabelInstanceLocalNVME] = strconv.FormatInt(*s.TotalSizeInGB, 10)
	}
	// Name, manufacturer and memory describe one kind of GPU: only a type with one kind has them.
	if g := info.GpuInfo; g != nil && len(g.Gpus) == 1 && awssdk.ToInt32(g.Gpus[0].Count) > 0 {
		gpu := g.Gpus[0]
		labels[v1alpha5.LabelInstanceGPUName] = labelValue(awssdk.ToString(gpu.Name))
		labels[v1alpha5.LabelInstanceGPUManufacturer] = labelValue(awssdk.ToString(gpu.Manufacturer))
		if gpu.MemoryInfo != nil && gpu.MemoryInfo.SizeInMiB != nil {
			labels[v1alpha5.LabelInstanceGPUMemory] = strconv.FormatInt(int64(*gpu.MemoryInfo.SizeInMiB), 10)
		}
	}
	if nu := info.NeuronInfo; nu != nil && len(nu.NeuronDevices) == 1 && awssdk.ToInt32(nu.NeuronDevices[0].Count) > 0 {
		d := nu.NeuronDevices[0]
		labels[v1alpha5.LabelInstanceAcceleratorName] = labelValue(awssdk.ToString(d.Name))
		labels[v1alpha5.LabelInstanceAcceleratorManufacturer] = "aws"
		labels[v1alpha5.LabelInstanceAcceleratorCount] = strconv.FormatInt(int64(awssdk.ToInt32(d.Count)), 10)
	}
	for k, v := range labels {
		if len(validation.IsValidLabelValue(v)) > 0 {
			delete(labels, k) // a value EC2 spells in a way no label can carry is left out
		}
	}
	return labels
}

// labelValue is an EC2 name as Karpenter writes it in a label: lower case, spaces and
// underscores as dashes ("NVIDIA" -> "nvidia", "Radeon Pro V520" -> "radeon-pro-v520").
func labelValue(s string) string {
	return strings.NewReplacer(" ", "-", "_", "-").Replace(strings.ToLower(strings.TrimSpace(s)))
}

// splitFamily splits a family such as "c6gn" into its category ("c": the leading letters)
// and generation ("6": the digits that follow).
func splitFamily(family string) (category, generation string) {
	i := strings.IndexFunc(family, unicode.IsDigit)
	if i < 0 {
		return family, ""
	}
	j := i
	for j < len(family) && unicode.IsDigit(rune(family[j])) {
		j++
	}
	return family[:i], family[i:j]
}
