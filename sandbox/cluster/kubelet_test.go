package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

// StopKubelet takes the node's Lease over for a day (kwok then leaves the node alone) and
// fails clearly for a node without a Lease or without a name. The effect on a running cluster
// (the node turning Ready=Unknown, its pods never confirmed) is test/faults' TestDeadKubelet.
func TestStopKubeletTakesTheLeaseOver(t *testing.T) {
	old := metav1.NewMicroTime(time.Now().Add(-time.Minute))
	kube := fake.NewClientset(&coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-0-1.ec2.internal", Namespace: corev1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("kwok-controller"), LeaseDurationSeconds: ptr.To[int32](40),
			RenewTime: &old, LeaseTransitions: ptr.To[int32](2)}})
	ctx := context.Background()
	if err := StopKubelet(ctx, kube, "ip-10-0-0-1.ec2.internal"); err != nil {
		t.Fatal(err)
	}
	l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "ip-10-0-0-1.ec2.internal", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Deref(l.Spec.HolderIdentity, "") != DeadKubeletHolder || ptr.Deref(l.Spec.LeaseDurationSeconds, 0) != 86400 ||
		!l.Spec.RenewTime.After(old.Time) || ptr.Deref(l.Spec.LeaseTransitions, 0) != 3 {
		t.Errorf("lease spec = %+v", l.Spec)
	}
	if err := StopKubelet(ctx, kube, "ip-10-0-0-2.ec2.internal"); err == nil || !strings.Contains(err.Error(), "has no Lease") {
		t.Errorf("node without a Lease: err = %v", err)
	}
	if err := StopKubelet(ctx, kube, ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty name: err = %v", err)
	}
}
