package aws

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// MaxInstanceTypeOptions caps the instance types (cheapest first) one CreateFleet request
// offers, as Karpenter does (60), keeping the request within EC2's override limits.
const MaxInstanceTypeOptions = 60

// InstanceExistsTimeout bounds the wait for a just-launched instance to become visible to
// DescribeInstances (EC2 is eventually consistent).
const InstanceExistsTimeout = 30 * time.Second

// pool is one launchable (type, zone, capacity type) with the subnet to use.
type pool struct {
	it     *cloudprovider.InstanceType
	offer  cloudprovider.Offering
	subnet string
}

// Create implements cloudprovider.CloudProvider. It launches one instance for the request's
// NodeClaim through CreateFleet (type instant, target capacity 1, ClientToken from the claim's
// UID, instance tagged karpenter.sh/nodeclaim=<claim>; see fleet.go). With req.FindExisting it
// first looks the claim's instance up by that tag and returns it when found, launching nothing.
// It launches
// spot when the requirements allow it and any option has an available spot offering in a
// discovered subnet's zone, else on-demand; allocation strategy
// price-capacity-optimized (spot) or lowest-price (on-demand). Every pool CreateFleet reports
// as lacking capacity is cached as unavailable for UnavailableOfferingsTTL. Errors:
// *cloudprovider.InsufficientCapacityError when no pool could launch; request errors with the
// field path (spec.provider.*, requirements; spec.provider.tags when the instance would carry
// more than v1alpha5.MaxTags tags with the default tags and the controller's own); EC2/SSM/EKS
// errors otherwise.
func (c *CloudProvider) Create(ctx context.Context, req *cloudprovider.NodeRequest) (*cloudprovider.Node, error) {
	defer observe("Create", time.Now())
	if req == nil || req.Provisioner == nil {
		return nil, errors.New("node request has no provisioner")
	}
	prov := req.Provisioner
	if len(req.InstanceTypeOptions) == 0 {
		return nil, fmt.Errorf("provisioner %s: node request has no instance type options", prov.Name)
	}
	if req.ClaimName == "" || req.ClaimUID == "" {
		return nil, fmt.Errorf("provisioner %s: node request has no node claim name and UID", prov.Name)
	}
	if req.FindExisting {
		inst, err := c.findClaimInstance(ctx, req.ClaimName)
		if err != nil {
			return nil, fmt.Errorf("provisioner %s: %w", prov.Name, err)
		}
		if inst != nil {
			return c.nodeFor(inst, req.InstanceTypeOptions, req.Labels, prov.Name)
		}
	}
	settings := c.providerSettings(prov)
	if why := v1alpha5.ValidateLaunchTagCount(c.opts.DefaultTags, settings.Tags); why != "" {
		// Before any launch template is made: EC2 would refuse them with a less clear message.
		return nil, fmt.Errorf("provisioner %s: spec.provider.tags: %s", prov.Name, why)
	}
	switch f := amiFamily(settings); f {
	case v1alpha5.AMIFamilyAL2, v1alpha5.AMIFamilyBottlerocket, v1alpha5.AMIFamilyUbuntu:
	default:
		return nil, fmt.Errorf("provisioner %s: spec.provider.amiFamily: %q is not one of %s", prov.Name, f, strings.Join(v1alpha5.AMIFamilies, ", "))
	}
	reqs, err := scheduling.FromNodeSelector(field.NewPath("requirements"), req.Requirements)
	if err != nil {
		return nil, fmt.Errorf("provisioner %s: %w", prov.Name, err)
	}
	allowed := func(key, value string) bool {
		r, ok := reqs[key]
		return !ok || r.Has(value)
	}
	subnets, err := c.discovery.Subnets(ctx, "spec.provider.subnetSelector", settings.SubnetSelector)
	if err != nil {
		return nil, fmt.Errorf("provisioner %s: %w", prov.Name, err)
	}
	zoneSubnet := subnetPerZone(subnets, func(zone string) bool { return allowed(v1alpha5.LabelZone, zone) })
	if len(zoneSubnet) == 0 {
		return nil, fmt.Errorf("provisioner %s: no discovered subnet is in a zone the requirements allow (%s)", prov.Name, reqs.String())
	}
	options := req.InstanceTypeOptions
	if len(options) > MaxInstanceTypeOptions {
		options = options[:MaxInstanceTypeOptions]
	}
	capacityType, pools := c.choosePools(options, zoneSubnet, allowed)
	if len(pools) == 0 {
		return nil, &cloudprovider.InsufficientCapacityError{Pools: candidatePools(options, zoneSubnet)}
	}
	groups, err := c.fleetConfigs(ctx, prov, settings, req, capacityType, pools)
	if err != nil {
		return nil, fmt.Errorf("provisioner %s: %w", prov.Name, err)
	}
	inst, err := c.createFleet(ctx, req, settings, capacityType, groups)
	if err != nil {
		return nil, fmt.Errorf("provisioner %s: %w", prov.Name, err)
	}
	n, err := c.nodeFor(inst, options, req.Labels, prov.Name)
	if err != nil {
		return nil, err
	}
	metrics.NodesCreated.WithLabelValues(prov.Name, n.CapacityType).Inc()
	return n, nil
}

