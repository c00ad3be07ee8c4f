package termination

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// syncGracePeriod keeps the annotation karpenter.sh/termination-grace-period of a live node
// equal to its Provisioner's terminationGracePeriod (removed when the Provisioner has none). A
// node whose Provisioner is gone keeps what it has. Errors: API errors.
func (c *Controller) syncGracePeriod(ctx context.Context, node *corev1.Node) error {
	name := node.Labels[v1alpha5.LabelProvisionerName]
	if name == "" {
		return nil
	}
	prov := &v1alpha5.Provisioner{}
	if err := c.kube.Get(ctx, types.NamespacedName{Name: name}, prov); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("getting provisioner %s: %w", name, err)
	}
	want, has := "", false
	if g := prov.Spec.TerminationGracePeriod; g != nil {
		want, has = g.Duration.String(), true
	}
	got, set := node.Annotations[v1alpha5.AnnotationTerminationGracePeriod]
	if got == want && set == has {
		return nil
	}
	orig := node.DeepCopy()
	if has {
		if node.Annotations == nil {
			node.Annotations = map[string]string{}
		}
		node.Annotations[v1alpha5.AnnotationTerminationGracePeriod] = want
	} else {
		delete(node.Annotations, v1alpha5.AnnotationTerminationGracePeriod)
	}
	if err := c.kube.Patch(ctx, node, client.MergeFrom(orig)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("annotating node %s with its termination grace period: %w", node.Name, err))
	}
	return nil
}

// gracePeriod returns the node's termination grace period: its Provisioner's
// terminationGracePeriod while the Provisioner exists, else the node's annotation (the
// Provisioner is gone). ok is false when neither sets one (drain then waits for evictions for
// ever). A value out of [0, v1alpha5.MaxTerminationGracePeriod] is clamped; an unparsable
// annotation is ignored. Errors: API errors.
func (c *Controller) gracePeriod(ctx context.Context, node *corev1.Node) (d time.Duration, ok bool, err error) {
	if name := node.Labels[v1alpha5.LabelProvisionerName]; name != "" {
		prov := &v1alpha5.Provisioner{}
		err := c.kube.Get(ctx, types.NamespacedName{Name: name}, prov)
		switch {
		case err == nil && prov.Spec.TerminationGracePeriod != nil:
			return clampGrace(prov.Spec.TerminationGracePeriod.Duration), true, nil
		case err == nil:
			return 0, false, nil
		case !apierrors.IsNotFound(err):
			return 0, false, fmt.Errorf("getting provisioner %s: %w", name, err)
		}
	}
	if s, set := node.Annotations[v1alpha5.AnnotationTerminationGracePeriod]; set {
		d, perr := time.ParseDuration(s)
		if perr != nil {
			log.FromContext(ctx).Info("ignoring unparsable annotation", "annotation", v1alpha5.AnnotationTerminationGracePeriod, "value", s)
			return 0, false, nil
		}
		return clampGrace(d), true, nil
	}
	return 0, false, nil
}

func clampGrace(d time.Duration) time.Duration {
	return min(max(d, 0), v1alpha5.MaxTerminationGracePeriod)
}
