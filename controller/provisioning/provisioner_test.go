package provisioning

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	fakecp "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

type env struct {
	kube     client.Client
	cp       *fakecp.CloudProvider
	clk      *clocktesting.FakeClock
	recorder *record.FakeRecorder
	prov     *Provisioner
}

func newEnv(t *testing.T, objs ...client.Object) *env {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha5.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := karpv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	e := &env{clk: clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), recorder: record.NewFakeRecorder(1000)}
	e.kube = fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithStatusSubresource(&karpv1.NodeClaim{}).
		WithIndex(&karpv1.NodeClaim{}, ProviderIDIndex, ProviderIDIndexFunc).Build()
	e.cp = fakecp.New(e.clk, fakecp.Catalog(60))
	e.prov = NewProvisioner(e.kube, e.cp, e.clk, e.recorder, Options{})
	return e
}

func (e *env) events() []string {
	var out []string
	for {
		select {
		case ev := <-e.recorder.Events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func pendingPod(name, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "pause", Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}},
	}
}

func defaultProvisioner() *v1alpha5.Provisioner {
	return &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}, Spec: v1alpha5.ProvisionerSpec{
		Requirements:  []v1alpha5.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"spot"}}},
		Labels:        map[string]string{"team": "web"},
		Taints:        []corev1.Taint{{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule}},
		StartupTaints: []corev1.Taint{{Key: "agent", Effect: corev1.TaintEffectNoSchedule}},
	}}
}

func tolerating(p *corev1.Pod) *corev1.Pod {
	p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule}}
	return p
}

// registerNode creates the Node an instance registers as (as the sandbox/kubelet would), with
// the not-ready and startup taints a booting node has.
func (e *env) registerNode(t *testing.T, n *cloudprovider.Node, labels map[string]string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: labels},
		Spec: corev1.NodeSpec{ProviderID: n.ProviderID, Taints: []corev1.Taint{
			{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule},
			{Key: "agent", Effect: corev1.TaintEffectNoSchedule},
			{Key: "dedicated", Value: "web", Effect: corev1.TaintEffectNoSchedule}}},
		Status: corev1.NodeStatus{Capacity: n.Capacity, Allocatable: n.Allocatable},
	}
	if err := e.kube.Create(context.Background(), node); err != nil {
		t.Fatal(err)
	}
	return node
}

func TestProvisionLaunchesOnceAndRegisters(t *testing.T) {
	ctx := context.Background()
	objs := []client.Object{defaultProvisioner()}
	for i := range 3 {
		objs = append(objs, tolerating(pendingPod(fmt.Sprintf("web-%d", i), "1", "1Gi")))
	}
	objs = append(objs, unprovisionablePods()...)
	e := newEnv(t, objs...)

	res, err := e.prov.Provision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	launched := assertOneSpotLaunch(t, e, res)
	assertNominated(t, e, launched.Name, 3)

	// Second batch: the pods are still pending, the in-flight node holds them.
	e.assertBatchOnExisting(t, "second batch", 3)

	// The instance registers without the well-known labels; registration adds them and the finalizer.
	e.registerNode(t, launched, map[string]string{"team": "web"})
	if _, err := NewRegistration(e.kube).Reconcile(ctx, reconcile.Request{NamespacedName: types.NamespacedName{Name: launched.Name}}); err != nil {
		t.Fatal(err)
	}
	e.assertRegistered(t, launched)

	// Third batch: the registered (not yet ready, startup-tainted) node holds the pods.
	e.assertBatchOnExisting(t, "third batch", 3)
}

// unprovisionablePods returns pending pods the provisioner must ignore although they tolerate
// the default provisioner: one bound to a node, one owned by a DaemonSet and one the scheduler
// has not marked unschedulable yet.
func unprovisionablePods() []client.Object {
	bound := tolerating(pendingPod("bound", "1", "1Gi"))
	bound.Spec.NodeName = "elsewhere"
	ds := tolerating(pendingPod("ds", "1", "1Gi"))
	ds.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "DaemonSet", Name: "d", UID: "u", Controller: ptr.To(true)}}
	fresh := tolerating(pendingPod("fresh", "1", "1Gi"))
	fresh.Status.Conditions = nil
	return []client.Object{bound, ds, fresh}
}

