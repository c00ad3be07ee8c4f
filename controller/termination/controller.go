// Package termination finalizes deleted nodes the controller launched: it cordons the node,
// evicts its pods through the Eviction API (so PodDisruptionBudgets are honoured), waits until
// they are gone, terminates the instance and removes the finalizer karpenter.sh/termination.
package termination

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
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

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// Requeue intervals while draining.
const (
	// EvictionRetry is the wait after an eviction was refused (429: a PodDisruptionBudget).
	EvictionRetry = 5 * time.Second
	// DrainPoll is the wait while evicted pods are still terminating (pod deletions also
	// re-trigger the reconcile).
	DrainPoll = 2 * time.Second
)

// Controller finalizes Nodes with a deletionTimestamp and the termination finalizer.
type Controller struct {
	kube     client.Client
	cloud    cloudprovider.CloudProvider
	clk      clock.Clock
	recorder record.EventRecorder
}

// NewController returns the termination controller. The pod index nodepods.IndexKey must be
// registered on the client's cache.
func NewController(kube client.Client, cloud cloudprovider.CloudProvider, clk clock.Clock, recorder record.EventRecorder) *Controller {
	return &Controller{kube: kube, cloud: cloud, clk: clk, recorder: recorder}
}

// Register adds the controller to mgr: it reconciles Nodes and is re-triggered by their pods.
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
		Complete(c)
}

// Reconcile drives one deleted node through cordon -> evict -> wait -> terminate instance ->
// remove finalizer. It is idempotent: every step checks the world first. Errors: API and cloud
// errors (requeued with backoff); PDB-refused evictions requeue after EvictionRetry.
func (c *Controller) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	node := &corev1.Node{}
	if err := c.kube.Get(ctx, req.NamespacedName, node); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if node.DeletionTimestamp == nil || !controllerutil.ContainsFinalizer(node, v1alpha5.TerminationFinalizer) {
		return reconcile.Result{}, nil
	}
	logger := log.FromContext(ctx).WithValues("node", node.Name, "providerID", node.Spec.ProviderID)
	ctx = log.IntoContext(ctx, logger)
	if err := c.cordon(ctx, node); err != nil {
		return reconcile.Result{}, err
	}
	remaining, blocked, err := c.drain(ctx, node)
	if err != nil {
		return reconcile.Result{}, err
	}
	if blocked > 0 {
		return reconcile.Result{RequeueAfter: EvictionRetry}, nil
	}
	if remaining > 0 {
		return reconcile.Result{RequeueAfter: DrainPoll}, nil
	}
	if node.Spec.ProviderID != "" {
		if err := c.cloud.Delete(ctx, node.Spec.ProviderID); err != nil {
			return reconcile.Result{}, fmt.Errorf("terminating the instance of node %s: %w", node.Name, err)
		}
	}
	orig := node.DeepCopy()
	controllerutil.RemoveFinalizer(node, v1alpha5.TerminationFinalizer)
	if err := c.kube.Patch(ctx, node, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			// The node changed since it was read: read it again shortly (the instance is gone already).
			return reconcile.Result{RequeueAfter: 100 * time.Millisecond}, nil
		}
		return reconcile.Result{}, client.IgnoreNotFound(fmt.Errorf("removing finalizer of node %s: %w", node.Name, err))
	}
	metrics.NodesTerminated.WithLabelValues(node.Labels[v1alpha5.LabelProvisionerName], node.Labels[v1alpha5.LabelCapacityType]).Inc()
	logger.Info("terminated node", "instanceType", node.Labels[v1alpha5.LabelInstanceType],
		"drainSeconds", c.clk.Since(node.DeletionTimestamp.Time).Seconds())
	return reconcile.Result{}, nil
}

// cordon marks the node unschedulable.
func (c *Controller) cordon(ctx context.Context, node *corev1.Node) error {
	if node.Spec.Unschedulable {
		return nil
	}
	orig := node.DeepCopy()
	node.Spec.Unschedulable = true
	if err := c.kube.Patch(ctx, node, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("cordoning node %s: %w", node.Name, err)
	}
	log.FromContext(ctx).Info("cordoned node")
	return nil
}

// drain evicts every reschedulable pod (not daemonset, not mirror, not terminal) that is not
// already terminating. It returns how many such pods remain and how many evictions a
// PodDisruptionBudget refused.
func (c *Controller) drain(ctx context.Context, node *corev1.Node) (remaining, blocked int, err error) {
	pods, err := nodepods.List(ctx, c.kube, node.Name)
	if err != nil {
		return 0, 0, err
	}
	var evicted []string
	for i := range pods {
		pod := &pods[i]
		if !nodepods.IsReschedulable(pod) {
			continue
		}
		remaining++
		if pod.DeletionTimestamp != nil {
			continue
		}
		err := c.kube.SubResource("eviction").Create(ctx, pod, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		})
		switch {
		case err == nil:
			evicted = append(evicted, pod.Namespace+"/"+pod.Name)
		case apierrors.IsNotFound(err):
			remaining--
		case apierrors.IsTooManyRequests(err):
			blocked++
			log.FromContext(ctx).Info("eviction refused, retrying", "pod", pod.Namespace+"/"+pod.Name, "reason", err.Error())
		default:
			return 0, 0, fmt.Errorf("evicting pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	if len(evicted) > 0 {
		log.FromContext(ctx).Info("evicted pods", "pods", evicted)
		if c.recorder != nil {
			c.recorder.Eventf(node, corev1.EventTypeNormal, "Draining", "Evicted %d pods", len(evicted))
		}
	}
	return remaining, blocked, nil
}
