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

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	cpfake "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/fake"
)

func launch(t *testing.T, cloud *cpfake.CloudProvider, claim string) *cloudprovider.Node {
	t.Helper()
	types, _ := cloud.GetInstanceTypes(context.Background(), nil)
	n, err := cloud.Create(context.Background(), &cloudprovider.NodeRequest{ClaimName: claim,
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

func claimFor(name, uid, providerID string, created time.Time) *karpv1.NodeClaim {
	return &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, UID: types.UID(uid), CreationTimestamp: metav1.NewTime(created)},
		Spec: karpv1.NodeClaimSpec{ProvisionerName: "default"}, Status: karpv1.NodeClaimStatus{ProviderID: providerID}}
}

func TestCollect(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	cloud := cpfake.New(clk, []*cloudprovider.InstanceType{cpfake.NewInstanceType(cpfake.InstanceTypeOptions{
		Name: "m5.large", CPU: 2, MemoryMi: 8192, Pods: 29, OnDemandPrice: 0.096, SpotRatio: 0.4, Zones: cpfake.Zones})})
	claimed := launch(t, cloud, "kept")
	unclaimed := launch(t, cloud, "deleted-claim")
	legacyJoined := launch(t, cloud, "")
	legacyLeaked := launch(t, cloud, "")
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = karpv1.AddToScheme(s)
	owned := nodeFor("owned", "aws:///us-east-1a/i-owned", start)
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "karpenter.sh/v1", Kind: "NodeClaim", Name: "gone", UID: "uid-gone"}}
	kept := nodeFor("kept", claimed.ProviderID, start)
	kept.OwnerReferences = []metav1.OwnerReference{{APIVersion: "karpenter.sh/v1", Kind: "NodeClaim", Name: "kept", UID: "uid-kept"}}
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(
		claimFor("kept", "uid-kept", claimed.ProviderID, start),
		// A launched claim whose instance disappeared (spot interruption, terminated out of band).
		claimFor("lost", "uid-lost", "aws:///us-east-1a/i-lost", start),
		// A claim not launched yet: nothing to check.
		claimFor("unlaunched", "uid-unlaunched", "", start),
		kept,
		nodeFor("joined", legacyJoined.ProviderID, start),
		// A node whose claim was deleted.
		owned,
		// A launched node whose instance disappeared.
		nodeFor("orphan", "aws:///us-east-1a/i-gone", start),
		// A node the controller does not manage (static node group).
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "static", CreationTimestamp: metav1.NewTime(start)},
			Spec: corev1.NodeSpec{ProviderID: "aws:///us-east-1a/i-static"}},
	).Build()
	g := NewCollector(kube, cloud, clk)
	ctx := context.Background()

	terminated, err := g.collect(ctx)
	if err != nil || len(terminated) != 0 {
		t.Fatalf("within the grace period: terminated %v, err %v; want nothing", terminated, err)
	}
	if !exists(t, kube, "orphan", &corev1.Node{}) || !exists(t, kube, "owned", &corev1.Node{}) || !exists(t, kube, "lost", &karpv1.NodeClaim{}) {
		t.Fatal("node or claim deleted within the grace period")
	}
	clk.Step(DefaultGracePeriod)
	terminated, err = g.collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(terminated) != 1 || terminated[0] != unclaimed.ProviderID {
		t.Fatalf("terminated %v, want only the instance whose claim is gone %s", terminated, unclaimed.ProviderID)
	}
	for name, obj := range map[string]client.Object{"orphan": &corev1.Node{}, "owned": &corev1.Node{}, "lost": &karpv1.NodeClaim{}} {
		if exists(t, kube, name, obj) {
			t.Errorf("%T %s not deleted", obj, name)
		}
	}
	for name, obj := range map[string]client.Object{"kept": &corev1.Node{}, "joined": &corev1.Node{}, "static": &corev1.Node{},
		"unlaunched": &karpv1.NodeClaim{}} {
		if !exists(t, kube, name, obj) {
			t.Errorf("%T %s deleted", obj, name)
		}
	}
	// An instance launched before NodeClaims (no claim tag) keeps the old rule: terminated when
	// no Node has registered for it LegacyGracePeriod after launch.
	clk.Step(LegacyGracePeriod - DefaultGracePeriod)
	if terminated, err = g.collect(ctx); err != nil || len(terminated) != 1 || terminated[0] != legacyLeaked.ProviderID {
		t.Fatalf("terminated %v (%v), want only %s", terminated, err, legacyLeaked.ProviderID)
	}
	left, _ := cloud.List(ctx)
	if len(left) != 2 {
		t.Errorf("instances left = %v, want the claimed one and the legacy one with a node", left)
	}
}

func exists(t *testing.T, kube client.Client, name string, obj client.Object) bool {
	t.Helper()
	err := kube.Get(context.Background(), types.NamespacedName{Name: name}, obj)
	return err == nil
}