// assertOneSpotLaunch checks that the batch res counted the 3 pending pods and launched them
// with a single Create call whose request carries the default provisioner's labels, taints
// (startup taints last) and spot requirement, and returns the launched node.
func assertOneSpotLaunch(t *testing.T, e *env, res *BatchResult) *cloudprovider.Node {
	t.Helper()
	calls := e.cp.CreateCalls()
	if res.Pending != 3 || len(calls) != 1 || len(res.Launched) != 1 {
		t.Fatalf("pending %d, create calls %d, launched %d; want 3, 1, 1", res.Pending, len(calls), len(res.Launched))
	}
	req := calls[0]
	if req.Labels[v1alpha5.LabelProvisionerName] != "default" || req.Labels["team"] != "web" || req.Labels[v1alpha5.LabelCapacityType] != "spot" {
		t.Fatalf("request labels %v", req.Labels)
	}
	if len(req.Taints) != 2 || req.Taints[0].Key != "dedicated" || req.Taints[1].Key != "agent" {
		t.Fatalf("request taints %v", req.Taints)
	}
	foundCT := false
	for _, r := range req.Requirements {
		foundCT = foundCT || (r.Key == v1alpha5.LabelCapacityType && r.Operator == corev1.NodeSelectorOpIn && len(r.Values) == 1 && r.Values[0] == "spot")
	}
	if !foundCT || len(req.InstanceTypeOptions) == 0 {
		t.Fatalf("requirements %v, %d options", req.Requirements, len(req.InstanceTypeOptions))
	}
	launched := res.Launched[0].Node
	if launched.CapacityType != "spot" {
		t.Fatalf("launched %+v", launched)
	}
	return launched
}

// assertNominated checks that want Nominated events name the launched node nodeName.
func assertNominated(t *testing.T, e *env, nodeName string, want int) {
	t.Helper()
	nominated := 0
	for _, ev := range e.events() {
		if strings.HasPrefix(ev, "Normal Nominated Launched node "+nodeName) {
			nominated++
		}
	}
	if nominated != want {
		t.Fatalf("want %d Nominated events, got %d", want, nominated)
	}
}

// assertBatchOnExisting runs one more batch and checks that it launched nothing (still one
// Create call in all) and put onExisting pods on existing or in-flight nodes.
func (e *env) assertBatchOnExisting(t *testing.T, batch string, onExisting int) {
	t.Helper()
	res, err := e.prov.Provision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(e.cp.CreateCalls()) != 1 || res.OnExisting != onExisting {
		t.Fatalf("%s: create calls %d, on existing %d; want 1, %d", batch, len(e.cp.CreateCalls()), res.OnExisting, onExisting)
	}
}

// assertRegistered checks that the Node of launched got the well-known labels from the
// in-flight record and the termination finalizer, and that the in-flight record is cleared.
func (e *env) assertRegistered(t *testing.T, launched *cloudprovider.Node) {
	t.Helper()
	var node corev1.Node
	if err := e.kube.Get(context.Background(), types.NamespacedName{Name: launched.Name}, &node); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{v1alpha5.LabelProvisionerName: "default", v1alpha5.LabelCapacityType: "spot",
		v1alpha5.LabelInstanceType: launched.InstanceType, v1alpha5.LabelZone: launched.Zone}
	for k, v := range want {
		if node.Labels[k] != v {
			t.Fatalf("node label %s = %q, want %q (labels %v)", k, node.Labels[k], v, node.Labels)
		}
	}
	if len(node.Finalizers) != 1 || node.Finalizers[0] != v1alpha5.TerminationFinalizer {
		t.Fatalf("finalizers %v", node.Finalizers)
	}
	claims := e.claims(t)
	if len(claims) != 1 {
		t.Fatalf("%d node claims, want 1", len(claims))
	}
	c := claims[0]
	if c.Status.ProviderID != launched.ProviderID || c.Status.NodeName != launched.Name || !c.IsTrue(karpv1.ConditionLaunched) ||
		!c.IsTrue(karpv1.ConditionRegistered) || c.IsTrue(karpv1.ConditionInitialized) {
		t.Fatalf("claim status %+v", c.Status)
	}
	if len(node.OwnerReferences) != 1 || node.OwnerReferences[0].Kind != "NodeClaim" || node.OwnerReferences[0].Name != c.Name {
		t.Fatalf("node owner references %+v", node.OwnerReferences)
	}
	if c.Labels[v1alpha5.LabelInstanceType] != launched.InstanceType || c.Labels["team"] != "web" || c.Spec.ProvisionerName != "default" {
		t.Fatalf("claim labels %v", c.Labels)
	}
}

