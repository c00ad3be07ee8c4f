package scheduling_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// domainTerm selects pods labelled key=value in the same domain of topologyKey.
func domainTerm(topologyKey, key, value string) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{TopologyKey: topologyKey,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}}}
}

func withSpread(c corev1.TopologySpreadConstraint) podOpt {
	return func(p *corev1.Pod) { p.Spec.TopologySpreadConstraints = append(p.Spec.TopologySpreadConstraints, c) }
}

func zoneSpread(maxSkew int32, app string) corev1.TopologySpreadConstraint {
	return corev1.TopologySpreadConstraint{MaxSkew: maxSkew, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
}

// domainOf returns, per pod name, the zone (or capacity type, per key) of the node it was
// planned on: the existing node's label, or the claim's single allowed value ("" if not fixed).
func domainOf(t *testing.T, res *scheduling.Result, nodes []scheduling.ExistingNode, key string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for name, pods := range res.ExistingNodes {
		for _, n := range nodes {
			if n.Name == name {
				for _, p := range pods {
					out[p.Name] = n.Labels[key]
				}
			}
		}
	}
	for _, c := range res.NewNodes {
		v := c.Labels()[key]
		for _, p := range c.Pods {
			out[p.Name] = v
		}
	}
	return out
}

func histogram(m map[string]string) map[string]int {
	out := map[string]int{}
	for _, v := range m {
		out[v]++
	}
	return out
}

// replicas returns n pods labelled app=prefix and controlled by one ReplicaSet, as a
// Deployment makes them (the solver compiles such pods once).
func replicas(n int, prefix, cpu string, opts ...podOpt) []*corev1.Pod {
	var out []*corev1.Pod
	owner := metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: prefix, UID: k8stypes.UID("rs-" + prefix), Controller: ptr.To(true)}
	for i := range n {
		p := pod(fmt.Sprintf("%s-%d", prefix, i), cpu, "512Mi", append([]podOpt{withLabels("app", prefix)}, opts...)...)
		p.OwnerReferences = []metav1.OwnerReference{owner}
		out = append(out, p)
	}
	return out
}

func zonalNode(name, zone string, pods ...*corev1.Pod) scheduling.ExistingNode {
	n := roomyNode(name, pods...)
	n.Labels[v1alpha5.LabelZone] = zone
	n.Labels[v1alpha5.LabelCapacityType] = v1alpha5.CapacityTypeOnDemand
	return n
}

