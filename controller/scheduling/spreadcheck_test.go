package scheduling_test

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// CheckSpreads reads a plan's final state as kube-scheduler's PodTopologySpread filter does:
// the pods whose domain exceeds the least other eligible domain by more than maxSkew, with
// eligibility by node affinity (Honor, Ignore), taints (nodeTaintsPolicy Honor), minDomains
// and matchLabelKeys.
func TestCheckSpreads(t *testing.T) {
	zoneNode := func(name, zone string, kv ...string) scheduling.ExistingNode {
		l := map[string]string{v1alpha5.LabelZone: zone, corev1.LabelHostname: name}
		for i := 0; i+1 < len(kv); i += 2 {
			l[kv[i]] = kv[i+1]
		}
		return scheduling.ExistingNode{Name: name, Labels: l}
	}
	arm := []string{v1alpha5.LabelArch, "arm64"}
	honor, ignore := corev1.NodeInclusionPolicyHonor, corev1.NodeInclusionPolicyIgnore
	spread := func(mod ...func(*corev1.TopologySpreadConstraint)) podOpt {
		c := zoneSpread(1, "web")
		for _, m := range mod {
			m(&c)
		}
		return withSpread(c)
	}
	webs := func(n int, opts ...podOpt) []*corev1.Pod {
		var out []*corev1.Pod
		for i := range n {
			out = append(out, pod(fmt.Sprintf("web-%d", i), "100m", "64Mi", append([]podOpt{withLabels("app", "web")}, opts...)...))
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		nodes []scheduling.ExistingNode
		// place names, per pod of pods in order, the node it is planned on.
		pods   []*corev1.Pod
		place  []string
		want   []string // the breaching pods
		reason string   // their reason, when given
	}{
		{name: "balanced", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b"), zoneNode("c", "us-east-1c")},
			pods: webs(3, spread()), place: []string{"a", "b", "c"}},
		{name: "one zone", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b"), zoneNode("c", "us-east-1c")},
			pods: webs(3, spread()), place: []string{"a", "a", "b"}, want: []string{"web-0", "web-1"},
			reason: "topology spread (topology.kubernetes.io/zone, maxSkew 1): 2 selected pods in us-east-1a, 0 in us-east-1c"},
		// b is arm64: the amd64 pods' spread does not count it (Honor), unless Ignore.
		{name: "affinity honoured", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b", arm...), zoneNode("c", "us-east-1c")},
			pods: webs(3, spread(), withSelector(v1alpha5.LabelArch, "amd64")), place: []string{"a", "a", "c"}},
		{name: "affinity ignored", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b", arm...), zoneNode("c", "us-east-1c")},
			pods:  webs(3, spread(func(c *corev1.TopologySpreadConstraint) { c.NodeAffinityPolicy = &ignore }), withSelector(v1alpha5.LabelArch, "amd64")),
			place: []string{"a", "a", "c"}, want: []string{"web-0", "web-1"}},
		// c's taint keeps it out of the count only with nodeTaintsPolicy Honor.
		{name: "taints honoured", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b"),
			{Name: "c", Labels: map[string]string{v1alpha5.LabelZone: "us-east-1c"}, Taints: []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}}},
			pods: webs(3, spread(func(c *corev1.TopologySpreadConstraint) { c.NodeTaintsPolicy = &honor })), place: []string{"a", "a", "b"}},
		{name: "taints ignored", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b"),
			{Name: "c", Labels: map[string]string{v1alpha5.LabelZone: "us-east-1c"}, Taints: []corev1.Taint{{Key: "dedicated", Effect: corev1.TaintEffectNoSchedule}}}},
			pods: webs(3, spread()), place: []string{"a", "a", "b"}, want: []string{"web-0", "web-1"}},
		// Two domains against minDomains 3: the least count is 0.
		{name: "minDomains", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b")},
			pods:  webs(4, spread(func(c *corev1.TopologySpreadConstraint) { c.MinDomains = new(int32); *c.MinDomains = 3 })),
			place: []string{"a", "a", "a", "b"}, want: []string{"web-0", "web-1", "web-2"},
			reason: "topology spread (topology.kubernetes.io/zone, maxSkew 1): 3 selected pods in us-east-1a, fewer eligible domains than minDomains 3"},
		// matchLabelKeys: the new revision's pod counts only its own revision's pods (else 3 in
		// a, 0 in b).
		{name: "matchLabelKeys", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b")},
			pods: append(webs(2, withLabels("app", "web", "rev", "1")),
				pod("new", "100m", "64Mi", withLabels("app", "web", "rev", "2"), spread(func(c *corev1.TopologySpreadConstraint) { c.MatchLabelKeys = []string{"rev"} }))),
			place: []string{"a", "a", "a"}},
		{name: "without matchLabelKeys", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), zoneNode("b", "us-east-1b")},
			pods:  append(webs(2, withLabels("app", "web", "rev", "1")), pod("new", "100m", "64Mi", withLabels("app", "web", "rev", "2"), spread())),
			place: []string{"a", "a", "a"}, want: []string{"new"}},
		// A node without the key is no domain; ScheduleAnyway is never checked.
		{name: "no key, ScheduleAnyway", nodes: []scheduling.ExistingNode{zoneNode("a", "us-east-1a"), {Name: "x", Labels: map[string]string{}}},
			pods: append(webs(2, spread()), pod("soft", "100m", "64Mi", withLabels("app", "web"), spread(func(c *corev1.TopologySpreadConstraint) {
				c.WhenUnsatisfiable = corev1.ScheduleAnyway
			}))), place: []string{"a", "a", "a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := &scheduling.Result{ExistingNodes: map[string][]*corev1.Pod{}}
			for i, p := range tc.pods {
				res.ExistingNodes[tc.place[i]] = append(res.ExistingNodes[tc.place[i]], p)
			}
			var got []string
			for _, b := range scheduling.CheckSpreads(tc.nodes, res) {
				got = append(got, b.Pod.Name)
				if tc.reason != "" && b.Reason() != tc.reason {
					t.Errorf("%s: reason %q, want %q", b.Pod.Name, b.Reason(), tc.reason)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("breaching pods %v, want %v", got, tc.want)
			}
		})
	}
}

// On new nodes CheckSpreads reads the zone each claim is planned to launch in: a plan of the
// solver passes; the same pods gathered on one claim breach, with the counts in the reason.
func TestCheckSpreadsNewNodes(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 6 {
		pods = append(pods, pod(fmt.Sprintf("web-%d", i), "1", "1Gi", withLabels("app", "web"), withSpread(zoneSpread(1, "web"))))
	}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40))
	if b := scheduling.CheckSpreads(nil, res); len(b) != 0 {
		t.Fatalf("the solver's plan breaches %v; plan:\n%s", b, plan(res))
	}
	var first *scheduling.NodeClaim
	for _, c := range res.NewNodes {
		if first == nil {
			first = c
			continue
		}
		first.Pods = append(first.Pods, c.Pods...)
		c.Pods = nil
	}
	b := scheduling.CheckSpreads(nil, res)
	if len(b) != 6 {
		t.Fatalf("%d breaches, want 6 (every pod in one zone): %v", len(b), b)
	}
	_, o, _ := first.PlannedOffering()
	least := "us-east-1a" // the first other zone by name
	if o.Zone == least {
		least = "us-east-1b"
	}
	if want := fmt.Sprintf("topology spread (topology.kubernetes.io/zone, maxSkew 1): 6 selected pods in %s, 0 in %s", o.Zone, least); b[0].Reason() != want {
		t.Fatalf("reason %q, want %q", b[0].Reason(), want)
	}
}