// claims returns the NodeClaims in the API server.
func (e *env) claims(t *testing.T) []karpv1.NodeClaim {
	t.Helper()
	var list karpv1.NodeClaimList
	if err := e.kube.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// A claim whose Node does not register within the registration timeout is deleted with its
// instance, and the next batch plans its pods on a new claim; before the timeout the claim
// holds them and nothing is launched again.
func TestRegistrationTimeout(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	if _, err := e.prov.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	claim := e.claims(t)[0]
	// The fake client does not stamp creation times; the claim was created "now".
	claim.CreationTimestamp = metav1.NewTime(e.clk.Now())
	if err := e.kube.Update(ctx, &claim); err != nil {
		t.Fatal(err)
	}
	life := NewLifecycle(e.kube, e.cp, e.clk, e.recorder, nil, 0)
	req := reconcile.Request{NamespacedName: types.NamespacedName{Name: claim.Name}}
	e.clk.Step(DefaultRegistrationTimeout - time.Second)
	res, err := life.Reconcile(ctx, req)
	if err != nil || res.RequeueAfter != time.Second {
		t.Fatalf("before the timeout: %+v %v; want a requeue after 1s", res, err)
	}
	if _, err := e.prov.Provision(ctx); err != nil || len(e.cp.CreateCalls()) != 1 {
		t.Fatalf("before the timeout: %v, %d calls", err, len(e.cp.CreateCalls()))
	}
	e.clk.Step(time.Second)
	if _, err := life.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := len(e.claims(t)); n != 0 {
		t.Fatalf("%d claims after the registration timeout, want 0", n)
	}
	if insts, _ := e.cp.List(ctx); len(insts) != 0 {
		t.Fatalf("instance of the timed-out claim not terminated: %+v", insts[0])
	}
	if _, err := e.prov.Provision(ctx); err != nil || len(e.cp.CreateCalls()) != 2 {
		t.Fatalf("after the timeout: %v, %d calls; want a new launch", err, len(e.cp.CreateCalls()))
	}
}

// TestRegistrationTimeoutAfterLaunching: a claim reconciled while the provisioning loop was
// still launching it (its creation and launch events arrive then) is looked at again, so it
// still times out when its Node never registers and no other event comes.
func TestRegistrationTimeoutAfterLaunching(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	if _, err := e.prov.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	claim := e.claims(t)[0]
	claim.CreationTimestamp = metav1.NewTime(e.clk.Now())
	if err := e.kube.Update(ctx, &claim); err != nil {
		t.Fatal(err)
	}
	launching := newNameSet()
	launching.Add(claim.Name)
	life := NewLifecycle(e.kube, e.cp, e.clk, e.recorder, launching, time.Minute)
	req := reconcile.Request{NamespacedName: types.NamespacedName{Name: claim.Name}}
	res, err := life.Reconcile(ctx, req)
	if err != nil || res.RequeueAfter <= 0 {
		t.Fatalf("claim being launched: %+v %v; want a requeue (no other event may come)", res, err)
	}
	launching.Remove(claim.Name)
	e.clk.Step(time.Minute)
	if _, err := life.Reconcile(ctx, req); err != nil {
		t.Fatal(err)
	}
	if n := len(e.claims(t)); n != 0 {
		t.Fatalf("%d claims after the registration timeout, want 0", n)
	}
}

func TestUnfittablePodGetsEventAndNoLaunch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("huge", "900", "1Gi")), pendingPod("untolerated", "1", "1Gi"))
	res, err := e.prov.Provision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.cp.CreateCalls()) != 0 || len(res.Unschedulable) != 2 {
		t.Fatalf("create calls %d, unschedulable %d", len(e.cp.CreateCalls()), len(res.Unschedulable))
	}
	evs := strings.Join(e.events(), "\n")
	for _, want := range []string{
		"Warning FailedProvisioning Cannot provision a node: provisioner default: no instance type satisfies requests cpu=900",
		"Warning FailedProvisioning Cannot provision a node: provisioner default: does not tolerate taint dedicated=web:NoSchedule",
	} {
		if !strings.Contains(evs, want) {
			t.Fatalf("events %q\nmissing %q", evs, want)
		}
	}
}