func TestZoneSpreadBalancesNewNodes(t *testing.T) {
	types := fake.Catalog(40)
	pods := replicas(9, "web", "500m", withSpread(zoneSpread(1, "web")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
	for _, z := range fake.Zones {
		if got[z] != 3 {
			t.Fatalf("want 3 pods in each zone, got %v", got)
		}
	}
}

func TestZoneSpreadCountsRunningPods(t *testing.T) {
	types := fake.Catalog(40)
	running := []*corev1.Pod{pod("old-0", "100m", "64Mi", withLabels("app", "web")), pod("old-1", "100m", "64Mi", withLabels("app", "web"))}
	nodes := []scheduling.ExistingNode{zonalNode("a-node", fake.Zones[0], running...)}
	nodes[0].Available[corev1.ResourceCPU] = resource.MustParse("100m") // no room: new pods need new nodes
	pods := replicas(4, "web", "500m", withSpread(zoneSpread(1, "web")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nodes, v1alpha5.LabelZone))
	// Zone a holds 2 already: b and c get 2 each, a none (a third in a would make skew 3-2 > 1).
	if got[fake.Zones[0]] != 0 || got[fake.Zones[1]] != 2 || got[fake.Zones[2]] != 2 {
		t.Fatalf("placement per zone %v, errors %v", got, reasons(res))
	}
}

func TestZoneSpreadMinDomainsAndNodeAffinityPolicy(t *testing.T) {
	types := fake.Catalog(40)
	t.Run("minDomains above the zones there are caps each zone at maxSkew", func(t *testing.T) {
		c := zoneSpread(1, "web")
		c.MinDomains = ptr.To[int32](5)
		pods := replicas(6, "web", "500m", withSpread(c))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 3 || !strings.Contains(res.Errors[0].Reason, "topology spread") {
			t.Fatalf("want 3 pods refused by topology spread, got %d errors %v", len(res.Errors), reasons(res))
		}
	})
	t.Run("node affinity limits the domains counted", func(t *testing.T) {
		pods := replicas(6, "web", "500m", withSpread(zoneSpread(1, "web")),
			withTerms([]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: fake.Zones[:2]}}))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
		if len(res.Errors) != 0 || got[fake.Zones[0]] != 3 || got[fake.Zones[1]] != 3 {
			t.Fatalf("want 3+3 in the two allowed zones, got %v errors %v", got, reasons(res))
		}
	})
	t.Run("nodeAffinityPolicy Ignore counts an existing node outside the pod's zones", func(t *testing.T) {
		c := zoneSpread(1, "web")
		c.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
		nodes := []scheduling.ExistingNode{zonalNode("c-node", fake.Zones[2])}
		nodes[0].Available[corev1.ResourceCPU] = resource.MustParse("100m")
		pods := replicas(4, "web", "500m", withSpread(c),
			withTerms([]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: fake.Zones[:2]}}))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		// Zone c has a node and no pod: min stays 0, so a and b take one pod each.
		if len(res.Errors) != 2 {
			t.Fatalf("want 2 pods refused, got %d: %v", len(res.Errors), reasons(res))
		}
	})
	// kube-scheduler counts every node with the key under Ignore, also those launched in the same
	// batch for other pods: pinned to zone a with maxSkew 2, at most 2 of 4 pods can be there
	// once the other zones have a node (here one for another deployment in each).
	t.Run("nodeAffinityPolicy Ignore counts zones other pods can launch in", func(t *testing.T) {
		c := zoneSpread(2, "pinned")
		c.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
		pods := replicas(4, "pinned", "500m", withSpread(c), withSelector(v1alpha5.LabelZone, fake.Zones[0]))
		pods = append(pods, replicas(3, "other", "500m", withSpread(zoneSpread(1, "other")))...)
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
		if len(res.Errors) != 2 || got[fake.Zones[0]] != 3 {
			t.Fatalf("want 2 pinned pods in %s beside one other, 2 refused; got %v, errors %v", fake.Zones[0], got, reasons(res))
		}
	})
}

