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
// non-terminal pod on it carries karpenter.sh/do-not-evict=true.
func (c *Controller) expiration(ctx context.Context, prov *v1alpha5.Provisioner, node *corev1.Node, pods []corev1.Pod) (reconcile.Result, bool, error) {
	ttl := prov.Spec.TTLSecondsUntilExpired
	if ttl == nil {
		return reconcile.Result{}, false, nil
	}
	expiry := node.CreationTimestamp.Add(time.Duration(*ttl) * time.Second)
	if wait := expiry.Sub(c.clk.Now()); wait > 0 {
		return reconcile.Result{RequeueAfter: wait}, false, nil
	}
	for i := range pods {
		pod := &pods[i]
		if !nodepods.IsTerminal(pod) && pod.Annotations[v1alpha5.AnnotationDoNotEvict] == "true" {
			log.FromContext(ctx).Info("node expired but a pod blocks deprovisioning",
				"pod", pod.Namespace+"/"+pod.Name, "annotation", v1alpha5.AnnotationDoNotEvict)
			return reconcile.Result{RequeueAfter: DoNotEvictRecheck}, false, nil
		}
	}
	msg := fmt.Sprintf("created %s, ttlSecondsUntilExpired %d elapsed", node.CreationTimestamp.UTC().Format(time.RFC3339), *ttl)
	return reconcile.Result{}, true, c.deleteNode(ctx, node, prov.Name, ReasonExpiration, msg)
}
