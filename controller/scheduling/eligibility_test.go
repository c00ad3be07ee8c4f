package scheduling_test

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// launchLabels returns the labels of each node claim c may launch as: one set per instance type
// option and available offering its requirements allow (instance type labels, the claim's
// labels, the offering's zone and capacity type).
func launchLabels(c *scheduling.NodeClaim) []map[string]string {
	var out []map[string]string
	for _, it := range c.InstanceTypeOptions {
		for _, o := range it.Offerings {
			l := map[string]string{}
			for k, v := range it.Labels {
				l[k] = v
			}
			for k, v := range c.Labels() {
				l[k] = v
			}
			l[v1alpha5.LabelZone], l[v1alpha5.LabelCapacityType] = o.Zone, o.CapacityType
			if o.Available && c.Requirements.MatchLabels(l) == nil {
				out = append(out, l)
			}
		}
	}
	return out
}

// matchesAffinity reports whether a node with labels matches p's node selector and one of its
// required node affinity terms (nodeAffinityPolicy Honor).
func matchesAffinity(p *corev1.Pod, labels map[string]string) bool {
	terms, err := scheduling.PodRequirementTerms(p)
	if err != nil {
		return false
	}
	for _, t := range terms {
		if t.MatchLabels(labels) == nil {
			return true
		}
	}
	return false
}

// checkHonouredSpread checks, as kube-scheduler would read the nodes of res once launched, every
// zone topology spread of the pods: each planned node holding a pod a spread counts is eligible
// for it (matches the spreading pod's node affinity) whatever type and offering it launches as,
// and each spreading pod's zone has at most maxSkew more selected pods on eligible nodes than
// the least of the zones any eligible node of the plan is in.
func checkHonouredSpread(t *testing.T, pods []*corev1.Pod, res *scheduling.Result) {
	t.Helper()
	for _, sp := range pods {
		for _, c := range sp.Spec.TopologySpreadConstraints {
			sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, nc := range res.NewNodes {
				launches := launchLabels(nc)
				eligible := matchesAffinity(sp, launches[0])
				for _, l := range launches[1:] {
					if matchesAffinity(sp, l) != eligible && countsAny(nc, sel) {
						t.Fatalf("%s's spread counts pods on a node that is eligible or not by the type it launches as (%s vs %s); plan:\n%s",
							sp.Name, launches[0][v1alpha5.LabelInstanceType], l[v1alpha5.LabelInstanceType], plan(res))
					}
				}
				if !eligible {
					continue
				}
				zone := launches[0][c.TopologyKey]
				counts[zone] += 0
				for _, p := range nc.Pods {
					if sel.Matches(labels.Set(p.Labels)) {
						counts[zone]++
					}
				}
			}
			zone := ""
			for _, nc := range res.NewNodes {
				for _, p := range nc.Pods {
					if p == sp {
						zone = nc.Labels()[c.TopologyKey]
					}
				}
			}
			if zone == "" {
				continue
			}
			least := counts[zone]
			for _, n := range counts {
				least = min(least, n)
			}
			if counts[zone]-least > int(c.MaxSkew) {
				t.Fatalf("%s in %s: counts %v break maxSkew %d; plan:\n%s", sp.Name, zone, counts, c.MaxSkew, plan(res))
			}
		}
	}
}

// countsAny reports whether sel selects one of nc's pods.
func countsAny(nc *scheduling.NodeClaim, sel labels.Selector) bool {
	for _, p := range nc.Pods {
		if sel.Matches(labels.Set(p.Labels)) {
			return true
		}
	}
	return false
}

// solveSpotOrOnDemand solves pods with a provisioner that launches spot and on-demand on types,
// and checks the plan: every pod placed (checkClaims, no error) and every zone spread kept as
// kube-scheduler reads the nodes once launched (checkHonouredSpread).
func solveSpotOrOnDemand(t *testing.T, pods []*corev1.Pod, types []*cloudprovider.InstanceType) *scheduling.Result {
	t.Helper()
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default",
		req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))}, types)
	checkClaims(t, pods, res, nil)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", reasons(res))
	}
	checkHonouredSpread(t, pods, res)
	return res
}