func TestZoneAntiAffinity(t *testing.T) {
	types := fake.Catalog(40)
	pods := replicas(4, "db", "500m", withAntiAffinity(domainTerm(v1alpha5.LabelZone, "app", "db")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
	if len(res.Errors) != 1 || len(got) != 3 || got[fake.Zones[0]] != 1 || got[fake.Zones[1]] != 1 || got[fake.Zones[2]] != 1 {
		t.Fatalf("want one pod per zone and one refused, got %v errors %v", got, reasons(res))
	}
	// Every zone is named, not only the last one tried.
	if want := "required anti-affinity of pods in " + strings.Join(fake.Zones[:3], ", "); !strings.Contains(res.Errors[0].Reason, want) {
		t.Fatalf("reason %q, want %q", res.Errors[0].Reason, want)
	}
}

func TestZoneAntiAffinityOfRunningPodIsSymmetric(t *testing.T) {
	types := fake.Catalog(40)
	guard := pod("guard", "100m", "64Mi", withLabels("app", "guard"), withAntiAffinity(domainTerm(v1alpha5.LabelZone, "app", "web")))
	nodes := []scheduling.ExistingNode{zonalNode("a-node", fake.Zones[0], guard)}
	pods := replicas(3, "web", "500m")
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
	checkClaims(t, pods, res, nil)
	if len(res.ExistingNodes) != 0 {
		t.Fatalf("web pods planned on the guard's node: %v", res.ExistingNodes)
	}
	for _, c := range res.NewNodes {
		if r := c.Requirements[v1alpha5.LabelZone]; r == nil || r.Has(fake.Zones[0]) {
			t.Fatalf("new node may land in the guard's zone: %v", r)
		}
	}
}

func TestZoneSelfAffinityColocates(t *testing.T) {
	types := fake.Catalog(40)
	pods := replicas(12, "cache", "1500m", withPodAffinity(domainTerm(v1alpha5.LabelZone, "app", "cache")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
	if len(res.Errors) != 0 || len(got) != 1 || got[""] != 0 {
		t.Fatalf("want every pod in one zone, got %v errors %v", got, reasons(res))
	}
}

// The first pod of a zonal self-affinity group chooses the zone of the whole group: the one
// where its pods cost least, not the first by name.
func TestZoneSelfAffinityTakesTheCheapestZone(t *testing.T) {
	types := fake.Catalog(40)
	cheap := fake.Zones[2]
	halveSpot(types, cheap)
	pods := replicas(12, "cache", "1500m", withPodAffinity(domainTerm(v1alpha5.LabelZone, "app", "cache")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[cheap] != len(pods) {
		t.Fatalf("want every pod in %s, where spot costs half, got %v errors %v", cheap, got, reasons(res))
	}
}

func TestZoneAffinityFollowsRunningPod(t *testing.T) {
	types := fake.Catalog(40)
	db := pod("db", "100m", "64Mi", withLabels("app", "db"))
	nodes := []scheduling.ExistingNode{zonalNode("b-node", fake.Zones[1], db)}
	nodes[0].Available[corev1.ResourceCPU] = resource.MustParse("100m")
	pods := replicas(5, "api", "1", withPodAffinity(domainTerm(v1alpha5.LabelZone, "app", "db")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nodes, v1alpha5.LabelZone))
	if len(res.Errors) != 0 || got[fake.Zones[1]] != 5 {
		t.Fatalf("want all 5 in %s, got %v errors %v", fake.Zones[1], got, res.Errors)
	}
	t.Run("no selected pod anywhere and not self-selecting", func(t *testing.T) {
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		if len(res.Errors) != 5 || len(res.NewNodes) != 0 {
			t.Fatalf("want 5 errors and no node, got %d errors, %d nodes", len(res.Errors), len(res.NewNodes))
		}
	})
}

func TestCapacityTypeAntiAffinity(t *testing.T) {
	types := fake.Catalog(40)
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	pods := replicas(2, "ha", "500m", withAntiAffinity(domainTerm(v1alpha5.LabelCapacityType, "app", "ha")))
	res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nil, v1alpha5.LabelCapacityType))
	if len(res.Errors) != 0 || got["spot"] != 1 || got["on-demand"] != 1 {
		t.Fatalf("want one spot and one on-demand, got %v errors %v", got, reasons(res))
	}
}

// Spread over capacity types: equally counted capacity types go cheapest first, so one replica
// runs on spot and five on three spot and two on-demand nodes (before, by name: on-demand).
func TestCapacityTypeSpreadTakesSpotFirst(t *testing.T) {
	types := fake.Catalog(40)
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelCapacityType, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
	for n, want := range map[int]map[string]int{1: {"spot": 1}, 5: {"spot": 3, "on-demand": 2}} {
		pods := replicas(n, "web", "1", withSpread(spread))
		res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelCapacityType)); len(res.Errors) != 0 || !maps.Equal(got, want) {
			t.Fatalf("%d replicas: got %v, want %v; errors %v", n, got, want, reasons(res))
		}
	}
}

// A capacity-type spread pod does not join a planned on-demand node with room while spot counts
// no more pods of its spread (the fresh-user trial's E3): three pods pinned to on-demand and four
// spreading over one label go 3 on-demand, 4 spot (4 - 3 <= maxSkew). Before, the fourth took
// the room left on the on-demand node, at about five times the spot price.
func TestCapacityTypeSpreadSkipsOnDemandRoom(t *testing.T) {
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelCapacityType, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}}
	pods := append(replicas(4, "s", "500m", withLabels("app", "s", "tier", "web"), withSpread(spread)),
		replicas(3, "o", "500m", withLabels("app", "o", "tier", "web"), withSpread(spread), withSelector(v1alpha5.LabelCapacityType, "on-demand"))...)
	res := solve(t, pods, []*v1alpha5.Provisioner{prov}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	want := map[string]int{"spot": 4, "on-demand": 3}
	if got := histogram(domainOf(t, res, nil, v1alpha5.LabelCapacityType)); len(res.Errors) != 0 || !maps.Equal(got, want) {
		t.Fatalf("got %v, want %v; errors %v; plan:\n%s", got, want, reasons(res), plan(res))
	}
	if b := scheduling.CheckSpreads(nil, res); len(b) != 0 {
		t.Fatalf("pods at risk: %s", b[0].Reason())
	}
}

// A pod that requires on-demand as capacity-type NotIn [spot] is held to on-demand like one that
// requires In [on-demand] (the second trial's c6): placed first among the spread's pods, the
// others keep the spread within its skew around it. Before, NotIn left it free: 3 pods at risk.
func TestSpreadPodHeldByNotIn(t *testing.T) {
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelCapacityType, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}}
	pods := append(replicas(5, "od", "500m", withLabels("app", "od", "tier", "web"), withSpread(spread),
		withTerms([]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpNotIn, Values: []string{"spot"}}})),
		replicas(7, "any", "500m", withLabels("app", "any", "tier", "web"), withSpread(spread))...)
	res := solve(t, pods, []*v1alpha5.Provisioner{prov}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	if b := scheduling.CheckSpreads(nil, res); len(b) != 0 {
		t.Fatalf("%d pods at risk: %s; plan:\n%s", len(b), b[0].Reason(), plan(res))
	}
}

