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
// breaks (33 of the 1k mix). The repair swaps interchangeable pods between new nodes until none
// is left: kube-scheduler may then bind the pods in any order. Every pod is still placed once,
// and every node keeps its requests (only pods of equal requests are swapped).
func TestSpreadRepairOnTheKarpenterMix(t *testing.T) {
	types, err := instancetypes.Sandbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w := bench.Workload{Name: "mix", Pods: bench.KarpenterMix("mix", 1000, 42)}
	in := w.Input(types)
	res := scheduling.Solve(in)
	if len(res.Errors) != 0 {
		t.Fatalf("errors: %v", res.Errors[0].Reason)
	}
	if br := scheduling.CheckSpreads(in.Nodes, res); len(br) != 0 {
		t.Fatalf("%d pods at risk, the first %s: %s", len(br), br[0].Pod.Name, br[0].Reason())
	}
	seen := map[*corev1.Pod]bool{}
	for i, n := range res.NewNodes {
		sum := scheduling.Resources{}
		for _, p := range n.Pods {
			if seen[p] {
				t.Fatalf("pod %s planned twice", p.Name)
			}
			seen[p] = true
			sum.AddInPlace(scheduling.PodRequests(p))
		}
		if sum.String() != n.Requests.String() {
			t.Fatalf("new node %d: pods request %s, the node was sized for %s", i, sum, n.Requests)
		}
	}
	if len(seen) != len(w.Pods) {
		t.Fatalf("%d pods placed, want %d", len(seen), len(w.Pods))
	}
}
