package scheduling

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A pod with preferences is not swapped: the solver met them where it could, and a swap checks
// only what kube-scheduler's filters read (requests, node requirement terms, tolerations).
func TestRepairKeepsPodsWithPreferences(t *testing.T) {
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: map[string]string{"app": "web"}}}
	}
	plain := &repairPod{pod: pod("plain"), info: &podInfo{pod: pod("plain"), reqKey: "cpu=100m"}}
	prefers := &repairPod{pod: pod("prefers"), info: &podInfo{pod: pod("prefers"), reqKey: "cpu=100m",
		prefs: []preference{{kind: prefNodeAffinity, weight: 10}}}}
	ok, sig := movableSig(plain, nil, nil)
	if !ok || sig == "" {
		t.Fatalf("a pod without preferences: movable %v, signature %q; want movable", ok, sig)
	}
	if ok, _ := movableSig(prefers, nil, nil); ok {
		t.Fatal("a pod with a preferred node affinity term is movable; want it kept where the solver met its preference")
	}
}
