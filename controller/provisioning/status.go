package provisioning

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Status keeps Provisioner.status.resources equal to the summed capacity (cpu in cores, memory
// in bytes, pods, GPUs ...) of the Nodes labelled with the provisioner's name, so
// `kubectl get provisioners` shows what each one has launched against its limits.
type Status struct {
	kube client.Client
}

// NewStatus returns the status reconciler.
func NewStatus(kube client.Client) *Status { return &Status{kube: kube} }

// Register watches Provisioners and the Nodes that carry karpenter.sh/provisioner-name.
func (s *Status) Register(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).Named("provisioning.status").For(&v1alpha5.Provisioner{}).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			name, ok := o.GetLabels()[v1alpha5.LabelProvisionerName]
			if !ok {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: name}}}
		})).
		Complete(s)
}

// Reconcile recomputes one provisioner's status.resources. Errors: API errors (requeued).
func (s *Status) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	var prov v1alpha5.Provisioner
	if err := s.kube.Get(ctx, req.NamespacedName, &prov); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	var nodes corev1.NodeList
	// Only the capacities are read: share the cached Nodes rather than copy hundreds of them on
	// every Node event.
	if err := s.kube.List(ctx, &nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: prov.Name}, client.UnsafeDisableDeepCopy); err != nil {
		return reconcile.Result{}, fmt.Errorf("listing nodes of provisioner %s: %w", prov.Name, err)
	}
	total := corev1.ResourceList{}
	for _, n := range nodes.Items {
		for name, q := range n.Status.Capacity {
			sum := total[name]
			sum.Add(q)
			total[name] = sum
		}
	}
	if apiequality.Semantic.DeepEqual(prov.Status.Resources, total) {
		return reconcile.Result{}, nil
	}
	orig := prov.DeepCopy()
	prov.Status.Resources = total
	if err := s.kube.Status().Patch(ctx, &prov, client.MergeFrom(orig)); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	return reconcile.Result{}, nil
}
