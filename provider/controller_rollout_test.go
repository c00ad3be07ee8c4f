package provider

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// rolledOut reports whether Deployment d's rollout is complete (rolloutComplete, no error).
func rolledOut(d *appsv1.Deployment) bool {
	done, err := rolloutComplete(d)
	return done && err == nil
}

// rolloutDeployment is a Deployment of replicas at generation 2 whose status the deployment
// controller wrote for observed.
func rolloutDeployment(replicas, observed int64, st appsv1.DeploymentStatus, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
	st.ObservedGeneration = observed
	st.Conditions = conds
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(int32(replicas)), Strategy: appsv1.DeploymentStrategy{
			Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: ptr.To(intstr.FromInt32(1))}}},
		Status: st}
}

// minAvailable: replicas less maxUnavailable (integer, percentage rounded down, 25% unset),
// all for Recreate, and never below 1.
func TestMinAvailable(t *testing.T) {
	d := func(replicas int32, typ appsv1.DeploymentStrategyType, mu *intstr.IntOrString) *appsv1.Deployment {
		out := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Strategy: appsv1.DeploymentStrategy{Type: typ}}}
		if mu != nil {
			out.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: mu}
		}
		return out
	}
	for _, tc := range []struct {
		d    *appsv1.Deployment
		want int32
	}{
		{d(2, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromInt32(1))), 1},
		{d(1, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromInt32(1))), 1},
		{d(5, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromInt32(2))), 3},
		{d(4, appsv1.RollingUpdateDeploymentStrategyType, nil), 3}, // 25% of 4
		{d(3, appsv1.RollingUpdateDeploymentStrategyType, nil), 3}, // 25% of 3 rounds down to 0
		{d(10, appsv1.RollingUpdateDeploymentStrategyType, ptr.To(intstr.FromString("50%"))), 5},
		{d(3, appsv1.RecreateDeploymentStrategyType, nil), 1},
	} {
		if got := minAvailable(tc.d); got != tc.want {
			t.Errorf("minAvailable(%d replicas, %s, %v) = %d, want %d", *tc.d.Spec.Replicas, tc.d.Spec.Strategy.Type, tc.d.Spec.Strategy.RollingUpdate, got, tc.want)
		}
	}
}

var availableTrue = appsv1.DeploymentCondition{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue,
	Reason: "MinimumReplicasAvailable"}

func TestRolloutComplete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       *appsv1.Deployment
		done    bool
		errText string
		left    string
	}{
		{"complete", rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}, availableTrue),
			true, "", ""},
		{"generation not observed", rolloutDeployment(2, 1, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}, availableTrue),
			false, "", "spec change not yet observed by the deployment controller"},
		// The user trial's: one replica in ErrImagePull, Available True by maxUnavailable 1.
		{"one replica, none available", rolloutDeployment(1, 2, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, UnavailableReplicas: 1}, availableTrue),
			false, "", "0 of 1 updated replicas available"},
		// An update stuck: two new pods (ErrImagePull, Pending), one old pod still running.
		{"update stuck", rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 2}, availableTrue),
			false, "", "1 of 3 replicas available, 1 old replica still running"},
		// One replica has no node of its own (the default affinity, one node): maxUnavailable 1
		// allows it, as Helm's --wait does.
		{"one of two available", rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1}, availableTrue),
			true, "", "1 of 2 updated replicas available"},
		{"none of two available", rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 2, UnavailableReplicas: 2}, availableTrue),
			false, "", "0 of 2 updated replicas available"},
		{"not all updated", rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 2}, availableTrue),
			false, "", "1 of 2 replicas updated, 1 old replica still running"},
		{"old replica terminating", rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 3}, availableTrue),
			false, "", "1 old replica still running"},
		{"progress deadline exceeded", rolloutDeployment(1, 2, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1},
			appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: progressDeadlineExceeded,
				Message: `ReplicaSet "karpenter-abc" has timed out progressing.`}),
			false, `exceeded its progress deadline (progressDeadlineSeconds 600): ReplicaSet "karpenter-abc" has timed out progressing.`, "0 of 1 updated replicas available"},
		{"progress deadline of an unobserved generation", rolloutDeployment(1, 1, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1},
			appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: progressDeadlineExceeded}),
			false, "", "spec change not yet observed by the deployment controller"},
	} {
		done, err := rolloutComplete(tc.d)
		if done != tc.done || (tc.errText == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.errText) {
			t.Errorf("%s: rolloutComplete = %v, %v; want %v, error %q", tc.name, done, err, tc.done, tc.errText)
		}
		if left := rolloutLeft(tc.d, nil); left != tc.left {
			t.Errorf("%s: rolloutLeft = %q, want %q", tc.name, left, tc.left)
		}
	}
}

func TestRolloutLeftNewReplicaSet(t *testing.T) {
	d := rolloutDeployment(2, 2, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 1}, availableTrue)
	rs := &appsv1.ReplicaSet{Status: appsv1.ReplicaSetStatus{Replicas: 2, AvailableReplicas: 0}}
	if got, want := rolloutLeft(d, rs), "0 of 2 updated replicas available, 1 old replica still running"; got != want {
		t.Errorf("rolloutLeft = %q, want %q", got, want)
	}
	rs.Status.AvailableReplicas = 1
	if got, want := rolloutLeft(d, rs), "1 of 2 updated replicas available, 1 old replica still running"; got != want {
		t.Errorf("rolloutLeft = %q, want %q", got, want)
	}
}

func TestPodWaitReasons(t *testing.T) {
	pod := func(phase corev1.PodPhase, conds []corev1.PodCondition, states ...corev1.ContainerState) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "karpenter-abc"}, Status: corev1.PodStatus{Phase: phase, Conditions: conds}}
		for _, s := range states {
			p.Status.ContainerStatuses = append(p.Status.ContainerStatuses, corev1.ContainerStatus{Name: "controller", State: s})
		}
		return p
	}
	ready := []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	terminating := pod(corev1.PodPending, nil, corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull"}})
	terminating.DeletionTimestamp = &metav1.Time{}
	for _, tc := range []struct {
		name string
		p    corev1.Pod
		want string
	}{
		{"ready", pod(corev1.PodRunning, ready, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}), ""},
		{"image not pulled", pod(corev1.PodPending, []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue}},
			corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ErrImagePull", Message: `pulling "x:y": not found`}}),
			`; pod karpenter-abc: container controller waiting: ErrImagePull: pulling "x:y": not found`},
		{"unschedulable", pod(corev1.PodPending, []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
			Reason: "Unschedulable", Message: "0/2 nodes are available: 2 Insufficient cpu."}}),
			"; pod karpenter-abc: not scheduled: Unschedulable: 0/2 nodes are available: 2 Insufficient cpu."},
		{"running, not ready", pod(corev1.PodRunning, []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [controller]"}},
			corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}),
			"; pod karpenter-abc: not ready: ContainersNotReady: containers with unready status: [controller]"},
		{"terminating", terminating, ""},
	} {
		if got := podWaitReasons(tc.p); got != tc.want {
			t.Errorf("%s: podWaitReasons = %q, want %q", tc.name, got, tc.want)
		}
	}
}
