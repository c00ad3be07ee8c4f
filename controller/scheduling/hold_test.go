package scheduling_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

func TestHolds(t *testing.T) {
	small := func(name string) scheduling.ExistingNode {
		n := roomyNode(name)
		n.Available = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("10")}
		return n
	}
	pods := []*corev1.Pod{pod("big", "1", "1Gi"), pod("planned", "500m", "1Gi"), pod("refused", "500m", "1Gi"), pod("waiting", "500m", "1Gi")}
	res := solve(t, pods, []*v1alpha5.Provisioner{provisioner("default")}, fake.Catalog(40), func(in *scheduling.Input) {
		in.Nodes = []scheduling.ExistingNode{small("a"), small("b")}
		in.Holds = map[string]scheduling.Hold{
			// Without its plan, "big" (solved first) would take node a.
			"default/planned": {PlannedNode: "a"},
			"default/refused": {ExcludedNodes: sets.New("a", "b")},
			"default/waiting": {ExcludedNodes: sets.New("a", "b"), NoNewNode: true, Reason: "launch backoff"},
		}
	})
	got := podsPerNode(res)
	if got["planned"] != "a" {
		t.Errorf("the planned pod lost its node: %v", got)
	}
	if got["refused"] == "a" || got["refused"] == "b" || got["refused"] == "" {
		t.Errorf("the refused pod must go to a new node: %v", got)
	}
	if _, placed := got["waiting"]; placed || len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Reason, "launch backoff") {
		t.Errorf("the pod in backoff must get no node and an error, got %v, errors %v", got, res.Errors)
	}
}
