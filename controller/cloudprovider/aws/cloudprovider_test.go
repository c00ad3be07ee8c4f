package aws_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	clocktesting "k8s.io/utils/clock/testing"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/node"
)

const testCluster = "test-cluster"

type staticVersion struct{}

func (staticVersion) ServerVersionWithContext(context.Context) (*version.Info, error) {
	return &version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2"}, nil
}

// env is an emulator with tagged subnets/security group and a CloudProvider talking to it
// through real SDK clients.
type env struct {
	emu    *sandboxaws.Emulator
	ec2    *ec2.Client
	ssm    *ssm.Client
	eks    *eks.Client
	cp     *awscloud.CloudProvider
	clk    *clocktesting.FakeClock
	mu     sync.Mutex
	booted []sandboxaws.BootedInstance
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith is newEnv with the cloud provider's options changed by edit (when not nil).
func newEnvWith(t testing.TB, edit func(*awscloud.Options)) *env {
	t.Helper()
	e := &env{clk: clocktesting.NewFakeClock(time.Now())}
	e.emu = sandboxaws.New(sandboxaws.Options{
		ClusterName: testCluster, ClusterEndpoint: "https://127.0.0.1:6443",
		ClusterCA:   []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		NoBootDelay: true,
		Hooks: sandboxaws.Hooks{OnBoot: func(_ context.Context, inst sandboxaws.BootedInstance) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.booted = append(e.booted, inst)
			return nil
		}},
	})
	url, err := e.emu.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.emu.Close() })
	cfg := awssdk.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(sandboxaws.DefaultAdminAccessKeyID, sandboxaws.DefaultAdminSecretAccessKey, ""),
		Retryer:     func() awssdk.Retryer { return retry.NewStandard() },
		HTTPClient:  sdkhttp.New(),
	}
	e.ec2 = ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
	e.ssm = ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = awssdk.String(url) })
	e.eks = eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = awssdk.String(url) })
	clients := awscloud.Clients{EC2: e.ec2, SSM: e.ssm, EKS: e.eks, Versions: staticVersion{}}
	ctx := context.Background()
	resources := []string{sandboxaws.SeedClusterSecurityGroupID}
	for _, s := range sandboxaws.SeedSubnets {
		resources = append(resources, s.ID)
	}
	if _, err := e.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: []ec2types.Tag{
		{Key: awssdk.String(v1alpha5.DiscoveryTagKey), Value: awssdk.String(testCluster)}}}); err != nil {
		t.Fatal(err)
	}
	ic := iam.NewFromConfig(cfg, func(o *iam.Options) { o.BaseEndpoint = awssdk.String(url) })
	if _, err := ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile")}); err != nil {
		t.Fatal(err)
	}
	opts := awscloud.Options{ClusterName: testCluster, Region: "us-east-1", DefaultInstanceProfile: "KarpenterNodeInstanceProfile"}
	if edit != nil {
		edit(&opts)
	}
	e.cp, err = awscloud.New(opts, clients, e.clk)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func provisioner(name string) *v1alpha5.Provisioner {
	return &v1alpha5.Provisioner{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha5.ProvisionerSpec{
			Labels: map[string]string{"team": "blue"},
			Taints: []corev1.Taint{{Key: "dedicated", Value: "blue", Effect: corev1.TaintEffectNoSchedule}},
			Provider: &v1alpha5.AWS{
				SubnetSelector:        map[string]string{v1alpha5.DiscoveryTagKey: testCluster},
				SecurityGroupSelector: map[string]string{v1alpha5.DiscoveryTagKey: "*"},
				Tags:                  map[string]string{"cost-center": "42"},
			},
		},
	}
}

func byName(types []*cloudprovider.InstanceType, names ...string) []*cloudprovider.InstanceType {
	var out []*cloudprovider.InstanceType
	for _, n := range names {
		for _, it := range types {
			if it.Name == n {
				out = append(out, it)
			}
		}
	}
	return out
}

func offering(it *cloudprovider.InstanceType, zone, ct string) (cloudprovider.Offering, bool) {
	for _, o := range it.Offerings {
		if o.Zone == zone && o.CapacityType == ct {
			return o, true
		}
	}
	return cloudprovider.Offering{}, false
}

