package deprovisioning

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// unreadyNode is readyNode whose Ready condition turned Unknown at since (a dead kubelet, as
// kube-controller-manager marks it).
func unreadyNode(name string, since time.Time) *corev1.Node {
	n := readyNode(start.Add(-time.Hour), start.Add(-time.Hour))
	n.Name = name
	n.Status.Conditions[0].Status = corev1.ConditionUnknown
	n.Status.Conditions[0].LastTransitionTime = metav1.NewTime(since)
	return n
}

func namedReady(name string) *corev1.Node {
	n := readyNode(start.Add(-time.Hour), start.Add(-time.Hour))
	n.Name = name
	return n
}

func TestRepairAllowed(t *testing.T) {
	for _, c := range []struct {
		unhealthy, total int
		want             bool
	}{{1, 1, true}, {1, 5, true}, {2, 5, false}, {2, 6, true}, {2, 10, true}, {3, 10, false}, {0, 0, true}} {
		if got := repairAllowed(c.unhealthy, c.total); got != c.want {
			t.Errorf("repairAllowed(%d, %d) = %v, want %v", c.unhealthy, c.total, got, c.want)
		}
	}
}

// A node not Ready since start is repaired exactly at start + timeout: deleted (the fake
// client keeps it, with a deletionTimestamp, for its finalizer) and annotated with the
// termination timestamp that makes termination delete its pods at once. A do-not-evict pod
// does not block it.
func TestRepairDeletesNodeNotReadyPastTimeout(t *testing.T) {
	h := newHarness(t, prov(nil, nil), unreadyNode("node-1", start),
		pod("web", func(p *corev1.Pod) { p.Annotations = map[string]string{v1alpha5.AnnotationDoNotEvict: "true"} }))
	h.c.opts.NotReadyTimeout = 15 * time.Second
	if res := h.reconcile(); res.RequeueAfter != 15*time.Second {
		t.Fatalf("requeue = %v, want 15s", res.RequeueAfter)
	}
	h.clk.Step(14 * time.Second)
	h.reconcile()
	if n := h.node(); n.DeletionTimestamp != nil {
		t.Fatal("deleted before the timeout")
	}
	h.clk.Step(time.Second)
	h.reconcile()
	n := h.node()
	if n.DeletionTimestamp == nil {
		t.Fatal("not deleted at the timeout")
	}
	if got, want := n.Annotations[v1alpha5.AnnotationTerminationTimestamp], start.Add(15*time.Second).Format(time.RFC3339); got != want {
		t.Errorf("termination timestamp = %q, want %q", got, want)
	}
}

// A Ready node, or one recovering, is left alone, and loses a stale termination timestamp;
// timeout 0 turns repair off.
func TestRepairLeavesReadyNodesAndCanBeOff(t *testing.T) {
	ready := namedReady("node-1")
	ready.Annotations = map[string]string{v1alpha5.AnnotationTerminationTimestamp: start.Format(time.RFC3339)}
	h := newHarness(t, prov(nil, nil), ready)
	h.c.opts.NotReadyTimeout = time.Second
	h.clk.Step(time.Hour)
	h.reconcile()
	if n := h.node(); n.DeletionTimestamp != nil || n.Annotations[v1alpha5.AnnotationTerminationTimestamp] != "" {
		t.Fatalf("ready node: deleted %v, annotations %v", n.DeletionTimestamp, n.Annotations)
	}

	h = newHarness(t, prov(nil, nil), unreadyNode("node-1", start.Add(-24*time.Hour)))
	h.c.opts.NotReadyTimeout = 0
	if res := h.reconcile(); res.RequeueAfter != 0 || h.node().DeletionTimestamp != nil {
		t.Fatalf("repair off: requeue %v, deleted %v", res.RequeueAfter, h.node().DeletionTimestamp)
	}
}

// Two of five nodes not Ready: more than 20%, nothing is repaired and the check comes again;
// once the other one is gone (1 of 4), the node is repaired.
func TestRepairBlockedWhileManyNodesNotReady(t *testing.T) {
	objs := []client.Object{prov(nil, nil), unreadyNode("node-1", start), unreadyNode("node-2", start)}
	for i := 3; i <= 5; i++ {
		objs = append(objs, namedReady(fmt.Sprintf("node-%d", i)))
	}
	h := newHarness(t, objs...)
	h.c.opts.NotReadyTimeout = time.Minute
	h.clk.Step(2 * time.Minute)
	if res := h.reconcile(); res.RequeueAfter != RepairBlockedRecheck || h.node().DeletionTimestamp != nil {
		t.Fatalf("2 of 5 not Ready: requeue %v, deleted %v", res.RequeueAfter, h.node().DeletionTimestamp)
	}
	other := &corev1.Node{}
	if err := h.kube.Get(context.Background(), types.NamespacedName{Name: "node-2"}, other); err != nil {
		t.Fatal(err)
	}
	other.Finalizers = nil
	if err := h.kube.Update(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if err := h.kube.Delete(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-1"}}); err != nil {
		t.Fatal(err)
	}
	if h.node().DeletionTimestamp == nil {
		t.Fatal("1 of 4 not Ready: not repaired")
	}
}
