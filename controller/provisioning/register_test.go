package provisioning

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	fakecp "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
)

// TestRegisterAgainstAPIServer runs the registered controllers in a manager against a real
// kube-apiserver + etcd (the binaries `make tools` puts in ./bin; skipped when absent):
// an Unschedulable pod leads to one launch, a Nominated Event, and the registering Node gets
// the finalizer and labels.
func TestRegisterAgainstAPIServer(t *testing.T) {
	cp := fakecp.New(nil, fakecp.Catalog(40))
	ctx, cancel, kube := runProvisioner(t, cp, Options{BatchIdleDuration: 200 * time.Millisecond, BatchMaxDuration: 2 * time.Second})
	defer cancel()
	createPendingPod(ctx, t, kube, pendingPod("inflate", "1", "1Gi"))

	eventually(t, 30*time.Second, "a launch", func() bool { return len(cp.CreateCalls()) > 0 })
	nodes, _ := cp.List(ctx)
	launched := nodes[0]
	eventually(t, 10*time.Second, "a Nominated event", func() bool {
		var evs corev1.EventList
		_ = kube.List(ctx, &evs, client.InNamespace("default"))
		for _, ev := range evs.Items {
			if ev.Reason == ReasonNominated && ev.InvolvedObject.Name == "inflate" {
				return true
			}
		}
		return false
	})

	if err := kube.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: launched.Name},
		Spec: corev1.NodeSpec{ProviderID: launched.ProviderID}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "node labels and finalizer", func() bool {
		var n corev1.Node
		if err := kube.Get(ctx, types.NamespacedName{Name: launched.Name}, &n); err != nil {
			return false
		}
		return len(n.Finalizers) == 1 && n.Labels[v1alpha5.LabelInstanceType] == launched.InstanceType &&
			n.Labels[v1alpha5.LabelProvisionerName] == "default"
	})
	assertInstanceTypeLabels(ctx, t, kube, cp, launched.Name, launched.InstanceType)
	if got := len(cp.CreateCalls()); got != 1 {
		t.Fatalf("%d launches for one pod", got)
	}
	// Stop the controllers, then drop the finalizer so the test env stops cleanly.
	cancel()
	var n corev1.Node
	if err := kube.Get(context.Background(), types.NamespacedName{Name: launched.Name}, &n); err == nil {
		n.Finalizers = nil
		_ = kube.Update(context.Background(), &n)
	}
}

// assertInstanceTypeLabels checks that Node name carries every label of instance type typeName,
// not only the ones a requirement fixed: a pod requiring karpenter.k8s.aws/instance-cpu Gt 0
// must be able to land on it.
func assertInstanceTypeLabels(ctx context.Context, t *testing.T, kube client.Client, cp *fakecp.CloudProvider, name, typeName string) {
	t.Helper()
	var registered corev1.Node
	if err := kube.Get(ctx, types.NamespacedName{Name: name}, &registered); err != nil {
		t.Fatal(err)
	}
	catalogue, err := cp.GetInstanceTypes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range catalogue {
		if it.Name != typeName {
			continue
		}
		if _, ok := it.Labels[v1alpha5.LabelInstanceCPU]; !ok {
			t.Fatalf("instance type %s has no %s label: the check proves nothing", it.Name, v1alpha5.LabelInstanceCPU)
		}
		for k, v := range it.Labels {
			if got, ok := registered.Labels[k]; !ok || got != v {
				t.Errorf("node label %s = %q (present %v), want %q from instance type %s", k, got, ok, v, it.Name)
			}
		}
		return
	}
	t.Fatalf("launched instance type %s is not in the catalogue", typeName)
}