// Labels of facts a type lacks are absent; the types that have them carry them, as Karpenter's
// AWS provider names them (AWS docs: g5.xlarge has one NVIDIA A10G of 24 GiB, m5d.large a 75 GB
// NVMe instance store, i3.large runs on Xen, m6g is Graviton, g5 runs 2nd generation AMD EPYC).
func TestInstanceTypeLabels(t *testing.T) {
	e := newEnv(t)
	types, err := e.cp.GetInstanceTypes(context.Background(), provisioner("default"))
	if err != nil {
		t.Fatal(err)
	}
	it := byName(types, "m5.large")[0]
	// No GPU or accelerator label on a type without: DoesNotExist on instance-gpu-count keeps pods
	// off GPU nodes (Karpenter's way), so "0" would keep them off every node.
	for _, k := range []string{v1alpha5.LabelInstanceGPUName, v1alpha5.LabelInstanceGPUCount, v1alpha5.LabelInstanceGPUManufacturer,
		v1alpha5.LabelInstanceGPUMemory, v1alpha5.LabelInstanceAcceleratorName, v1alpha5.LabelInstanceAcceleratorManufacturer,
		v1alpha5.LabelInstanceAcceleratorCount, v1alpha5.LabelInstanceLocalNVME} {
		if v, ok := it.Labels[k]; ok {
			t.Errorf("m5.large has label %s=%q, want none", k, v)
		}
	}
	for name, want := range map[string]map[string]string{
		"g5.xlarge": {v1alpha5.LabelInstanceGPUName: "a10g", v1alpha5.LabelInstanceGPUManufacturer: "nvidia",
			v1alpha5.LabelInstanceGPUMemory: "22888", v1alpha5.LabelInstanceGPUCount: "1", v1alpha5.LabelInstanceCPUManufacturer: "amd"},
		"m5d.large": {v1alpha5.LabelInstanceLocalNVME: "75"},
		"i3.large":  {v1alpha5.LabelInstanceHypervisor: "xen"},
		"m6g.large": {v1alpha5.LabelInstanceCPUManufacturer: "aws"},
	} {
		got := byName(types, name)
		if len(got) != 1 {
			t.Fatalf("%s missing", name)
		}
		for k, v := range want {
			if got[0].Labels[k] != v {
				t.Errorf("%s label %s = %q, want %q", name, k, got[0].Labels[k], v)
			}
		}
	}
}

