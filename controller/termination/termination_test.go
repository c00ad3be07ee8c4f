package termination

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	cpfake "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

type harness struct {
	t     *testing.T
	kube  client.Client
	cloud *cpfake.CloudProvider
	c     *Controller
	inst  *cloudprovider.Node
}

// newHarness launches one instance in the fake cloud, creates its Node (with the finalizer)
// and the pods, then deletes the Node so that it waits on the finalizer.
func newHarness(t *testing.T, funcs *interceptor.Funcs, pods ...*corev1.Pod) *harness {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cloud := cpfake.New(clk, []*cloudprovider.InstanceType{cpfake.NewInstanceType(cpfake.InstanceTypeOptions{
		Name: "m5.large", CPU: 2, MemoryMi: 8192, Pods: 29, OnDemandPrice: 0.096, SpotRatio: 0.4, Zones: cpfake.Zones})})
	types, _ := cloud.GetInstanceTypes(context.Background(), nil)
	inst, err := cloud.Create(context.Background(), &cloudprovider.NodeRequest{
		Provisioner: &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, InstanceTypeOptions: types})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Finalizers: []string{v1alpha5.TerminationFinalizer},
			Labels: map[string]string{v1alpha5.LabelProvisionerName: "default", v1alpha5.LabelCapacityType: inst.CapacityType}},
		Spec: corev1.NodeSpec{ProviderID: inst.ProviderID},
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(node).
		WithIndex(&corev1.Pod{}, nodepods.IndexKey, nodepods.IndexFunc)
	for _, p := range pods {
		b = b.WithObjects(p)
	}
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	kube := b.Build()
	if err := kube.Delete(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, kube: kube, cloud: cloud, inst: inst, c: NewController(kube, cloud, clk, record.NewFakeRecorder(100))}
}

func (h *harness) reconcile() reconcile.Result {
	h.t.Helper()
	res, err := h.c.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-1"}})
	if err != nil {
		h.t.Fatal(err)
	}
	return res
}

func (h *harness) node() (*corev1.Node, bool) {
	n := &corev1.Node{}
	err := h.kube.Get(context.Background(), types.NamespacedName{Name: "node-1"}, n)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return n, true
}

func (h *harness) instances() int {
	l, _ := h.cloud.List(context.Background())
	return len(l)
}

func (h *harness) podExists(name string) bool {
	err := h.kube.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: name}, &corev1.Pod{})
	return err == nil
}

func pod(name string, mutate ...func(*corev1.Pod)) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "node-1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestDrainTerminateRemoveFinalizer(t *testing.T) {
	h := newHarness(t, nil,
		pod("web"),
		pod("ds", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "u", Controller: ptr.To(true)}}
		}),
		pod("static", func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"} }),
		pod("done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
	)
	res := h.reconcile()
	n, ok := h.node()
	if !ok || !n.Spec.Unschedulable {
		t.Fatal("node not cordoned")
	}
	if h.podExists("web") {
		t.Error("web pod not evicted")
	}
	for _, name := range []string{"ds", "static", "done"} {
		if !h.podExists(name) {
			t.Errorf("pod %s evicted; daemonset, mirror and finished pods stay", name)
		}
	}
	if res.RequeueAfter != DrainPoll || h.instances() != 1 {
		t.Fatalf("first pass: requeue %v, instances %d; want to wait for the evicted pod before terminating", res.RequeueAfter, h.instances())
	}
	h.reconcile()
	if h.instances() != 0 {
		t.Error("instance not terminated after the drain")
	}
	if _, ok := h.node(); ok {
		t.Error("node still exists: finalizer not removed")
	}
}

func TestEvictionBlockedByPDB(t *testing.T) {
	funcs := &interceptor.Funcs{SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj client.Object, so client.Object, opts ...client.SubResourceCreateOption) error {
		if sub == "eviction" {
			return apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
		}
		return c.SubResource(sub).Create(ctx, obj, so, opts...)
	}}
	h := newHarness(t, funcs, pod("web"))
	if res := h.reconcile(); res.RequeueAfter != EvictionRetry {
		t.Fatalf("requeue = %v, want %v", res.RequeueAfter, EvictionRetry)
	}
	if !h.podExists("web") || h.instances() != 1 {
		t.Fatal("pod or instance gone although the eviction was refused")
	}
	if n, ok := h.node(); !ok || len(n.Finalizers) != 1 {
		t.Fatal("finalizer removed while pods remain")
	}
}

func TestIgnoresLiveNodes(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Finalizers: []string{v1alpha5.TerminationFinalizer}}}
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(node).WithIndex(&corev1.Pod{}, nodepods.IndexKey, nodepods.IndexFunc).Build()
	c := NewController(kube, cpfake.New(nil, nil), clocktesting.NewFakeClock(time.Now()), nil)
	if _, err := c.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-1"}}); err != nil {
		t.Fatal(err)
	}
	got := &corev1.Node{}
	_ = kube.Get(context.Background(), types.NamespacedName{Name: "node-1"}, got)
	if got.Spec.Unschedulable {
		t.Error("a node that is not being deleted was cordoned")
	}
}
