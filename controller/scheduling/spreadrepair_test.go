package scheduling_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// The Karpenter mix's zone spreads select each other's pods (every pod carries my-label, every
// spread selects one of its values), so placement alone leaves pods whose spread the final plan
// breaks (33 of the 1k mix; 91 of the 5k mix beside 4,000 existing nodes, most of them planned
// on those nodes). The repair swaps interchangeable planned pods, on new and existing nodes,
// until none is left: kube-scheduler may then bind the pods in any order. Every pod is still
// placed once, and every node keeps its requests (only pods of equal requests are swapped).
func TestSpreadRepairOnTheKarpenterMix(t *testing.T) {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	existing, err := bench.ExistingNodes(4000, types, 7)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []bench.Workload{
		{Name: "mix-1k", Pods: bench.KarpenterMix("mix", 1000, 42)},
		{Name: "mix-5k+4000-nodes", Pods: bench.KarpenterMix("mix", 5000, 42), Nodes: existing},
	} {
		t.Run(w.Name, func(t *testing.T) {
			in := w.Input(types)
			res := scheduling.Solve(in)
			if len(res.Errors) != 0 {
				t.Fatalf("errors: %v", res.Errors[0].Reason)
			}
			if br := scheduling.CheckSpreads(in.Nodes, res); len(br) != 0 {
				t.Fatalf("%d pods at risk, the first %s: %s", len(br), br[0].Pod.Name, br[0].Reason())
			}
			seen := map[*corev1.Pod]bool{}
			place := func(where string, ps []*corev1.Pod) scheduling.Resources {
				sum := scheduling.Resources{}
				for _, p := range ps {
					if seen[p] {
						t.Fatalf("pod %s planned twice (again on %s)", p.Name, where)
					}
					seen[p] = true
					sum.AddInPlace(scheduling.PodRequests(p))
				}
				return sum
			}
			for i, n := range res.NewNodes {
				if sum := place("a new node", n.Pods); sum.String() != n.Requests.String() {
					t.Fatalf("new node %d: pods request %s, the node was sized for %s", i, sum, n.Requests)
				}
			}
			for _, n := range in.Nodes {
				if sum := place(n.Name, res.ExistingNodes[n.Name]); !sum.Fits(scheduling.FromList(n.Available)) {
					t.Fatalf("existing node %s: pods request %s, available %s", n.Name, sum, scheduling.FromList(n.Available))
				}
			}
			if len(seen) != len(w.Pods) {
				t.Fatalf("%d pods placed, want %d", len(seen), len(w.Pods))
			}
		})
	}
}
