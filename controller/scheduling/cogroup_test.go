package scheduling_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// coGroup returns n pods labelled app=name that must share one node (required hostname pod
// affinity selecting their own label), each requesting cpu and mem.
func coGroup(name string, n int, cpu, mem string, opts ...podOpt) []*corev1.Pod {
	var out []*corev1.Pod
	for i := range n {
		o := append([]podOpt{withLabels("app", name), withPodAffinity(hostnameTerm("app", name))}, opts...)
		out = append(out, pod(fmt.Sprintf("%s-%d", name, i), cpu, mem, o...))
	}
	return out
}

// wantOneNode fails unless every pod is placed and the pods of group share one node.
func wantOneNode(t *testing.T, res *scheduling.Result, group []*corev1.Pod) {
	t.Helper()
	for _, e := range res.Errors {
		t.Errorf("%s unschedulable: %s", e.Pod.Name, e.Reason)
	}
	at := podsPerNode(res)
	for _, p := range group[1:] {
		if at[p.Name] != at[group[0].Name] {
			t.Errorf("%s on %q, %s on %q: a co-located group split", p.Name, at[p.Name], group[0].Name, at[group[0].Name])
		}
	}
}

// A co-located group (required hostname affinity selecting its own pods) whose first pod joined
// a node without room for the rest stranded the rest ("the node planned with a matching pod has
// no room for it"), though a node of its own holds the whole group: the group's first pod now
// opens a node sized for the group when pod by pod leaves some of it unplaced.
func TestCoLocatedGroupGetsANodeWithRoomForAll(t *testing.T) {
	var types []*cloudprovider.InstanceType // nothing above 8 cpu: one node cannot hold all
	for _, it := range fake.Catalog(40) {
		if it.Capacity.Cpu().Value() <= 8 {
			types = append(types, it)
		}
	}
	group := coGroup("team", 3, "1500m", "1Gi")
	pods := append([]*corev1.Pod{pod("big", "5", "2Gi")}, group...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	wantOneNode(t, res, group)
}

// A co-located group whose first pod joined the node of a pod with a hostname spread counting
// the group (maxSkew 1) could take no second pod there; on a node of its own the spread holds.
func TestCoLocatedGroupLeavesANodeWhoseSpreadCountsIt(t *testing.T) {
	guard := pod("guard", "1", "1Gi", withHostnameSpread(1, corev1.DoNotSchedule, "app", "team"))
	group := coGroup("team", 2, "500m", "1Gi")
	pods := append([]*corev1.Pod{guard}, group...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	wantOneNode(t, res, group)
	if b := scheduling.CheckSpreads(nil, res); len(b) > 0 {
		t.Errorf("spread breached: %s", b[0].Reason())
	}
}

// A pod with required hostname affinity for another workload's pods is placed after their
// nodes are sized by the bill; the sizing had cut those nodes to types without room for it
// ("the node planned with a matching pod has no room for it"). The batch is now planned again
// with the first round's nodes left unsized for the second round.
func TestFollowerFindsRoomBesideThePodsItFollows(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 3 {
		pods = append(pods, pod(fmt.Sprintf("db-%d", i), "930m", "2621Mi", withLabels("app", "db")))
	}
	follower := pod("cache", "2189m", "5880Mi", withPodAffinity(hostnameTerm("app", "db")))
	pods = append(pods, follower)
	// Small nodes hold one db pod each and cost far less than the large one holding all three.
	types := []*cloudprovider.InstanceType{
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "s.large", CPU: 2, MemoryMi: 4 * 1024, Arch: "amd64", OnDemandPrice: 0.1, Pods: 29}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "b.2xlarge", CPU: 8, MemoryMi: 32 * 1024, Arch: "amd64", OnDemandPrice: 1, Pods: 58}),
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	for _, e := range res.Errors {
		t.Errorf("%s unschedulable: %s", e.Pod.Name, e.Reason)
	}
}

// A pod with required anti-affinity on the zone for pods pinned to one zone took that zone when
// it was the cheapest, placed first, and the pinned pods had no zone left ("required
// anti-affinity of a pod in us-east-1b"), though the pod could run in any other zone. The batch
// is now planned again with the refused pods placed first.
func TestZoneAntiAffinityLeavesThePinnedPodsZone(t *testing.T) {
	for _, zone := range fake.Zones {
		t.Run(zone, func(t *testing.T) {
			guard := pod("guard", "500m", "1Gi", withAntiAffinity(corev1.PodAffinityTerm{TopologyKey: corev1.LabelTopologyZone,
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pinned"}}}))
			pinned := pod("pinned", "2", "2Gi", withLabels("app", "pinned"), withSelector(corev1.LabelTopologyZone, zone),
				withSpread(corev1.TopologySpreadConstraint{MaxSkew: 2, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.ScheduleAnyway,
					LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pinned"}}}))
			pods := []*corev1.Pod{guard, pinned}
			res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))}, fake.Catalog(40))
			checkClaims(t, pods, res, nil)
			for _, e := range res.Errors {
				t.Errorf("%s unschedulable: %s", e.Pod.Name, e.Reason)
			}
		})
	}
}
