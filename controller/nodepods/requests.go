package nodepods

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// NodesOfProvisioner maps a Provisioner to reconcile requests for the Nodes labelled with its
// name (karpenter.sh/provisioner-name), for controllers that reconcile Nodes and watch
// Provisioners. A failed list is logged and maps to no request.
func NodesOfProvisioner(kube client.Client) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []reconcile.Request {
		nodes := &corev1.NodeList{}
		if err := kube.List(ctx, nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: o.GetName()}); err != nil {
			log.FromContext(ctx).Error(err, "listing nodes of provisioner", "provisioner", o.GetName())
			return nil
		}
		out := make([]reconcile.Request, 0, len(nodes.Items))
		for _, n := range nodes.Items {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: n.Name}})
		}
		return out
	}
}
