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

// StopKubelet annotates the Node and its pods, waits for kwok's acknowledgement, takes the node's Lease over
// for a day (kwok then leaves the node alone) and fails clearly for a missing node, a node
// without a Lease, a node kwok does not acknowledge, or an empty name. The effect on a running
// cluster (the node turning Ready=Unknown and staying so, its pods never confirmed) is
// test/faults' TestDeadKubelet and sandbox's TestUpTwiceEnvDown.
func TestStopKubeletTakesTheLeaseOver(t *testing.T) {
	old := metav1.NewMicroTime(time.Now().Add(-time.Minute))
	lease := func(name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: corev1.NamespaceNodeLease},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("kwok-controller"), LeaseDurationSeconds: ptr.To[int32](40),
				RenewTime: &old, LeaseTransitions: ptr.To[int32](2)}}
	}
	node := func(name string) *corev1.Node { return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}} }
	pod := func(name, nodeName string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}, Spec: corev1.PodSpec{NodeName: nodeName}}
	}
	kube := fake.NewClientset(node("ip-10-0-0-1.ec2.internal"), lease("ip-10-0-0-1.ec2.internal"),
		node("ip-10-0-0-2.ec2.internal"), node("ip-10-0-0-3.ec2.internal"), lease("ip-10-0-0-3.ec2.internal"),
		pod("on-1", "ip-10-0-0-1.ec2.internal"), pod("on-2", "ip-10-0-0-2.ec2.internal"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// What kwok's node-kubelet-stopped Stage does (kwok-stages.yaml), for ip-10-0-0-1 only.
	go func() {
		for ctx.Err() == nil {
			n, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-0-1.ec2.internal", metav1.GetOptions{})
			if err == nil && n.Annotations[KubeletStoppedAnnotationKey] != "" &&
				n.Annotations[KubeletStoppedAckAnnotationKey] != n.Annotations[KubeletStoppedAnnotationKey] {
				n.Annotations[KubeletStoppedAckAnnotationKey] = n.Annotations[KubeletStoppedAnnotationKey]
				_, _ = kube.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
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
	n, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-0-1.ec2.internal", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339Nano, n.Annotations[KubeletStoppedAnnotationKey]); err != nil {
		t.Errorf("annotation %s: %v", KubeletStoppedAnnotationKey, err)
	}
	// The pods of the stopped node carry the annotation (kwok's pod Stages skip them); others not.
	for name, want := range map[string]bool{"on-1": true, "on-2": false} {
		p, err := kube.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, got := p.Annotations[KubeletStoppedAnnotationKey]; got != want {
			t.Errorf("pod %s annotated %s: %v, want %v", name, KubeletStoppedAnnotationKey, got, want)
		}
	}
	// Stopped again: the Lease is ours, so kwok no longer reads the Node; only the Lease is renewed.
	if err := StopKubelet(ctx, kube, "ip-10-0-0-1.ec2.internal"); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if err := StopKubelet(ctx, kube, "ip-10-0-0-2.ec2.internal"); err == nil || !strings.Contains(err.Error(), "has no Lease") {
		t.Errorf("node without a Lease: err = %v", err)
	}
	if err := StopKubelet(ctx, kube, "no-such-node"); err == nil || !strings.Contains(err.Error(), "node no-such-node does not exist") {
		t.Errorf("missing node: err = %v", err)
	}
	defer func(d time.Duration) { kwokAckTimeout = d }(kwokAckTimeout)
	kwokAckTimeout = 300 * time.Millisecond
	if err := StopKubelet(ctx, kube, "ip-10-0-0-3.ec2.internal"); err == nil || !strings.Contains(err.Error(), "acknowledge") {
		t.Errorf("node kwok does not acknowledge: err = %v", err)
	}
	if l, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, "ip-10-0-0-3.ec2.internal", metav1.GetOptions{}); err != nil ||
		ptr.Deref(l.Spec.HolderIdentity, "") == DeadKubeletHolder {
		t.Errorf("Lease of an unacknowledged node taken over: %v %+v", err, l.Spec)
	}
	if err := StopKubelet(ctx, kube, ""); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty name: err = %v", err)
	}
}