func TestGetInstanceTypes(t *testing.T) {
	e := newEnv(t)
	types, err := e.cp.GetInstanceTypes(context.Background(), provisioner("default"))
	if err != nil {
		t.Fatal(err)
	}
	if len(types) < 300 {
		t.Fatalf("got %d instance types, want the whole catalogue (>= 300)", len(types))
	}
	m5 := byName(types, "m5.large")
	if len(m5) != 1 {
		t.Fatal("m5.large missing")
	}
	it := m5[0]
	// m5.large: 2 vCPUs, 8192 MiB, 3 ENIs x 10 IPv4 (AWS docs).
	want := map[corev1.ResourceName]string{
		corev1.ResourceCPU: "2", corev1.ResourceMemory: "7577Mi", // 8192 - ceil(8192*0.075)
		corev1.ResourcePods: "29", corev1.ResourceEphemeralStorage: "20Gi",
	}
	for name, q := range want {
		if got := it.Capacity[name]; got.Cmp(resource.MustParse(q)) != 0 {
			t.Errorf("capacity %s = %s, want %s", name, got.String(), q)
		}
	}
	// kube-reserved 60m+10m; memory 11Mi*29 + 255Mi + 100Mi eviction.
	if got := it.Overhead[corev1.ResourceCPU]; got.MilliValue() != 70 {
		t.Errorf("cpu overhead = %s, want 70m", got.String())
	}
	if alloc := it.Allocatable()[corev1.ResourceEphemeralStorage]; alloc.Cmp(resource.MustParse("17Gi")) != 0 {
		t.Errorf("allocatable ephemeral-storage %s, want 17Gi (20Gi root volume - 1Gi kube-reserved - 10%% nodefs eviction)", alloc.String())
	}
	if got := it.Overhead[corev1.ResourceMemory]; got.Cmp(resource.MustParse("674Mi")) != 0 {
		t.Errorf("memory overhead = %s, want 674Mi", got.String())
	}
	wantLabels := map[string]string{
		v1alpha5.LabelInstanceType: "m5.large", v1alpha5.LabelArch: "amd64", v1alpha5.LabelOS: "linux",
		v1alpha5.LabelInstanceFamily: "m5", v1alpha5.LabelInstanceSize: "large", v1alpha5.LabelInstanceCPU: "2",
		v1alpha5.LabelInstanceMemory:   "8192",
		v1alpha5.LabelInstanceCategory: "m", v1alpha5.LabelInstanceGen: "5",
		v1alpha5.LabelRegion: "us-east-1", v1alpha5.LabelInstanceHypervisor: "nitro", v1alpha5.LabelInstanceCPUManufacturer: "intel",
		v1alpha5.LabelInstancePods: "29",
	}
	for k, v := range wantLabels {
		if it.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, it.Labels[k], v)
		}
	}
	od, ok := offering(it, "us-east-1a", v1alpha5.CapacityTypeOnDemand)
	if !ok || !od.Available || od.Price != 0.096 {
		t.Errorf("m5.large on-demand us-east-1a = %+v, want available at the list price 0.096", od)
	}
	spot, ok := offering(it, "us-east-1b", v1alpha5.CapacityTypeSpot)
	if !ok || !spot.Available || spot.Price <= 0 || spot.Price >= od.Price {
		t.Errorf("m5.large spot us-east-1b = %+v, want available below on-demand", spot)
	}
	// EBS attach limits from DescribeInstanceTypes: Nitro 28 shared less the root volume, 2 ENIs
	// and NVMe instance store volumes; Xen 40 less the root volume.
	for name, want := range map[string]int{"m5.large": 25, "m5d.large": 24, "i3.large": 39} {
		if got := byName(types, name); len(got) != 1 || got[0].VolumeLimits[awscloud.EBSCSIDriver] != want {
			t.Errorf("%s EBS volume limit: %v, want %d", name, got, want)
		}
	}
	// An arm64 GPU-less type and a GPU type.
	for _, it := range byName(types, "m6g.large", "g4dn.xlarge") {
		switch it.Name {
		case "m6g.large":
			if it.Labels[v1alpha5.LabelArch] != "arm64" {
				t.Errorf("m6g.large arch = %s", it.Labels[v1alpha5.LabelArch])
			}
		case "g4dn.xlarge":
			if q := it.Capacity[awscloud.ResourceNvidiaGPU]; q.Value() != 1 {
				t.Errorf("g4dn.xlarge nvidia.com/gpu = %s, want 1", q.String())
			}
		}
	}
}

func TestCreateListDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prov := provisioner("default")
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	req := &cloudprovider.NodeRequest{
		ClaimName: "default-1", ClaimUID: "8d3f5b8e-0000-4000-8000-000000000001",
		Provisioner:         prov,
		InstanceTypeOptions: byName(types, "m5.large", "c5.large", "m6g.large"),
		Requirements: []corev1.NodeSelectorRequirement{
			{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot", "on-demand"}},
			{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: []string{"us-east-1a", "us-east-1b"}},
		},
		Labels: map[string]string{"team": "blue", v1alpha5.LabelProvisionerName: "default"},
		Taints: prov.Spec.Taints,
	}
	n, err := e.cp.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	id := assertLaunchedNode(t, req, n)

	// The instance carries the tags, and its user data is what the sandbox's bootstrap parser
	// (the stand-in for /etc/eks/bootstrap.sh) accepts with our labels and taints.
	assertInstanceTags(t, e, id)
	assertBootstrap(t, e.waitForBoot(t, id))

	// A second claim's launch reuses the launch template.
	req.ClaimName, req.ClaimUID = "default-2", "8d3f5b8e-0000-4000-8000-000000000002"
	n2, err := e.cp.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	assertLaunchTemplates(t, e)
	assertListed(t, e, n.ProviderID, n2.ProviderID)

	// Deleting is idempotent, and deleting an unknown instance is not an error.
	for _, pid := range []string{n.ProviderID, n.ProviderID, "aws:///us-east-1a/i-0123456789abcdef0"} {
		if err := e.cp.Delete(ctx, pid); err != nil {
			t.Errorf("Delete(%s) = %v, want nil", pid, err)
		}
	}
	listed, err := e.cp.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].ProviderID != n2.ProviderID {
		t.Errorf("after delete List = %v, want only %s", listed, n2.ProviderID)
	}
}

