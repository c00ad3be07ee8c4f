package termination

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/nodepods"
)

// Critical priority classes, drained after every other pod (as Karpenter and kubectl drain's
// ordering do): the cluster's own components keep running while the workload moves.
// Source: https://kubernetes.io/docs/tasks/administer-cluster/guaranteed-scheduling-critical-addon-pods/
const (
	SystemClusterCritical = "system-cluster-critical"
	SystemNodeCritical    = "system-node-critical"
)

// IsCritical reports whether the pod has one of the two built-in critical priority classes.
func IsCritical(pod *corev1.Pod) bool {
	return pod.Spec.PriorityClassName == SystemClusterCritical || pod.Spec.PriorityClassName == SystemNodeCritical
}

// IsStuckTerminating reports whether the pod is terminating past its grace period. The API
// server sets a pod's deletionTimestamp to the time of the deletion request plus the grace
// period (metav1.ObjectMeta.DeletionTimestamp, "set to ... now + grace period"), so a pod whose
// deletionTimestamp has passed is one its kubelet did not confirm in time: a dead or
// unreachable kubelet never will, and termination does not wait on it.
func IsStuckTerminating(pod *corev1.Pod, now time.Time) bool {
	return pod.DeletionTimestamp != nil && !now.Before(pod.DeletionTimestamp.Time)
}

// drainState is what one pass over the node's pods found.
type drainState struct {
	evictable  []*corev1.Pod // not terminating: to evict (or delete after the grace period)
	critical   []*corev1.Pod // the same, critical priority classes: after every other pod
	waiting    int           // terminating within their grace period
	stuck      int           // terminating past their grace period: not waited on
	nextExpiry time.Time     // earliest deletionTimestamp among waiting pods
}

// classify sorts the node's pods; daemonset, mirror and finished pods are left alone
// (nodepods.IsReschedulable).
func classify(pods []corev1.Pod, now time.Time) drainState {
	var s drainState
	for i := range pods {
		pod := &pods[i]
		switch {
		case !nodepods.IsReschedulable(pod):
		case IsStuckTerminating(pod, now):
			s.stuck++
		case pod.DeletionTimestamp != nil:
			s.waiting++
			if s.nextExpiry.IsZero() || pod.DeletionTimestamp.Before(&metav1.Time{Time: s.nextExpiry}) {
				s.nextExpiry = pod.DeletionTimestamp.Time
			}
		case IsCritical(pod):
			s.critical = append(s.critical, pod)
		default:
			s.evictable = append(s.evictable, pod)
		}
	}
	return s
}

// drain is done when no pod it waits for is left. Before its deadline (the node's grace period,
// gracePeriod, after its deletion, or its karpenter.sh/termination-timestamp if earlier) it
// evicts non-critical pods, and critical ones once no non-critical pod is left or terminating;
// after it, it deletes every remaining pod and is done without waiting for them (the instance
// goes next). Errors: API errors other than an
// eviction refused by a PodDisruptionBudget (429) or a pod already gone (404).
func (c *Controller) drain(ctx context.Context, node *corev1.Node) (reconcile.Result, bool, error) {
	pods, err := nodepods.List(ctx, c.kube, node.Name)
	if err != nil {
		return reconcile.Result{}, false, err
	}
	now := c.clk.Now()
	s := classify(pods, now)
	grace, hasGrace, err := c.gracePeriod(ctx, node)
	if err != nil {
		return reconcile.Result{}, false, err
	}
	deadline := node.DeletionTimestamp.Add(grace)
	why := fmt.Sprintf("terminationGracePeriod %s elapsed", grace)
	if ts, ok := terminationTimestamp(ctx, node); ok && (!hasGrace || ts.Before(deadline)) {
		deadline, hasGrace = ts, true
		why = v1alpha5.AnnotationTerminationTimestamp + " " + ts.UTC().Format(time.RFC3339) + " passed"
	}
	if hasGrace && !now.Before(deadline) {
		return c.forceDrain(ctx, node, append(s.evictable, s.critical...), why, s.waiting)
	}
	if len(s.evictable) == 0 && s.waiting == 0 {
		s.evictable = s.critical // critical pods go last
	}
	blocked, err := c.evict(ctx, node, s.evictable)
	if err != nil {
		return reconcile.Result{}, false, err
	}
	if len(s.evictable) == 0 && len(s.critical) == 0 && s.waiting == 0 {
		if s.stuck > 0 {
			log.FromContext(ctx).Info("not waiting for pods terminating past their grace period", "pods", s.stuck)
		}
		return reconcile.Result{}, true, nil
	}
	wait := DrainPoll
	if blocked > 0 {
		wait = EvictionRetry
	}
	if !s.nextExpiry.IsZero() {
		wait = min(wait, max(s.nextExpiry.Sub(now), 100*time.Millisecond))
	}
	if hasGrace {
		wait = min(wait, deadline.Sub(now))
	}
	return reconcile.Result{RequeueAfter: wait}, false, nil
}

