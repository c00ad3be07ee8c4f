package garbagecollection

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	cpfake "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
)

func launch(t *testing.T, cloud *cpfake.CloudProvider) *cloudprovider.Node {
	t.Helper()
	types, _ := cloud.GetInstanceTypes(context.Background(), nil)
	n, err := cloud.Create(context.Background(), &cloudprovider.NodeRequest{
		Provisioner: &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, InstanceTypeOptions: types})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func nodeFor(name, providerID string, created time.Time) *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created),
			Labels: map[string]string{v1alpha5.LabelProvisionerName: "default"}},
		Spec: corev1.NodeSpec{ProviderID: providerID},
	}
}

func TestCollect(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	cloud := cpfake.New(clk, []*cloudprovider.InstanceType{cpfake.NewInstanceType(cpfake.InstanceTypeOptions{
		Name: "m5.large", CPU: 2, MemoryMi: 8192, Pods: 29, OnDemandPrice: 0.096, SpotRatio: 0.4, Zones: cpfake.Zones})})
	joined := launch(t, cloud)
	leaked := launch(t, cloud)
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(
		nodeFor("joined", joined.ProviderID, start),
		// A launched node whose instance disappeared (e.g. terminated out of band).
		nodeFor("orphan", "aws:///us-east-1a/i-gone", start),
		// A node the controller does not manage (static node group).
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "static", CreationTimestamp: metav1.NewTime(start)},
			Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-static"}},
	).Build()
	g := NewCollector(kube, checkingCloud{cloud}, clk)
	ctx := context.Background()

	terminated, err := g.collect(ctx)
	if err != nil || len(terminated) != 0 {
		t.Fatalf("within the grace period: terminated %v, err %v; want nothing", terminated, err)
	}
	if !exists(t, kube, "orphan") {
		t.Fatal("node deleted within the grace period")
	}
	clk.Step(DefaultGracePeriod)
	terminated, err = g.collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(terminated) != 1 || terminated[0] != leaked.ProviderID {
		t.Fatalf("terminated %v, want only the instance without a node %s", terminated, leaked.ProviderID)
	}
	left, _ := cloud.List(ctx)
	if len(left) != 1 || left[0].ProviderID != joined.ProviderID {
		t.Errorf("instances left = %v, want only %s", left, joined.ProviderID)
	}
	if exists(t, kube, "orphan") {
		t.Error("node without an instance not deleted")
	}
	if !exists(t, kube, "joined") || !exists(t, kube, "static") {
		t.Error("a node with an instance, or an unmanaged node, was deleted")
	}
}

func exists(t *testing.T, kube client.Client, name string) bool {
	t.Helper()
	err := kube.Get(context.Background(), types.NamespacedName{Name: name}, &corev1.Node{})
	return err == nil
}

// checkingCloud adds InstanceChecker to the fake cloud provider.
type checkingCloud struct{ *cpfake.CloudProvider }

func (c checkingCloud) Exists(ctx context.Context, providerID string) (bool, error) {
	l, err := c.List(ctx)
	for _, n := range l {
		if n.ProviderID == providerID {
			return true, err
		}
	}
	return false, err
}

func TestNodesKeptWithoutInstanceChecker(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(nodeFor("n", "aws:///us-east-1a/i-gone", clk.Now())).Build()
	g := NewCollector(kube, cpfake.New(clk, nil), clk)
	clk.Step(time.Hour)
	if _, err := g.collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !exists(t, kube, "n") {
		t.Error("node deleted without confirming its instance is gone")
	}
}