// assertLaunchedNode checks the node Create returned for req (spot in an allowed zone, one of
// the instance type options at its offering's price, with the request's labels) and returns
// its EC2 instance ID.
func assertLaunchedNode(t *testing.T, req *cloudprovider.NodeRequest, n *cloudprovider.Node) string {
	t.Helper()
	if n.CapacityType != v1alpha5.CapacityTypeSpot {
		t.Errorf("capacity type = %s, want spot (allowed and available)", n.CapacityType)
	}
	if n.Zone != "us-east-1a" && n.Zone != "us-east-1b" {
		t.Errorf("zone = %s, want one of the allowed zones", n.Zone)
	}
	id, err := awscloud.ParseProviderID(n.ProviderID)
	if err != nil || !strings.HasPrefix(n.ProviderID, "aws:///"+n.Zone+"/i-") {
		t.Fatalf("providerID = %q (%v)", n.ProviderID, err)
	}
	if n.Name == "" || n.Price <= 0 || n.Labels[v1alpha5.LabelProvisionerName] != "default" || n.Labels["team"] != "blue" {
		t.Errorf("node = %+v", n)
	}
	var chosen *cloudprovider.InstanceType
	for _, it := range req.InstanceTypeOptions {
		if it.Name == n.InstanceType {
			chosen = it
		}
	}
	if chosen == nil {
		t.Fatalf("launched %s, not one of the options", n.InstanceType)
	}
	if o, _ := offering(chosen, n.Zone, n.CapacityType); o.Price != n.Price {
		t.Errorf("price = %v, want the offering's %v", n.Price, o.Price)
	}
	return id
}

