package provider

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/cluster"
)

// Destroying the controller does not hang on a controller pod whose node's kubelet died (found
// by a user trial: destroy waited out its timeout). The pod, past its grace period on a node
// whose Ready condition went Unknown, is force-deleted, and the Deployment goes. Scaling the
// controller to zero at the start of a move (scaleDownDeployment, on a second Deployment in
// namespace moved) does not hang either, and keeps the Deployment.
func TestStopDeploymentOnDeadNode(t *testing.T) {
	sb, kc := startSandbox(t)
	ctx := context.Background()
	const nodeName, ns, moved = "dead-kubelet-controller-test", "dead-node-test", "dead-node-test-move"
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName,
		Annotations: map[string]string{cluster.KwokNodeAnnotationKey: cluster.KwokNodeAnnotationValue},
		Labels:      map[string]string{corev1.LabelHostname: nodeName}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "test/dead-node", Effect: corev1.TaintEffectNoSchedule}}}}
	must(t, kc.Create(ctx, node))
	room := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi"), corev1.ResourcePods: resource.MustParse("110")}
	must(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := kc.Get(ctx, client.ObjectKeyFromObject(node), node); err != nil {
			return err
		}
		node.Status.Capacity, node.Status.Allocatable = room, room
		return kc.Status().Update(ctx, node)
	}))
	t.Cleanup(func() { _ = kc.Delete(context.Background(), node) })
	labels := map[string]string{"app": "stranded"}
	for _, n := range []string{ns, moved} {
		must(t, kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}))
		t.Cleanup(func() {
			_ = kc.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
		})
		must(t, kc.Create(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: n, Name: deploymentName},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{corev1.LabelHostname: nodeName},
					Tolerations:                   []corev1.Toleration{{Key: "test/dead-node", Operator: corev1.TolerationOpExists}},
					TerminationGracePeriodSeconds: ptr.To(int64(1)),
					Containers:                    []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}}}))
	}
	kube, err := kubernetes.NewForConfig(sb.RESTConfig())
	must(t, err)
	running, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	must(t, wait.PollUntilContextCancel(running, time.Second, true, func(ctx context.Context) (bool, error) {
		if _, err := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, nodeName, metav1.GetOptions{}); err != nil {
			return false, nil //nolint:nilerr // kwok has not taken the node's Lease yet
		}
		for _, n := range []string{ns, moved} {
			var pods corev1.PodList
			if err := kc.List(ctx, &pods, client.InNamespace(n)); err != nil {
				return false, err
			}
			if len(pods.Items) != 1 || pods.Items[0].Status.Phase != corev1.PodRunning {
				return false, nil
			}
		}
		return true, nil
	}))
	must(t, cluster.StopKubelet(ctx, kube, nodeName))

	// The node monitor marks the node Unknown after its 50 s grace period; destroy's default
	// timeout is 15 minutes, this one only bounds a failure.
	stop, cancel2 := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel2()
	if err := stopDeployment(stop, kc, ns); err != nil {
		t.Fatalf("the Deployment whose pod is on a dead node was not removed: %v", err)
	}
	var pods corev1.PodList
	must(t, kc.List(ctx, &pods, client.InNamespace(ns)))
	if len(pods.Items) != 0 {
		t.Fatalf("pods left: %d", len(pods.Items))
	}
	if err := scaleDownDeployment(stop, kc, moved); err != nil {
		t.Fatalf("the Deployment whose pod is on a dead node was not scaled down: %v", err)
	}
	must(t, kc.List(ctx, &pods, client.InNamespace(moved)))
	var d appsv1.Deployment
	must(t, kc.Get(ctx, client.ObjectKey{Namespace: moved, Name: deploymentName}, &d))
	if len(pods.Items) != 0 || d.Spec.Replicas == nil || *d.Spec.Replicas != 0 {
		t.Fatalf("after scaling down: %d pods left, replicas %v", len(pods.Items), d.Spec.Replicas)
	}
}
