package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
)

// DeadKubeletHolder is the holderIdentity StopKubelet writes on a node's Lease.
const DeadKubeletHolder = "sandbox-dead-kubelet"

// deadKubeletLease is how long the Lease StopKubelet writes claims to be held: kwok takes an
// expired Lease back (and the node comes back to life), so the node stays dead for a day.
const deadKubeletLease = 24 * time.Hour

// StopKubelet makes the kubelet of a kwok-managed Node die, as a real one does when its
// machine hangs or its process is killed: it stops renewing the node's Lease
// (kube-node-lease/<node>), stops updating the Node's status and confirms no pod deletion.
//
// kwok acts as the kubelet of a node only while it holds that node's Lease (sigs.k8s.io/kwok
// v0.8.0 pkg/kwok/controllers: a Lease held by another holder and not expired makes the node
// read-only to kwok). StopKubelet writes the Lease once with holderIdentity DeadKubeletHolder,
// a one-day duration and renewTime now, and nobody renews it: kube-controller-manager's node
// lifecycle controller, which watches renewTime only, marks the Node's Ready condition Unknown
// after its --node-monitor-grace-period (50 s by default) and taints it
// node.kubernetes.io/unreachable. The instance behind the node keeps running.
//
// Errors: the node has no Lease yet (it has not registered through kwok), or API errors.
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
	leases := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
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
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("cluster: StopKubelet: node %s has no Lease in %s (not registered through kwok yet)", nodeName, corev1.NamespaceNodeLease)
	}
	if err != nil {
		return fmt.Errorf("cluster: StopKubelet: taking over the Lease of node %s: %w", nodeName, err)
	}
	return nil
}
