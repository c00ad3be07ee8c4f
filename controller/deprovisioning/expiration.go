package deprovisioning

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// ReasonExpiration labels deletions because the node outlived ttlSecondsUntilExpired.
const ReasonExpiration = "expiration"

// DoNotEvictRecheck is how often an expired node blocked by a karpenter.sh/do-not-evict pod is
// rechecked (pod changes also re-trigger the reconcile).
const DoNotEvictRecheck = time.Minute

// expiration deletes the node once now >= creationTimestamp + ttlSecondsUntilExpired, unless a
// non-terminal pod on it carries karpenter.sh/do-not-evict=true (blockedByDoNotEvict).
func (c *Controller) expiration(ctx context.Context, prov *v1alpha5.Provisioner, node *corev1.Node, pods []corev1.Pod) (reconcile.Result, bool, error) {
	ttl, ok := v1alpha5.TTL(prov.Spec.TTLSecondsUntilExpired)
	if !ok {
		return reconcile.Result{}, false, nil
	}
	expiry := node.CreationTimestamp.Add(ttl)
	if wait := expiry.Sub(c.clk.Now()); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, false, nil
	}
	if c.blockedByDoNotEvict(ctx, node, pods, ReasonExpiration) {
		return reconcile.Result{RequeueAfter: DoNotEvictRecheck}, false, nil
	}
	msg := fmt.Sprintf("created %s, ttlSecondsUntilExpired %d elapsed", node.CreationTimestamp.UTC().Format(time.RFC3339), int64(ttl/time.Second))
	return reconcile.Result{}, true, c.deleteNode(ctx, node, prov.Name, ReasonExpiration, msg)
}

// blockedByDoNotEvict reports whether a non-terminal pod on the node (daemonset and mirror pods
// included) carries karpenter.sh/do-not-evict=true, which blocks voluntary removal (emptiness,
// expiration) but not a forced one: a node deleted by a user or by terraform destroy is drained
// by the termination controller regardless. It logs and records an Event naming the pod.
func (c *Controller) blockedByDoNotEvict(ctx context.Context, node *corev1.Node, pods []corev1.Pod, reason string) bool {
	for i := range pods {
		pod := &pods[i]
		if nodepods.IsTerminal(pod) || pod.Annotations[v1alpha5.AnnotationDoNotEvict] != "true" {
			continue
		}
		log.FromContext(ctx).Info("a pod blocks deprovisioning", "reason", reason,
			"pod", pod.Namespace+"/"+pod.Name, "annotation", v1alpha5.AnnotationDoNotEvict)
		if c.recorder != nil {
			c.recorder.Eventf(node, corev1.EventTypeNormal, "DeprovisioningBlocked", "%s: pod %s/%s has %s=true",
				reason, pod.Namespace, pod.Name, v1alpha5.AnnotationDoNotEvict)
		}
		return true
	}
	return false
}
