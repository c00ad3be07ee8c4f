// Package termination finalizes deleted nodes the controller launched (finalizer
// karpenter.sh/termination) so that termination always finishes:
//
//	cordon      mark the node unschedulable
//	drain       evict through the Eviction API (PodDisruptionBudgets honoured), non-critical pods
//	            first, then system-cluster-critical / system-node-critical ones; daemonset, mirror
//	            and finished pods are left alone; pods already terminating past their grace (a
//	            dead kubelet never confirms them) are not waited on; once the provisioner's
//	            terminationGracePeriod has passed since the node's deletion, or the node's
//	            karpenter.sh/termination-timestamp (set by node repair), remaining pods are
//	            deleted and not waited on (drain.go)
//	terminate   TerminateInstances, and wait until the cloud reports the instance shutting down
//	            or terminated
//	finalize    remove the finalizer
//
// It also copies each live node's terminationGracePeriod from its Provisioner onto the node
// (grace.go), so that a node deleted after its Provisioner (terraform destroy) keeps it.
package termination

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// Requeue intervals.
const (
	// EvictionRetry is the wait after an eviction was refused (429: a PodDisruptionBudget).
	EvictionRetry = 5 * time.Second
	// DrainPoll is the longest wait while evicted pods are still terminating (pod deletions
	// also re-trigger the reconcile, and the wait is shorter when a pod's grace ends sooner).
	DrainPoll = 2 * time.Second
	// InstancePoll is the wait while the cloud still reports the instance pending or running
	// after TerminateInstances.
	InstancePoll = 5 * time.Second
)

// Cloud is what termination needs of the cloud provider.
type Cloud interface {
	Delete(ctx context.Context, providerID string) error
	Exists(ctx context.Context, providerID string) (bool, error)
}

var _ Cloud = cloudprovider.CloudProvider(nil)

// Controller finalizes Nodes with a deletionTimestamp and the termination finalizer.
type Controller struct {
	kube     client.Client
	cloud    Cloud
	clk      clock.Clock
	recorder record.EventRecorder
}

// NewController returns the termination controller. The pod index nodepods.IndexKey must be
// registered on the client's cache.
func NewController(kube client.Client, cloud Cloud, clk clock.Clock, recorder record.EventRecorder) *Controller {
	return &Controller{kube: kube, cloud: cloud, clk: clk, recorder: recorder}
}

// Register adds the controller to mgr: it reconciles Nodes, re-triggered by their pods and by
// their Provisioners (terminationGracePeriod changes).
func (c *Controller) Register(mgr manager.Manager) error {
	return builder.ControllerManagedBy(mgr).Named("termination").
		For(&corev1.Node{}).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			pod, ok := o.(*corev1.Pod)
			if !ok || pod.Spec.NodeName == "" {
				return nil
			}
			return []reconcile.Request{{NamespacedName: types.NamespacedName{Name: pod.Spec.NodeName}}}
		})).
		Watches(&v1alpha5.Provisioner{}, handler.EnqueueRequestsFromMapFunc(nodepods.NodesOfProvisioner(c.kube))).
		Complete(c)
}

// step is one stage of termination: done false stops the pass with res (a requeue).
type step func(ctx context.Context, node *corev1.Node) (res reconcile.Result, done bool, err error)

// Reconcile drives one deleted node through the steps of the package comment; a live node only
// gets its grace period annotation (grace.go). It is idempotent: every step checks the world
// first. Errors: API and cloud errors (requeued with backoff).
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := c.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !controllerutil.ContainsFinalizer(node, v1alpha5.TerminationFinalizer) {
		return reconcile.Result{}, nil
	}
	logger := log.FromContext(ctx).WithValues("node", node.Name, "providerID", node.Spec.ProviderID)
	ctx = log.IntoContext(ctx, logger)
	if node.DeletionTimestamp == nil {
		return reconcile.Result{}, c.syncGracePeriod(ctx, node)
	}
	for _, s := range []step{
		c.cordon,            // no new pods
		c.drain,             // evict in order, or delete after the grace period
		c.terminateInstance, // until the cloud says the instance is going
		c.deleteClaim,       // its launch record goes with the instance
		c.removeFinalizer,   // the API server then deletes the node
	} {
		res, done, err := s(ctx, node)
		if apierrors.IsConflict(err) {
			// The node changed since it was read: read it again shortly.
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		if err != nil || !done {
			return res, err
		}
	}
	return reconcile.Result{}, nil
}

