package deprovisioning

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

type harness struct {
	t    *testing.T
	kube client.Client
	clk  *clocktesting.FakeClock
	c    *Controller
}

func newHarness(t *testing.T, objs ...client.Object) *harness {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha5.AddToScheme(s)
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithIndex(&corev1.Pod{}, nodepods.IndexKey, nodepods.IndexFunc).
		WithIndex(&corev1.Pod{}, nodepods.NominatedIndexKey, nodepods.NominatedIndexFunc).Build()
	clk := clocktesting.NewFakeClock(start)
	return &harness{t: t, kube: kube, clk: clk,
		c: NewController(kube, clk, record.NewFakeRecorder(100), Options{ReadyGrace: 10 * time.Second})}
}

func (h *harness) reconcile() reconcile.Result {
	h.t.Helper()
	res, err := h.c.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-1"}})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) node() *corev1.Node {
	h.t.Helper()
	n := &corev1.Node{}
	if err := h.kube.Get(context.Background(), types.NamespacedName{Name: "node-1"}, n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func prov(empty, expire *int64) *v1alpha5.Provisioner {
	return &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha5.ProvisionerSpec{TTLSecondsAfterEmpty: empty, TTLSecondsUntilExpired: expire}}
}

// readyNode was created at created and has been Ready since readySince.
func readyNode(created, readySince time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", CreationTimestamp: metav1.NewTime(created),
			Labels:     map[string]string{v1alpha5.LabelProvisionerName: "default"},
			Finalizers: []string{v1alpha5.TerminationFinalizer}},
		Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-1"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(readySince)}}},
	}
}

func pod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func daemonSet(p *corev1.Pod) {
	p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "u", Controller: ptr.To(true)}}
}

func succeeded(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }

func TestEmptinessLifecycle(t *testing.T) {
	h := newHarness(t, prov(ptr.To[int64](30), nil), readyNode(start.Add(-time.Hour), start.Add(-time.Hour)),
		pod("ds", daemonSet), pod("job", succeeded))
	// Empty (daemonset and finished pods don't count): the clock starts now.
	if res := h.reconcile(); res.RequeueAfter != 30*time.Second {
		t.Fatalf("requeue = %v, want 30s", res.RequeueAfter)
	}
	if got := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; got != start.Format(time.RFC3339) {
		t.Fatalf("emptiness timestamp = %q, want %q", got, start.Format(time.RFC3339))
	}
	// A pod arrives: the timestamp goes.
	web := pod("web")
	if err := h.kube.Create(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	h.clk.Step(10 * time.Second)
	h.reconcile()
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("timestamp kept although the node has a pod")
	}
	// It leaves: the clock restarts; the node goes exactly at timestamp + TTL.
	if err := h.kube.Delete(context.Background(), web); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	h.clk.Step(29 * time.Second)
	if res := h.reconcile(); res.RequeueAfter != time.Second {
		t.Fatalf("requeue = %v, want 1s", res.RequeueAfter)
	}
	if h.node().DeletionTimestamp != nil {
		t.Fatal("deleted before the TTL")
	}
	h.clk.Step(time.Second)
	h.reconcile()
	if h.node().DeletionTimestamp == nil {
		t.Fatal("not deleted at timestamp + TTL")
	}
}

func TestEmptinessWaitsForReadyGrace(t *testing.T) {
	h := newHarness(t, prov(ptr.To[int64](30), nil), readyNode(start.Add(-5*time.Second), start.Add(-3*time.Second)))
	if res := h.reconcile(); res.RequeueAfter != 7*time.Second {
		t.Fatalf("requeue = %v, want 7s (ready grace 10s - 3s)", res.RequeueAfter)
	}
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("emptiness clock started during the ready grace")
	}
	h.clk.Step(7 * time.Second)
	h.reconcile()
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; !ok {
		t.Fatal("emptiness clock did not start after the ready grace")
	}
}

func TestEmptinessIgnoresNotReadyAndForeignNodes(t *testing.T) {
	n := readyNode(start.Add(-time.Hour), start.Add(-time.Hour))
	n.Status.Conditions[0].Status = corev1.ConditionFalse
	h := newHarness(t, prov(ptr.To[int64](30), nil), n)
	if res := h.reconcile(); res.RequeueAfter != 0 {
		t.Fatalf("requeue = %v for a NotReady node", res.RequeueAfter)
	}
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("emptiness clock started on a NotReady node")
	}
	foreign := readyNode(start.Add(-time.Hour), start.Add(-time.Hour))
	delete(foreign.Labels, v1alpha5.LabelProvisionerName)
	h = newHarness(t, prov(ptr.To[int64](30), nil), foreign)
	h.reconcile()
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("a node the controller did not launch was annotated")
	}
}

func TestEmptinessResetsBadTimestampAndClearsWithoutTTL(t *testing.T) {
	n := readyNode(start.Add(-time.Hour), start.Add(-time.Hour))
	n.Annotations = map[string]string{v1alpha5.AnnotationEmptinessTimestamp: "yesterday"}
	h := newHarness(t, prov(ptr.To[int64](30), nil), n)
	h.reconcile()
	if got := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; got != start.Format(time.RFC3339) {
		t.Fatalf("timestamp = %q, want reset to now", got)
	}
	if h.node().DeletionTimestamp != nil {
		t.Fatal("deleted on a bad timestamp")
	}
	h = newHarness(t, prov(nil, nil), n)
	h.reconcile()
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("timestamp kept although the provisioner has no ttlSecondsAfterEmpty")
	}
}

