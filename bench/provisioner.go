// Package bench measures the solver (controller/scheduling) on standard workloads against the
// full sandbox catalogue and prints one table: pods per second, allocations per pod, nodes,
// USD/hour and the ratio of that price to scheduling.LowerBound. `make bench` runs it
// (`go run ./bench/cmd/table`); `go test -bench . ./bench/` runs the same workloads as Go
// benchmarks. The catalogue comes from package bench/instancetypes.
package bench

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Provisioner returns the provisioner the benchmarks launch with: "default", spot and
// on-demand allowed, no limits, and no other requirement. Unlike the quickstart's (spot only,
// a CPU limit, and the amd64 and linux requirements the controller's defaulting adds) it may
// launch every type of the catalogue, arm64 included: the solver sees the whole catalogue, as
// Karpenter's scheduler does beside it (bench/karpenter).
func Provisioner() *v1alpha5.Provisioner {
	return &v1alpha5.Provisioner{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha5.ProvisionerSpec{Requirements: []v1alpha5.NodeSelectorRequirement{{
			Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn,
			Values: []string{v1alpha5.CapacityTypeSpot, v1alpha5.CapacityTypeOnDemand}}}},
	}
}
