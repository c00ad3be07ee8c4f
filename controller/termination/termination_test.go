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

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	cpfake "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

type harness struct {
	t     *testing.T
	kube  client.Client
	cloud *lingeringCloud
	clk   *clocktesting.FakeClock
	c     *Controller
	inst  *cloudprovider.Node
}

// lingeringCloud is the fake cloud whose instances, once terminated, are still reported as
// existing for linger more Exists calls (as an instance that stays running for a while).
type lingeringCloud struct {
	*cpfake.CloudProvider
	linger     int
	terminated map[string]bool
	deletes    int
}

func (l *lingeringCloud) Delete(ctx context.Context, providerID string) error {
	l.deletes++
	l.terminated[providerID] = true
	return nil
}

func (l *lingeringCloud) Exists(ctx context.Context, providerID string) (bool, error) {
	if !l.terminated[providerID] {
		return l.CloudProvider.Exists(ctx, providerID)
	}
	if l.linger > 0 {
		l.linger--
		return true, nil
	}
	return false, l.CloudProvider.Delete(ctx, providerID)
}

type options struct {
	funcs         *interceptor.Funcs
	grace         *time.Duration // the provisioner's terminationGracePeriod
	noProvisioner bool
	annotations   map[string]string // on the node
	claim         bool              // the node is owned by a NodeClaim "default-abcde"
}

// newHarness launches one instance in the fake cloud, creates its Node (with the finalizer),
// its Provisioner and the pods, then deletes the Node so that it waits on the finalizer. The
// fake clock starts at the node's deletion timestamp.
func newHarness(t *testing.T, o options, pods ...*corev1.Pod) *harness {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha5.AddToScheme(s)
	_ = karpv1.AddToScheme(s)
	cloud := cpfake.New(clocktesting.NewFakeClock(time.Now()), []*cloudprovider.InstanceType{cpfake.NewInstanceType(cpfake.InstanceTypeOptions{
		Name: "m5.large", CPU: 2, MemoryMi: 8192, Pods: 29, OnDemandPrice: 0.096, SpotRatio: 0.4, Zones: cpfake.Zones})})
	types, _ := cloud.GetInstanceTypes(context.Background(), nil)
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if o.grace != nil {
		prov.Spec.TerminationGracePeriod = &metav1.Duration{Duration: *o.grace}
	}
	inst, err := cloud.Create(context.Background(), &cloudprovider.NodeRequest{Provisioner: prov, InstanceTypeOptions: types})
	if err != nil {
		t.Fatal(err)
	}
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Finalizers: []string{v1alpha5.TerminationFinalizer}, Annotations: o.annotations,
			Labels: map[string]string{v1alpha5.LabelProvisionerName: "default", v1alpha5.LabelCapacityType: inst.CapacityType}},
		Spec: corev1.NodeSpec{ProviderID: inst.ProviderID},
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(node).
		WithIndex(&corev1.Pod{}, nodepods.IndexKey, nodepods.IndexFunc)
	if !o.noProvisioner {
		b = b.WithObjects(prov)
	}
	for _, p := range pods {
		b = b.WithObjects(p)
	}
	if o.claim {
		claim := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "default-abcde", UID: "claim-uid"}}
		node.OwnerReferences = []metav1.OwnerReference{{APIVersion: karpv1.SchemeGroupVersion.String(), Kind: "NodeClaim", Name: claim.Name, UID: claim.UID}}
		b = b.WithObjects(claim)
	}
	if o.funcs != nil {
		b = b.WithInterceptorFuncs(*o.funcs)
	}
	kube := b.Build()
	if err := kube.Delete(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	if err := kube.Get(context.Background(), types2(node.Name), node); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakeClock(node.DeletionTimestamp.Time)
	lc := &lingeringCloud{CloudProvider: cloud, terminated: map[string]bool{}}
	return &harness{t: t, kube: kube, cloud: lc, clk: clk, inst: inst, c: NewController(kube, lc, clk, record.NewFakeRecorder(100))}
}

func types2(name string) types.NamespacedName { return types.NamespacedName{Name: name} }

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

