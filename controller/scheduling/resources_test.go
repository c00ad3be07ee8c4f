package scheduling_test

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// TestPodRequestsAgreesWithTheHelper: PodRequests (which reads a lone container's requests
// directly) gives kube-scheduler's effective requests, plus one pod slot, for every shape.
func TestPodRequestsAgreesWithTheHelper(t *testing.T) {
	req := func(kv ...string) corev1.ResourceRequirements {
		l := corev1.ResourceList{}
		for i := 0; i+1 < len(kv); i += 2 {
			l[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return corev1.ResourceRequirements{Requests: l}
	}
	one := corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: req("cpu", "1500m", "memory", "1.5Gi", "nvidia.com/gpu", "1")}}}
	odd := corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: req("cpu", "100n", "memory", "1000001")}}}
	none := corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}
	two := corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Resources: req("cpu", "1")}, {Name: "b", Resources: req("cpu", "500m", "memory", "1Gi")}}}
	initBig := corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i", Resources: req("cpu", "3")}}, Containers: one.Containers}
	overhead := corev1.PodSpec{Containers: one.Containers, Overhead: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}
	for name, spec := range map[string]corev1.PodSpec{"one": one, "odd quantities": odd, "no requests": none, "two": two, "init": initBig, "overhead": overhead} {
		p := &corev1.Pod{Spec: spec}
		want := scheduling.FromList(resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{}))
		want[corev1.ResourcePods] += 1000
		got := scheduling.PodRequests(p)
		if got.String() != want.String() || len(got) != len(want) {
			t.Errorf("%s: PodRequests = %v, want %v", name, got, want)
		}
	}
}
