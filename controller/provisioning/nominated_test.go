package provisioning

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A node launched for a pod is held (not empty) while the pod waits unbound, and released as
// soon as the pod is bound.
func TestNominatedUntilFollowsThePod(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("web", "1", "1Gi")))
	res, err := e.prov.Provision(ctx)
	if err != nil || len(res.Launched) != 1 {
		t.Fatalf("launched %v, err %v", res, err)
	}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: res.Launched[0].Node.Name}}
	if got := e.prov.NominatedUntil(ctx, node); !got.After(e.clk.Now()) {
		t.Fatalf("NominatedUntil = %v, want after now while the pod is unbound", got)
	}
	pod := &corev1.Pod{}
	if err := e.kube.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web"}, pod); err != nil {
		t.Fatal(err)
	}
	pod.Spec.NodeName = node.Name
	if err := e.kube.Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if got := e.prov.NominatedUntil(ctx, node); !got.IsZero() {
		t.Errorf("NominatedUntil = %v, want zero once the pod is bound", got)
	}
}