// testWriter sends controller logs to the test log (shown with -v or on failure).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startAPIServer starts kube-apiserver + etcd (the binaries `make tools` puts in ./bin; the
// test is skipped when they are absent or with -short) with the controller's CRDs installed,
// and returns its config and a scheme with the core, Provisioner and NodeClaim types.
func startAPIServer(t *testing.T) (*rest.Config, *runtime.Scheme) {
	t.Helper()
	assets, _ := filepath.Abs(filepath.Join("..", "..", "bin"))
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		assets = os.Getenv("KUBEBUILDER_ASSETS")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			t.Skipf("%s not built in %s (make tools)", b, assets)
		}
	}
	if testing.Short() {
		t.Skip("starts an API server")
	}
	log.SetLogger(zap.New(zap.WriteTo(testWriter{t})))
	var defs []*apiextensionsv1.CustomResourceDefinition
	for _, manifest := range crds.All() {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(manifest, crd); err != nil {
			t.Fatal(err)
		}
		defs = append(defs, crd)
	}
	testEnv := &envtest.Environment{BinaryAssetsDirectory: assets, CRDs: defs}
	cfg, err := testEnv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testEnv.Stop() })
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha5.AddToScheme(scheme)
	_ = karpv1.AddToScheme(scheme)
	return cfg, scheme
}

// crashingCloud launches through the fake cloud and then never returns until its context
// ends: the controller "dies" after CreateFleet and before the claim records the launch.
type crashingCloud struct {
	*fakecp.CloudProvider
	launched chan struct{}
}