// solvePlacedWithinSpreads solves pods with the provisioner "default" on types and checks that
// every pod is placed and none is at risk (scheduling.CheckSpreads).
func solvePlacedWithinSpreads(t *testing.T, pods []*corev1.Pod, types []*cloudprovider.InstanceType) {
	t.Helper()
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	if b := scheduling.CheckSpreads(nil, res); len(b) != 0 {
		t.Fatalf("pods at risk: %s; plan:\n%s", b[0].Reason(), plan(res))
	}
}

// Two Deployments spread over one label, one pinned to a zone (the trial's w17): the pinned
// pods are placed first, whatever the names, and the others spread around them; placed last,
// the pinned pods had no zone left that kept the others within their skew.
func TestZoneSpreadPinnedPodsFirst(t *testing.T) {
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "t"}}}
	pods := append(replicas(3, "anyz", "500m", withLabels("app", "anyz", "team", "t"), withSpread(spread)),
		replicas(2, "zb", "500m", withLabels("app", "zb", "team", "t"), withSpread(spread), withSelector(v1alpha5.LabelZone, "us-east-1b"))...)
	solvePlacedWithinSpreads(t, pods, fake.Catalog(40))
}

// A pod its own spread refuses when tried is tried again once the round's other pods are
// placed (the trial's c2_132): the pinned pods go first (fewest domains), and, their spread
// counting every zone (nodeAffinityPolicy Ignore), the second is refused (2 in its zone, 0
// elsewhere) until the five free pods fill the other zones.
func TestZoneSpreadRetriesRefusedPodAfterRound(t *testing.T) {
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "t"}}}
	ignore := spread
	ignore.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
	pods := append(replicas(2, "pinned", "500m", withLabels("app", "pinned", "team", "t"), withSpread(ignore), withSelector(v1alpha5.LabelZone, "us-east-1b")),
		replicas(5, "free", "500m", withLabels("app", "free", "team", "t"), withSpread(spread))...)
	solvePlacedWithinSpreads(t, pods, fake.Catalog(40))
}

// A spread pod refused in its round waits for the counts it reads to grow, as kube-scheduler
// requeues it when a pod its selector counts is added (the second trial's n02b): two pods
// pinned to a zone, their spread counting every zone (nodeAffinityPolicy Ignore), beside three
// free ones. The second pinned pod is refused until the free pods have reached the other zones,
// and is then placed before the last free pod can take its zone's room in the skew; tried only
// after the round, it found its zone one over.
func TestZoneSpreadPendingPodPlacedWhenCountsGrow(t *testing.T) {
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"grp": "g"}}}
	ignore := spread
	ignore.NodeAffinityPolicy = ptr.To(corev1.NodeInclusionPolicyIgnore)
	for _, zone := range fake.Zones {
		t.Run(zone, func(t *testing.T) {
			pods := append(replicas(2, "pinned", "1", withLabels("app", "pinned", "grp", "g"), withSpread(ignore), withSelector(v1alpha5.LabelZone, zone)),
				replicas(3, "free", "1", withLabels("app", "free", "grp", "g"), withSpread(spread))...)
			solvePlacedWithinSpreads(t, pods, fake.Catalog(40))
		})
	}
}