func TestHonouredSpreadCountsNodesAsTheyLaunch(t *testing.T) {
	types := fake.Catalog(60)
	shop := func(name string, n int, cpu, mem string, opts ...podOpt) []*corev1.Pod {
		spread := corev1.TopologySpreadConstraint{MaxSkew: 1, TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"part-of": "shop"}}}
		var out []*corev1.Pod
		for i := range n {
			p := pod(fmt.Sprintf("%s-%d", name, i), cpu, mem, append(opts, withLabels("app", name, "part-of", "shop"), withSpread(spread))...)
			out = append(out, p)
		}
		return out
	}
	od := withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand)
	amd64 := withSelector(v1alpha5.LabelArch, "amd64")
	for _, tc := range []struct {
		name string
		pods []*corev1.Pod
	}{
		// Two Deployments spread over one label: a's pods count b's only on on-demand nodes.
		// Before, b's pods sat on claims that allowed spot and on-demand, counted by a as
		// on-demand, and launched on spot.
		{name: "capacity type", pods: append(shop("a", 5, "1", "2Gi", od), shop("b", 7, "500m", "1Gi")...)},
		{name: "architecture", pods: append(shop("a", 5, "1", "2Gi", amd64), shop("b", 7, "500m", "1Gi")...)},
		// The trial's case: the api pods' nodes in a zone were narrowed to arm64 (cheaper), so
		// web's count there fell behind api's, and the web pods, held by their own count, took
		// the zone past api's skew.
		{name: "architecture, both counted", pods: append(shop("web", 3, "1", "1Gi", amd64), shop("api", 6, "1", "1Gi")...)},
		{name: "two terms", pods: append(shop("a", 5, "1", "2Gi", withTerms(
			[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelInstanceCPU, Operator: corev1.NodeSelectorOpGt, Values: []string{"7"}}},
			[]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelArch, Operator: corev1.NodeSelectorOpIn, Values: []string{"amd64"}}},
		)), shop("b", 7, "500m", "1Gi")...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			solveSpotOrOnDemand(t, tc.pods, types)
		})
	}
}

// Spreads over one label with different node affinity and maxSkew (the trial's BUG2 s61 and
// s106): where the tighter spread's pods reach their skew in a zone, a pod the looser spread
// places there goes to a node the tighter one does not count (amd64 beside an arm64 spread, a
// type outside m5 beside an m5 spread) instead of taking the zone past it; and the looser
// spread's pods are placed first, so that the tighter one's, placed last, keep both within
// their skew (rnd2 s12).
func TestSpreadKeepsNodeOutOfAnotherCount(t *testing.T) {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	shop := func(name string, n, maxSkew int, cpu, mem string, opts ...podOpt) []*corev1.Pod {
		spread := corev1.TopologySpreadConstraint{MaxSkew: int32(maxSkew), TopologyKey: v1alpha5.LabelZone, WhenUnsatisfiable: corev1.DoNotSchedule,
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"part-of": "shop"}}}
		var out []*corev1.Pod
		for i := range n {
			o := append([]podOpt{withLabels("app", name, "part-of", "shop")}, opts...)
			if maxSkew > 0 {
				o = append(o, withSpread(spread))
			}
			out = append(out, pod(fmt.Sprintf("%s-%d", name, i), cpu, mem, o...))
		}
		return out
	}
	od := withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand)
	arm64 := withSelector(v1alpha5.LabelArch, "arm64")
	family := withSelector(v1alpha5.LabelInstanceFamily, "m5")
	term := func(key string, op corev1.NodeSelectorOperator, v string) []corev1.NodeSelectorRequirement {
		return []corev1.NodeSelectorRequirement{{Key: key, Operator: op, Values: []string{v}}}
	}
	for _, tc := range []struct {
		name string
		pods [][]*corev1.Pod
	}{
		{name: "on-demand beside arm64", pods: [][]*corev1.Pod{
			shop("w0", 1, 2, "500m", "1Gi", od), shop("w1", 6, 1, "1", "1Gi", arm64), shop("w2", 2, 2, "1", "2Gi", od)}},
		{name: "m5 beside any", pods: [][]*corev1.Pod{
			shop("w0", 5, 0, "2", "256Mi"), shop("w1", 5, 1, "500m", "1Gi"), shop("w2", 8, 2, "500m", "2Gi", family)}},
		// The trial's rnd2 s12: the looser spread (w1) goes first.
		{name: "looser first", pods: [][]*corev1.Pod{
			shop("w0", 8, 1, "1", "2Gi", withTerms(term(v1alpha5.LabelArch, corev1.NodeSelectorOpIn, "arm64"), term(v1alpha5.LabelInstanceCPU, corev1.NodeSelectorOpGt, "7"))),
			shop("w1", 3, 2, "1", "2Gi", withTerms(term(v1alpha5.LabelInstanceCPU, corev1.NodeSelectorOpGt, "7"), term(v1alpha5.LabelZone, corev1.NodeSelectorOpIn, "us-east-1b"))),
			shop("w2", 1, 0, "2", "1Gi", withSelector(v1alpha5.LabelInstanceFamily, "c5"))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var pods []*corev1.Pod
			for _, w := range tc.pods {
				pods = append(pods, w...)
			}
			solveSpotOrOnDemand(t, pods, types)
		})
	}
}