func TestInsufficientCapacityRetriesWithRefreshedTypes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	// Find the pool the fake would pick first and make it fail.
	if _, err := e.prov.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	first := e.cp.CreateCalls()[0]
	nodes, _ := e.cp.List(ctx)
	pool := fakecp.Pool(nodes[0].InstanceType, nodes[0].Zone, nodes[0].CapacityType)

	e2 := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	e2.cp.SetInsufficientCapacity(pool)
	res, err := e2.prov.Provision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	calls := e2.cp.CreateCalls()
	if len(calls) != 2 || len(res.Launched) != 1 {
		t.Fatalf("create calls %d, launched %d; want 2 (ICE then retry), 1", len(calls), len(res.Launched))
	}
	got := res.Launched[0].Node
	if fakecp.Pool(got.InstanceType, got.Zone, got.CapacityType) == pool {
		t.Fatalf("relaunched in the failed pool %s", pool)
	}
	if len(first.InstanceTypeOptions) == 0 {
		t.Fatal("no options")
	}
}

func TestCloudErrorIsReturnedAndReported(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	e.cp.CreateErr = errors.New("RequestLimitExceeded: throttled")
	if _, err := e.prov.Provision(ctx); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("got %v", err)
	}
	if evs := strings.Join(e.events(), "\n"); !strings.Contains(evs, "Warning FailedProvisioning Launching a node failed: RequestLimitExceeded") {
		t.Fatalf("events %q", evs)
	}
	if n := len(e.claims(t)); n != 0 {
		t.Fatalf("failed launch left %d node claims", n)
	}
	e.cp.CreateErr = nil
	e.cp.GetInstanceTypesErr = errors.New("DescribeInstanceTypes: 500")
	if _, err := e.prov.Provision(ctx); err == nil || !strings.Contains(err.Error(), "getting instance types for provisioner default") {
		t.Fatalf("got %v", err)
	}
}

func TestStartRetriesFailedBatchWithBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	e.cp.CreateErr = errors.New("throttled")
	done := make(chan error, 1)
	go func() { done <- e.prov.Start(ctx) }()
	e.prov.Trigger()
	waitCalls := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(e.cp.CreateCalls()) < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d create calls, want %d", len(e.cp.CreateCalls()), n)
			}
			// Step the fake clock through batch windows and backoff; each step is small.
			e.clk.Step(100 * time.Millisecond)
			time.Sleep(time.Millisecond)
		}
	}
	waitCalls(1)
	e.cp.CreateErr = nil
	waitCalls(2) // retried without any new pod event
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(e.claims(t)); n != 1 {
		t.Fatalf("retry left %d node claims, want 1", n)
	}
}

func TestIsProvisionable(t *testing.T) {
	p := pendingPod("p", "1", "1Gi")
	if !IsProvisionable(p) {
		t.Fatal("pending unschedulable pod")
	}
	terminating := p.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	other := p.DeepCopy()
	other.Status.Conditions[0].Reason = "SchedulingGated"
	done := p.DeepCopy()
	done.Status.Phase = corev1.PodSucceeded
	for name, pod := range map[string]*corev1.Pod{"terminating": terminating, "gated": other, "succeeded": done} {
		if IsProvisionable(pod) {
			t.Errorf("%s pod is provisionable", name)
		}
	}
}

