package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// DeadKubeletHolder is the holderIdentity StopKubelet writes on a node's Lease.
const DeadKubeletHolder = "sandbox-dead-kubelet"

// KubeletStoppedAnnotationKey is the annotation StopKubelet sets on the Node it stops (under the
// sandbox's own domain, from the module path github.com/nodeform); its value is the RFC 3339 UTC
// time of the stop. StopKubelet sets it on the pods bound to the Node too, and kwok's pod Stages
// skip pods carrying it, so that no pod of a dead kubelet starts, finishes or has its deletion
// confirmed. Every node Stage of kwok-stages.yaml skips Nodes carrying it (selector
// DoesNotExist), and the node-kubelet-stopped Stage matches them, so that kwok replaces (and so
// cancels) any node-heartbeat it had already scheduled while the node was Ready: kwok v0.8.0
// re-checks no selector when a delayed stage fires, it only swaps a resource's pending job when a
// newer version of the object matches another stage (pkg/kwok/controllers/stage_controller.go,
// preprocess and addStageJob). kwok reads Node updates only while it holds the node's Lease
// (node_controller.go watchResources), so StopKubelet sets it first and takes the Lease after
// kwok acknowledged it (KubeletStoppedAckAnnotationKey). The node stays dead until the sandbox
// is torn down.
const KubeletStoppedAnnotationKey = "sandbox.nodeform.github.io/kubelet-stopped"

// KubeletStoppedAckAnnotationKey is the annotation kwok's node-kubelet-stopped Stage sets on a
// Node to the value of its KubeletStoppedAnnotationKey, once kwok has handled it.
const KubeletStoppedAckAnnotationKey = "sandbox.nodeform.github.io/kubelet-stopped-ack"

// deadKubeletLease is how long the Lease StopKubelet writes claims to be held: kwok takes an
// expired Lease back (and the node comes back to life), so the node stays dead for a day.
const deadKubeletLease = 24 * time.Hour

// StopKubelet makes the kubelet of a kwok-managed Node die, as a real one does when its
// machine hangs or its process is killed: it stops renewing the node's Lease
// (kube-node-lease/<node>), stops updating the Node's status and confirms no pod deletion.
//
// kwok acts as the kubelet of a node only while it holds that node's Lease (sigs.k8s.io/kwok
// v0.8.0 pkg/kwok/controllers: a Lease held by another holder and not expired makes the node
// read-only to kwok). StopKubelet first annotates the pods bound to the node (see
// KubeletStoppedAnnotationKey), then writes the Lease once with holderIdentity DeadKubeletHolder,
// a one-day duration and renewTime now, and nobody renews it: kube-controller-manager's node
// lifecycle controller, which watches renewTime only, marks the Node's Ready condition Unknown
// after its --node-monitor-grace-period (50 s by default) and taints it
// node.kubernetes.io/unreachable. Before that, StopKubelet annotates the Node
// KubeletStoppedAnnotationKey and waits for kwok to acknowledge it, so that no kwok Stage posts
// the node's status again, not even a heartbeat scheduled before (see there). The instance
// behind the node keeps running. Calling it again for a stopped node only renews the Lease.
//
// Errors: no Node named nodeName, the node has no Lease yet (it has not registered through
// kwok), kwok did not acknowledge the annotation within a minute, or API errors.
func (c *Cluster) StopKubelet(ctx context.Context, nodeName string) error {
	kube, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: %w", err)
	}
	return StopKubelet(ctx, kube, nodeName)
}