// Pods with no constraint of their own that a zone spread of pinned pods counts in every zone
// (nodeAffinityPolicy Ignore) seed each other zone up to the count the pinned pods need there
// (the fresh-user trial's R23): two pods pinned to one zone with maxSkew 1 fit only once each
// other zone counts one pod. Before, the six free pods all joined one node in the cheapest
// zone, and the second pinned pod was left unschedulable.
func TestFreePodsFillTheFloorPinnedSpreadsNeed(t *testing.T) {
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}, NodeAffinityPolicy: ptr.To(corev1.NodeInclusionPolicyIgnore)}
	for _, zone := range fake.Zones {
		t.Run(zone, func(t *testing.T) {
			pods := append(replicas(2, "pinned", "500m", withLabels("app", "pinned", "tier", "web"), withSpread(spread), withSelector(v1alpha5.LabelZone, zone)),
				replicas(6, "free", "500m", withLabels("app", "free", "tier", "web"))...)
			solvePlacedWithinSpreads(t, pods, fake.Catalog(40))
		})
	}
}

// Free pods that spreads of zone-held pods count fill the domains below the floor evenly, the
// emptiest first, joining no planned node while another such domain counts fewer (the second
// trial's g3 and f6): with four pods pinned to each zone, three free pods go one per zone and
// every pod is placed (before, all three joined one node in one zone and two pinned pods were
// left out); with six pods pinned to one zone and six free ones, 3/3 in the other zones places
// four of the pinned pods (5/1 placed two).
func TestFreePodsFillTheFloorEvenly(t *testing.T) {
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}, NodeAffinityPolicy: ptr.To(corev1.NodeInclusionPolicyIgnore)}
	var pods []*corev1.Pod
	for _, zone := range fake.Zones {
		pods = append(pods, replicas(4, "pinned-"+zone, "500m", withLabels("app", "pinned-"+zone, "tier", "web"), withSpread(spread), withSelector(v1alpha5.LabelZone, zone))...)
	}
	pods = append(pods, replicas(3, "free", "500m", withLabels("app", "free", "tier", "web"))...)
	solvePlacedWithinSpreads(t, pods, fake.Catalog(40))

	pods = append(replicas(6, "pinned", "500m", withLabels("app", "pinned", "tier", "web"), withSpread(spread), withSelector(v1alpha5.LabelZone, fake.Zones[0])),
		replicas(6, "free", "500m", withLabels("app", "free", "tier", "web"))...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 2 {
		t.Fatalf("%d pods unschedulable, want 2 (3/3 free pods in the other zones place 4 pinned ones): %v", len(res.Errors), reasons(res))
	}
	if b := scheduling.CheckSpreads(nil, res); len(b) != 0 {
		t.Fatalf("pods at risk: %s", b[0].Reason())
	}
}

