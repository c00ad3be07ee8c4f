package aws_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	corev1 "k8s.io/api/core/v1"
	ktypes "k8s.io/apimachinery/pkg/types"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
)

func claimUID(name string) ktypes.UID { return ktypes.UID("0b5e6d1c-7f3a-4c2e-9a41-" + name) }

// faultyEC2 records CreateFleet client tokens and fails DescribeInstances while failDescribe
// is set: CreateFleet succeeded, but its instance cannot be described.
type faultyEC2 struct {
	*ec2.Client
	mu           sync.Mutex
	tokens       []string
	failDescribe bool
}

func (f *faultyEC2) CreateFleet(ctx context.Context, in *ec2.CreateFleetInput, opts ...func(*ec2.Options)) (*ec2.CreateFleetOutput, error) {
	f.mu.Lock()
	f.tokens = append(f.tokens, awssdk.ToString(in.ClientToken))
	f.mu.Unlock()
	return f.Client.CreateFleet(ctx, in, opts...)
}

func (f *faultyEC2) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	f.mu.Lock()
	fail := f.failDescribe
	f.mu.Unlock()
	if fail {
		return nil, errors.New("DescribeInstances: 503 Service Unavailable")
	}
	return f.Client.DescribeInstances(ctx, in, opts...)
}

func newFaultyCloud(t *testing.T) (*env, *faultyEC2, *awscloud.CloudProvider, *cloudprovider.NodeRequest) {
	t.Helper()
	e := newEnv(t)
	api := &faultyEC2{Client: e.ec2}
	cp, err := awscloud.New(awscloud.Options{ClusterName: testCluster, Region: "us-east-1", DefaultInstanceProfile: "KarpenterNodeInstanceProfile"},
		awscloud.Clients{EC2: api, SSM: e.ssm, EKS: e.eks, Versions: staticVersion{}}, e.clk)
	if err != nil {
		t.Fatal(err)
	}
	prov := provisioner("default")
	types, err := cp.GetInstanceTypes(context.Background(), prov)
	if err != nil {
		t.Fatal(err)
	}
	req := &cloudprovider.NodeRequest{
		ClaimName: "default-abcde", ClaimUID: claimUID("000000000001"),
		Provisioner:         prov,
		InstanceTypeOptions: byName(types, "m5.large", "c5.large"),
		Requirements:        []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}},
		Labels:              map[string]string{v1alpha5.LabelProvisionerName: "default"},
	}
	return e, api, cp, req
}

// Launching the same claim twice (a retry) returns the same instance: the CreateFleet client
// token derives from the claim's UID, and EC2 (here the emulator) answers a repeated token with
// the first call's instances. The instance is tagged with the claim's name.
func TestLaunchIsIdempotentPerClaim(t *testing.T) {
	e, api, cp, req := newFaultyCloud(t)
	ctx := context.Background()
	first, err := cp.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cp.Create(ctx, req)
	if err != nil || again.ProviderID != first.ProviderID {
		t.Fatalf("retry = %+v, %v; want instance %s", again, err, first.ProviderID)
	}
	if n := len(e.emu.Instances()); n != 1 {
		t.Fatalf("%d instances for one claim", n)
	}
	if len(api.tokens) != 2 || api.tokens[0] != api.tokens[1] || len(api.tokens[0]) > 64 || api.tokens[0][:len(req.ClaimUID)] != string(req.ClaimUID) {
		t.Fatalf("client tokens %q: want two equal tokens starting with the claim UID, at most 64 characters", api.tokens)
	}
	listed, err := cp.List(ctx)
	if err != nil || len(listed) != 1 || listed[0].ClaimName != req.ClaimName {
		t.Fatalf("listed %+v, %v; want the instance tagged %s=%s", listed, err, karpv1.TagNodeClaim, req.ClaimName)
	}

	// Another claim with the same request launches its own instance.
	other := *req
	other.ClaimName, other.ClaimUID = "default-fghij", claimUID("000000000002")
	second, err := cp.Create(ctx, &other)
	if err != nil || second.ProviderID == first.ProviderID {
		t.Fatalf("second claim = %+v, %v; want a new instance", second, err)
	}
	if n := len(e.emu.Instances()); n != 2 {
		t.Fatalf("%d instances for two claims", n)
	}
}

// CreateFleet launches but DescribeInstances fails: the launch fails, and retrying the claim
// (the same request, or a resumed one with other options that looks the instance up by its
// claim tag) returns the instance already running instead of launching a second; once that
// instance is terminated, resuming fails rather than launching another.
func TestLaunchRetryAfterDescribeFailure(t *testing.T) {
	e, api, cp, req := newFaultyCloud(t)
	ctx := context.Background()
	api.failDescribe = true
	if _, err := cp.Create(ctx, req); err == nil {
		t.Fatal("Create succeeded although DescribeInstances failed")
	}
	if n := len(e.emu.Instances()); n != 1 {
		t.Fatalf("%d instances after the failed describe, want 1", n)
	}
	api.failDescribe = false
	retried, err := cp.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// A resumed launch (after a restart) may offer other options: the token changes, and the
	// claim tag finds the instance.
	resumed := *req
	resumed.InstanceTypeOptions = req.InstanceTypeOptions[1:]
	resumed.FindExisting = true
	found, err := cp.Create(ctx, &resumed)
	if err != nil || found.ProviderID != retried.ProviderID {
		t.Fatalf("resumed = %+v, %v; want instance %s", found, err, retried.ProviderID)
	}
	if n := len(e.emu.Instances()); n != 1 {
		t.Fatalf("%d instances for one claim after retries, want 1", n)
	}
	// Its instance terminated before the launch was recorded (its unregistered Node was
	// removed): resuming fails instead of launching the claim a second instance.
	if err := cp.Delete(ctx, found.ProviderID); err != nil {
		t.Fatal(err)
	}
	if again, err := cp.Create(ctx, &resumed); err == nil {
		t.Fatalf("resumed after its instance was terminated = %+v; want an error, not a second instance", again)
	}
	if n := len(e.emu.Instances()); n != 1 {
		t.Fatalf("%d instances for one claim after its instance was terminated, want 1", n)
	}
	// Without the claim name and UID nothing is launched.
	bad := *req
	bad.ClaimUID = ""
	if _, err := cp.Create(ctx, &bad); err == nil {
		t.Fatal("Create without a claim UID succeeded")
	}
}