// readyNode registers launched as a Ready Node with exactly labels, as kwok/the kubelet would.
func (e *env) readyNode(t *testing.T, launched *cloudprovider.Node, labels map[string]string) {
	t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: launched.Name, Labels: labels},
		Spec:       corev1.NodeSpec{ProviderID: launched.ProviderID},
		Status: corev1.NodeStatus{Capacity: launched.Capacity, Allocatable: launched.Allocatable, Conditions: []corev1.NodeCondition{{
			Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(e.clk.Now())}}},
	}
	if err := e.kube.Create(context.Background(), node); err != nil {
		t.Fatal(err)
	}
}

// TestDisagreementBoundsLaunches gives the provisioner a deliberately wrong solver: it drops
// the pod's nodeSelector (team=db) and ignores existing nodes, so every batch it would launch
// another node that kube-scheduler refuses. The pod stays pending (nothing binds it here, as
// kube-scheduler would not). Over 2 minutes of batches every 5 s, the disagreement tracker must
// hold launches to one per backoff period, emit a SchedulingDisagreement Event naming the node
// and the unmet constraint, and never plan the pod on a refused node again.
func TestDisagreementBoundsLaunches(t *testing.T) {
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	picky := pendingPod("picky", "1", "1Gi")
	picky.UID = "uid-picky"
	picky.Spec.NodeSelector = map[string]string{"team": "db"}
	e := newEnv(t, prov, picky)
	wrong := func(in scheduling.Input) *scheduling.Result {
		var stripped []*corev1.Pod
		orig := map[string]*corev1.Pod{}
		for _, p := range in.Pods {
			c := p.DeepCopy()
			c.Spec.NodeSelector = nil
			stripped = append(stripped, c)
			orig[c.Name] = p
		}
		in.Pods, in.Nodes = stripped, nil
		res := scheduling.Solve(in)
		for _, c := range res.NewNodes {
			for i, p := range c.Pods {
				c.Pods[i] = orig[p.Name]
			}
		}
		for i := range res.Errors {
			res.Errors[i].Pod = orig[res.Errors[i].Pod.Name]
		}
		return res
	}
	e.prov = NewProvisioner(e.kube, e.cp, e.clk, e.recorder, Options{Solve: wrong})
	ctx := context.Background()
	registered := map[string]bool{}
	for range 24 {
		if _, err := e.prov.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		nodes, _ := e.cp.List(ctx)
		for _, n := range nodes {
			if !registered[n.Name] {
				registered[n.Name] = true
				e.readyNode(t, n, map[string]string{v1alpha5.LabelProvisionerName: "default"})
			}
		}
		e.clk.Step(5 * time.Second)
	}
	// Launch at 0 s; judged at 30 s (grace), backoff 30 s -> launch at 60 s; judged at 90 s,
	// backoff 60 s -> the next launch would be at 150 s, after the 120 s run.
	if got := len(e.cp.CreateCalls()); got < 1 || got > 2 {
		t.Fatalf("%d launches in 2 minutes for one pod a wrong solver misplaces; want at most 2", got)
	}
	var disagreements []string
	for _, ev := range e.events() {
		if strings.Contains(ev, ReasonSchedulingDisagreement) {
			disagreements = append(disagreements, ev)
		}
	}
	if len(disagreements) == 0 {
		t.Fatal("no SchedulingDisagreement event")
	}
	if !strings.Contains(disagreements[0], "team") || !strings.Contains(disagreements[0], "ip-") {
		t.Errorf("the event should name the node and the unmet constraint (team In [db]): %s", disagreements[0])
	}
}