// assertInstanceTags checks that instance id carries the cluster, managed-by and provisioner
// tags plus the provisioner's own tags.
func assertInstanceTags(t *testing.T, e *env, id string) {
	t.Helper()
	out, err := e.ec2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range out.Reservations[0].Instances[0].Tags {
		tags[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
	}
	for k, v := range map[string]string{v1alpha5.TagCluster: testCluster, v1alpha5.TagManagedBy: "karpenter",
		v1alpha5.TagProvisionerName: "default", "cost-center": "42"} {
		if tags[k] != v {
			t.Errorf("instance tag %s = %q, want %q (tags %v)", k, tags[k], v, tags)
		}
	}
}

// waitForBoot waits up to 5 seconds for the emulator's OnBoot hook to report instance id, and
// fails the test if it does not.
func (e *env) waitForBoot(t *testing.T, id string) *sandboxaws.BootedInstance {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var boot *sandboxaws.BootedInstance
	for boot == nil && time.Now().Before(deadline) {
		e.mu.Lock()
		for i := range e.booted {
			if e.booted[i].InstanceID == id {
				boot = &e.booted[i]
			}
		}
		e.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	if boot == nil {
		t.Fatal("instance never booted")
	}
	return boot
}

// assertBootstrap checks that the booted instance's user data parses as an EKS bootstrap for
// the test cluster with the request's labels and taint, and that it booted an EKS AL2 AMI.
func assertBootstrap(t *testing.T, boot *sandboxaws.BootedInstance) {
	t.Helper()
	bs, err := node.ParseUserData(boot.UserData)
	if err != nil {
		t.Fatalf("user data rejected: %v\n%s", err, boot.UserData)
	}
	if bs.ClusterName != testCluster || bs.APIServerEndpoint != "https://127.0.0.1:6443" ||
		bs.Labels["team"] != "blue" || bs.Labels[v1alpha5.LabelCapacityType] != "spot" ||
		bs.Labels[v1alpha5.LabelProvisionerName] != "default" ||
		len(bs.Taints) != 1 || bs.Taints[0].Key != "dedicated" || bs.Taints[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("bootstrap = %+v", bs)
	}
	if !strings.HasPrefix(boot.ImageID, "ami-0eks0al2") {
		t.Errorf("image = %s, want an EKS AL2 AMI from SSM", boot.ImageID)
	}
}

// assertLaunchTemplates checks that the launches so far created exactly one launch template
// per AMI (x86_64 and arm64), all named with the controller's prefix.
func assertLaunchTemplates(t *testing.T, e *env) {
	t.Helper()
	lts, err := e.ec2.DescribeLaunchTemplates(context.Background(), &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	variants := map[string]bool{}
	for _, lt := range lts.LaunchTemplates {
		if !strings.HasPrefix(awssdk.ToString(lt.LaunchTemplateName), awscloud.LaunchTemplateNamePrefix) {
			t.Errorf("launch template name %s", awssdk.ToString(lt.LaunchTemplateName))
		}
		variants[awssdk.ToString(lt.LaunchTemplateName)] = true
	}
	if len(variants) != 2 { // x86_64 and arm64 AMIs
		t.Errorf("launch templates = %v, want one per AMI (2)", variants)
	}
}

// assertListed checks that List returns exactly the instances with providerIDs, each labelled
// with the provisioner and with a launch time.
func assertListed(t *testing.T, e *env, providerIDs ...string) {
	t.Helper()
	listed, err := e.cp.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(providerIDs) {
		t.Fatalf("List = %d instances, want %d", len(listed), len(providerIDs))
	}
	for _, l := range listed {
		if !slices.Contains(providerIDs, l.ProviderID) {
			t.Errorf("listed unknown instance %s", l.ProviderID)
		}
		if l.Labels[v1alpha5.LabelProvisionerName] != "default" || l.LaunchTime.IsZero() {
			t.Errorf("listed node = %+v", l)
		}
	}
}

func TestInsufficientCapacity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prov := provisioner("default")
	if err := e.emu.AddInsufficientCapacity(sandboxaws.CapacityFault{InstanceType: "m5.large", CapacityType: "spot"}); err != nil {
		t.Fatal(err)
	}
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	req := &cloudprovider.NodeRequest{
		ClaimName: "default-1", ClaimUID: "8d3f5b8e-0000-4000-8000-000000000001",
		Provisioner:         prov,
		InstanceTypeOptions: byName(types, "m5.large"),
		Requirements:        []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}},
	}
	_, err = e.cp.Create(ctx, req)
	var ice *cloudprovider.InsufficientCapacityError
	if !errors.As(err, &ice) || len(ice.Pools) != 3 {
		t.Fatalf("Create = %v, want InsufficientCapacityError for the 3 spot pools", err)
	}
	types, _ = e.cp.GetInstanceTypes(ctx, prov)
	it := byName(types, "m5.large")[0]
	for _, z := range []string{"us-east-1a", "us-east-1b", "us-east-1c"} {
		if o, _ := offering(it, z, "spot"); o.Available {
			t.Errorf("spot %s still available after ICE", z)
		}
		if o, _ := offering(it, z, "on-demand"); !o.Available {
			t.Errorf("on-demand %s unavailable, only spot failed", z)
		}
	}
	// Refreshed options fall back to on-demand when the requirements allow it.
	req.InstanceTypeOptions = byName(types, "m5.large")
	req.Requirements = nil
	n, err := e.cp.Create(ctx, req)
	if err != nil || n.CapacityType != v1alpha5.CapacityTypeOnDemand {
		t.Fatalf("fallback Create = %+v, %v; want on-demand", n, err)
	}
	// The cache forgets after 3 minutes (instance type info is cached 5 minutes; offerings'
	// availability is computed per call).
	e.clk.Step(awscloud.UnavailableOfferingsTTL + time.Second)
	types, _ = e.cp.GetInstanceTypes(ctx, prov)
	if o, _ := offering(byName(types, "m5.large")[0], "us-east-1a", "spot"); !o.Available {
		t.Error("spot pool still unavailable after the TTL")
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prov := provisioner("default")
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	opts := byName(types, "m5.large")
	cases := map[string]struct {
		mutate func(p *v1alpha5.Provisioner, r *cloudprovider.NodeRequest)
		want   string
	}{
		"no subnet": {func(p *v1alpha5.Provisioner, _ *cloudprovider.NodeRequest) {
			p.Spec.Provider.SubnetSelector = map[string]string{"nope": "nothing"}
		}, "spec.provider.subnetSelector"},
		"empty id": {func(p *v1alpha5.Provisioner, _ *cloudprovider.NodeRequest) {
			p.Spec.Provider.SubnetSelector = map[string]string{"aws-ids": "subnet-1,,"}
		}, "spec.provider.subnetSelector[aws-ids]"},
		"ami family": {func(p *v1alpha5.Provisioner, _ *cloudprovider.NodeRequest) {
			p.Spec.Provider.AMIFamily = awssdk.String("Windows2022")
		}, "spec.provider.amiFamily"},
		"bad label": {func(_ *v1alpha5.Provisioner, r *cloudprovider.NodeRequest) {
			r.Labels = map[string]string{"team": "it's"}
		}, "labels[team]"},
		"bad operator": {func(_ *v1alpha5.Provisioner, r *cloudprovider.NodeRequest) {
			r.Requirements = []corev1.NodeSelectorRequirement{{Key: "a", Operator: "Foo"}}
		}, "requirements[0]"},
		"no security group": {func(p *v1alpha5.Provisioner, _ *cloudprovider.NodeRequest) {
			p.Spec.Provider.SecurityGroupSelector = map[string]string{"aws-ids": "sg-0000000000000dead"}
		}, "spec.provider.securityGroupSelector"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := provisioner("bad-" + strings.ReplaceAll(name, " ", "-"))
			r := &cloudprovider.NodeRequest{ClaimName: p.Name, ClaimUID: claimUID(p.Name), Provisioner: p, InstanceTypeOptions: opts}
			tc.mutate(p, r)
			_, err := e.cp.Create(ctx, r)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Create = %v, want an error naming %s", err, tc.want)
			}
		})
	}
	if err := e.cp.Delete(ctx, "i-123"); err == nil {
		t.Error("Delete of a malformed providerID succeeded")
	}
	if _, err := e.cp.Create(ctx, &cloudprovider.NodeRequest{}); err == nil {
		t.Error("Create without provisioner succeeded")
	}
}

