// Package fake is an in-memory cloudprovider.CloudProvider for tests: configurable instance
// types, offerings and prices, insufficient capacity on chosen pools, injected errors, and a
// record of every Create call. Safe for concurrent use.
package fake

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
)

// CloudProvider implements cloudprovider.CloudProvider in memory.
type CloudProvider struct {
	mu    sync.Mutex
	clk   clock.Clock
	types []*cloudprovider.InstanceType
	// ice holds pools ("type/zone/capacity-type") that fail with insufficient capacity.
	ice map[string]bool
	// unavailable holds pools that failed, reported with Available=false by GetInstanceTypes
	// (as the AWS provider caches failed pools).
	unavailable map[string]bool
	nodes       map[string]*cloudprovider.Node
	createCalls []*cloudprovider.NodeRequest
	seq         int

	// Injected errors, returned by every call while set.
	GetInstanceTypesErr error
	CreateErr           error
}

var _ cloudprovider.CloudProvider = (*CloudProvider)(nil)

// New returns a provider offering the given types (nil clk: the real clock).
func New(clk clock.Clock, types []*cloudprovider.InstanceType) *CloudProvider {
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &CloudProvider{clk: clk, types: types, ice: map[string]bool{}, unavailable: map[string]bool{}, nodes: map[string]*cloudprovider.Node{}}
}

// Pool names a launch pool as "type/zone/capacity-type".
func Pool(instanceType, zone, capacityType string) string {
	return instanceType + "/" + zone + "/" + capacityType
}

// SetInsufficientCapacity makes launches in the pools fail until cleared with ClearInsufficientCapacity.
func (c *CloudProvider) SetInsufficientCapacity(pools ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pools {
		c.ice[p] = true
	}
}

// ClearInsufficientCapacity makes every pool launchable and available again.
func (c *CloudProvider) ClearInsufficientCapacity() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ice = map[string]bool{}
	c.unavailable = map[string]bool{}
}

// CreateCalls returns the requests passed to Create so far, in call order.
func (c *CloudProvider) CreateCalls() []*cloudprovider.NodeRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*cloudprovider.NodeRequest(nil), c.createCalls...)
}

// GetInstanceTypes returns copies of the types with Available=false on failed pools.
func (c *CloudProvider) GetInstanceTypes(_ context.Context, _ *v1alpha5.Provisioner) ([]*cloudprovider.InstanceType, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.GetInstanceTypesErr; err != nil {
		return nil, err
	}
	out := make([]*cloudprovider.InstanceType, 0, len(c.types))
	for _, it := range c.types {
		cp := *it
		cp.Offerings = append([]cloudprovider.Offering(nil), it.Offerings...)
		for i, o := range cp.Offerings {
			if c.unavailable[Pool(it.Name, o.Zone, o.CapacityType)] {
				cp.Offerings[i].Available = false
			}
		}
		out = append(out, &cp)
	}
	return out, nil
}