// TestFilledPlannedNodeReleasesThePod: kube-scheduler may fill the node launched for a pod with
// other pods (it packs differently from the solver). The pod then needs capacity elsewhere and
// gets a new node in the next batch, without waiting for the disagreement grace.
func TestFilledPlannedNodeReleasesThePod(t *testing.T) {
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	waiting := pendingPod("waiting", "1", "1Gi")
	waiting.UID = "uid-waiting"
	e := newEnv(t, prov, waiting)
	ctx := context.Background()
	if _, err := e.prov.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	nodes, _ := e.cp.List(ctx)
	if len(nodes) != 1 {
		t.Fatalf("%d launches, want 1", len(nodes))
	}
	e.readyNode(t, nodes[0], map[string]string{v1alpha5.LabelProvisionerName: "default"})
	filler := pendingPod("filler", "1", "1Gi")
	filler.Spec.NodeName = nodes[0].Name
	filler.Spec.Containers[0].Resources.Requests = nodes[0].Allocatable.DeepCopy()
	filler.Status = corev1.PodStatus{Phase: corev1.PodRunning}
	if err := e.kube.Create(ctx, filler); err != nil {
		t.Fatal(err)
	}
	e.clk.Step(5 * time.Second)
	res, err := e.prov.Provision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.cp.CreateCalls()); got != 2 || res.Held != 0 {
		t.Fatalf("after its node filled up: %d launches (want 2), %d pods held (want 0), errors %v", got, res.Held, res.Unschedulable)
	}
}

func TestDecisionDurationSpansSolveAndLaunches(t *testing.T) {
	e := newEnv(t, defaultProvisioner(), tolerating(pendingPod("a", "1", "1Gi")))
	e.prov.opts.Solve = func(in scheduling.Input) *scheduling.Result {
		e.clk.Step(2 * time.Second) // the solver's time, on the fake clock
		return scheduling.Solve(in)
	}
	res, err := e.prov.Provision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.SolveDuration != 2*time.Second || res.DecisionDuration < res.SolveDuration || len(res.Launched) != 1 {
		t.Fatalf("solve %v, decision %v, %d launched", res.SolveDuration, res.DecisionDuration, len(res.Launched))
	}
	// Start observes every batch that saw pending pods.
	before := sampleCount(t, metrics.DecisionDuration)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.prov.Start(ctx) }()
	e.prov.Trigger()
	deadline := time.Now().Add(5 * time.Second)
	for sampleCount(t, metrics.DecisionDuration) == before && time.Now().Before(deadline) {
		e.clk.Step(100 * time.Millisecond)
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if sampleCount(t, metrics.DecisionDuration) == before {
		t.Fatal("no decision duration observed for a batch with a pending pod")
	}
}

func sampleCount(t *testing.T, h prometheus.Histogram) uint64 {
	t.Helper()
	m := &dto.Metric{}
	if err := h.Write(m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// TestDisagreementReasonNamesKubeSchedulersConstraint: a constraint that depends on the other
// pods (here topology spread, which the solver models) cannot be told from the node alone; the
// SchedulingDisagreement Event then names what kube-scheduler reported for the pod instead of
// claiming a constraint the solver does not model.
func TestDisagreementReasonNamesKubeSchedulersConstraint(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", Labels: map[string]string{v1alpha5.LabelZone: "us-east-1a"}}}
	pod := pendingPod("web", "1", "1Gi")
	pod.Status.Conditions[0].Message = "0/5 nodes are available: 2 node(s) didn't match pod topology spread constraints, 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/5 nodes are available: 5 Preemption is not helpful for scheduling."
	got := disagreementReason(pod, node, scheduling.Volumes{})
	want := "kube-scheduler reports: 0/5 nodes are available: 2 node(s) didn't match pod topology spread constraints, 3 node(s) didn't match Pod's node affinity/selector"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	pod.Status.Conditions[0].Message = ""
	if got := disagreementReason(pod, node, scheduling.Volumes{}); strings.Contains(got, "does not model") || !strings.Contains(got, "no reason yet") {
		t.Errorf("without kube-scheduler's report: %q", got)
	}
	// A constraint the node itself breaks is named first.
	pod.Spec.NodeSelector = map[string]string{v1alpha5.LabelZone: "us-east-1b"}
	if got := disagreementReason(pod, node, scheduling.Volumes{}); !strings.Contains(got, "us-east-1b") {
		t.Errorf("node selector not named: %q", got)
	}
}
