package pods

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/proc"
)

// statusReporter writes the restarts of one container's process into its pod's status, as a
// kubelet does: containerStatuses[].restartCount, lastState.terminated (exit code, signal,
// reason Error or Completed, start and finish times) and state (waiting CrashLoopBackOff
// while a restart is pending, running after it), and the pod's ContainersReady and Ready
// conditions. The first start is kwok's to report (its pod-running stage, which turns a
// Pending pod Running with restartCount 0): the reporter writes nothing before the first exit
// and, after it, waits for the pod to be Running (a later pod-running would undo its write;
// kwok's stages leave a Running pod's status alone).
type statusReporter struct {
	cs        kubernetes.Interface
	namespace string
	pod       string
	uid       types.UID
	container string
	log       *slog.Logger

	mu   sync.Mutex
	want *corev1.ContainerStatus // the fields to write: RestartCount, State, LastTerminationState, Ready, Started
	kick chan struct{}           // capacity 1: want changed
}

func newStatusReporter(cs kubernetes.Interface, pod *corev1.Pod, container string, log *slog.Logger) *statusReporter {
	return &statusReporter{cs: cs, namespace: pod.Namespace, pod: pod.Name, uid: pod.UID, container: container, log: log,
		kick: make(chan struct{}, 1)}
}

// set makes want the status to write.
func (r *statusReporter) set(want corev1.ContainerStatus) {
	r.mu.Lock()
	r.want = &want
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// exited records that the process that ran since e.StartedAt exited, the restarts-th restart
// of the container being due in backoff.
func (r *statusReporter) exited(restarts int32, e proc.Exit, backoff time.Duration) {
	reason := "Error"
	if e.Code == 0 {
		reason = "Completed"
	}
	started := false
	r.set(corev1.ContainerStatus{
		RestartCount: restarts - 1,
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, r.container, r.pod, r.namespace, r.uid)}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: int32(e.Code), Signal: int32(e.Signal), Reason: reason, Message: e.Message,
			StartedAt: metav1.NewTime(e.StartedAt).Rfc3339Copy(), FinishedAt: metav1.NewTime(e.FinishedAt).Rfc3339Copy()}},
		Started: &started,
	})
}

// restarted records that the process of the restarts-th restart started at.
func (r *statusReporter) restarted(restarts int32, at time.Time) {
	r.mu.Lock()
	var last corev1.ContainerState
	if r.want != nil {
		last = r.want.LastTerminationState
	}
	r.mu.Unlock()
	started := true
	r.set(corev1.ContainerStatus{
		RestartCount:         restarts,
		State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(at).Rfc3339Copy()}},
		LastTerminationState: last,
		Ready:                true,
		Started:              &started,
	})
}

// run writes every new status until ctx ends, retrying (0.5 s doubling to 5 s) while the pod
// is not Running yet or the write fails.
func (r *statusReporter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		wait := 500 * time.Millisecond
		for !r.apply(ctx) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
}

// apply writes the wanted status into the pod's status; true when done or pointless (the pod
// is gone, replaced, deleting or finished), false to retry.
func (r *statusReporter) apply(ctx context.Context) bool {
	r.mu.Lock()
	want := r.want
	r.mu.Unlock()
	if want == nil {
		return true
	}
	pod, err := r.cs.CoreV1().Pods(r.namespace).Get(ctx, r.pod, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && (pod.UID != r.uid || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed)) {
		return true
	}
	if err != nil || pod.Status.Phase != corev1.PodRunning {
		return false
	}
	i := -1
	for j, cs := range pod.Status.ContainerStatuses {
		if cs.Name == r.container {
			i = j
		}
	}
	if i < 0 {
		return false
	}
	cur := &pod.Status.ContainerStatuses[i]
	if cur.RestartCount == want.RestartCount && cur.Ready == want.Ready && apiequality.Semantic.DeepEqual(cur.Started, want.Started) &&
		apiequality.Semantic.DeepEqual(cur.State, want.State) && apiequality.Semantic.DeepEqual(cur.LastTerminationState, want.LastTerminationState) {
		return true
	}
	cur.RestartCount, cur.State, cur.LastTerminationState, cur.Ready, cur.Started = want.RestartCount, want.State, want.LastTerminationState, want.Ready, want.Started
	setReadyConditions(pod)
	if _, err := r.cs.CoreV1().Pods(r.namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		r.log.Debug("cannot write container status; retrying", "err", err)
		return false
	}
	return true
}

// setReadyConditions sets the pod's ContainersReady and Ready conditions from its container
// statuses, as a kubelet does: True when every container is ready, else False with reason
// ContainersNotReady naming the others.
func setReadyConditions(pod *corev1.Pod) {
	var unready []string
	for _, cs := range pod.Status.ContainerStatuses {
		if !cs.Ready {
			unready = append(unready, cs.Name)
		}
	}
	want := corev1.PodCondition{Status: corev1.ConditionTrue}
	if len(unready) > 0 {
		want = corev1.PodCondition{Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: fmt.Sprintf("containers with unready status: %v", unready)}
	}
	now := metav1.Now().Rfc3339Copy()
	for _, t := range []corev1.PodConditionType{corev1.ContainersReady, corev1.PodReady} {
		c := want
		c.Type, c.LastTransitionTime = t, now
		found := false
		for i := range pod.Status.Conditions {
			old := &pod.Status.Conditions[i]
			if old.Type != t {
				continue
			}
			found = true
			if old.Status == c.Status {
				c.LastTransitionTime = old.LastTransitionTime
			}
			*old = c
		}
		if !found {
			pod.Status.Conditions = append(pod.Status.Conditions, c)
		}
	}
}