// Create returns the instance already launched for req.ClaimName, if any (launches are
// idempotent per claim); else it launches the cheapest available offering among the request's options that its
// zone and capacity-type requirements allow. When that pool is marked insufficient it marks
// the pool unavailable and returns *cloudprovider.InsufficientCapacityError (one pool per call,
// so callers exercise their refresh-and-retry path). Errors: CreateErr when set; an error when
// the request has no options.
func (c *CloudProvider) Create(_ context.Context, req *cloudprovider.NodeRequest) (*cloudprovider.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.createCalls = append(c.createCalls, req)
	if err := c.CreateErr; err != nil {
		return nil, err
	}
	if len(req.InstanceTypeOptions) == 0 {
		return nil, fmt.Errorf("node request has no instance type options")
	}
	if req.ClaimName != "" {
		// Launches are idempotent per claim, as on EC2 (client token, claim tag).
		for _, n := range c.nodes {
			if n.ClaimName == req.ClaimName {
				return n, nil
			}
		}
	}
	allowed := func(key, value string) bool {
		for _, r := range req.Requirements {
			if r.Key != key {
				continue
			}
			in := false
			for _, v := range r.Values {
				in = in || v == value
			}
			if (r.Operator == corev1.NodeSelectorOpIn && !in) || (r.Operator == corev1.NodeSelectorOpNotIn && in) {
				return false
			}
		}
		return true
	}
	var best *cloudprovider.InstanceType
	var bestOff cloudprovider.Offering
	bestPrice := math.Inf(1)
	for _, it := range req.InstanceTypeOptions {
		for _, o := range it.Offerings {
			if !o.Available || c.unavailable[Pool(it.Name, o.Zone, o.CapacityType)] {
				continue
			}
			if !allowed(v1alpha5.LabelZone, o.Zone) || !allowed(v1alpha5.LabelCapacityType, o.CapacityType) {
				continue
			}
			if o.Price < bestPrice {
				best, bestOff, bestPrice = it, o, o.Price
			}
		}
	}
	if best == nil {
		return nil, &cloudprovider.InsufficientCapacityError{}
	}
	pool := Pool(best.Name, bestOff.Zone, bestOff.CapacityType)
	if c.ice[pool] {
		c.unavailable[pool] = true
		return nil, &cloudprovider.InsufficientCapacityError{Pools: []string{pool}}
	}
	c.seq++
	id := fmt.Sprintf("i-%017d", c.seq)
	labels := map[string]string{}
	for k, v := range req.Labels {
		labels[k] = v
	}
	for k, v := range best.Labels {
		labels[k] = v
	}
	labels[v1alpha5.LabelZone] = bestOff.Zone
	labels[v1alpha5.LabelCapacityType] = bestOff.CapacityType
	n := &cloudprovider.Node{
		Name:         fmt.Sprintf("ip-10-0-%d-%d.ec2.internal", c.seq/256, c.seq%256),
		ProviderID:   fmt.Sprintf("aws:///%s/%s", bestOff.Zone, id),
		InstanceType: best.Name,
		Zone:         bestOff.Zone,
		CapacityType: bestOff.CapacityType,
		Price:        bestOff.Price,
		LaunchTime:   c.clk.Now(),
		Labels:       labels,
		Capacity:     best.Capacity.DeepCopy(),
		Allocatable:  best.Allocatable(),
		ClaimName:    req.ClaimName,
	}
	c.nodes[n.ProviderID] = n
	return n, nil
}

// Delete forgets the instance; a missing instance is not an error.
func (c *CloudProvider) Delete(_ context.Context, providerID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, providerID)
	return nil
}

// Exists reports whether the instance was launched and not deleted.
func (c *CloudProvider) Exists(_ context.Context, providerID string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.nodes[providerID]
	return ok, nil
}

// List returns the launched instances sorted by provider ID.
func (c *CloudProvider) List(_ context.Context) ([]*cloudprovider.Node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*cloudprovider.Node, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ProviderID < out[j].ProviderID })
	return out, nil
}

// InstanceTypeOptions describe one synthetic instance type.
type InstanceTypeOptions struct {
	Name     string
	CPU      int64 // vCPUs
	MemoryMi int64 // MiB
	Pods     int64
	GPUs     int64
	Arch     string // amd64 or arm64
	// OnDemandPrice in USD/hour; spot offerings cost SpotRatio x this, varied per zone.
	OnDemandPrice float64
	SpotRatio     float64
	Zones         []string
}

// Zones used by the catalogue.
var Zones = []string{"us-east-1a", "us-east-1b", "us-east-1c"}

