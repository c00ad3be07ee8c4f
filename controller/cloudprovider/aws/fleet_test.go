package aws_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
)

// gatedFleets records CreateFleet target capacities; the first call waits for release, and
// every call launches short fewer instances than asked (as EC2 may when capacity runs out).
type gatedFleets struct {
	*ec2.Client
	first   chan struct{} // closed when the first call arrived
	release chan struct{}
	short   int32

	mu      sync.Mutex
	targets []int32
}

func (g *gatedFleets) CreateFleet(ctx context.Context, in *ec2.CreateFleetInput, opts ...func(*ec2.Options)) (*ec2.CreateFleetOutput, error) {
	g.mu.Lock()
	n := awssdk.ToInt32(in.TargetCapacitySpecification.TotalTargetCapacity)
	g.targets = append(g.targets, n)
	firstCall := len(g.targets) == 1
	g.mu.Unlock()
	if firstCall {
		close(g.first)
		<-g.release
	}
	c := *in
	spec := *in.TargetCapacitySpecification
	spec.TotalTargetCapacity = awssdk.Int32(max(0, n-g.short))
	c.TargetCapacitySpecification = &spec
	if *spec.TotalTargetCapacity == 0 {
		return &ec2.CreateFleetOutput{}, nil
	}
	return g.Client.CreateFleet(ctx, &c, opts...)
}

// launchConcurrently launches one request, waits until its CreateFleet call is in flight, then
// launches more identical requests, waits until they queue, and releases the first call. It
// returns every launch's node and error, and the calls' target capacities.
func launchConcurrently(t *testing.T, short int32, more int) ([]*cloudprovider.Node, []error, []int32) {
	t.Helper()
	e := newEnv(t)
	api := &gatedFleets{Client: e.ec2, first: make(chan struct{}), release: make(chan struct{}), short: short}
	cp, err := awscloud.New(awscloud.Options{ClusterName: testCluster, Region: "us-east-1", DefaultInstanceProfile: "KarpenterNodeInstanceProfile"},
		awscloud.Clients{EC2: api, SSM: e.ssm, EKS: e.eks, Versions: staticVersion{}}, e.clk)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prov := provisioner("default")
	types, err := cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	req := &cloudprovider.NodeRequest{
		Provisioner:         prov,
		InstanceTypeOptions: byName(types, "m5.large", "c5.large"),
		Requirements:        []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}},
		Labels:              map[string]string{v1alpha5.LabelProvisionerName: "default"},
	}
	nodes := make([]*cloudprovider.Node, 1+more)
	errs := make([]error, 1+more)
	var wg sync.WaitGroup
	launch := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nodes[i], errs[i] = cp.Create(ctx, req)
		}()
	}
	launch(0)
	<-api.first
	for i := 1; i <= more; i++ {
		launch(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for awscloud.QueuedFleetRequests(cp) < more {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", awscloud.QueuedFleetRequests(cp), more)
		}
		time.Sleep(time.Millisecond)
	}
	close(api.release)
	wg.Wait()
	return nodes, errs, api.targets
}

// Identical launches that arrive while one is in flight share the next CreateFleet call, and
// each gets an instance of its own.
func TestIdenticalLaunchesShareOneFleet(t *testing.T) {
	nodes, errs, targets := launchConcurrently(t, 0, 4)
	if len(targets) != 2 || targets[0] != 1 || targets[1] != 4 {
		t.Fatalf("CreateFleet target capacities = %v, want [1 4]", targets)
	}
	seen := map[string]bool{}
	for i, n := range nodes {
		if errs[i] != nil {
			t.Fatalf("launch %d: %v", i, errs[i])
		}
		if n == nil || n.Name == "" || seen[n.ProviderID] {
			t.Fatalf("launch %d got node %+v; every launch needs an instance of its own", i, n)
		}
		seen[n.ProviderID] = true
		if n.InstanceType != "m5.large" && n.InstanceType != "c5.large" {
			t.Errorf("launch %d got %s, not one of its options", i, n.InstanceType)
		}
	}
}

// A shared call that launches fewer instances than requests fails only the requests left over.
func TestSharedFleetShortOfCapacity(t *testing.T) {
	nodes, errs, targets := launchConcurrently(t, 1, 3)
	if len(targets) != 2 || targets[1] != 3 {
		t.Fatalf("CreateFleet target capacities = %v, want [1 3]", targets)
	}
	launched, failed := 0, 0
	for i := range nodes {
		switch {
		case errs[i] == nil && nodes[i] != nil:
			launched++
		case errs[i] != nil:
			failed++
			var ice *cloudprovider.InsufficientCapacityError
			if !errors.As(errs[i], &ice) && !strings.Contains(errs[i].Error(), "launched") {
				t.Errorf("launch %d: %v, want insufficient capacity", i, errs[i])
			}
		}
	}
	// The first call (target 1) launched nothing; the second (target 3) launched 2.
	if launched != 2 || failed != 2 {
		t.Fatalf("%d launched, %d failed; want 2 and 2 (errors %v)", launched, failed, errs)
	}
}
