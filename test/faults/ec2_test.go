package faults

import (
	"fmt"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// TestEC2Faults runs one controller while the emulator misbehaves, one fault at a time, each
// with more pods to place: (1) 30% of all EC2 calls throttled and 15% answering 500 or 503;
// (2) the first CreateFleet's response lost after the fleet launched, then
// DescribeInstances failing; (3) every launch template of the cluster deleted out of band;
// (4) InsufficientInstanceCapacity on every spot pool, with on-demand allowed. Each step adds 4
// pods that each need a node of their own (hostname anti-affinity). After each,
// every pod must be Running, instances, claims and Nodes must agree and no claim may have two
// instances.
func TestEC2Faults(t *testing.T) {
	e := newEnv(t, "ec2", 10*time.Minute)
	start := time.Now()
	e.createProvisioner([]string{"spot", "on-demand"}, 0)
	rec := e.recordClaims()
	mon := e.startMonitor(0)
	em := e.sb.Emulator
	defer em.ClearFaults()
	e.createNamedDeployment(e.name, 0, "500m", nil, onePerNode(e.name))
	c := e.startController("single", "--leader-elect=false")
	defer c.kill()
	var f figures
	pods := int32(0)
	step := func(what string, add int32, inject func(), after func()) {
		t.Helper()
		begin := time.Now()
		launchedBefore := len(e.scenarioInstances())
		inject()
		pods += add
		e.scale(pods)
		e.waitRunning(int(pods), 4*time.Minute)
		em.ClearFaults()
		got := e.waitConsistent(-1, 3*time.Minute)
		if after != nil {
			after()
		}
		if n := len(e.scenarioInstances()) - launchedBefore; n < int(add) {
			t.Errorf("%s: %d instances launched for %d pods that each need a node of their own", what, n, add)
		}
		f.phases = append(f.phases, fmt.Sprintf("%s: %d pods Running after %.0f s; %s", what, pods, time.Since(begin).Seconds(), got))
		if c.exited() {
			t.Fatalf("controller exited during %s", what)
		}
	}

	step("throttling 30% and 5xx on 15% of EC2 calls", 4, func() {
		must(t, em.AddThrottle(sandboxaws.ThrottleFault{Service: "ec2", Fraction: 0.3}))
		must(t, em.AddServerError(sandboxaws.ServerErrorFault{Status: 500, Fraction: 0.1}))
		must(t, em.AddServerError(sandboxaws.ServerErrorFault{Status: 503, Fraction: 0.05}))
	}, nil)
	step("CreateFleet response lost, then DescribeInstances failing", 4, func() {
		must(t, em.AddServerError(sandboxaws.ServerErrorFault{Action: "CreateFleet", Next: 1, AfterAction: true}))
		must(t, em.AddServerError(sandboxaws.ServerErrorFault{Action: "DescribeInstances", Next: 6}))
	}, nil)
	var deleted int
	step("launch templates deleted out of band", 4, func() {
		out, err := e.ec2.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{
			{Name: awssdk.String("tag:" + v1alpha5.TagCluster), Values: []string{e.sb.ClusterName}}}})
		if err != nil {
			t.Fatal(err)
		}
		for _, lt := range out.LaunchTemplates {
			if _, err := e.ec2.DeleteLaunchTemplate(e.ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId}); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
		if deleted == 0 {
			t.Fatal("no launch template of the cluster to delete: the earlier launches used none")
		}
	}, nil)
	var onDemandBefore int
	for _, i := range e.scenarioInstances() {
		if live(i) && i.CapacityType == "on-demand" {
			onDemandBefore++
		}
	}
	step("insufficient capacity on every spot pool", 4, func() {
		must(t, em.AddInsufficientCapacity(sandboxaws.CapacityFault{CapacityType: "spot"}))
	}, func() {
		onDemand := 0
		for _, i := range e.scenarioInstances() {
			if live(i) && i.CapacityType == "on-demand" {
				onDemand++
			}
		}
		if onDemand <= onDemandBefore {
			t.Errorf("no on-demand instance launched while every spot pool had no capacity (%d before, %d after)", onDemandBefore, onDemand)
		}
	})
	f.phases = append(f.phases, fmt.Sprintf("%d launch templates deleted out of band", deleted))
	final := e.waitConsistent(-1, time.Minute)
	e.collect(&f, rec, mon, final, start)
	e.verify("ec2-faults", f)
	e.cleanup(3 * time.Minute)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