func TestZoneSpreadCountsPodsOnNodeFixedLater(t *testing.T) {
	// Plain pods labelled app=web land on an unfixed claim; when a spread pod fixes its zone they
	// are counted there, so the spread pods still balance with them included.
	types := fake.Catalog(40)
	plain := replicas(2, "web", "2")
	spread := replicas(4, "web", "100m", withSpread(zoneSpread(1, "web")))
	for i, p := range spread {
		p.Name = fmt.Sprintf("spread-%d", i)
		p.OwnerReferences[0].UID = "rs-web-spread" // a second ReplicaSet with the same labels
	}
	pods := append(plain, spread...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
	delete(got, "")
	maxC, minC := 0, 1<<30
	for _, z := range fake.Zones {
		maxC, minC = max(maxC, got[z]), min(minC, got[z])
	}
	if len(res.Errors) != 0 || maxC-minC > 1 {
		t.Fatalf("skew %d > 1 counting every app=web pod: %v", maxC-minC, got)
	}
}

func reasons(res *scheduling.Result) []string {
	var out []string
	for _, e := range res.Errors {
		out = append(out, e.Pod.Name+": "+e.Reason)
	}
	return out
}

// BenchmarkSolveZonal places Karpenter-style mixes of zonal constraints: one third each of
// generic pods, zonal topology spread and zonal self-affinity, in groups of 50 replicas.
func BenchmarkSolveZonal(b *testing.B) {
	types := fake.Catalog(400)
	provs := []*v1alpha5.Provisioner{provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))}
	for _, n := range []int{1000, 5000} {
		var pods []*corev1.Pod
		for g := 0; len(pods) < n; g++ {
			app := fmt.Sprintf("app-%d", g)
			var opts []podOpt
			switch g % 3 {
			case 1:
				opts = append(opts, withSpread(zoneSpread(1, app)))
			case 2:
				opts = append(opts, withPodAffinity(domainTerm(v1alpha5.LabelZone, "app", app)))
			}
			cpu := fmt.Sprintf("%dm", 100+(g*370)%3900)
			pods = append(pods, replicas(50, app, cpu, opts...)...)
		}
		b.Run(fmt.Sprintf("pods=%d/types=400", n), func(b *testing.B) {
			for b.Loop() {
				res := solve(b, pods, provs, types)
				if len(res.Errors) != 0 {
					b.Fatal(res.Errors[0].Reason)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
		})
	}
}

// Topology spread does not count pods being deleted (kube-scheduler's PodTopologySpread skips
// them; a rollout's old pods), while anti-affinity still does: 2 terminating pods of web on a
// node in zone a leave zone a and that node as free of web as the others.
func TestSpreadIgnoresTerminatingPods(t *testing.T) {
	types := fake.Catalog(40)
	now := metav1.Now()
	old := []*corev1.Pod{pod("old-0", "100m", "64Mi", withLabels("app", "web")), pod("old-1", "100m", "64Mi", withLabels("app", "web"))}
	for _, p := range old {
		p.DeletionTimestamp = &now
	}
	nodes := []scheduling.ExistingNode{zonalNode("a-node", fake.Zones[0], old...)}
	nodes[0].Labels[corev1.LabelHostname] = "a-node"
	hostnameSpread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: corev1.LabelHostname, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}
	t.Run("zone", func(t *testing.T) {
		pods := replicas(3, "web", "500m", withSpread(zoneSpread(1, "web")))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		got := histogram(domainOf(t, res, nodes, v1alpha5.LabelZone))
		if len(res.Errors) != 0 || got[fake.Zones[0]] != 1 || got[fake.Zones[1]] != 1 || got[fake.Zones[2]] != 1 {
			t.Fatalf("want one pod per zone (the terminating pods not counted), got %v errors %v", got, reasons(res))
		}
	})
	t.Run("hostname", func(t *testing.T) {
		pods := replicas(1, "web", "500m", withSpread(hostnameSpread))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 || len(res.ExistingNodes["a-node"]) != 1 {
			t.Fatalf("want the pod on a-node (its 2 terminating pods not counted), got %v errors %v", podsPerNode(res), reasons(res))
		}
	})
}

// spreadSettled returns an error unless every pod of pods with a zone spread constraint passes
// kube-scheduler's check when it is bound last, against the plan's final counts: the pods its
// selector matches in its zone, less the least count of the other zones, at most maxSkew.
func spreadSettled(t *testing.T, res *scheduling.Result, pods []*corev1.Pod) error {
	t.Helper()
	zone := domainOf(t, res, nil, v1alpha5.LabelZone)
	for _, p := range pods {
		for _, c := range p.Spec.TopologySpreadConstraints {
			sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
			if err != nil {
				return err
			}
			counts := map[string]int{}
			for _, z := range fake.Zones {
				counts[z] = 0
			}
			for _, q := range pods {
				if sel.Matches(labels.Set(q.Labels)) {
					counts[zone[q.Name]]++
				}
			}
			least := -1
			for z, n := range counts {
				if z != zone[p.Name] && (least < 0 || n < least) {
					least = n
				}
			}
			if skew := counts[zone[p.Name]] - least; skew > int(c.MaxSkew) {
				return fmt.Errorf("%s in %s: %d selected pods there, %d in another zone (maxSkew %d): %v", p.Name, zone[p.Name], counts[zone[p.Name]], least, c.MaxSkew, counts)
			}
		}
	}
	return nil
}