// subnetPerZone picks, per allowed zone, the subnet with the most free addresses.
func subnetPerZone(subnets []ec2types.Subnet, allowedZone func(string) bool) map[string]string {
	best := map[string]ec2types.Subnet{}
	for _, s := range subnets {
		zone := awssdk.ToString(s.AvailabilityZone)
		if !allowedZone(zone) {
			continue
		}
		if cur, ok := best[zone]; !ok || awssdk.ToInt32(s.AvailableIpAddressCount) > awssdk.ToInt32(cur.AvailableIpAddressCount) {
			best[zone] = s
		}
	}
	out := map[string]string{}
	for zone, s := range best {
		out[zone] = awssdk.ToString(s.SubnetId)
	}
	return out
}

// choosePools returns the capacity type to launch and the available pools of that type:
// spot when allowed and available, else on-demand when allowed and available.
func (c *CloudProvider) choosePools(options []*cloudprovider.InstanceType, zoneSubnet map[string]string, allowed func(string, string) bool) (string, []pool) {
	for _, ct := range []string{v1alpha5.CapacityTypeSpot, v1alpha5.CapacityTypeOnDemand} {
		if !allowed(v1alpha5.LabelCapacityType, ct) {
			continue
		}
		var pools []pool
		for _, it := range options {
			if !allowed(v1alpha5.LabelInstanceType, it.Name) {
				continue
			}
			for _, o := range it.Offerings {
				subnet, ok := zoneSubnet[o.Zone]
				if !ok || o.CapacityType != ct || !o.Available || c.ice.IsUnavailable(it.Name, o.Zone, ct) {
					continue
				}
				pools = append(pools, pool{it: it, offer: o, subnet: subnet})
			}
		}
		if len(pools) > 0 {
			return ct, pools
		}
	}
	return "", nil
}

func candidatePools(options []*cloudprovider.InstanceType, zoneSubnet map[string]string) []string {
	var out []string
	for _, it := range options {
		for _, o := range it.Offerings {
			if _, ok := zoneSubnet[o.Zone]; ok {
				out = append(out, poolKey(it.Name, o.Zone, o.CapacityType))
			}
		}
	}
	return out
}

