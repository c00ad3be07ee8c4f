package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// progressDeadlineExceeded is the reason of a Deployment's Progressing condition once the
// deployment controller has given up on its rollout (k8s.io/kubectl's deploymentutil.TimedOutReason).
const progressDeadlineExceeded = "ProgressDeadlineExceeded"

// revisionAnnotation is the revision the deployment controller gives a Deployment and the
// ReplicaSet of its current pod template.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// rolloutComplete judges Deployment d's rollout: it is complete once the deployment controller
// has observed d's current generation, spec.replicas replicas (1 when unset) run the current pod
// template (updatedReplicas), no replica of an older template is left (status.replicas ==
// updatedReplicas), as `kubectl rollout status` requires (k8s.io/kubectl's
// DeploymentStatusViewer), and at least minAvailable(d) of them are available (Ready for
// minReadySeconds): all but the rolling update's maxUnavailable, as Helm's --wait counts
// (helm.sh/helm/v3 pkg/kube/ready.go), and never none. So a replica that cannot find a node of
// its own (the default affinity on a one-node cluster) does not fail the install, while an
// image that cannot be pulled (no new replica available, or an old one still running) does.
// The Available condition plays no part: for one replica it is True while none runs. The
// error, once the current generation is observed, reports a Progressing condition whose reason
// is ProgressDeadlineExceeded (progressDeadlineSeconds, default 600, passed without progress):
// the deployment controller has given up, and so does the wait.
func rolloutComplete(d *appsv1.Deployment) (bool, error) {
	if d.Status.ObservedGeneration < d.Generation {
		return false, nil
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == progressDeadlineExceeded {
			return false, fmt.Errorf("the Deployment exceeded its progress deadline (%s): %s", progressDeadline(d), c.Message)
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.UpdatedReplicas >= want && s.Replicas <= s.UpdatedReplicas && s.AvailableReplicas >= minAvailable(d), nil
}

// minAvailable is the number of available replicas a complete rollout of d needs: spec.replicas
// (1 when unset) less the rolling update's maxUnavailable (an integer or a percentage of the
// replicas rounded down, as the deployment controller scales it; 25% when unset, the API
// server's default; all of them for the Recreate strategy), and at least 1.
func minAvailable(d *appsv1.Deployment) int32 {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	unavailable := want
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		mu := intstr.FromString("25%")
		if ru := d.Spec.Strategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
			mu = *ru.MaxUnavailable
		}
		n, err := intstr.GetScaledValueFromIntOrPercent(&mu, int(want), false)
		if err != nil {
			n = 0
		}
		unavailable = int32(n)
	}
	return max(1, want-unavailable)
}

// progressDeadline is d's progressDeadlineSeconds as "progressDeadlineSeconds <n>" (600 when
// unset, the API server's default).
func progressDeadline(d *appsv1.Deployment) string {
	secs := int32(600)
	if d.Spec.ProgressDeadlineSeconds != nil {
		secs = *d.Spec.ProgressDeadlineSeconds
	}
	return fmt.Sprintf("progressDeadlineSeconds %d", secs)
}

