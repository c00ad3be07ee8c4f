package bench_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

var catalogueOnce = sync.OnceValues(func() ([]*cloudprovider.InstanceType, error) {
	return instancetypes.Sandbox(context.Background())
})

func catalogue(tb testing.TB) []*cloudprovider.InstanceType {
	tb.Helper()
	types, err := catalogueOnce()
	if err != nil {
		tb.Fatal(err)
	}
	return types
}

func TestKarpenterMix(t *testing.T) {
	pods := bench.KarpenterMix("mix", 1003, 42)
	if len(pods) != 1003 {
		t.Fatalf("%d pods, want 1003", len(pods))
	}
	kinds := map[string]int{}
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
		req := scheduling.PodRequests(p)
		if !contains(bench.KarpenterCPUMillis, req[corev1.ResourceCPU]) || !contains(bench.KarpenterMemoryMiB, req[corev1.ResourceMemory]/1000>>20) {
			t.Fatalf("pod %s requests %v outside Karpenter's sets", p.Name, req)
		}
		switch {
		case len(p.Spec.TopologySpreadConstraints) == 1:
			kinds["spread "+p.Spec.TopologySpreadConstraints[0].TopologyKey]++
		case p.Spec.Affinity != nil && p.Spec.Affinity.PodAffinity != nil:
			kinds["affinity "+p.Spec.Affinity.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey]++
		case p.Spec.Affinity != nil && p.Spec.Affinity.PodAntiAffinity != nil:
			kinds["anti "+p.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey]++
		default:
			kinds["generic"]++
		}
	}
	want := map[string]int{"generic": 203, "spread " + corev1.LabelTopologyZone: 200, "spread " + corev1.LabelHostname: 200,
		"affinity " + corev1.LabelTopologyZone: 200, "anti " + corev1.LabelHostname: 200}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s: %d pods, want %d (all: %v)", k, kinds[k], n, kinds)
		}
	}
	if len(names) != len(pods) {
		t.Errorf("pod names repeat: %d distinct of %d", len(names), len(pods))
	}
}

func contains(values []int64, v int64) bool {
	for _, x := range values {
		if x == v || x*1000 == v {
			return true
		}
	}
	return false
}

func TestExistingNodes(t *testing.T) {
	types := catalogue(t)
	nodes, err := bench.ExistingNodes(40, types, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if len(n.Pods) == 0 {
			t.Fatalf("node %s holds no pod", n.Name)
		}
		for k, q := range n.Available {
			if q.Sign() < 0 {
				t.Fatalf("node %s: negative %s %v", n.Name, k, q.String())
			}
		}
	}
	if _, err := bench.ExistingNodes(1, types[:1], 7); err == nil || !strings.Contains(err.Error(), "not in the catalogue") {
		t.Errorf("missing type: err = %v", err)
	}
}

// BenchmarkSolve runs scheduling.Solve on every table workload against the sandbox catalogue;
// besides ns/op it reports pods/s, nodes, USD/hour and cost / lower bound.
//
//	go test -run '^$' -bench . ./bench/
func BenchmarkSolve(b *testing.B) {
	types := catalogue(b)
	workloads, err := bench.Workloads(types, !testing.Short())
	if err != nil {
		b.Fatal(err)
	}
	for _, w := range workloads {
		in := w.Input(types)
		lb := scheduling.LowerBound(in)
		b.Run(strings.Fields(w.Name)[0], func(b *testing.B) {
			var res bench.Result
			for b.Loop() {
				res = bench.SolveResult(len(w.Pods), scheduling.Solve(in))
			}
			b.ReportMetric(float64(len(w.Pods))*float64(b.N)/b.Elapsed().Seconds(), "pods/s")
			b.ReportMetric(float64(res.Nodes), "nodes")
			b.ReportMetric(res.USDPerHour, "usd/hour")
			if lb > 0 {
				b.ReportMetric(res.USDPerHour/lb, "cost/lb")
			}
		})
	}
}

// BenchmarkLowerBound times scheduling.LowerBound on the 5k Karpenter mix.
func BenchmarkLowerBound(b *testing.B) {
	types := catalogue(b)
	in := bench.Workload{Pods: bench.KarpenterMix("mix", 5000, 42)}.Input(types)
	for b.Loop() {
		scheduling.LowerBound(in)
	}
}

