package scheduling_test

import (
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func withPreferredZone(weight int32, zone string) podOpt {
	return withPreferredNode(weight, v1alpha5.LabelZone, zone)
}

func withPreferredPodTerm(anti bool, weight int32, term corev1.PodAffinityTerm) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		w := corev1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: term}
		if anti {
			if p.Spec.Affinity.PodAntiAffinity == nil {
				p.Spec.Affinity.PodAntiAffinity = &corev1.PodAntiAffinity{}
			}
			p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(p.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution, w)
			return
		}
		if p.Spec.Affinity.PodAffinity == nil {
			p.Spec.Affinity.PodAffinity = &corev1.PodAffinity{}
		}
		p.Spec.Affinity.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(p.Spec.Affinity.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution, w)
	}
}

func TestPreferredNodeAffinity(t *testing.T) {
	types := fake.Catalog(40)
	t.Run("honoured when it can be", func(t *testing.T) {
		pods := replicas(3, "web", "500m", withPreferredZone(10, fake.Zones[1]))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[fake.Zones[1]] != 3 {
			t.Fatalf("want all 3 in the preferred zone, got %v errors %v", got, reasons(res))
		}
	})
	t.Run("the heavier of two conflicting preferences wins", func(t *testing.T) {
		pods := replicas(2, "web", "500m", withPreferredZone(10, fake.Zones[1]), withPreferredZone(90, fake.Zones[2]))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[fake.Zones[2]] != 2 {
			t.Fatalf("want both in %s (weight 90), got %v errors %v", fake.Zones[2], got, reasons(res))
		}
	})
	// A term no node can meet (a zone no subnet or offering is in) must not cost the lighter
	// terms that can be met: kube-scheduler scores every node 0 on it, so the lighter term
	// decides among the nodes that exist.
	t.Run("an unreachable heavier preference does not cost a reachable lighter one", func(t *testing.T) {
		pods := replicas(2, "web", "500m", withPreferredZone(100, "us-east-1d"), withPreferredZone(10, fake.Zones[1]))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[fake.Zones[1]] != 2 {
			t.Fatalf("want both in %s (weight 10; weight 100 is for a zone no node can be in), got %v errors %v", fake.Zones[1], got, reasons(res))
		}
	})
	t.Run("on existing nodes, kube-scheduler's choice among them", func(t *testing.T) {
		nodes := []scheduling.ExistingNode{zonalNode("a-node", fake.Zones[0]), zonalNode("b-node", fake.Zones[1])}
		pods := replicas(2, "web", "500m", withPreferredZone(100, "us-east-1d"), withPreferredZone(10, fake.Zones[1]))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 || len(res.NewNodes) != 0 || len(res.ExistingNodes["b-node"]) != 2 {
			t.Fatalf("want both on b-node, the one node kube-scheduler scores above the others, got %v new nodes %d errors %v",
				podsPerNode(res), len(res.NewNodes), reasons(res))
		}
	})
	t.Run("a term only an existing node meets is kept", func(t *testing.T) {
		edge := zonalNode("edge-node", "us-east-1d")
		pods := replicas(1, "web", "500m", withPreferredZone(100, "us-east-1d"))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types,
			func(in *scheduling.Input) {
				in.Nodes = []scheduling.ExistingNode{zonalNode("a-node", fake.Zones[0]), edge}
			})
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 || len(res.ExistingNodes["edge-node"]) != 1 {
			t.Fatalf("want the pod on edge-node, the one node in its preferred zone, got %v errors %v", podsPerNode(res), reasons(res))
		}
	})
	t.Run("dropped when it cannot be", func(t *testing.T) {
		prov := provisioner("default", req(v1alpha5.LabelZone, corev1.NodeSelectorOpIn, fake.Zones[0]))
		pods := replicas(2, "web", "500m", withPreferredZone(10, fake.Zones[1]))
		res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[fake.Zones[0]] != 2 {
			t.Fatalf("want both in the provisioner's zone, got %v errors %v", got, reasons(res))
		}
	})
}

func TestPreferredPodAffinityAndAntiAffinity(t *testing.T) {
	types := fake.Catalog(40)
	t.Run("preferred zone anti-affinity spreads, then relaxes", func(t *testing.T) {
		pods := replicas(5, "db", "500m", withPreferredPodTerm(true, 50, domainTerm(v1alpha5.LabelZone, "app", "db")))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone))
		if len(res.Errors) != 0 || len(got) != 3 {
			t.Fatalf("want all 5 placed over 3 zones, got %v errors %v", got, reasons(res))
		}
	})
	t.Run("preferred affinity to running pods", func(t *testing.T) {
		db := pod("db", "100m", "64Mi", withLabels("app", "db"))
		nodes := []scheduling.ExistingNode{zonalNode("c-node", fake.Zones[2], db)}
		nodes[0].Available[corev1.ResourceCPU] = nodes[0].Available[corev1.ResourceMemory] // no cpu room
		nodes[0].Available = corev1.ResourceList{}
		pods := replicas(2, "api", "1", withPreferredPodTerm(false, 100, domainTerm(v1alpha5.LabelZone, "app", "db")))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nodes, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[fake.Zones[2]] != 2 {
			t.Fatalf("want both next to the db in %s, got %v errors %v", fake.Zones[2], got, reasons(res))
		}
	})
	// Node affinity terms are dropped last; one that no node can meet must not make the solver
	// drop the pod (anti-)affinity preferences before it.
	t.Run("an unreachable node preference does not cost a preferred anti-affinity", func(t *testing.T) {
		pods := replicas(3, "web", "500m", withPreferredPodTerm(true, 50, hostnameTerm("app", "web")), withPreferredZone(100, "us-east-1d"))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 || len(res.NewNodes) != 3 {
			t.Fatalf("want one node per pod (preferred hostname anti-affinity), got %d nodes %v errors %v", len(res.NewNodes), podsPerNode(res), reasons(res))
		}
	})
	t.Run("an impossible preferred affinity is dropped before node preferences", func(t *testing.T) {
		pods := replicas(1, "api", "1", withPreferredPodTerm(false, 100, domainTerm(v1alpha5.LabelZone, "app", "absent")),
			withPreferredZone(1, fake.Zones[1]))
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, types)
		checkClaims(t, pods, res, nil)
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || got[fake.Zones[1]] != 1 {
			t.Fatalf("want the pod in its preferred zone, got %v errors %v", got, reasons(res))
		}
	})
}

