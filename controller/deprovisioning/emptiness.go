package deprovisioning

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// ReasonEmptiness labels deletions because the node stayed empty for ttlSecondsAfterEmpty.
const ReasonEmptiness = "emptiness"

// emptiness keeps the karpenter.sh/emptiness-timestamp annotation (RFC 3339) in step with the
// node's pods and deletes the node at timestamp + ttlSecondsAfterEmpty. A node is empty when
// all its pods are daemonset, mirror or terminal (Succeeded/Failed) pods, no pod being bound to
// it is nominated for it, and no pod the provisioner planned on it is still awaited
// (Options.NominatedUntil; the node is reconciled again when that wait ends). The clock starts only
// once the node has been Ready for Options.ReadyGrace (a just-registered node is empty until
// pods bind). An unparsable timestamp is reset to now. At the deadline a non-terminal pod with
// karpenter.sh/do-not-evict=true (a daemonset or mirror pod, which does not make the node
// non-empty) still blocks the deletion (blockedByDoNotEvict).
func (c *Controller) emptiness(ctx context.Context, prov *v1alpha5.Provisioner, node *corev1.Node, pods []corev1.Pod) (reconcile.Result, bool, error) {
	logger := log.FromContext(ctx)
	stamp, stamped := node.Annotations[v1alpha5.AnnotationEmptinessTimestamp]
	ttl, hasTTL := v1alpha5.TTL(prov.Spec.TTLSecondsAfterEmpty)
	empty := true
	for i := range pods {
		if nodepods.IsReschedulable(&pods[i]) {
			empty = false
			break
		}
	}
	if empty {
		// A pod kube-scheduler is binding here (PreBind, e.g. volume binding) is not bound yet.
		nominated, err := nodepods.ListNominated(ctx, c.kube, node.Name)
		if err != nil {
			return reconcile.Result{}, false, err
		}
		for i := range nominated {
			if nominated[i].DeletionTimestamp == nil && nodepods.IsReschedulable(&nominated[i]) {
				empty = false
				break
			}
		}
	}
	var requeue time.Duration
	if empty && c.opts.NominatedUntil != nil {
		if until := c.opts.NominatedUntil(ctx, node); until.After(c.clk.Now()) {
			empty, requeue = false, until.Sub(c.clk.Now())
		}
	}
	if !hasTTL || !empty {
		if stamped {
			reason := "node has pods again"
			if !hasTTL {
				reason = "provisioner has no ttlSecondsAfterEmpty"
			}
			logger.Info("clearing emptiness timestamp", "reason", reason)
			return reconcile.Result{RequeueAfter: requeue}, false, c.annotate(ctx, node, nil)
		}
		return reconcile.Result{RequeueAfter: requeue}, false, nil
	}
	now := c.clk.Now()
	if !stamped {
		since, ready := nodeReadySince(node)
		if !ready {
			return reconcile.Result{}, false, nil // the Ready transition re-triggers us
		}
		if wait := since.Add(c.opts.ReadyGrace).Sub(now); wait > 0 {
			return reconcile.Result{RequeueAfter: wait}, false, nil
		}
		ts := now.UTC().Format(time.RFC3339)
		logger.Info("node is empty, starting emptiness TTL", "emptinessTimestamp", ts, "ttlSecondsAfterEmpty", int64(ttl/time.Second))
		if err := c.annotate(ctx, node, &ts); err != nil {
			return reconcile.Result{}, false, err
		}
		return reconcile.Result{RequeueAfter: ttl}, false, nil
	}
	emptySince, err := time.Parse(time.RFC3339, stamp)
	if err != nil {
		ts := now.UTC().Format(time.RFC3339)
		logger.Info("resetting unparsable emptiness timestamp", "value", stamp, "error", err.Error(), "emptinessTimestamp", ts)
		if err := c.annotate(ctx, node, &ts); err != nil {
			return reconcile.Result{}, false, err
		}
		return reconcile.Result{RequeueAfter: ttl}, false, nil
	}
	deadline := emptySince.Add(ttl)
	if wait := deadline.Sub(now); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, false, nil
	}
	if c.blockedByDoNotEvict(ctx, node, pods, ReasonEmptiness) {
		return reconcile.Result{RequeueAfter: DoNotEvictRecheck}, false, nil
	}
	msg := fmt.Sprintf("empty since %s, ttlSecondsAfterEmpty %d elapsed", stamp, int64(ttl/time.Second))
	return reconcile.Result{}, true, c.deleteNode(ctx, node, prov.Name, ReasonEmptiness, msg)
}

// annotate sets (value != nil) or removes the emptiness timestamp with a merge patch guarded by
// the node's resourceVersion.
func (c *Controller) annotate(ctx context.Context, node *corev1.Node, value *string) error {
	orig := node.DeepCopy()
	if value == nil {
		delete(node.Annotations, v1alpha5.AnnotationEmptinessTimestamp)
	} else {
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		node.Annotations[v1alpha5.AnnotationEmptinessTimestamp] = *value
	}
	if err := c.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("patching emptiness timestamp of node %s: %w", node.Name, err)
	}
	return nil
}
