package deprovisioning

import (
	"context"
	"fmt"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// ReasonUnhealthy labels deletions of nodes not Ready for Options.NotReadyTimeout (node repair).
const ReasonUnhealthy = "unhealthy"

// DefaultNotReadyTimeout is how long a node may stay not Ready (Ready False or Unknown) before
// node repair removes it: 30 minutes, the toleration of Karpenter's node repair for the Ready
// condition on AWS (EKS user guide, "Automatically repair nodes": Ready, repair after 30m,
// Replace).
const DefaultNotReadyTimeout = 30 * time.Minute

// MaxUnhealthyFraction bounds node repair: while more than this fraction (rounded up) of a
// provisioner's nodes that are not being deleted are not Ready, none is repaired, as
// Karpenter's node repair stops at 20% of a NodePool: many nodes failing at once is a cluster
// or network problem (an API server partition, a broken CNI rollout), and replacing every node
// would not fix it.
const MaxUnhealthyFraction = 0.2

// RepairBlockedRecheck is how soon a node whose repair the unhealthy fraction blocked is
// looked at again.
const RepairBlockedRecheck = 30 * time.Second

// notReadySince returns since when the node has not been Ready (its Ready condition False or
// Unknown since lastTransitionTime; without a Ready condition, since the node's creation), and
// false when it is Ready.
func notReadySince(node *corev1.Node) (time.Time, bool) {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastTransitionTime.Time, c.Status != corev1.ConditionTrue
		}
	}
	return node.CreationTimestamp.Time, true
}

// repairAllowed reports whether a provisioner whose live (not deleting) nodes number total, of
// which unhealthy are not Ready, may repair one: unhealthy <= ceil(MaxUnhealthyFraction*total).
// One unhealthy node is always repairable.
func repairAllowed(unhealthy, total int) bool {
	return unhealthy <= int(math.Ceil(MaxUnhealthyFraction*float64(total)))
}

// repair is node repair: a node that has not been Ready for Options.NotReadyTimeout (a dead
// kubelet, a hung or partitioned instance) is deleted with karpenter.sh/termination-timestamp
// set to now, so that termination deletes its pods without waiting for evictions no kubelet
// will confirm, terminates its instance and removes its claim; the pods' controllers replace
// them elsewhere. do-not-evict and PodDisruptionBudgets do not block it (a forced removal, as
// Karpenter's node repair). It is off when NotReadyTimeout is 0, and blocked (Event
// RepairBlocked) while more than MaxUnhealthyFraction of the provisioner's nodes are not Ready.
func (c *Controller) repair(ctx context.Context, prov *v1alpha5.Provisioner, node *corev1.Node, _ []corev1.Pod) (reconcile.Result, bool, error) {
	timeout := c.opts.NotReadyTimeout
	if timeout <= 0 {
		return reconcile.Result{}, false, nil
	}
	since, notReady := notReadySince(node)
	if !notReady {
		// A node that recovered between the annotation and its deletion keeps no deadline
		// that would later force its drain.
		if _, set := node.Annotations[v1alpha5.AnnotationTerminationTimestamp]; set {
			orig := node.DeepCopy()
			delete(node.Annotations, v1alpha5.AnnotationTerminationTimestamp)
			return reconcile.Result{}, false, client.IgnoreNotFound(c.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})))
		}
		return reconcile.Result{}, false, nil
	}
	now := c.clk.Now()
	if wait := since.Add(timeout).Sub(now); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, false, nil
	}
	nodes := &corev1.NodeList{}
	if err := c.kube.List(ctx, nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: prov.Name}); err != nil {
		return reconcile.Result{}, false, fmt.Errorf("listing nodes of provisioner %s: %w", prov.Name, err)
	}
	total, unhealthy := 0, 0
	for i := range nodes.Items {
		if nodes.Items[i].DeletionTimestamp != nil {
			continue
		}
		total++
		if _, nr := notReadySince(&nodes.Items[i]); nr {
			unhealthy++
		}
	}
	if !repairAllowed(unhealthy, total) {
		log.FromContext(ctx).Info("node not Ready past the timeout, but too many nodes of its provisioner are not Ready to repair it",
			"notReadySince", since.UTC().Format(time.RFC3339), "notReadyNodes", unhealthy, "nodes", total, "maxFraction", MaxUnhealthyFraction)
		if c.recorder != nil {
			c.recorder.Eventf(node, corev1.EventTypeWarning, "RepairBlocked",
				"not Ready since %s, but %d of %d nodes of provisioner %s are not Ready (more than %.0f%%): not repairing",
				since.UTC().Format(time.RFC3339), unhealthy, total, prov.Name, MaxUnhealthyFraction*100)
		}
		return reconcile.Result{RequeueAfter: RepairBlockedRecheck}, false, nil
	}
	if node.Annotations[v1alpha5.AnnotationTerminationTimestamp] == "" {
		orig := node.DeepCopy()
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		node.Annotations[v1alpha5.AnnotationTerminationTimestamp] = now.UTC().Format(time.RFC3339)
		if err := c.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			return reconcile.Result{}, false, client.IgnoreNotFound(err)
		}
	}
	msg := fmt.Sprintf("not Ready since %s, longer than the not-ready timeout %s: removing it without waiting for its pods",
		since.UTC().Format(time.RFC3339), timeout)
	return reconcile.Result{}, true, c.deleteNode(ctx, node, prov.Name, ReasonUnhealthy, msg)
}