// Issue 6's target for generic workloads: within 5% of the lower bound. mixed-sizes-5k is
// eleven request shapes from 100m/128Mi to 16 CPU/64Gi on the full sandbox catalogue; the
// greedy of resource prices alone packs it at 1.15x its bound (before whole-node fillings, the
// bound itself was 10% lower).
func TestMixedSizesNearLowerBound(t *testing.T) {
	w := bench.Workload{Name: "mixed-sizes-5k", Pods: bench.MixedSizes("mixed", 5000, 3)}
	in := w.Input(catalogue(t))
	res := scheduling.Solve(in)
	if len(res.Errors) > 0 {
		t.Fatalf("%d pods unplaced: %s", len(res.Errors), res.Errors[0].Reason)
	}
	cost := 0.0
	for _, n := range res.NewNodes {
		cost += n.Prices[0]
	}
	lb := scheduling.LowerBound(in)
	t.Logf("%d nodes, %.3f USD/h, lower bound %.3f USD/h: %.3fx", len(res.NewNodes), cost, lb, cost/lb)
	if cost > 1.05*lb {
		t.Fatalf("cost %.3f USD/h is %.3fx the lower bound %.3f", cost, cost/lb, lb)
	}
}

// Issue 6's target on the mix: within 15% of the lower bound. The 1k mix's pools are small
// enough (211-528 pods) for their fillings to be searched exactly (packColumnsExactPods):
// 1.178x the lower bound with greedy fills only, 1.160x with the search; 1.141x once the pods
// only zone spreads count take the cheapest zone and the spread pods go after them (the
// spreads' zones then differ less in price from the bound's cheapest offerings).
func TestKarpenterMix1kCost(t *testing.T) {
	in := bench.Workload{Name: "mix-1k", Pods: bench.KarpenterMix("mix", 1000, 42)}.Input(catalogue(t))
	res := scheduling.Solve(in)
	if len(res.Errors) > 0 {
		t.Fatalf("%d pods unplaced: %s", len(res.Errors), res.Errors[0].Reason)
	}
	cost := bench.SolveResult(1000, res).USDPerHour
	lb := scheduling.LowerBound(in)
	t.Logf("%d nodes, %.4f USD/h, lower bound %.4f USD/h: %.4fx", len(res.NewNodes), cost, lb, cost/lb)
	if cost > 1.15*lb {
		t.Fatalf("cost %.4f USD/h is %.4fx the lower bound %.4f", cost, cost/lb, lb)
	}
}

// TestKarpenterMixKeepsHostnameTerms solves the 1k mix (whose main pool is packed by merged
// shapes, see packColumnsMerged) and checks every new node: at most one pod of the hostname
// anti-affinity group, and no more pods a hostname spread selects on its carrier's node than
// its maxSkew, the carrier counted if selected (kube-scheduler admits that whatever the other
// nodes hold, their least count being at least 0). The packing keeps selected pods off the
// carrier's node altogether; the spread repair may swap one pod there within that rule.
func TestKarpenterMixKeepsHostnameTerms(t *testing.T) {
	w := bench.Workload{Name: "mix-1k", Pods: bench.KarpenterMix("mix", 1000, 42)}
	res := scheduling.Solve(w.Input(catalogue(t)))
	if len(res.Errors) > 0 {
		t.Fatalf("%d pods unplaced: %s", len(res.Errors), res.Errors[0].Reason)
	}
	placed := 0
	for i, n := range res.NewNodes {
		nginx := 0
		for _, p := range n.Pods {
			placed++
			if p.Labels["app"] == "nginx" {
				nginx++
			}
			for _, c := range p.Spec.TopologySpreadConstraints {
				if c.TopologyKey != corev1.LabelHostname {
					continue
				}
				sel := c.LabelSelector.MatchLabels["my-label"]
				var selected []string
				for _, q := range n.Pods {
					if q.Labels["my-label"] == sel {
						selected = append(selected, q.Name)
					}
				}
				if len(selected) > int(c.MaxSkew) {
					t.Fatalf("node %d: pod %s (spread on my-label=%s, maxSkew %d) beside %v", i, p.Name, sel, c.MaxSkew, selected)
				}
			}
		}
		if nginx > 1 {
			t.Fatalf("node %d holds %d anti-affinity pods", i, nginx)
		}
	}
	if placed != len(w.Pods) {
		t.Fatalf("%d pods on new nodes, want %d", placed, len(w.Pods))
	}
}
