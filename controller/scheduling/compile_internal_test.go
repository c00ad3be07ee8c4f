package scheduling

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// contentKey is contentKeyer's key as a string, "" for none.
func contentKey(p *corev1.Pod) string {
	var k contentKeyer
	if b := k.key(p); b != nil {
		return string(b)
	}
	return ""
}

func TestContentKey(t *testing.T) {
	pod := func(name, cpu string) *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name), Labels: map[string]string{"app": "a", "tier": "web"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("1Gi")},
			}}}},
		}
	}
	base := contentKey(pod("p1", "1"))
	if base == "" {
		t.Fatal("no key for a plain pod")
	}
	if k := contentKey(pod("p2", "1000m")); k != base {
		t.Errorf("same pod by another name and an equal cpu written otherwise: a different key")
	}
	differ := map[string]func(*corev1.Pod){
		"namespace": func(p *corev1.Pod) { p.Namespace = "other" },
		"labels":    func(p *corev1.Pod) { p.Labels = map[string]string{"app": "a"} },
		"requests": func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("2")
		},
		"selector": func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"zone": "a"} },
		"toleration": func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists}}
		},
		"port": func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{HostPort: 80, ContainerPort: 80}}
		},
		"spread": func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelHostname,
				WhenUnsatisfiable: corev1.DoNotSchedule, LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "a"}}}}
		},
		"overhead": func(p *corev1.Pod) {
			p.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}
		},
	}
	for name, change := range differ {
		p := pod("p3", "1")
		change(p)
		if k := contentKey(p); k == base || k == "" {
			t.Errorf("%s changed: key %q", name, k)
		}
	}
	p := pod("p4", "1")
	p.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	if k := contentKey(p); k != "" {
		t.Errorf("pod with a claim: key %q, want none", k)
	}
}