// cordon marks the node unschedulable.
func (c *Controller) cordon(ctx context.Context, node *corev1.Node) (reconcile.Result, bool, error) {
	if node.Spec.Unschedulable {
		return reconcile.Result{}, true, nil
	}
	orig := node.DeepCopy()
	node.Spec.Unschedulable = true
	if err := c.kube.Patch(ctx, node, client.MergeFrom(orig)); err != nil {
		return reconcile.Result{}, false, fmt.Errorf("cordoning node %s: %w", node.Name, err)
	}
	log.FromContext(ctx).Info("cordoned node")
	return reconcile.Result{}, true, nil
}

// terminateInstance calls TerminateInstances (idempotent) and is done once the cloud no longer
// reports the instance pending or running; a node without a provider ID has no instance.
func (c *Controller) terminateInstance(ctx context.Context, node *corev1.Node) (reconcile.Result, bool, error) {
	if node.Spec.ProviderID == "" {
		return reconcile.Result{}, true, nil
	}
	exists, err := c.cloud.Exists(ctx, node.Spec.ProviderID)
	if err != nil {
		return reconcile.Result{}, false, fmt.Errorf("checking the instance of node %s: %w", node.Name, err)
	}
	if !exists {
		return reconcile.Result{}, true, nil
	}
	if err := c.cloud.Delete(ctx, node.Spec.ProviderID); err != nil {
		return reconcile.Result{}, false, fmt.Errorf("terminating the instance of node %s: %w", node.Name, err)
	}
	// Most clouds report shutting-down at once; check again now rather than after a poll.
	if exists, err = c.cloud.Exists(ctx, node.Spec.ProviderID); err != nil {
		return reconcile.Result{}, false, fmt.Errorf("checking the instance of node %s: %w", node.Name, err)
	}
	if exists {
		log.FromContext(ctx).Info("instance termination requested, waiting for the cloud to report it")
		return reconcile.Result{RequeueAfter: InstancePoll}, false, nil
	}
	return reconcile.Result{}, true, nil
}

// deleteClaim deletes the NodeClaim that owns the node (its owner reference), once the instance
// is going, so that the claim does not outlive its node until garbage collection notices.
func (c *Controller) deleteClaim(ctx context.Context, node *corev1.Node) (reconcile.Result, bool, error) {
	for _, ref := range node.OwnerReferences {
		if ref.Kind != "NodeClaim" || ref.APIVersion != karpv1.SchemeGroupVersion.String() {
			continue
		}
		claim := &karpv1.NodeClaim{ObjectMeta: metav1.ObjectMeta{Name: ref.Name, UID: ref.UID}}
		err := c.kube.Delete(ctx, claim, client.Preconditions{UID: &ref.UID})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) { // Conflict: a newer claim of that name
			return reconcile.Result{}, false, fmt.Errorf("deleting node claim %s: %w", ref.Name, err)
		}
	}
	return reconcile.Result{}, true, nil
}

// removeFinalizer removes karpenter.sh/termination with an optimistic lock.
func (c *Controller) removeFinalizer(ctx context.Context, node *corev1.Node) (reconcile.Result, bool, error) {
	orig := node.DeepCopy()
	controllerutil.RemoveFinalizer(node, v1alpha5.TerminationFinalizer)
	if err := c.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsNotFound(err) {
			return reconcile.Result{}, true, nil
		}
		return reconcile.Result{}, false, fmt.Errorf("removing finalizer of node %s: %w", node.Name, err)
	}
	metrics.NodesTerminated.WithLabelValues(node.Labels[v1alpha5.LabelProvisionerName], node.Labels[v1alpha5.LabelCapacityType]).Inc()
	log.FromContext(ctx).Info("terminated node", "instanceType", node.Labels[v1alpha5.LabelInstanceType],
		"drainSeconds", c.clk.Since(node.DeletionTimestamp.Time).Seconds())
	return reconcile.Result{}, true, nil
}