func withPreferredNode(weight int32, key, value string) podOpt {
	return func(p *corev1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &corev1.Affinity{}
		}
		if p.Spec.Affinity.NodeAffinity == nil {
			p.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
		}
		na := p.Spec.Affinity.NodeAffinity
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution, corev1.PreferredSchedulingTerm{
			Weight: weight, Preference: corev1.NodeSelectorTerm{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}}}})
	}
}

// A preference promoted to a requirement must not narrow the domains a DoNotSchedule spread
// counts: kube-scheduler (nodeAffinityPolicy Honor) counts every domain the pod's required node
// affinity and node selector allow, so the spread holds over all of them and the preference
// gives way; it only steers the pods the spread leaves free (the trial's 9 replicas preferring
// us-east-1a were all planned there, and kube-scheduler left 8 Pending).
func TestPreferenceGivesWayToRequiredSpread(t *testing.T) {
	types := fake.Catalog(40)
	both := provisioner("default", req(v1alpha5.LabelCapacityType, corev1.NodeSelectorOpIn, "spot", "on-demand"))
	t.Run("a preferred zone and a zone spread", func(t *testing.T) {
		for _, tc := range []struct {
			n    int
			want map[string]int
		}{
			{9, map[string]int{fake.Zones[0]: 3, fake.Zones[1]: 3, fake.Zones[2]: 3}},
			// The spread leaves one pod free: it goes to the preferred zone.
			{7, map[string]int{fake.Zones[0]: 3, fake.Zones[1]: 2, fake.Zones[2]: 2}},
		} {
			pods := replicas(tc.n, "web", "700m", withSpread(zoneSpread(1, "web")), withPreferredZone(80, fake.Zones[0]))
			res := solve(t, pods, []*v1alpha5.Provisioner{both}, types)
			checkClaims(t, pods, res, nil)
			if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || !maps.Equal(got, tc.want) {
				t.Fatalf("%d pods: want %v, got %v errors %v", tc.n, tc.want, got, reasons(res))
			}
		}
	})
	t.Run("a preferred capacity type and a capacity-type spread", func(t *testing.T) {
		spread := zoneSpread(1, "web")
		spread.TopologyKey = v1alpha5.LabelCapacityType
		pods := replicas(5, "web", "700m", withSpread(spread), withPreferredNode(80, v1alpha5.LabelCapacityType, v1alpha5.CapacityTypeOnDemand))
		res := solve(t, pods, []*v1alpha5.Provisioner{both}, types)
		checkClaims(t, pods, res, nil)
		want := map[string]int{v1alpha5.CapacityTypeOnDemand: 3, v1alpha5.CapacityTypeSpot: 2}
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelCapacityType)); len(res.Errors) != 0 || !maps.Equal(got, want) {
			t.Fatalf("want %v, got %v errors %v", want, got, reasons(res))
		}
	})
	t.Run("a preferred zone within a required zone set", func(t *testing.T) {
		pods := replicas(6, "web", "700m", withSpread(zoneSpread(1, "web")),
			withTerms([]corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelZone, Operator: corev1.NodeSelectorOpIn, Values: fake.Zones[:2]}}),
			withPreferredZone(80, fake.Zones[0]))
		res := solve(t, pods, []*v1alpha5.Provisioner{both}, types)
		checkClaims(t, pods, res, nil)
		want := map[string]int{fake.Zones[0]: 3, fake.Zones[1]: 3}
		if got := histogram(domainOf(t, res, nil, v1alpha5.LabelZone)); len(res.Errors) != 0 || !maps.Equal(got, want) {
			t.Fatalf("want %v (the required zones only), got %v errors %v", want, got, reasons(res))
		}
	})
	t.Run("a preferred pod affinity and a zone spread", func(t *testing.T) {
		db := pod("db", "100m", "64Mi", withLabels("app", "db"))
		nodes := []scheduling.ExistingNode{zonalNode("c-node", fake.Zones[2], db)}
		nodes[0].Available = corev1.ResourceList{}
		pods := replicas(6, "web", "700m", withSpread(zoneSpread(1, "web")),
			withPreferredPodTerm(false, 100, domainTerm(v1alpha5.LabelZone, "app", "db")))
		res := solve(t, pods, []*v1alpha5.Provisioner{both}, types, func(in *scheduling.Input) { in.Nodes = nodes })
		checkClaims(t, pods, res, nil)
		want := map[string]int{fake.Zones[0]: 2, fake.Zones[1]: 2, fake.Zones[2]: 2}
		if got := histogram(domainOf(t, res, nodes, v1alpha5.LabelZone)); len(res.Errors) != 0 || !maps.Equal(got, want) {
			t.Fatalf("want %v, got %v errors %v", want, got, reasons(res))
		}
	})
}