// fleetConfigs builds one launch template config per AMI variant (x86_64, arm64, GPU) among
// the pools, creating or reusing the launch templates. Bottlerocket has no pods-per-core
// setting: with kubeletConfiguration.podsPerCore each variant is split further by the pods
// capacity of its instance types (podCapacity: the ENI limit or maxPods, capped at podsPerCore
// times the vCPUs, as the solver's allocatable counts it), each group's user data setting that
// max-pods.
func (c *CloudProvider) fleetConfigs(ctx context.Context, prov *v1alpha5.Provisioner, settings *v1alpha5.AWS,
	req *cloudprovider.NodeRequest, capacityType string, pools []pool) ([]ec2types.FleetLaunchTemplateConfigRequest, error) {
	family := amiFamily(settings)
	kc := prov.Spec.KubeletConfiguration
	perTypeMaxPods := family == v1alpha5.AMIFamilyBottlerocket && kc != nil && kc.PodsPerCore != nil && *kc.PodsPerCore > 0
	type group struct {
		v       amiVariant
		maxPods int64 // 0: the kubelet configuration's own max-pods (or none)
	}
	byGroup := map[group][]pool{}
	var groups []group
	for _, p := range pools {
		_, gpu := p.it.Capacity[ResourceNvidiaGPU]
		g := group{v: variantFor(p.it.Labels, gpu)}
		if g.v == amiGPU && family == v1alpha5.AMIFamilyUbuntu {
			g.v = amiStandard // Canonical publishes no GPU variant: one amd64 image
		}
		if perTypeMaxPods {
			g.maxPods = p.it.Capacity.Pods().Value()
		}
		if _, seen := byGroup[g]; !seen {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], p)
	}
	overrides := func(ps []pool) []ec2types.FleetLaunchTemplateOverridesRequest {
		out := make([]ec2types.FleetLaunchTemplateOverridesRequest, 0, len(ps))
		for _, p := range ps {
			out = append(out, ec2types.FleetLaunchTemplateOverridesRequest{
				InstanceType:     ec2types.InstanceType(p.it.Name),
				SubnetId:         awssdk.String(p.subnet),
				AvailabilityZone: awssdk.String(p.offer.Zone),
			})
		}
		return out
	}
	if settings.LaunchTemplate != nil {
		// A user-managed launch template carries its own AMI and user data.
		return []ec2types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{
				LaunchTemplateName: settings.LaunchTemplate, Version: awssdk.String("$Latest")},
			Overrides: overrides(pools),
		}}, nil
	}
	profile := c.opts.DefaultInstanceProfile
	if settings.InstanceProfile != nil {
		profile = *settings.InstanceProfile
	}
	if profile == "" {
		return nil, errors.New("spec.provider.instanceProfile: not set and the controller has no --default-instance-profile")
	}
	sgs, err := c.discovery.SecurityGroups(ctx, "spec.provider.securityGroupSelector", settings.SecurityGroupSelector)
	if err != nil {
		return nil, err
	}
	cluster, err := c.templates.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	labels := map[string]string{}
	for k, v := range req.Labels {
		labels[k] = v
	}
	labels[v1alpha5.LabelProvisionerName] = prov.Name
	labels[v1alpha5.LabelCapacityType] = capacityType
	var out []ec2types.FleetLaunchTemplateConfigRequest
	for _, g := range groups {
		gkc := kc
		if g.maxPods > 0 {
			gkc = kc.DeepCopy()
			gkc.MaxPods = ptr.To(int32(min(g.maxPods, math.MaxInt32)))
		}
		userData, err := UserData(family, cluster, labels, req.Taints, gkc, settings.UserData)
		if err != nil {
			return nil, err
		}
		if len(userData) > v1alpha5.MaxUserDataBytes {
			return nil, fmt.Errorf("spec.provider.userData: merged with the bootstrap it is %d bytes, above EC2's limit of %d", len(userData), v1alpha5.MaxUserDataBytes)
		}
		ami, err := c.templates.AMI(ctx, family, g.v)
		if err != nil {
			return nil, err
		}
		name, err := c.templates.Ensure(ctx, &templateSpec{
			Cluster: c.opts.ClusterName, Provisioner: prov.Name, AMIFamily: family, AMI: ami, InstanceProfile: profile,
			SecurityGroups: sgs, UserData: userData, Tags: mergeTags(c.opts.DefaultTags, settings.Tags),
			BlockDeviceMappings: settings.BlockDeviceMappings, MetadataOptions: settings.MetadataOptions,
			DetailedMonitoring: settings.DetailedMonitoring != nil && *settings.DetailedMonitoring,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, ec2types.FleetLaunchTemplateConfigRequest{
			LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{
				LaunchTemplateName: awssdk.String(name), Version: awssdk.String("$Latest")},
			Overrides: overrides(byGroup[g]),
		})
	}
	return out, nil
}

// instanceTags are the tags of the claim's instance and of its volumes, network interfaces and
// fleet (v1alpha5.LaunchTags): the default Name, overlaid with the default tags, then with
// provider.tags (so that a Name in either wins), then the controller's own karpenter.sh/* tags,
// which always win. Create has checked their number (v1alpha5.ValidateLaunchTagCount).
func (c *CloudProvider) instanceTags(prov, claim string, settings *v1alpha5.AWS) []ec2types.Tag {
	return sortedTags(v1alpha5.LaunchTags(c.opts.ClusterName, prov, claim, c.opts.DefaultTags, settings.Tags))
}

// mergeTags returns base overlaid with over (over wins on a shared key); nil when both are
// empty.
func mergeTags(base, over map[string]string) map[string]string {
	if len(base) == 0 && len(over) == 0 {
		return nil
	}
	m := make(map[string]string, len(base)+len(over))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range over {
		m[k] = v
	}
	return m
}

