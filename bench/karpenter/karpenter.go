package main

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	fakecr "sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/log"
	kv1 "sigs.k8s.io/karpenter/pkg/apis/v1"
	kcp "sigs.k8s.io/karpenter/pkg/cloudprovider"
	kfake "sigs.k8s.io/karpenter/pkg/cloudprovider/fake"
	kscheduling "sigs.k8s.io/karpenter/pkg/controllers/provisioning/scheduling"
	"sigs.k8s.io/karpenter/pkg/controllers/state"
	"sigs.k8s.io/karpenter/pkg/events"
	"sigs.k8s.io/karpenter/pkg/operator/injection"
	"sigs.k8s.io/karpenter/pkg/operator/logging"
	"sigs.k8s.io/karpenter/pkg/operator/options"
	ksched "sigs.k8s.io/karpenter/pkg/scheduling"
	"sigs.k8s.io/karpenter/pkg/test"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func init() {
	log.SetLogger(logging.NopLogger)
}

// instanceTypes converts our instance types to Karpenter's: the same capacity (cpu, memory,
// pods, ephemeral-storage, nvidia.com/gpu), the same overhead (ours is kube-reserved cpu and
// memory plus the 100Mi eviction threshold, all given to Karpenter as KubeReserved: only the
// total counts for allocatable), the same available offerings with their prices, and
// requirements on instance type, arch, OS, zone and capacity type (the labels the pods and the
// NodePool use). Unavailable offerings are dropped.
func instanceTypes(types []*cloudprovider.InstanceType) []*kcp.InstanceType {
	out := make([]*kcp.InstanceType, 0, len(types))
	for _, it := range types {
		zones, capacityTypes := sets.New[string](), sets.New[string]()
		var offerings kcp.Offerings
		for _, o := range it.Offerings {
			if !o.Available {
				continue
			}
			zones.Insert(o.Zone)
			capacityTypes.Insert(o.CapacityType)
			offerings = append(offerings, &kcp.Offering{
				Requirements: ksched.NewLabelRequirements(map[string]string{kv1.CapacityTypeLabelKey: o.CapacityType, corev1.LabelTopologyZone: o.Zone}),
				Price:        o.Price,
				Available:    true,
			})
		}
		if len(offerings) == 0 {
			continue
		}
		out = append(out, &kcp.InstanceType{
			Name: it.Name,
			Requirements: ksched.NewRequirements(
				ksched.NewRequirement(corev1.LabelInstanceTypeStable, corev1.NodeSelectorOpIn, it.Name),
				ksched.NewRequirement(corev1.LabelArchStable, corev1.NodeSelectorOpIn, it.Labels[v1alpha5.LabelArch]),
				ksched.NewRequirement(corev1.LabelOSStable, corev1.NodeSelectorOpIn, it.Labels[v1alpha5.LabelOS]),
				ksched.NewRequirement(corev1.LabelTopologyZone, corev1.NodeSelectorOpIn, sets.List(zones)...),
				ksched.NewRequirement(kv1.CapacityTypeLabelKey, corev1.NodeSelectorOpIn, sets.List(capacityTypes)...),
			),
			Offerings: offerings,
			Capacity:  it.Capacity.DeepCopy(),
			Overhead:  &kcp.InstanceTypeOverhead{KubeReserved: it.Overhead.DeepCopy()},
		})
	}
	return out
}

// nodePool is the counterpart of bench.Provisioner(): spot and on-demand, limits out of reach
// (as Karpenter's benchmark sets them).
func nodePool() *kv1.NodePool {
	return test.NodePool(kv1.NodePool{Spec: kv1.NodePoolSpec{
		Limits: kv1.Limits{corev1.ResourceCPU: resource.MustParse("10000000"), corev1.ResourceMemory: resource.MustParse("10000000Gi")},
		Template: kv1.NodeClaimTemplate{Spec: kv1.NodeClaimTemplateSpec{Requirements: []kv1.NodeSelectorRequirementWithMinValues{{
			Key: kv1.CapacityTypeLabelKey, Operator: corev1.NodeSelectorOpIn, Values: []string{kv1.CapacityTypeSpot, kv1.CapacityTypeOnDemand},
		}}}},
	}})
}