// StopKubelet is Cluster.StopKubelet through any client allowed to update Leases in
// kube-node-lease (the sandbox's administrator kubeconfig), for callers outside the process
// that started the cluster (`sandbox stop-kubelet`).
func StopKubelet(ctx context.Context, kube kubernetes.Interface, nodeName string) error {
	if nodeName == "" {
		return errors.New("cluster: StopKubelet: node name is empty")
	}
	nodes := kube.CoreV1().Nodes()
	if _, err := nodes.Get(ctx, nodeName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster: StopKubelet: node %s does not exist", nodeName)
	} else if err != nil {
		return fmt.Errorf("cluster: StopKubelet: reading node %s: %w", nodeName, err)
	}
	leases := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	lease, err := leases.Get(ctx, nodeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster: StopKubelet: node %s has no Lease in %s (not registered through kwok yet)", nodeName, corev1.NamespaceNodeLease)
	}
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: reading the Lease of node %s: %w", nodeName, err)
	}
	// kwok reads the annotation only while it still holds the Lease; a node whose Lease is
	// already ours was stopped before.
	if ptr.Deref(lease.Spec.HolderIdentity, "") != DeadKubeletHolder {
		if err := annotatePodsStopped(ctx, kube, nodeName); err != nil {
			return err
		}
		if err := annotateStopped(ctx, kube, nodeName); err != nil {
			return err
		}
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := leases.Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		lease.Spec = coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(DeadKubeletHolder),
			LeaseDurationSeconds: ptr.To(int32(deadKubeletLease / time.Second)),
			RenewTime:            ptr.To(metav1.NewMicroTime(time.Now())),
			LeaseTransitions:     ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1),
		}
		_, err = leases.Update(ctx, lease, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: taking over the Lease of node %s: %w", nodeName, err)
	}
	return nil
}

// annotatePodsStopped sets KubeletStoppedAnnotationKey on every pod bound to the node, so that
// kwok's pod Stages skip them (kwok-stages.yaml): kwok's pod controller goes on handling the
// node's pods for a moment after the Lease is taken over, and would otherwise still confirm the
// deletion of a pod evicted in that moment, which a dead kubelet never does. A pod bound to the
// node after this call is not covered.
//
// Errors: API errors listing or annotating the pods (a pod deleted meanwhile is skipped).
func annotatePodsStopped(ctx context.Context, kube kubernetes.Interface, nodeName string) error {
	pods, err := kube.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + nodeName})
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: listing the pods of node %s: %w", nodeName, err)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		KubeletStoppedAnnotationKey: time.Now().UTC().Format(time.RFC3339Nano)}}})
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: %w", err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != nodeName { // a client that ignores field selectors
			continue
		}
		_, err := kube.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("cluster: StopKubelet: annotating pod %s/%s %s: %w", p.Namespace, p.Name, KubeletStoppedAnnotationKey, err)
		}
	}
	return nil
}

// kwokAckTimeout bounds how long annotateStopped waits for kwok's node-kubelet-stopped Stage.
// kwok handles a node update within milliseconds; a minute leaves room for a loaded machine.
var kwokAckTimeout = time.Minute

// annotateStopped sets KubeletStoppedAnnotationKey on the Node to a fresh RFC 3339 UTC time
// (nanoseconds, so that each call writes a new value) and waits until kwok's
// node-kubelet-stopped Stage has copied it to KubeletStoppedAckAnnotationKey, which proves kwok
// has replaced any node-heartbeat it had scheduled for the node.
//
// Errors: API errors, or no acknowledgement within kwokAckTimeout (the node is not managed by
// the sandbox's kwok, or kwok is not running).
func annotateStopped(ctx context.Context, kube kubernetes.Interface, nodeName string) error {
	stamp := time.Now().UTC().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		KubeletStoppedAnnotationKey: stamp}}})
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: %w", err)
	}
	nodes := kube.CoreV1().Nodes()
	if _, err := nodes.Patch(ctx, nodeName, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("cluster: StopKubelet: annotating node %s %s: %w", nodeName, KubeletStoppedAnnotationKey, err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, kwokAckTimeout, true, func(ctx context.Context) (bool, error) {
		node, err := nodes.Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return node.Annotations[KubeletStoppedAckAnnotationKey] == stamp, nil
	})
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: waiting for kwok to acknowledge %s=%s on node %s (annotation %s): %w",
			KubeletStoppedAnnotationKey, stamp, nodeName, KubeletStoppedAckAnnotationKey, err)
	}
	return nil
}