// rolloutLeft says what Deployment d's rollout still lacks, as a comma-separated list:
// "spec change not yet observed by the deployment controller"; "<n> of <want> replicas updated"
// (running the current pod template); "<n> of <m> updated replicas available"; "<k> old
// replica(s) still running" (of an older pod template). newRS, the ReplicaSet of the current
// pod template (nil when unknown), gives the updated replicas available while old ones run;
// without it, and with old replicas left, "<n> of <m> replicas available" counts all of them
// (when some are not). "" when nothing is missing.
func rolloutLeft(d *appsv1.Deployment, newRS *appsv1.ReplicaSet) string {
	if d.Status.ObservedGeneration < d.Generation {
		return "spec change not yet observed by the deployment controller"
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	old := max(s.Replicas-s.UpdatedReplicas, 0)
	var left []string
	if s.UpdatedReplicas < want {
		left = append(left, fmt.Sprintf("%d of %d replicas updated", s.UpdatedReplicas, want))
	}
	switch {
	case newRS != nil && newRS.Status.AvailableReplicas < s.UpdatedReplicas:
		left = append(left, fmt.Sprintf("%d of %d updated replicas available", newRS.Status.AvailableReplicas, s.UpdatedReplicas))
	case newRS == nil && old == 0 && s.AvailableReplicas < s.UpdatedReplicas:
		left = append(left, fmt.Sprintf("%d of %d updated replicas available", s.AvailableReplicas, s.UpdatedReplicas))
	case newRS == nil && old > 0 && s.AvailableReplicas < s.Replicas:
		left = append(left, fmt.Sprintf("%d of %d replicas available", s.AvailableReplicas, s.Replicas))
	}
	if old > 0 {
		left = append(left, fmt.Sprintf("%d old %s still running", old, plural(old, "replica", "replicas")))
	}
	return strings.Join(left, ", ")
}

func plural(n int32, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// newReplicaSet returns the ReplicaSet of Deployment d's current pod template (owned by d,
// with d's revision annotation), or nil when there is none yet or the ReplicaSets cannot be
// listed. It reads with a context of its own: ctx may be the one that timed out.
func newReplicaSet(ctx context.Context, kc client.Client, d *appsv1.Deployment) *appsv1.ReplicaSet {
	rev := d.Annotations[revisionAnnotation]
	if rev == "" || d.Spec.Selector == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil
	}
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var rss appsv1.ReplicaSetList
	if err := kc.List(lctx, &rss, client.InNamespace(d.Namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
		return nil
	}
	for i, rs := range rss.Items {
		if metav1.IsControlledBy(&rs, d) && rs.Annotations[revisionAnnotation] == rev {
			return &rss.Items[i]
		}
	}
	return nil
}

// waitRollout waits until the controller Deployment key's rollout is complete (rolloutComplete).
// It fails early when the Deployment's pods are refused (deploymentRefused) or its progress
// deadline passed. The error names what is left (rolloutLeft) and the pods that wait
// (podsWaiting: an image that cannot be pulled, a pod no node can take); one for ctx's deadline
// says that the timeout ran out. d receives the last Deployment read.
func waitRollout(ctx context.Context, kc client.Client, key client.ObjectKey, d *appsv1.Deployment) error {
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if err := kc.Get(ctx, key, d); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		if err := deploymentRefused(d, time.Now()); err != nil {
			return false, err
		}
		return rolloutComplete(d)
	})
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = errors.New("the timeout ran out (timeouts: create, update)")
	}
	msg := fmt.Sprintf("%s/%s: %v", key.Namespace, key.Name, err)
	if d.Name == "" {
		return errors.New(msg + ": the Deployment was not found")
	}
	if left := rolloutLeft(d, newReplicaSet(ctx, kc, d)); left != "" {
		msg += ": rollout not complete: " + left
	}
	return errors.New(msg + podsWaiting(ctx, kc, key.Namespace))
}

// podWaitReasons describes why pod p is not available, as podsWaiting lists it: each container
// waiting ("; pod <name>: container <c> waiting: <reason>: <message>", e.g. ErrImagePull naming
// the image, CrashLoopBackOff), a pod the scheduler could not place ("; pod <name>: not
// scheduled: Unschedulable: 0/2 nodes are available: ..."), or one running but not Ready
// ("; pod <name>: not ready: <reason>: <message>"); "" for a Ready or terminating pod.
func podWaitReasons(p corev1.Pod) string {
	if p.DeletionTimestamp != nil {
		return ""
	}
	var b strings.Builder
	reason := func(what, r, m string) {
		fmt.Fprintf(&b, "; pod %s: %s", p.Name, what)
		if r != "" {
			b.WriteString(": " + r)
		}
		if m != "" {
			b.WriteString(": " + m)
		}
	}
	for _, c := range p.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil && w.Reason != "" {
			reason("container "+c.Name+" waiting", w.Reason, w.Message)
		}
	}
	if b.Len() > 0 {
		return b.String()
	}
	for _, c := range p.Status.Conditions {
		switch {
		case c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse:
			reason("not scheduled", c.Reason, c.Message)
			return b.String()
		case c.Type == corev1.PodReady && c.Status != corev1.ConditionTrue && p.Status.Phase == corev1.PodRunning:
			reason("not ready", c.Reason, c.Message)
			return b.String()
		}
	}
	return ""
}
