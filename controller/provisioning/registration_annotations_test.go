package provisioning

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
)

// The provisioner's annotations, carried by the claim, reach the Node on registration; an
// annotation the Node already has is kept as it is.
func TestSyncFromClaimAnnotations(t *testing.T) {
	claim := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", UID: "u",
		Annotations: map[string]string{"example.com/owner": "platform", "example.com/kept": "claim"}}}
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Annotations: map[string]string{"example.com/kept": "node"}}}
	added, _ := syncFromClaim(node, claim)
	if node.Annotations["example.com/owner"] != "platform" || node.Annotations["example.com/kept"] != "node" {
		t.Errorf("node annotations = %v", node.Annotations)
	}
	if len(added) != 1 || added[0] != "example.com/owner" {
		t.Errorf("added = %v", added)
	}
	bare := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "m"}}
	if syncFromClaim(bare, claim); len(bare.Annotations) != 2 {
		t.Errorf("a node without annotations got %v", bare.Annotations)
	}
}