// NewInstanceType builds a type with one on-demand and one spot offering per zone, labels for
// arch/os/instance-type and karpenter.k8s.aws/*, and an overhead of 100m cpu + 5% memory
// (a round stand-in for kube-reserved + eviction threshold; test data, not a formula).
func NewInstanceType(o InstanceTypeOptions) *cloudprovider.InstanceType {
	if o.Arch == "" {
		o.Arch = "amd64"
	}
	if o.Pods == 0 {
		o.Pods = 110
	}
	if o.SpotRatio == 0 {
		o.SpotRatio = 0.4
	}
	if len(o.Zones) == 0 {
		o.Zones = Zones
	}
	family, size := o.Name, ""
	for i := range o.Name {
		if o.Name[i] == '.' {
			family, size = o.Name[:i], o.Name[i+1:]
			break
		}
	}
	labels := map[string]string{
		v1alpha5.LabelInstanceType:   o.Name,
		v1alpha5.LabelArch:           o.Arch,
		v1alpha5.LabelOS:             "linux",
		v1alpha5.LabelInstanceFamily: family,
		v1alpha5.LabelInstanceSize:   size,
		v1alpha5.LabelInstanceCPU:    strconv.FormatInt(o.CPU, 10),
		v1alpha5.LabelInstanceMemory: strconv.FormatInt(o.MemoryMi, 10),
	}
	if family != "" {
		labels[v1alpha5.LabelInstanceCategory] = family[:1]
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(o.CPU, resource.DecimalSI),
		corev1.ResourceMemory: *resource.NewQuantity(o.MemoryMi<<20, resource.BinarySI),
		corev1.ResourcePods:   *resource.NewQuantity(o.Pods, resource.DecimalSI),
	}
	if o.GPUs > 0 {
		labels[v1alpha5.LabelInstanceGPUCount] = strconv.FormatInt(o.GPUs, 10)
		capacity["nvidia.com/gpu"] = *resource.NewQuantity(o.GPUs, resource.DecimalSI)
	}
	it := &cloudprovider.InstanceType{
		Name:     o.Name,
		Labels:   labels,
		Capacity: capacity,
		Overhead: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("100m"),
			corev1.ResourceMemory: *resource.NewQuantity(o.MemoryMi<<20/20, resource.BinarySI),
		},
	}
	for i, z := range o.Zones {
		it.Offerings = append(it.Offerings,
			cloudprovider.Offering{Zone: z, CapacityType: v1alpha5.CapacityTypeOnDemand, Price: o.OnDemandPrice, Available: true},
			cloudprovider.Offering{Zone: z, CapacityType: v1alpha5.CapacityTypeSpot, Price: round4(o.OnDemandPrice * o.SpotRatio * (1 + 0.05*float64(i))), Available: true})
	}
	return it
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }

// Catalog returns n synthetic instance types (deterministic): families of compute (2 GiB/vCPU),
// general (4 GiB/vCPU) and memory (8 GiB/vCPU) shapes in amd64 and arm64, sizes large (2 vCPU)
// to 48xlarge (192 vCPU), priced linearly per vCPU and GiB with small per-family differences,
// plus GPU types. Test data only: shaped like EC2, not EC2's facts.
func Catalog(n int) []*cloudprovider.InstanceType {
	sizes := []struct {
		name string
		cpu  int64
	}{{"large", 2}, {"xlarge", 4}, {"2xlarge", 8}, {"4xlarge", 16}, {"8xlarge", 32}, {"12xlarge", 48}, {"16xlarge", 64}, {"24xlarge", 96}, {"32xlarge", 128}, {"48xlarge", 192}}
	categories := []struct {
		letter string
		memPer int64 // GiB per vCPU
	}{{"c", 2}, {"m", 4}, {"r", 8}}
	var out []*cloudprovider.InstanceType
	for gen := 5; len(out) < n; gen++ {
		for _, cat := range categories {
			for _, arch := range []string{"amd64", "arm64"} {
				family := fmt.Sprintf("%s%d", cat.letter, gen)
				if arch == "arm64" {
					family += "g"
				}
				for _, s := range sizes {
					if len(out) >= n {
						return out
					}
					// USD/hour: 0.02 per vCPU + 0.005 per GiB, arm 20% cheaper, newer
					// generations 2% dearer (synthetic).
					price := (0.02*float64(s.cpu) + 0.005*float64(s.cpu*cat.memPer)) * (1 + 0.02*float64(gen-5))
					if arch == "arm64" {
						price *= 0.8
					}
					out = append(out, NewInstanceType(InstanceTypeOptions{
						Name: family + "." + s.name, CPU: s.cpu, MemoryMi: s.cpu * cat.memPer * 1024,
						Arch: arch, OnDemandPrice: round4(price), Pods: podsFor(s.cpu),
					}))
				}
			}
		}
		if gen == 5 {
			for _, g := range []struct {
				name string
				cpu  int64
				gpus int64
			}{{"g5.xlarge", 4, 1}, {"g5.12xlarge", 48, 4}} {
				if len(out) >= n {
					return out
				}
				out = append(out, NewInstanceType(InstanceTypeOptions{Name: g.name, CPU: g.cpu, MemoryMi: g.cpu * 4 * 1024, GPUs: g.gpus, OnDemandPrice: round4(1.0 * float64(g.gpus))}))
			}
		}
	}
	return out
}

func podsFor(cpu int64) int64 {
	if cpu <= 2 {
		return 29
	}
	if cpu <= 8 {
		return 58
	}
	return 234
}

// Now returns the provider's clock time (for tests that compare launch times).
func (c *CloudProvider) Now() time.Time { return c.clk.Now() }
