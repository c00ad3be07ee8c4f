package scheduling_test

import (
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
)

// gpuTypes are priced like EC2's: the 8-GPU type costs far more than eight 1-GPU types.
func gpuTypes() []*cloudprovider.InstanceType {
	return []*cloudprovider.InstanceType{
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "g1.xlarge", CPU: 4, MemoryMi: 16 * 1024, GPUs: 1, OnDemandPrice: 0.526}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "g4.12xlarge", CPU: 48, MemoryMi: 192 * 1024, GPUs: 4, OnDemandPrice: 3.912}),
		fake.NewInstanceType(fake.InstanceTypeOptions{Name: "p8.16xlarge", CPU: 64, MemoryMi: 488 * 1024, GPUs: 8, OnDemandPrice: 24.48}),
	}
}

func TestSizedByTheBill(t *testing.T) {
	t.Run("eight one-GPU pods get eight small nodes, not one 8-GPU node", func(t *testing.T) {
		var pods []*corev1.Pod
		for i := range 8 {
			pods = append(pods, pod(fmt.Sprintf("train-%d", i), "1", "4Gi", withGPU(1)))
		}
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, gpuTypes())
		checkClaims(t, pods, res, nil)
		if len(res.Errors) != 0 || len(res.NewNodes) != 8 || cost(res) > 8*0.526+1e-9 {
			t.Fatalf("want 8 x g1.xlarge ($4.21/h), got %d nodes, $%.2f/h, errors %v", len(res.NewNodes), cost(res), reasons(res))
		}
	})
	t.Run("linear prices keep one node", func(t *testing.T) {
		var pods []*corev1.Pod
		for i := range 5 {
			pods = append(pods, pod(fmt.Sprintf("p%d", i), "1", "1Gi"))
		}
		res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(400))
		if len(res.NewNodes) != 1 {
			t.Fatalf("want one node, got %d", len(res.NewNodes))
		}
	})
	t.Run("a split keeps limits", func(t *testing.T) {
		var pods []*corev1.Pod
		for i := range 8 {
			pods = append(pods, pod(fmt.Sprintf("train-%d", i), "1", "4Gi", withGPU(1)))
		}
		prov := provisioner("default")
		prov.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("64")}}
		// Small GPU types with many vCPUs: eight of them would be 128 cpu.
		types := gpuTypes()
		types[0] = fake.NewInstanceType(fake.InstanceTypeOptions{Name: "g1.4xlarge", CPU: 16, MemoryMi: 64 * 1024, GPUs: 1, OnDemandPrice: 0.9})
		res := solve(t, pods, []*v1alpha5.Provisioner{prov}, types)
		checkClaims(t, pods, res, nil)
		cpu := int64(0)
		for _, c := range res.NewNodes {
			most := int64(0)
			for _, it := range c.InstanceTypeOptions {
				c := it.Capacity[corev1.ResourceCPU]
				most = max(most, c.Value())
			}
			cpu += most
		}
		if cpu > 64 || len(res.Errors) != 0 {
			t.Fatalf("worst-case capacity %d cpu exceeds the 64 cpu limit (errors %v)", cpu, reasons(res))
		}
	})
}

func TestReasonsNameTheLimitAndNegativeRequests(t *testing.T) {
	var pods []*corev1.Pod
	for i := range 4 {
		pods = append(pods, pod(fmt.Sprintf("train-%d", i), "1", "4Gi", withGPU(1)))
	}
	prov := provisioner("default")
	prov.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10")}}
	res := solve(t, pods, []*v1alpha5.Provisioner{prov}, gpuTypes())
	checkClaims(t, pods, res, nil)
	if len(res.NewNodes) != 2 || len(res.Errors) != 2 {
		t.Fatalf("want 2 nodes of 4 cpu within the 10-cpu limit and 2 pods refused, got %d nodes, errors %v", len(res.NewNodes), reasons(res))
	}
	for _, e := range res.Errors {
		// The reason names the node the limit is charged for: a 1-cpu pod on a 4-cpu type.
		if !strings.Contains(e.Reason, "exceed the provisioner's limits cpu=10: the instance types that hold it have at least cpu=4 ") {
			t.Errorf("the limit stops %s, but the reason says %q", e.Pod.Name, e.Reason)
		}
	}
	bad := pod("bad", "1", "1Gi")
	bad.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("-1")
	res = solve(t, []*corev1.Pod{bad}, []*v1alpha5.Provisioner{provisioner("default")}, gpuTypes())
	if len(res.NewNodes) != 0 || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "cpu is negative") {
		t.Fatalf("a negative request must be refused, got %d nodes, errors %v", len(res.NewNodes), reasons(res))
	}
}