func TestExists(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	prov := provisioner("default")
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.cp.Create(ctx, &cloudprovider.NodeRequest{ClaimName: "default-1", ClaimUID: "uid-1", Provisioner: prov, InstanceTypeOptions: byName(types, "m5.large")})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.cp.Exists(ctx, n.ProviderID); err != nil || !ok {
		t.Fatalf("Exists(launched) = %v, %v", ok, err)
	}
	if err := e.cp.Delete(ctx, n.ProviderID); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.cp.Exists(ctx, n.ProviderID); err != nil || ok {
		t.Errorf("Exists(terminated) = %v, %v", ok, err)
	}
	if ok, err := e.cp.Exists(ctx, "aws:///us-east-1a/i-0123456789abcdef0"); err != nil || ok {
		t.Errorf("Exists(unknown) = %v, %v", ok, err)
	}
}

// BenchmarkGetInstanceTypes measures the cached path the provisioner takes every batch
// (instance types, offerings and spot prices already fetched).
func BenchmarkGetInstanceTypes(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	prov := provisioner("default")
	if _, err := e.cp.GetInstanceTypes(ctx, prov); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.cp.GetInstanceTypes(ctx, prov); err != nil {
			b.Fatal(err)
		}
	}
}

// flakySpot fails DescribeSpotPriceHistory while fail is set.
type flakySpot struct {
	*ec2.Client
	fail bool
}

func (f *flakySpot) DescribeSpotPriceHistory(ctx context.Context, in *ec2.DescribeSpotPriceHistoryInput, opts ...func(*ec2.Options)) (*ec2.DescribeSpotPriceHistoryOutput, error) {
	if f.fail {
		return nil, errors.New("injected spot price failure")
	}
	return f.Client.DescribeSpotPriceHistory(ctx, in, opts...)
}

func TestStaleSpotPricesOnRefreshFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	api := &flakySpot{Client: e.ec2, fail: true}
	cp, err := awscloud.New(awscloud.Options{ClusterName: testCluster, Region: "us-east-1"},
		awscloud.Clients{EC2: api, SSM: ssm.NewFromConfig(awssdk.Config{}), Versions: staticVersion{}}, e.clk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.GetInstanceTypes(ctx, provisioner("default")); err == nil {
		t.Fatal("no error although spot prices were never fetched")
	}
	api.fail = false
	types, err := cp.GetInstanceTypes(ctx, provisioner("default"))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := offering(byName(types, "m5.large")[0], "us-east-1a", "spot")
	api.fail = true
	e.clk.Step(awscloud.SpotPricesCacheTTL + time.Second)
	types, err = cp.GetInstanceTypes(ctx, provisioner("default"))
	if err != nil {
		t.Fatalf("refresh failure with earlier prices: %v, want the stale prices", err)
	}
	if after, _ := offering(byName(types, "m5.large")[0], "us-east-1a", "spot"); after.Price != before.Price || !after.Available {
		t.Errorf("spot offering after failed refresh = %+v, want %+v", after, before)
	}
}