// newScheduler sets Karpenter's scheduler up as its own benchmark does (setupScheduler in
// scheduling_benchmark_test.go): a fake controller-runtime client, cluster state over Karpenter's
// fake cloud provider whose instance types are replaced by ours, a topology of the pods, 5
// concurrent reconciles, and no daemonsets, volumes or DRA allocator.
func newScheduler(ctx context.Context, pods []*corev1.Pod, types []*kcp.InstanceType) (*kscheduling.Scheduler, error) {
	np := nodePool()
	cloud := kfake.NewCloudProvider()
	cloud.InstanceTypes = types
	client := fakecr.NewFakeClient()
	clk := &clock.RealClock{}
	cluster := state.NewCluster(clk, client, cloud)
	byPool := map[string][]*kcp.InstanceType{np.Name: types}
	opts := []kscheduling.Options{kscheduling.NumConcurrentReconciles(5)}
	topology, err := kscheduling.NewTopology(ctx, client, cluster, nil, []*kv1.NodePool{np}, byPool, pods, opts...)
	if err != nil {
		return nil, fmt.Errorf("creating topology: %w", err)
	}
	return kscheduling.NewScheduler(ctx, client, []*kv1.NodePool{np}, cluster, nil, topology, byPool, nil,
		events.NewRecorder(&record.FakeRecorder{}), clk, nil, nil, opts...), nil
}

// measureKarpenter times Karpenter's Solve on copies of w's pods with a scheduler set up fresh
// for every run (set-up not timed, as in Karpenter's benchmark), and prices its node claims.
func measureKarpenter(ctx context.Context, w bench.Workload, types []*kcp.InstanceType, minTime time.Duration) (bench.Result, error) {
	ctx = options.ToContext(injection.WithControllerName(ctx, "provisioner"), test.Options())
	var failure error
	res := bench.Timed(minTime, func(sw *bench.Stopwatch) bench.Result {
		pods := make([]*corev1.Pod, len(w.Pods))
		for i, p := range w.Pods {
			pods[i] = p.DeepCopy()
		}
		s, err := newScheduler(ctx, pods, types)
		if err != nil {
			failure = err
			return bench.Result{Pods: len(pods)}
		}
		var results kscheduling.Results
		sw.Time(func() { results, err = s.Solve(ctx, pods) })
		if err != nil {
			failure = err
			return bench.Result{Pods: len(pods)}
		}
		out := bench.Result{Pods: len(pods), Nodes: len(results.NewNodeClaims), Unplaced: len(results.PodErrors)}
		for _, nc := range results.NewNodeClaims {
			_, o := launchOffering(nc)
			if o != nil {
				out.USDPerHour += o.Price
			}
		}
		out.AtRisk = bench.AtRisk(scheduling.CheckSpreads(asNodes(results.NewNodeClaims)))
		return out
	})
	return res, failure
}

// launchOffering is what launching the claim launches: the cheapest available offering, among
// all its instance type options, compatible with its requirements (what CreateFleet's
// lowest-price strategy picks, and what our solver's first option costs), and its type; nil
// when there is none.
func launchOffering(nc *kscheduling.NodeClaim) (*kcp.InstanceType, *kcp.Offering) {
	var bestType *kcp.InstanceType
	var best *kcp.Offering
	for _, it := range nc.InstanceTypeOptions {
		if o := it.Offerings.Available().Compatible(nc.Requirements).Cheapest(); o != nil && (best == nil || o.Price < best.Price) {
			bestType, best = it, o
		}
	}
	return bestType, best
}

// asNodes returns Karpenter's node claims as the nodes they launch as, each with its pods
// planned on it (Result.ExistingNodes), for scheduling.CheckSpreads: the labels its
// requirements and its launched type's fix to one value, the launched offering's zone and
// capacity type, and a hostname of its own.
func asNodes(claims []*kscheduling.NodeClaim) ([]scheduling.ExistingNode, *scheduling.Result) {
	res := &scheduling.Result{ExistingNodes: map[string][]*corev1.Pod{}}
	nodes := make([]scheduling.ExistingNode, 0, len(claims))
	for i, nc := range claims {
		name := fmt.Sprintf("karpenter-node-%d", i+1)
		labels := map[string]string{}
		it, o := launchOffering(nc)
		for _, reqs := range []ksched.Requirements{itRequirements(it), nc.Requirements} {
			for _, r := range reqs.Values() {
				if r.Operator() == corev1.NodeSelectorOpIn && r.Len() == 1 {
					labels[r.Key] = r.Any()
				}
			}
		}
		if o != nil {
			labels[corev1.LabelTopologyZone], labels[kv1.CapacityTypeLabelKey] = o.Zone(), o.CapacityType()
		}
		labels[corev1.LabelHostname] = name
		nodes = append(nodes, scheduling.ExistingNode{Name: name, Labels: labels})
		res.ExistingNodes[name] = nc.Pods
	}
	return nodes, res
}

// itRequirements is it's requirements (none for nil).
func itRequirements(it *kcp.InstanceType) ksched.Requirements {
	if it == nil {
		return ksched.Requirements{}
	}
	return it.Requirements
}