func (c *crashingCloud) Create(ctx context.Context, req *cloudprovider.NodeRequest) (*cloudprovider.Node, error) {
	if _, err := c.CloudProvider.Create(ctx, req); err != nil {
		return nil, err
	}
	select {
	case c.launched <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// runController starts the provisioning controllers on cloud in a manager of their own and
// returns a stop function that waits until the manager has stopped.
func runController(t *testing.T, cfg *rest.Config, scheme *runtime.Scheme, cloud cloudprovider.CloudProvider) func() {
	t.Helper()
	mgr, err := manager.New(cfg, manager.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	p := NewProvisioner(mgr.GetClient(), cloud, clock.RealClock{}, mgr.GetEventRecorderFor("karpenter"), //nolint:staticcheck // record.EventRecorder is the agreed API
		Options{BatchIdleDuration: 200 * time.Millisecond, BatchMaxDuration: 2 * time.Second})
	if err := p.Register(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = mgr.Start(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// The controller is stopped after CreateFleet launched an instance for a NodeClaim but before
// the claim recorded it; the restarted controller finds that instance (by the claim) instead
// of launching again: exactly one instance per claim, and no second claim for the pods.
func TestRestartBetweenLaunchAndRecord(t *testing.T) {
	cfg, scheme := startAPIServer(t)
	ctx := context.Background()
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cp := fakecp.New(nil, fakecp.Catalog(40))
	crashing := &crashingCloud{CloudProvider: cp, launched: make(chan struct{}, 1)}
	stop := runController(t, cfg, scheme, crashing)

	if err := kube.Create(ctx, &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a", "b", "c"} {
		createPendingPod(ctx, t, kube, pendingPod(name, "1", "1Gi"))
	}
	select {
	case <-crashing.launched:
	case <-time.After(30 * time.Second):
		t.Fatal("no launch")
	}
	stop() // the controller dies with the launch unrecorded
	claims := &karpv1.NodeClaimList{}
	if err := kube.List(ctx, claims); err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) == 0 {
		t.Fatal("no node claim survived the stop")
	}
	for _, c := range claims.Items {
		if c.Status.ProviderID != "" {
			t.Fatalf("claim %s recorded its launch before the stop", c.Name)
		}
	}
	before, _ := cp.List(ctx)

	stop = runController(t, cfg, scheme, cp)
	defer stop()
	eventually(t, ResumeAfter+30*time.Second, "every claim launched", func() bool {
		if err := kube.List(ctx, claims); err != nil || len(claims.Items) == 0 {
			return false
		}
		for _, c := range claims.Items {
			if !c.IsTrue(karpv1.ConditionLaunched) {
				return false
			}
		}
		return true
	})
	// Give the restarted provisioner a few batches to launch anything it would wrongly launch.
	time.Sleep(3 * time.Second)
	if err := kube.List(ctx, claims); err != nil {
		t.Fatal(err)
	}
	insts, _ := cp.List(ctx)
	perClaim := map[string]int{}
	for _, inst := range insts {
		perClaim[inst.ClaimName]++
	}
	for _, c := range claims.Items {
		if perClaim[c.Name] != 1 {
			t.Errorf("claim %s has %d instances, want 1", c.Name, perClaim[c.Name])
		}
	}
	if len(insts) != len(claims.Items) {
		t.Errorf("%d instances for %d claims (%d before the restart)", len(insts), len(claims.Items), len(before))
	}
	for _, inst := range before {
		found := false
		for _, c := range claims.Items {
			found = found || c.Status.ProviderID == inst.ProviderID
		}
		if !found {
			t.Errorf("instance %s launched before the stop was not adopted by its claim", inst.ProviderID)
		}
	}
}

// A claim deleted at its registration timeout frees its pod, which gets no event of its own
// (no kube-scheduler runs here, and a real one retries an unschedulable pod only on cluster
// events or after minutes): the claim's deletion alone must bring a new launch (found by a
// user trial: the pods waited 3.5 minutes for an unrelated event).
func TestPodsArePlannedAgainAfterRegistrationTimeout(t *testing.T) {
	cp := fakecp.New(nil, fakecp.Catalog(40))
	ctx, cancel, kube := runProvisioner(t, cp, Options{BatchIdleDuration: 200 * time.Millisecond, BatchMaxDuration: 2 * time.Second, RegistrationTimeout: 3 * time.Second})
	defer cancel()
	createPendingPod(ctx, t, kube, pendingPod("stuck", "1", "1Gi"))
	eventually(t, 30*time.Second, "a launch", func() bool { return len(cp.CreateCalls()) == 1 })
	// No Node registers: the claim goes after 3 s, and with it the first instance.
	eventually(t, 30*time.Second, "a second launch once the first claim timed out", func() bool { return len(cp.CreateCalls()) >= 2 })
	var claims karpv1.NodeClaimList
	if err := kube.List(ctx, &claims); err != nil {
		t.Fatal(err)
	}
	if len(claims.Items) > 1 {
		t.Fatalf("%d claims for one pod", len(claims.Items))
	}
}

// runProvisioner starts a real kube-apiserver, then a manager running a Provisioner with opts
// and cloud provider cp, and creates the Provisioner "default". It returns a context the
// returned cancel ends (stopping the manager) and a client of the API server.
func runProvisioner(t *testing.T, cp *fakecp.CloudProvider, opts Options) (context.Context, context.CancelFunc, client.Client) {
	t.Helper()
	cfg, scheme := startAPIServer(t)
	// Several tests of this process register the same controllers.
	mgr, err := manager.New(cfg, manager.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0",
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(true)}})
	if err != nil {
		t.Fatal(err)
	}
	p := NewProvisioner(mgr.GetClient(), cp, clock.RealClock{}, mgr.GetEventRecorderFor("karpenter"), opts) //nolint:staticcheck // record.EventRecorder is the agreed API
	if err := p.Register(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _ = mgr.Start(ctx) }()
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if err := kube.Create(ctx, &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		cancel()
		t.Fatal(err)
	}
	return ctx, cancel, kube
}

// createPendingPod creates pod, then writes its status (the API server ignores the status
// given on create), as kube-scheduler marks it Unschedulable.
func createPendingPod(ctx context.Context, t *testing.T, kube client.Client, pod *corev1.Pod) {
	t.Helper()
	status := pod.Status
	pod.Status = corev1.PodStatus{}
	if err := kube.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = status
	if err := kube.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
}