// Planning without subnets (simulate): zones come from the offerings, and the instance types
// are those GetInstanceTypes computes for subnets in the same zones.
func TestGetInstanceTypesInOfferedZones(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	zones, err := e.cp.OfferedZones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"us-east-1a", "us-east-1b", "us-east-1c"}; !slices.Equal(zones, want) {
		t.Fatalf("offered zones %v, want %v", zones, want)
	}
	viaSubnets, err := e.cp.GetInstanceTypes(ctx, provisioner("default"))
	if err != nil {
		t.Fatal(err)
	}
	// No provider settings: the subnets of cluster "simulate" do not exist, and are not needed.
	untagged := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "plan"}}
	viaZones, err := e.cp.GetInstanceTypesInZones(ctx, untagged, zones)
	if err != nil {
		t.Fatal(err)
	}
	if len(viaZones) != len(viaSubnets) {
		t.Fatalf("%d types in offered zones, %d through subnets", len(viaZones), len(viaSubnets))
	}
	for i := range viaZones {
		a, b := viaZones[i], viaSubnets[i]
		if a.Name != b.Name || !slices.Equal(a.Offerings, b.Offerings) || !a.Capacity.Cpu().Equal(*b.Capacity.Cpu()) ||
			!a.Capacity.Memory().Equal(*b.Capacity.Memory()) || !a.Overhead.Memory().Equal(*b.Overhead.Memory()) {
			t.Fatalf("type %d differs: %s %+v / %s %+v", i, a.Name, a.Offerings, b.Name, b.Offerings)
		}
	}
	maxPods := int32(8)
	untagged.Spec.KubeletConfiguration = &v1alpha5.KubeletConfiguration{MaxPods: &maxPods}
	oneZone, err := e.cp.GetInstanceTypesInZones(ctx, untagged, zones[:1])
	if err != nil {
		t.Fatal(err)
	}
	m5 := byName(oneZone, "m5.large")[0]
	if q := m5.Capacity[corev1.ResourcePods]; q.Value() != 8 {
		t.Errorf("pods capacity with kubelet maxPods 8 = %s", q.String())
	}
	for _, o := range m5.Offerings {
		if o.Zone != "us-east-1a" {
			t.Errorf("offering outside the given zone: %+v", o)
		}
	}
}

// countingTypes counts DescribeInstanceTypes calls.
type countingTypes struct {
	*ec2.Client
	calls atomic.Int32
}

func (c *countingTypes) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	if in.NextToken == nil {
		c.calls.Add(1)
	}
	return c.Client.DescribeInstanceTypes(ctx, in, opts...)
}

// RefreshCaches reads the instance types before any batch asks (so GetInstanceTypes calls no
// EC2 API) and again every RefreshInterval.
func TestRefreshCaches(t *testing.T) {
	e := newEnv(t)
	api := &countingTypes{Client: e.ec2}
	cp, err := awscloud.New(awscloud.Options{ClusterName: testCluster, Region: "us-east-1"},
		awscloud.Clients{EC2: api, SSM: ssm.NewFromConfig(awssdk.Config{}), Versions: staticVersion{}}, e.clk)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cp.RefreshCaches(ctx) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("the first refresh", e.clk.HasWaiters)
	if n := api.calls.Load(); n != 1 {
		t.Fatalf("first refresh read the instance types %d times, want 1", n)
	}
	if _, err := cp.GetInstanceTypes(context.Background(), provisioner("default")); err != nil {
		t.Fatal(err)
	}
	if n := api.calls.Load(); n != 1 {
		t.Fatalf("GetInstanceTypes after a refresh called DescribeInstanceTypes (%d calls)", n)
	}
	e.clk.Step(awscloud.RefreshInterval)
	waitFor("the second refresh", func() bool { return api.calls.Load() == 2 && e.clk.HasWaiters() })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RefreshCaches returned %v, want nil", err)
	}
}
