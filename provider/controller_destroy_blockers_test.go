package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// When destroy times out waiting for launched nodes, the error says what holds them (the node's
// latest Warning Event, e.g. a PodDisruptionBudget blocking eviction) instead of only asking
// whether the controller runs (found by a user trial: 15 minutes with no hint).
func TestDeleteLaunchedNodesSaysWhatBlocksThem(t *testing.T) {
	_, kc := startSandbox(t)
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "blocked-node-test", Labels: map[string]string{v1alpha5.LabelProvisionerName: "blockers-test"},
		Finalizers: []string{v1alpha5.TerminationFinalizer}}}
	must(t, kc.Create(ctx, node))
	t.Cleanup(func() {
		n := &corev1.Node{}
		if kc.Get(ctx, client.ObjectKeyFromObject(node), n) == nil {
			n.Finalizers = nil
			_ = kc.Update(ctx, n)
		}
	})
	must(t, kc.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: "blocked-node-test.eviction"},
		InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: node.Name, APIVersion: "v1"},
		Reason:         "EvictionBlocked", Message: "pod default/web-0 cannot be evicted: PodDisruptionBudget web allows no disruption",
		Type: corev1.EventTypeWarning, LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "karpenter"},
	}))
	wait, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err := deleteLaunchedNodes(wait, kc)
	if err == nil {
		t.Fatal("the node with a finalizer was deleted")
	}
	for _, want := range []string{"blocked-node-test", "EvictionBlocked", "PodDisruptionBudget web allows no disruption", "termination_grace_period"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