// instances counts the instances the cloud still reports as existing.
func (h *harness) instances() int {
	l, _ := h.cloud.List(context.Background())
	n := 0
	for _, i := range l {
		if !h.cloud.terminated[i.ProviderID] {
			n++
		}
	}
	return n
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
	h := newHarness(t, options{claim: true},
		pod("web"),
		pod("ds", func(p *corev1.Pod) {
			p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "ds", UID: "u", Controller: ptr.To(true)}}
		}),
		pod("static", func(p *corev1.Pod) { p.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "x"} }),
		// do-not-evict blocks voluntary removal only: a deleted node is drained regardless.
		pod("pinned", func(p *corev1.Pod) { p.Annotations = map[string]string{v1alpha5.AnnotationDoNotEvict: "true"} }),
		pod("done", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }),
	)
	res := h.reconcile()
	n, ok := h.node()
	if !ok || !n.Spec.Unschedulable {
		t.Fatal("node not cordoned")
	}
	for _, name := range []string{"web", "pinned"} {
		if h.podExists(name) {
			t.Errorf("pod %s not evicted", name)
		}
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
	err := h.kube.Get(context.Background(), types.NamespacedName{Name: "default-abcde"}, &karpv1.NodeClaim{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the node's claim outlives it: %v", err)
	}
}

func TestEvictionBlockedByPDB(t *testing.T) {
	funcs := &interceptor.Funcs{SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj client.Object, so client.Object, opts ...client.SubResourceCreateOption) error {
		if sub == "eviction" {
			return apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
		}
		return c.SubResource(sub).Create(ctx, obj, so, opts...)
	}}
	h := newHarness(t, options{funcs: funcs}, pod("web"))
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

func critical(p *corev1.Pod) { p.Spec.PriorityClassName = SystemNodeCritical }

// Critical pods are evicted only once every other pod is gone.
func TestCriticalPodsAreEvictedLast(t *testing.T) {
	h := newHarness(t, options{}, pod("web"), pod("dns", critical), pod("proxy", func(p *corev1.Pod) { p.Spec.PriorityClassName = SystemClusterCritical }))
	h.reconcile()
	if h.podExists("web") || !h.podExists("dns") || !h.podExists("proxy") {
		t.Fatalf("first pass: web %v dns %v proxy %v; want only web evicted", h.podExists("web"), h.podExists("dns"), h.podExists("proxy"))
	}
	h.reconcile()
	if h.podExists("dns") || h.podExists("proxy") {
		t.Fatal("critical pods not evicted once the others were gone")
	}
	if h.instances() != 1 {
		t.Fatal("instance terminated before the critical pods were gone")
	}
	h.reconcile()
	if _, ok := h.node(); ok || h.instances() != 0 {
		t.Fatal("node not finalized after the drain")
	}
}

// A pod that was evicted but whose kubelet never confirms it (dead kubelet) holds the node for
// its grace period only.
func TestStuckTerminatingPodsAreNotWaitedOn(t *testing.T) {
	h := newHarness(t, options{}, pod("orphan", func(p *corev1.Pod) {
		p.Finalizers = []string{"example.com/kubelet-never-confirms"} // the fake client needs one to store a deleting pod
	}))
	// The API server sets deletionTimestamp = request time + grace (30 s).
	p := &corev1.Pod{}
	if err := h.kube.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "orphan"}, p); err != nil {
		t.Fatal(err)
	}
	if err := h.kube.Delete(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if err := h.kube.Get(context.Background(), types.NamespacedName{Namespace: "default", Name: "orphan"}, p); err != nil {
		t.Fatal(err)
	}
	h.clk.SetTime(p.DeletionTimestamp.Add(-30 * time.Second))
	res := h.reconcile()
	if res.RequeueAfter <= 0 || res.RequeueAfter > DrainPoll || h.instances() != 1 {
		t.Fatalf("within the grace: requeue %v, instances %d; want to wait", res.RequeueAfter, h.instances())
	}
	h.clk.Step(30 * time.Second)
	h.reconcile()
	if h.instances() != 0 {
		t.Fatal("instance not terminated although the only pod is terminating past its grace")
	}
	if _, ok := h.node(); ok {
		t.Fatal("finalizer not removed: the node hangs on a pod its kubelet will never confirm")
	}
}

