package scheduling_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// Pods of many sizes with no constraint between them are packed as one pool (pack.go): the
// plan's cost stays close to the cheapest fractional cover.
func TestPooledPodsPackedByTheBill(t *testing.T) {
	shapes := []struct{ cpu, mem string }{
		{"100m", "128Mi"}, {"250m", "512Mi"}, {"500m", "1Gi"}, {"1", "2Gi"}, {"1", "4Gi"},
		{"2", "4Gi"}, {"2", "8Gi"}, {"4", "8Gi"}, {"4", "16Gi"}, {"8", "32Gi"},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	var pods []*corev1.Pod
	for i := range 600 {
		s := shapes[rng.IntN(len(shapes))]
		pods = append(pods, pod(fmt.Sprintf("p%03d", i), s.cpu, s.mem))
	}
	in := scheduling.Input{Pods: pods, Provisioners: []scheduling.ProvisionerInput{{Provisioner: provisioner("default"), InstanceTypes: fake.Catalog(400)}}}
	res := scheduling.Solve(in)
	checkClaims(t, pods, res, nil)
	lb := scheduling.LowerBound(in)
	if len(res.Errors) != 0 || cost(res) > 1.02*lb {
		t.Fatalf("want every pod placed within 2%% of the lower bound %.3f, got $%.3f/h (%.3fx) on %d nodes, errors %v",
			lb, cost(res), cost(res)/lb, len(res.NewNodes), reasons(res))
	}
}
