package provisioning

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

func TestStatusSumsNodeCapacity(t *testing.T) {
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	node := func(name, prov, cpu string) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("4Gi")}}}
		if prov != "" {
			n.Labels[v1alpha5.LabelProvisionerName] = prov
		}
		return n
	}
	kube := fake.NewClientBuilder().WithScheme(testScheme(t)).WithStatusSubresource(&v1alpha5.Provisioner{}).
		WithObjects(prov, node("a", "default", "2"), node("b", "default", "8"), node("static", "", "2"), node("c", "other", "4")).Build()
	s := NewStatus(kube)
	if _, err := s.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Name: "default"}}); err != nil {
		t.Fatal(err)
	}
	var got v1alpha5.Provisioner
	if err := kube.Get(context.Background(), types.NamespacedName{Name: "default"}, &got); err != nil {
		t.Fatal(err)
	}
	if cpu := got.Status.Resources[corev1.ResourceCPU]; cpu.Cmp(resource.MustParse("10")) != 0 {
		t.Fatalf("status cpu = %s, want 10", cpu.String())
	}
	if mem := got.Status.Resources[corev1.ResourceMemory]; mem.Cmp(resource.MustParse("8Gi")) != 0 {
		t.Fatalf("status memory = %s, want 8Gi", mem.String())
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha5.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