func alwaysRefuse() *interceptor.Funcs {
	return &interceptor.Funcs{SubResourceCreate: func(ctx context.Context, c client.Client, sub string, obj client.Object, so client.Object, opts ...client.SubResourceCreateOption) error {
		if sub == "eviction" {
			return apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
		}
		return c.SubResource(sub).Create(ctx, obj, so, opts...)
	}}
}

// A PodDisruptionBudget that never allows eviction blocks the node until the provisioner's
// terminationGracePeriod, then the pods are deleted and the node goes.
func TestGracePeriodEndsABlockedDrain(t *testing.T) {
	grace := time.Minute
	h := newHarness(t, options{funcs: alwaysRefuse(), grace: &grace}, pod("web"), pod("dns", critical))
	if res := h.reconcile(); res.RequeueAfter != EvictionRetry {
		t.Fatalf("requeue = %v, want %v", res.RequeueAfter, EvictionRetry)
	}
	h.clk.Step(58 * time.Second)
	if res := h.reconcile(); res.RequeueAfter != 2*time.Second {
		t.Fatalf("requeue = %v, want the 2 s left of the grace period", res.RequeueAfter)
	}
	if !h.podExists("web") || h.instances() != 1 {
		t.Fatal("pods or instance gone before the grace period")
	}
	h.clk.Step(2 * time.Second)
	h.reconcile()
	if h.podExists("web") || h.podExists("dns") {
		t.Error("pods not deleted after the grace period")
	}
	if _, ok := h.node(); ok || h.instances() != 0 {
		t.Fatal("node or instance left after the grace period")
	}
}

// Without a grace period the same PDB blocks for ever (Karpenter v1's default).
func TestNoGracePeriodWaitsForEvictions(t *testing.T) {
	h := newHarness(t, options{funcs: alwaysRefuse()}, pod("web"))
	h.clk.Step(1000 * time.Hour)
	if res := h.reconcile(); res.RequeueAfter != EvictionRetry || !h.podExists("web") || h.instances() != 1 {
		t.Fatalf("requeue %v, pod %v, instances %d: want to keep waiting", res.RequeueAfter, h.podExists("web"), h.instances())
	}
}

// The grace period copied onto the node applies when the Provisioner is gone (terraform
// destroy removes Provisioners before it deletes the nodes).
func TestGracePeriodFromNodeAnnotation(t *testing.T) {
	h := newHarness(t, options{funcs: alwaysRefuse(), noProvisioner: true,
		annotations: map[string]string{v1alpha5.AnnotationTerminationGracePeriod: "30s"}}, pod("web"))
	h.reconcile()
	h.clk.Step(30 * time.Second)
	h.reconcile()
	if _, ok := h.node(); ok || h.podExists("web") {
		t.Fatal("the annotated grace period was not applied")
	}
}

// The finalizer stays until the cloud reports the instance gone, not when TerminateInstances is
// accepted.
func TestFinalizerWaitsForTheInstanceToGo(t *testing.T) {
	h := newHarness(t, options{})
	h.cloud.linger = 3
	if res := h.reconcile(); res.RequeueAfter != InstancePoll {
		t.Fatalf("requeue = %v, want %v while the instance still runs", res.RequeueAfter, InstancePoll)
	}
	if _, ok := h.node(); !ok {
		t.Fatal("finalizer removed while the instance still runs")
	}
	h.reconcile() // still reported: TerminateInstances again (idempotent)
	if _, ok := h.node(); !ok {
		t.Fatal("finalizer removed while the instance still runs")
	}
	h.reconcile()
	if _, ok := h.node(); ok {
		t.Fatal("finalizer kept after the instance went")
	}
	if h.cloud.deletes < 2 {
		t.Errorf("TerminateInstances called %d times, want a retry while the instance lingers", h.cloud.deletes)
	}
}