// evict creates an Eviction for each pod and returns how many a PodDisruptionBudget refused.
func (c *Controller) evict(ctx context.Context, node *corev1.Node, pods []*corev1.Pod) (blocked int, err error) {
	var evicted []string
	for _, pod := range pods {
		err := c.kube.SubResource("eviction").Create(ctx, pod, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		})
		switch {
		case err == nil:
			evicted = append(evicted, pod.Namespace+"/"+pod.Name)
		case apierrors.IsNotFound(err):
		case apierrors.IsTooManyRequests(err):
			blocked++
			log.FromContext(ctx).Info("eviction refused, retrying", "pod", pod.Namespace+"/"+pod.Name, "reason", err.Error())
			if c.recorder != nil {
				c.recorder.Eventf(node, corev1.EventTypeWarning, "EvictionBlocked", "Eviction of pod %s/%s refused: %s", pod.Namespace, pod.Name, err.Error())
			}
		default:
			return blocked, fmt.Errorf("evicting pod %s/%s: %w", pod.Namespace, pod.Name, err)
		}
	}
	if len(evicted) > 0 {
		log.FromContext(ctx).Info("evicted pods", "pods", evicted)
		if c.recorder != nil {
			c.recorder.Eventf(node, corev1.EventTypeNormal, "Draining", "Evicted %d pods", len(evicted))
		}
	}
	return blocked, nil
}

// terminationTimestamp returns the node's karpenter.sh/termination-timestamp (RFC 3339), and
// false when it has none; an unparsable value is logged and ignored.
func terminationTimestamp(ctx context.Context, node *corev1.Node) (time.Time, bool) {
	s, set := node.Annotations[v1alpha5.AnnotationTerminationTimestamp]
	if !set {
		return time.Time{}, false
	}
	ts, err := time.Parse(time.RFC3339, s)
	if err != nil {
		log.FromContext(ctx).Info("ignoring unparsable annotation", "annotation", v1alpha5.AnnotationTerminationTimestamp, "value", s)
		return time.Time{}, false
	}
	return ts, true
}

// forceDrain deletes the pods that are not terminating yet (PodDisruptionBudgets and
// karpenter.sh/do-not-evict no longer hold once the grace period is over) and is done: the
// instance is terminated without waiting for them, as Karpenter v1 does after
// terminationGracePeriod; the pod garbage collector removes what is left with the node. why
// says which deadline passed (the grace period, or karpenter.sh/termination-timestamp).
func (c *Controller) forceDrain(ctx context.Context, node *corev1.Node, pods []*corev1.Pod, why string, terminating int) (reconcile.Result, bool, error) {
	var deleted []string
	for _, pod := range pods {
		if err := c.kube.Delete(ctx, pod); err != nil && !apierrors.IsNotFound(err) {
			return reconcile.Result{}, false, fmt.Errorf("deleting pod %s/%s after the termination grace period: %w", pod.Namespace, pod.Name, err)
		}
		deleted = append(deleted, pod.Namespace+"/"+pod.Name)
	}
	if len(deleted) > 0 || terminating > 0 {
		log.FromContext(ctx).Info("drain deadline passed, deleted remaining pods", "deadline", why,
			"deleted", deleted, "stillTerminating", terminating)
		if c.recorder != nil {
			c.recorder.Eventf(node, corev1.EventTypeWarning, "TerminationGracePeriodElapsed",
				"%s: deleted %d pods, terminating the instance", why, len(deleted))
		}
	}
	return reconcile.Result{}, true, nil
}