// halveSpot halves the spot prices of zone in types.
func halveSpot(types []*cloudprovider.InstanceType, zone string) {
	for _, it := range types {
		for i := range it.Offerings {
			if it.Offerings[i].Zone == zone && it.Offerings[i].CapacityType == v1alpha5.CapacityTypeSpot {
				it.Offerings[i].Price /= 2
			}
		}
	}
}

// A zone spread that counts another workload's pods, not its own: the counted pods take the
// cheapest zone, and the spread pods, placed after them, the zones where the counted pods
// leave them within their skew whatever kube-scheduler binds first.
func TestZoneSpreadCountingOthers(t *testing.T) {
	types := fake.Catalog(40)
	cheap := fake.Zones[2]
	halveSpot(types, cheap)
	web := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}}
	pods := append(replicas(3, "spreading", "300m", withSpread(web)), replicas(8, "counted", "400m", withLabels("tier", "web"))...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	zone := domainOf(t, res, nil, v1alpha5.LabelZone)
	for _, p := range pods {
		if p.Labels["tier"] == "web" && zone[p.Name] != cheap {
			t.Fatalf("%s in %s, want every counted pod in %s, where spot costs half: %v", p.Name, zone[p.Name], cheap, zone)
		}
	}
	if err := spreadSettled(t, res, pods); err != nil {
		t.Fatal(err)
	}
}

// Pods placed after a zone spread pod (here, pods that repel each other from a node, placed in
// the second round) do not put its zone over the skew, though the zone is the cheapest.
func TestZoneSpreadHoldsAgainstLaterPods(t *testing.T) {
	types := fake.Catalog(40)
	web := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "web"}}}
	spreading := replicas(3, "spreading", "300m", withSpread(web))
	res := solve(t, spreading, []*v1alpha5.Provisioner{provisioner("default")}, types)
	first := domainOf(t, res, nil, v1alpha5.LabelZone)[spreading[0].Name]
	halveSpot(types, first) // the zone the spread pods take is the cheapest for the others
	pods := append(spreading, replicas(6, "counted", "400m", withLabels("tier", "web"),
		withAntiAffinity(domainTerm(corev1.LabelHostname, "tier", "web")))...)
	res = solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	if err := spreadSettled(t, res, pods); err != nil {
		t.Fatal(err)
	}
}

// Pods counted by a zone spread whose own pods are held to one zone by a node selector (with
// nodeAffinityPolicy Ignore, so every zone counts) are not all sent to that zone, though it is
// the cheapest: the spread pods would have no zone left within their skew.
func TestZoneSpreadHeldToOneZoneKeepsItOpen(t *testing.T) {
	types := fake.Catalog(40)
	held := fake.Zones[1]
	halveSpot(types, held)
	spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		NodeAffinityPolicy: ptr.To(corev1.NodeInclusionPolicyIgnore), LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "target"}}}
	pods := append(replicas(10, "target", "500m"), replicas(3, "counter", "300m", withSpread(spread), withSelector(v1alpha5.LabelZone, held))...)
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v; zones %v", reasons(res), domainOf(t, res, nil, v1alpha5.LabelZone))
	}
	if err := spreadSettled(t, res, pods); err != nil {
		t.Fatal(err)
	}
}