// createFleet launches the claim's instance through one idempotent CreateFleet call (see
// fleet.go) and returns it. Pools reported without capacity are cached as unavailable.
func (c *CloudProvider) createFleet(ctx context.Context, req *cloudprovider.NodeRequest, settings *v1alpha5.AWS,
	capacityType string, configs []ec2types.FleetLaunchTemplateConfigRequest) (*ec2types.Instance, error) {
	tags := c.instanceTags(req.Provisioner.Name, req.ClaimName, settings)
	in := &ec2.CreateFleetInput{
		Type:                  ec2types.FleetTypeInstant,
		LaunchTemplateConfigs: configs,
		TargetCapacitySpecification: &ec2types.TargetCapacitySpecificationRequest{
			TotalTargetCapacity:       awssdk.Int32(1),
			DefaultTargetCapacityType: ec2types.DefaultTargetCapacityType(capacityType),
		},
		// The fleet and network interfaces are tagged too: a least-privilege policy conditions
		// CreateFleet on the request's karpenter.sh/cluster tag for every resource it creates.
		TagSpecifications: []ec2types.TagSpecification{
			{ResourceType: ec2types.ResourceTypeFleet, Tags: tags},
			{ResourceType: ec2types.ResourceTypeInstance, Tags: tags},
			{ResourceType: ec2types.ResourceTypeVolume, Tags: tags},
			{ResourceType: ec2types.ResourceTypeNetworkInterface, Tags: tags},
		},
	}
	if capacityType == v1alpha5.CapacityTypeSpot {
		in.SpotOptions = &ec2types.SpotOptionsRequest{AllocationStrategy: ec2types.SpotAllocationStrategyPriceCapacityOptimized}
	} else {
		in.OnDemandOptions = &ec2types.OnDemandOptionsRequest{AllocationStrategy: ec2types.FleetOnDemandAllocationStrategyLowestPrice}
	}
	return c.launch(ctx, string(req.ClaimUID), in)
}

// forgetMissingTemplates drops cached launch templates when EC2 says one does not exist, so the
// next launch recreates it.
func (c *CloudProvider) forgetMissingTemplates(err error, configs []ec2types.FleetLaunchTemplateConfigRequest) {
	var ae smithy.APIError
	if errors.As(err, &ae) && strings.HasPrefix(ae.ErrorCode(), "InvalidLaunchTemplate") {
		for _, cfg := range configs {
			c.templates.Forget(awssdk.ToString(cfg.LaunchTemplateSpecification.LaunchTemplateName))
		}
	}
}

// describeInstances returns the instances of ids in that order, waiting up to
// InstanceExistsTimeout while EC2 reports InvalidInstanceID.NotFound for just-launched ids.
// Errors: EC2 errors, an id missing from the answer.
func (c *CloudProvider) describeInstances(ctx context.Context, ids []string) ([]*ec2types.Instance, error) {
	in := &ec2.DescribeInstancesInput{InstanceIds: ids}
	out, err := c.ec2.DescribeInstances(ctx, in)
	if isNotFound(err) {
		out, err = ec2.NewInstanceExistsWaiter(c.ec2, func(o *ec2.InstanceExistsWaiterOptions) {
			o.MinDelay = 200 * time.Millisecond
			o.MaxDelay = 2 * time.Second
		}).WaitForOutput(ctx, in, InstanceExistsTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("describing launched instances %v: %w", ids, err)
	}
	byID := map[string]*ec2types.Instance{}
	for _, r := range out.Reservations {
		for i := range r.Instances {
			byID[awssdk.ToString(r.Instances[i].InstanceId)] = &r.Instances[i]
		}
	}
	insts := make([]*ec2types.Instance, 0, len(ids))
	for _, id := range ids {
		inst, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("describing launched instance %s: not in the response", id)
		}
		insts = append(insts, inst)
	}
	return insts, nil
}

func isNotFound(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "InvalidInstanceID.NotFound"
}

// nodeFor describes the launched instance as the Node it will register as.
func (c *CloudProvider) nodeFor(inst *ec2types.Instance, options []*cloudprovider.InstanceType, reqLabels map[string]string, prov string) (*cloudprovider.Node, error) {
	n := instanceNode(inst)
	if n.Name == "" {
		return nil, fmt.Errorf("launched instance %s has no private DNS name", awssdk.ToString(inst.InstanceId))
	}
	labels := map[string]string{}
	for k, v := range reqLabels {
		labels[k] = v
	}
	for _, it := range options {
		if it.Name != n.InstanceType {
			continue
		}
		for k, v := range it.Labels {
			labels[k] = v
		}
		n.Capacity = it.Capacity.DeepCopy()
		n.Allocatable = it.Allocatable()
		for _, o := range it.Offerings {
			if o.Zone == n.Zone && o.CapacityType == n.CapacityType {
				n.Price = o.Price
			}
		}
	}
	for k, v := range n.Labels {
		labels[k] = v
	}
	labels[v1alpha5.LabelProvisionerName] = prov
	n.Labels = labels
	return n, nil
}

