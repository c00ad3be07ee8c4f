// Package deprovisioning is the reallocator: it deletes nodes the controller launched when they
// have been empty for the provisioner's ttlSecondsAfterEmpty (emptiness.go), are older than
// its ttlSecondsUntilExpired (expiration.go), or have not been Ready for the not-ready timeout
// (node repair, repair.go). Deleting a node hands it to the termination controller (finalizer
// karpenter.sh/termination), which drains it and terminates its instance.
package deprovisioning

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// Options tune the deprovisioner.
type Options struct {
	// ReadyGrace is how long a node must have been Ready before its emptiness clock may start:
	// a node that just registered is empty until kube-scheduler binds the pods it was launched
	// for, so the clock starts only after the node has been Ready for a batch window. The
	// operator passes the provisioner's BatchMaxDuration (default 10 s).
	ReadyGrace time.Duration
	// NominatedUntil, when set, says until when pods the provisioner planned on a node and
	// kube-scheduler has not bound yet keep the node from counting as empty (zero: none).
	NominatedUntil func(context.Context, *corev1.Node) time.Time
	// NotReadyTimeout is how long a node may stay not Ready before node repair removes it
	// (repair.go); 0 turns node repair off.
	NotReadyTimeout time.Duration
}

// Controller reconciles Nodes labelled karpenter.sh/provisioner-name.
type Controller struct {
	kube     client.Client
	clk      clock.Clock
	recorder record.EventRecorder
	opts     Options
}

// NewController returns the deprovisioning controller. The pod indexes nodepods.IndexKey and
// nodepods.NominatedIndexKey must be registered on the client's cache.
func NewController(kube client.Client, clk clock.Clock, recorder record.EventRecorder, opts Options) *Controller {
	return &Controller{kube: kube, clk: clk, recorder: recorder, opts: opts}
}

// Register adds the controller to mgr: it reconciles Nodes, and is triggered by Pods (mapped to
// their node, or to the node they are nominated for while unbound) and Provisioners (mapped to
// their nodes).
func (c *Controller) Register(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).Named("deprovisioning").
		For(&corev1.Node{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			pod, ok := o.(*corev1.Pod)
			if !ok {
				return nil
			}
			node := pod.Spec.NodeName
			if node == "" {
				node = pod.Status.NominatedNodeName
			}
			if node == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: node}}}
		})).
		Watches(&v1alpha5.Provisioner{}, handler.EnqueueRequestsFromMapFunc(nodepods.NodesOfProvisioner(c.kube))).
		Complete(c)
}

// conflictRequeue is how soon a node whose write hit an optimistic-lock conflict is reconciled again.
const conflictRequeue = 100 * time.Millisecond

// Reconcile applies node repair, expiration and emptiness to one node and requeues at the exact
// time the next timeout or TTL elapses. Errors: API errors (requeued with backoff).
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := c.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	provName := node.Labels[v1alpha5.LabelProvisionerName]
	if provName == "" || node.DeletionTimestamp != nil {
		return reconcile.Result{}, nil
	}
	prov := &v1alpha5.Provisioner{}
	if err := c.kube.Get(ctx, types.NamespacedName{Name: provName}, prov); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, nil // orphaned nodes are left to the user
		}
		return reconcile.Result{}, fmt.Errorf("getting provisioner %s: %w", provName, err)
	}
	ctx = log.IntoContext(ctx, log.FromContext(ctx).WithValues("node", node.Name, "provisioner", provName))
	pods, err := nodepods.ListReadOnly(ctx, c.kube, node.Name) // emptiness and expiration only read them
	if err != nil {
		return reconcile.Result{}, err
	}
	var results []reconcile.Result
	for _, step := range []func(context.Context, *v1alpha5.Provisioner, *corev1.Node, []corev1.Pod) (reconcile.Result, bool, error){
		c.repair, c.expiration, c.emptiness,
	} {
		res, deleted, err := step(ctx, prov, node, pods)
		if apierrors.IsConflict(err) {
			// The node changed since it was read (kubelet status, another controller): read it again.
			return reconcile.Result{RequeueAfter: conflictRequeue}, nil
		}
		if err != nil || deleted {
			return reconcile.Result{}, err
		}
		results = append(results, res)
	}
	return earliest(results...), nil
}

// deleteNode deletes the node (the termination finalizer then drains it).
func (c *Controller) deleteNode(ctx context.Context, node *corev1.Node, provisioner, reason, message string) error {
	if err := c.kube.Delete(ctx, node); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("deleting node %s: %w", node.Name, err)
	}
	metrics.NodesDeprovisioned.WithLabelValues(provisioner, reason).Inc()
	log.FromContext(ctx).Info("deprovisioning node", "reason", reason, "detail", message)
	if c.recorder != nil {
		c.recorder.Event(node, corev1.EventTypeNormal, "Deprovisioning", message)
	}
	return nil
}

// earliest returns the result that requeues soonest (zero RequeueAfter = no requeue).
func earliest(rs ...reconcile.Result) reconcile.Result {
	var out reconcile.Result
	for _, r := range rs {
		if r.RequeueAfter > 0 && (out.RequeueAfter == 0 || r.RequeueAfter < out.RequeueAfter) {
			out.RequeueAfter = r.RequeueAfter
		}
	}
	return out
}

// nodeReadySince returns when the node's Ready condition last became True, and false when the
// node is not Ready.
func nodeReadySince(node *corev1.Node) (time.Time, bool) {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.LastTransitionTime.Time, c.Status == corev1.ConditionTrue
		}
	}
	return time.Time{}, false
}