// A spread pod is placed after the spread pods its constraint counts (here pods held to the
// cheapest zone, with a spread of their own that counts nothing planned) and after the pods of
// the second round it counts (pods that repel each other from a node): it then keeps out of
// their zone, rather than the counted pods being planned there over its skew.
func TestZoneSpreadAfterThePodsItCounts(t *testing.T) {
	counter := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "pinned"}}}
	for _, tc := range []struct {
		name    string
		counted []*corev1.Pod
	}{
		{"counted pods with a spread of their own", replicas(2, "pinned", "1", withLabels("tier", "pinned"),
			withSelector(v1alpha5.LabelZone, fake.Zones[0]), withSpread(zoneSpread(1, "nobody")))},
		{"counted pods of the second round", replicas(3, "pinned", "250m", withLabels("tier", "pinned"),
			withSelector(v1alpha5.LabelZone, fake.Zones[0]), withAntiAffinity(domainTerm(corev1.LabelHostname, "tier", "pinned")))},
		// Pods of the second round with a spread of their own that counts the second round
		// (themselves): both they and the counter are placed last, the counted pods first.
		{"counted pods of the second round with a spread", replicas(3, "pinned", "250m", withLabels("tier", "pinned"),
			withSelector(v1alpha5.LabelZone, fake.Zones[0]), withAntiAffinity(domainTerm(corev1.LabelHostname, "tier", "pinned")),
			withSpread(zoneSpread(3, "pinned")))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			types := fake.Catalog(40)
			halveSpot(types, fake.Zones[0])
			pods := append(replicas(5, "counter", "2", withSpread(counter)), tc.counted...)
			res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
			checkClaims(t, pods, res, nil)
			if len(res.Errors) != 0 {
				t.Fatalf("errors: %v", reasons(res))
			}
			if err := spreadSettled(t, res, pods); err != nil {
				t.Fatalf("%v; zones %v", err, domainOf(t, res, nil, v1alpha5.LabelZone))
			}
		})
	}
}

// A pod that requests a GPU spreads over the zones of the GPU types, when they are all the
// provisioner offers: the accelerator types a pod without a GPU may not take are still the
// domains a node can be in (user trial: "no domain of topology.kubernetes.io/zone is possible").
func TestAcceleratorPodsSpreadOverTheZonesOfAcceleratorTypes(t *testing.T) {
	for _, opt := range []podOpt{withSpread(zoneSpread(1, "infer")), withAntiAffinity(domainTerm(v1alpha5.LabelZone, "app", "infer"))} {
		pods := replicas(3, "infer", "1", withGPU(1), opt)
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, gpuTypes())
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 {
			t.Fatalf("errors: %v", reasons(res))
		}
		got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
		if len(got) != 3 {
			t.Fatalf("want one pod in each of 3 zones, got %v", got)
		}
	}
}

// A pod that requests no GPU, on a provisioner whose types all have one, is told so: those
// types exist, but are launched only for pods that request their accelerator.
func TestPodWithoutAcceleratorOnAcceleratorTypesSaysWhy(t *testing.T) {
	pods := []*corev1.Pod{pod("web", "100m", "128Mi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, gpuTypes())
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "has nvidia.com/gpu, which the pod does not request") {
		t.Fatalf("want the unrequested GPU named, got %v", reasons(res))
	}
}

// Two replicas kept apart by required zone anti-affinity take the two cheapest zones, not the
// first two by name (user trial: 0.0731 USD/h where 0.0699 would do).
func TestZoneAntiAffinityTakesTheCheapestZones(t *testing.T) {
	types := fake.Catalog(40)
	halveSpot(types, fake.Zones[2]) // c cheapest, then a (spot rises 5% per zone), then b
	pods := replicas(2, "zk", "1500m", withAntiAffinity(domainTerm(v1alpha5.LabelZone, "app", "zk")))
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
	checkClaims(t, pods, res, nil)
	got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
	if len(res.Errors) != 0 || got[fake.Zones[2]] != 1 || got[fake.Zones[0]] != 1 {
		t.Fatalf("want one pod in %s and one in %s, got %v errors %v", fake.Zones[2], fake.Zones[0], got, reasons(res))
	}
}

// A zone spread's pods take, of the zones with the fewest selected pods, the cheapest: one
// replica goes to the cheapest zone, not to the first by name.
func TestZoneSpreadTakesTheCheapestOfTheEmptiestZones(t *testing.T) {
	types := fake.Catalog(40)
	halveSpot(types, fake.Zones[2])
	for n, want := range map[int][]string{1: {fake.Zones[2]}, 2: {fake.Zones[2], fake.Zones[0]}} {
		pods := replicas(n, "web", "1500m", withSpread(zoneSpread(1, "web")))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
		for _, z := range want {
			if got[z] != 1 {
				t.Fatalf("%d replicas: want one pod in each of %v, got %v errors %v", n, want, got, reasons(res))
			}
		}
	}
}