// Once every pod is placed, a pod an on-demand spread counts may still leave an on-demand node
// for spot (detach), the spread's planned pods keeping within their skew.
func TestCountedPodLeavesOnDemandAfterPlacing(t *testing.T) {
	types := fake.Catalog(60)
	od := withSelector(v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand)
	var pods []*corev1.Pod
	for i := range 4 {
		pods = append(pods, pod(fmt.Sprintf("od-%d", i), "1", "2Gi", od, withLabels("app", "od")))
	}
	// The big pods' own spread (over pods that do not exist) places them after the on-demand
	// pods, into the room of the on-demand claims; the counter's spread counts them there.
	for i := range 2 {
		pods = append(pods, pod(fmt.Sprintf("big-%d", i), "7", "1Gi", withLabels("app", "big"), withSpread(zoneSpread(1, "none"))))
	}
	pods = append(pods, pod("counter", "1", "1Gi", od, withSpread(zoneSpread(1, "big"))))
	res := solveSpotOrOnDemand(t, pods, types)
	for _, c := range res.NewNodes {
		_, o, _ := c.PlannedOffering()
		for _, p := range c.Pods {
			if p.Labels["app"] == "big" && o.CapacityType != v1alpha5.CapacityTypeSpot {
				t.Fatalf("%s on %s, want spot; plan:\n%s", p.Name, o.CapacityType, plan(res))
			}
		}
	}
}

// A lone pod with a zone spread is priced in each zone on a node for one pod, not on the type
// that holds the most such pods per dollar: with one pod every zone meets the spread, and it
// costs what it costs without the spread (a c5 pod of 2.5 cpu went to a c5.xlarge at 0.0638
// USD/hour in us-east-1b, where one at 0.0389 in us-east-1a holds it: per pod, a c5.24xlarge
// was cheaper in us-east-1b).
func TestLonePodWithSpreadTakesTheCheapestZone(t *testing.T) {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prov := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, v1alpha5.CapacityTypeSpot),
		req("karpenter.k8s.aws/instance-family", corev1.NodeSelectorOpIn, "c5"))
	cost := func(opts ...podOpt) float64 {
		pods := []*corev1.Pod{pod("one-0", "2500m", "4Gi", append([]podOpt{withLabels("app", "one")}, opts...)...)}
		res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
		checkClaims(t, pods, res, nil)
		if len(res.NewNodes) != 1 || len(res.Errors) != 0 {
			t.Fatalf("want one node, got %d, errors %v", len(res.NewNodes), reasons(res))
		}
		return res.NewNodes[0].Prices[0]
	}
	if with, without := cost(withSpread(zoneSpread(1, "one"))), cost(); with != without {
		t.Errorf("a lone pod costs %.4f USD/hour with a zone spread, %.4f without", with, without)
	}
}