// instanceNode maps an EC2 instance to a cloudprovider.Node without type facts: name (private
// DNS), providerID aws:///<zone>/<id>, type, zone, capacity type, launch time and the labels
// known from the instance (type, zone, capacity type, provisioner from its tag).
func instanceNode(inst *ec2types.Instance) *cloudprovider.Node {
	zone := ""
	if inst.Placement != nil {
		zone = awssdk.ToString(inst.Placement.AvailabilityZone)
	}
	ct := v1alpha5.CapacityTypeOnDemand
	if inst.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot {
		ct = v1alpha5.CapacityTypeSpot
	}
	labels := map[string]string{
		v1alpha5.LabelInstanceType: string(inst.InstanceType),
		v1alpha5.LabelZone:         zone,
		v1alpha5.LabelCapacityType: ct,
	}
	claim := ""
	for _, t := range inst.Tags {
		switch awssdk.ToString(t.Key) {
		case v1alpha5.TagProvisionerName:
			labels[v1alpha5.LabelProvisionerName] = awssdk.ToString(t.Value)
		case karpv1.TagNodeClaim:
			claim = awssdk.ToString(t.Value)
		}
	}
	return &cloudprovider.Node{
		Name:         awssdk.ToString(inst.PrivateDnsName),
		ProviderID:   fmt.Sprintf("aws:///%s/%s", zone, awssdk.ToString(inst.InstanceId)),
		InstanceType: string(inst.InstanceType),
		Zone:         zone,
		CapacityType: ct,
		LaunchTime:   awssdk.ToTime(inst.LaunchTime),
		Labels:       labels,
		ImageID:      awssdk.ToString(inst.ImageId),
		ClaimName:    claim,
	}
}

// ParseProviderID returns the instance id of aws:///<zone>/<instance-id>. Errors: any other
// shape.
func ParseProviderID(providerID string) (string, error) {
	rest, ok := strings.CutPrefix(providerID, "aws:///")
	if !ok {
		return "", fmt.Errorf("providerID %q: want aws:///<zone>/<instance-id>", providerID)
	}
	zone, id, ok := strings.Cut(rest, "/")
	if !ok || zone == "" || !strings.HasPrefix(id, "i-") || strings.Contains(id, "/") {
		return "", fmt.Errorf("providerID %q: want aws:///<zone>/<instance-id>", providerID)
	}
	return id, nil
}

// Delete implements cloudprovider.CloudProvider: TerminateInstances of the id in providerID.
// An instance that does not exist is not an error. Errors: malformed providerID, EC2 errors.
func (c *CloudProvider) Delete(ctx context.Context, providerID string) error {
	defer observe("Delete", time.Now())
	id, err := ParseProviderID(providerID)
	if err != nil {
		return err
	}
	if _, err := c.ec2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}); err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("terminating instance %s: %w", id, err)
	}
	return nil
}

// Exists reports whether the instance of providerID is pending or running (DescribeInstances
// by id; InvalidInstanceID.NotFound or a shutting-down/terminated/stopping/stopped state is
// false). Garbage collection uses it to confirm an instance is gone before deleting its Node.
// Errors: malformed providerID, EC2 errors.
func (c *CloudProvider) Exists(ctx context.Context, providerID string) (bool, error) {
	id, err := ParseProviderID(providerID)
	if err != nil {
		return false, err
	}
	out, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("describing instance %s: %w", id, err)
	}
	for _, r := range out.Reservations {
		for _, inst := range r.Instances {
			if awssdk.ToString(inst.InstanceId) != id || inst.State == nil {
				continue
			}
			switch inst.State.Name {
			case ec2types.InstanceStateNamePending, ec2types.InstanceStateNameRunning:
				return true, nil
			}
		}
	}
	return false, nil
}

// List implements cloudprovider.CloudProvider: the pending and running instances tagged
// karpenter.sh/cluster=<cluster> (DescribeInstances, paginated). Nodes carry no capacity.
func (c *CloudProvider) List(ctx context.Context) ([]*cloudprovider.Node, error) {
	defer observe("List", time.Now())
	var out []*cloudprovider.Node
	pager := ec2.NewDescribeInstancesPaginator(c.ec2, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{
			{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{c.opts.ClusterName}},
			{Name: awssdk.String("instance-state-name"), Values: []string{"pending", "running"}},
		},
	})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing instances of cluster %s: %w", c.opts.ClusterName, err)
		}
		for _, r := range page.Reservations {
			for i := range r.Instances {
				out = append(out, instanceNode(&r.Instances[i]))
			}
		}
	}
	return out, nil
}