func TestExpiration(t *testing.T) {
	h := newHarness(t, prov(nil, ptr.To[int64](3600)), readyNode(start.Add(-50*time.Minute), start.Add(-50*time.Minute)),
		pod("web", func(p *corev1.Pod) { p.Annotations = map[string]string{v1alpha5.AnnotationDoNotEvict: "true"} }))
	if res := h.reconcile(); res.RequeueAfter != 10*time.Minute {
		t.Fatalf("requeue = %v, want 10m", res.RequeueAfter)
	}
	h.clk.Step(10 * time.Minute)
	if res := h.reconcile(); res.RequeueAfter != DoNotEvictRecheck {
		t.Fatalf("requeue = %v, want %v while a do-not-evict pod runs", res.RequeueAfter, DoNotEvictRecheck)
	}
	if h.node().DeletionTimestamp != nil {
		t.Fatal("expired node deleted despite karpenter.sh/do-not-evict")
	}
	p := &corev1.Pod{}
	if err := h.kube.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "web"}, p); err != nil {
		t.Fatal(err)
	}
	p.Status.Phase = corev1.PodSucceeded // a finished pod no longer blocks
	if err := h.kube.Status().Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if h.node().DeletionTimestamp == nil {
		t.Fatal("expired node not deleted")
	}
}

func TestEmptinessAndExpirationRequeueAtTheEarlier(t *testing.T) {
	h := newHarness(t, prov(ptr.To[int64](300), ptr.To[int64](120)), readyNode(start.Add(-time.Minute), start.Add(-time.Minute)))
	if res := h.reconcile(); res.RequeueAfter != time.Minute {
		t.Fatalf("requeue = %v, want 1m (expiry before emptiness)", res.RequeueAfter)
	}
}

// A pod kube-scheduler is binding to the node (nominated, PreBind still waiting for its volumes)
// keeps the node from being empty; the emptiness clock starts once the nomination goes.
func TestEmptinessWaitsForNominatedPods(t *testing.T) {
	binding := pod("binding", func(p *corev1.Pod) {
		p.Spec.NodeName = ""
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "node-1"}
	})
	elsewhere := pod("elsewhere", func(p *corev1.Pod) {
		p.Spec.NodeName = ""
		p.Status = corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "node-2"}
	})
	h := newHarness(t, prov(ptr.To[int64](30), nil), readyNode(start.Add(-time.Hour), start.Add(-time.Hour)), binding, elsewhere)
	h.reconcile()
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("emptiness clock started while a pod is being bound to the node")
	}
	if err := h.kube.Delete(context.Background(), binding); err != nil {
		t.Fatal(err)
	}
	if res := h.reconcile(); res.RequeueAfter != 30*time.Second {
		t.Fatalf("requeue = %v, want 30s once only a pod nominated elsewhere is left", res.RequeueAfter)
	}
}

// A node the provisioner planned a pending pod on is not empty until the provisioner stops
// waiting for kube-scheduler to bind it there; then the clock starts.
func TestEmptinessWaitsForPlannedPods(t *testing.T) {
	h := newHarness(t, prov(ptr.To[int64](30), nil), readyNode(start.Add(-time.Hour), start.Add(-time.Hour)))
	until := start.Add(12 * time.Second)
	h.c.opts.NominatedUntil = func(_ context.Context, n *corev1.Node) time.Time {
		if n.Name != "node-1" {
			return time.Time{}
		}
		return until
	}
	if res := h.reconcile(); res.RequeueAfter != 12*time.Second {
		t.Fatalf("requeue = %v, want 12s (when the planned pod stops holding the node)", res.RequeueAfter)
	}
	if _, ok := h.node().Annotations[v1alpha5.AnnotationEmptinessTimestamp]; ok {
		t.Fatal("emptiness clock started while a planned pod is awaited")
	}
	h.clk.Step(12 * time.Second)
	if res := h.reconcile(); res.RequeueAfter != 30*time.Second {
		t.Fatalf("requeue = %v, want 30s once the wait is over", res.RequeueAfter)
	}
}

// A do-not-evict pod that does not make the node non-empty (a daemonset pod) still blocks the
// emptiness deletion; the node goes once the pod no longer carries the annotation.
func TestEmptinessBlockedByDoNotEvict(t *testing.T) {
	h := newHarness(t, prov(ptr.To[int64](30), nil), readyNode(start.Add(-time.Hour), start.Add(-time.Hour)),
		pod("agent", daemonSet, func(p *corev1.Pod) { p.Annotations = map[string]string{v1alpha5.AnnotationDoNotEvict: "true"} }))
	h.reconcile()
	h.clk.Step(30 * time.Second)
	if res := h.reconcile(); res.RequeueAfter != DoNotEvictRecheck {
		t.Fatalf("requeue = %v, want %v while a do-not-evict pod runs", res.RequeueAfter, DoNotEvictRecheck)
	}
	if h.node().DeletionTimestamp != nil {
		t.Fatal("empty node deleted despite karpenter.sh/do-not-evict")
	}
	p := &corev1.Pod{}
	if err := h.kube.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "agent"}, p); err != nil {
		t.Fatal(err)
	}
	p.Annotations = nil
	if err := h.kube.Update(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if h.node().DeletionTimestamp == nil {
		t.Fatal("empty node not deleted once the annotation went")
	}
}

// A TTL stored before the CRD bounded it (near 2^63 ns) is clamped, never a negative duration
// that deletes the node at once.
func TestHugeTTLsDoNotOverflow(t *testing.T) {
	huge := ptr.To[int64](1<<63 - 1)
	h := newHarness(t, prov(huge, huge), readyNode(start.Add(-time.Hour), start.Add(-time.Hour)))
	h.reconcile() // starts the emptiness clock
	res := h.reconcile()
	if h.node().DeletionTimestamp != nil {
		t.Fatal("node deleted at once by an overflowing TTL")
	}
	if res.RequeueAfter <= 0 {
		t.Fatalf("requeue = %v, want a positive wait", res.RequeueAfter)
	}
}
