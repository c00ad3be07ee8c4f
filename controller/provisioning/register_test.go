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
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	fakecp "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
	"github.com/nodeform/terraform-provider-karpenter/controller/state"
)

// TestRegisterAgainstAPIServer runs the registered controllers in a manager against a real
// kube-apiserver + etcd (the binaries `make tools` puts in ./bin; skipped when absent):
// an Unschedulable pod leads to one launch, a Nominated Event, and the registering Node gets
// the finalizer and labels.
func TestRegisterAgainstAPIServer(t *testing.T) {
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
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(crds.Provisioner, crd); err != nil {
		t.Fatal(err)
	}
	testEnv := &envtest.Environment{BinaryAssetsDirectory: assets, CRDs: []*apiextensionsv1.CustomResourceDefinition{crd}}
	cfg, err := testEnv.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = testEnv.Stop() }()

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha5.AddToScheme(scheme)
	mgr, err := manager.New(cfg, manager.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	cp := fakecp.New(nil, fakecp.Catalog(40))
	cluster := state.NewCluster(clock.RealClock{})
	p := NewProvisioner(mgr.GetClient(), cp, cluster, clock.RealClock{}, mgr.GetEventRecorderFor("karpenter"), //nolint:staticcheck // record.EventRecorder is the agreed API
		Options{BatchIdleDuration: 200 * time.Millisecond, BatchMaxDuration: 2 * time.Second})
	if err := p.Register(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = mgr.Start(ctx) }()

	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.Create(ctx, &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	pod := pendingPod("inflate", "1", "1Gi")
	status := pod.Status
	pod.Status = corev1.PodStatus{}
	if err := kube.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = status
	if err := kube.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}

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
