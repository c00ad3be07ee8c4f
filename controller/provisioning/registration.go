package provisioning

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/state"
)

// ConflictRetry is the wait before registering a Node again after the patch lost an
// optimistic-lock race (409 Conflict).
const ConflictRetry = 100 * time.Millisecond

// Registration reconciles Nodes as they register: a node launched by the controller (it has an
// in-flight record for its provider ID, or the karpenter.sh/provisioner-name label) gets the
// finalizer karpenter.sh/termination and every label of its in-flight record that it lacks:
// the provisioner's labels, the labels its requirements fixed, and every label of the launched
// instance type (karpenter.k8s.aws/instance-*, arch, os, instance-type, zone, capacity-type).
// The solver planned pods against all of those labels, so a Node without one of them could
// leave a pod Pending that the solver counted as placed. Labels the kubelet already set are
// kept as they are. Its in-flight record is then cleared. Other nodes are left alone.
type Registration struct {
	kube    client.Client
	cluster *state.Cluster
}

// NewRegistration returns the node registration reconciler.
func NewRegistration(kube client.Client, cluster *state.Cluster) *Registration {
	return &Registration{kube: kube, cluster: cluster}
}

// Reconcile patches one Node. Errors: API errors from Get/Patch (requeued by controller-runtime
// with backoff); a patch conflict is not an error but a requeue after ConflictRetry.
func (r *Registration) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := r.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if node.Spec.ProviderID == "" || node.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	rec, inflight := r.cluster.InFlightNode(node.Spec.ProviderID)
	if !inflight && node.Labels[v1alpha5.LabelProvisionerName] == "" {
		return reconcile.Result{}, nil
	}
	orig := node.DeepCopy()
	if node.Labels == nil {
		node.Labels = map[string]string{}
	}
	added := []string{}
	if inflight {
		for k, v := range rec.Labels {
			if _, ok := node.Labels[k]; !ok {
				node.Labels[k] = v
				added = append(added, k)
			}
		}
		sort.Strings(added)
	}
	finalizer := controllerutil.AddFinalizer(node, v1alpha5.TerminationFinalizer)
	if len(added) > 0 || finalizer {
		if err := r.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsConflict(err) {
				// The kubelet (or kwok) updated the Node meanwhile: read it again, no error.
				// A conflict is transient (the other write has already landed), so a short fixed
				// delay is enough: it keeps registration latency low and, unlike an error (or the
				// deprecated Requeue), does not grow the queue's per-Node exponential backoff.
				return reconcile.Result{RequeueAfter: ConflictRetry}, nil
			}
			return reconcile.Result{}, fmt.Errorf("patching node %s: %w", node.Name, err)
		}
		log.FromContext(ctx).Info("registered node", "node", node.Name, "providerID", node.Spec.ProviderID,
			"addedLabels", added, "addedFinalizer", finalizer)
	}
	if r.cluster.MarkRegistered(node.Spec.ProviderID) && rec != nil {
		log.FromContext(ctx).Info("in-flight node registered", "node", node.Name, "providerID", node.Spec.ProviderID,
			"launchToRegistration", node.CreationTimestamp.Sub(rec.LaunchedAt).String())
	}
	return reconcile.Result{}, nil
}
