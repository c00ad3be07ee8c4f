package scheduling_test

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// DaemonSetRunsOn decides as the DaemonSet controller does: node selection (labels and
// matchFields metadata.name), the template's nodeName, and taints tolerated by the template's
// tolerations plus those the controller adds to every daemon pod.
func TestDaemonSetRunsOn(t *testing.T) {
	ds := func(f func(*corev1.PodSpec)) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "agent"}, Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")}}}}}}}}
		if f != nil {
			f(&d.Spec.Template.Spec)
		}
		return d
	}
	node := scheduling.ExistingNode{Name: "n-a", Labels: map[string]string{"pool": "a"}}
	tainted := func(key string, effect corev1.TaintEffect) scheduling.ExistingNode {
		n := node
		n.Taints = []corev1.Taint{{Key: key, Effect: effect}}
		return n
	}
	pinTo := func(name string) func(*corev1.PodSpec) {
		return func(s *corev1.PodSpec) {
			s.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{name}}}}}}}}
		}
	}
	for _, tc := range []struct {
		name string
		ds   *appsv1.DaemonSet
		node scheduling.ExistingNode
		want bool
	}{
		{"no selection", ds(nil), node, true},
		{"nodeSelector matches", ds(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"pool": "a"} }), node, true},
		{"nodeSelector does not match", ds(func(s *corev1.PodSpec) { s.NodeSelector = map[string]string{"pool": "b"} }), node, false},
		{"matchFields names the node", ds(pinTo("n-a")), node, true},
		{"matchFields names another node", ds(pinTo("n-b")), node, false},
		{"nodeName is another node", ds(func(s *corev1.PodSpec) { s.NodeName = "n-b" }), node, false},
		{"untolerated NoSchedule taint", ds(nil), tainted("dedicated", corev1.TaintEffectNoSchedule), false},
		{"untolerated PreferNoSchedule taint", ds(nil), tainted("dedicated", corev1.TaintEffectPreferNoSchedule), true},
		{"tolerated taint", ds(func(s *corev1.PodSpec) {
			s.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpExists}}
		}), tainted("dedicated", corev1.TaintEffectNoSchedule), true},
		{"cordoned: the controller tolerates unschedulable", ds(nil), tainted(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule), true},
		{"not ready NoExecute: tolerated by the controller", ds(nil), tainted(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute), true},
		{"network unavailable, not on the host network", ds(nil), tainted(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule), false},
		{"network unavailable, host network", ds(func(s *corev1.PodSpec) { s.HostNetwork = true }), tainted(corev1.TaintNodeNetworkUnavailable, corev1.TaintEffectNoSchedule), true},
	} {
		if got := scheduling.DaemonSetRunsOn(tc.ds, tc.node); got != tc.want {
			t.Errorf("%s: DaemonSetRunsOn = %v, want %v", tc.name, got, tc.want)
		}
	}
	if r := scheduling.DaemonSetRequests(ds(nil)); r[corev1.ResourceCPU] != 250 || r[corev1.ResourcePods] != 1000 {
		t.Errorf("DaemonSetRequests = %v, want cpu 250m and one pod", r)
	}
}