// A live node gets its provisioner's terminationGracePeriod as an annotation, and loses it with it.
func TestLiveNodeCarriesGracePeriod(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = v1alpha5.AddToScheme(s)
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha5.ProvisionerSpec{TerminationGracePeriod: &metav1.Duration{Duration: 90 * time.Minute}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Finalizers: []string{v1alpha5.TerminationFinalizer},
		Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}}}
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(node, prov).WithIndex(&corev1.Pod{}, nodepods.IndexKey, nodepods.IndexFunc).Build()
	c := NewController(kube, cpfake.New(nil, nil), clocktesting.NewFakeClock(time.Now()), nil)
	get := func() *corev1.Node {
		if _, err := c.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "node-1"}}); err != nil {
			t.Fatal(err)
		}
		n := &corev1.Node{}
		_ = kube.Get(context.Background(), types.NamespacedName{Name: "node-1"}, n)
		return n
	}
	if got := get().Annotations[v1alpha5.AnnotationTerminationGracePeriod]; got != "1h30m0s" {
		t.Fatalf("annotation = %q, want 1h30m0s", got)
	}
	prov.Spec.TerminationGracePeriod = nil
	if err := kube.Update(context.Background(), prov); err != nil {
		t.Fatal(err)
	}
	if _, ok := get().Annotations[v1alpha5.AnnotationTerminationGracePeriod]; ok {
		t.Fatal("annotation kept after the provisioner dropped its grace period")
	}
}

// A Provisioner that exists decides: a stale annotation does not bring back a grace period the
// Provisioner no longer has.
func TestProvisionerWithoutGraceOverridesAnnotation(t *testing.T) {
	h := newHarness(t, options{funcs: alwaysRefuse(),
		annotations: map[string]string{v1alpha5.AnnotationTerminationGracePeriod: "30s"}}, pod("web"))
	h.reconcile()
	h.clk.Step(time.Hour)
	if res := h.reconcile(); res.RequeueAfter != EvictionRetry || !h.podExists("web") {
		t.Fatalf("requeue %v, pod %v: want to keep waiting (the provisioner has no grace period)", res.RequeueAfter, h.podExists("web"))
	}
}

// Node repair's karpenter.sh/termination-timestamp ends the drain at that time even where no
// grace period is set (a PDB that never allows eviction, a kubelet that confirms nothing): the
// pods are deleted at once and the node goes. A later timestamp than the grace period's end
// does not delay it, and an unparsable one is ignored.
func TestTerminationTimestampForcesTheDrain(t *testing.T) {
	h := newHarness(t, options{funcs: alwaysRefuse()}, pod("web"), pod("dns", critical))
	node, _ := h.node()
	orig := node.DeepCopy()
	node.Annotations = map[string]string{v1alpha5.AnnotationTerminationTimestamp: node.DeletionTimestamp.UTC().Format(time.RFC3339)}
	if err := h.kube.Patch(context.Background(), node, client.MergeFrom(orig)); err != nil {
		t.Fatal(err)
	}
	h.reconcile()
	if h.podExists("web") || h.podExists("dns") {
		t.Error("pods not deleted at the termination timestamp")
	}
	if _, ok := h.node(); ok || h.instances() != 0 {
		t.Fatal("node or instance left at the termination timestamp")
	}

	grace := time.Minute
	h = newHarness(t, options{funcs: alwaysRefuse(), grace: &grace, annotations: map[string]string{
		v1alpha5.AnnotationTerminationTimestamp: time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}}, pod("web"))
	h.clk.Step(time.Minute)
	h.reconcile()
	if _, ok := h.node(); ok {
		t.Fatal("a later termination timestamp delayed the end of the grace period")
	}

	h = newHarness(t, options{funcs: alwaysRefuse(), annotations: map[string]string{v1alpha5.AnnotationTerminationTimestamp: "soon"}}, pod("web"))
	h.clk.Step(time.Hour)
	if res := h.reconcile(); res.RequeueAfter != EvictionRetry || !h.podExists("web") {
		t.Fatalf("unparsable timestamp: requeue %v, pod %v; want to keep waiting", res.RequeueAfter, h.podExists("web"))
	}
}
