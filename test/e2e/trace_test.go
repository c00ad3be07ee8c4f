package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTraceMilestones(t *testing.T) {
	start := time.Unix(0, 0)
	now := start
	tr := &Trace{start: start, now: func() time.Time { return now }, at: map[string]map[string]time.Duration{}, ign: map[string]bool{"old": true}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	now = start.Add(time.Second)
	tr.observePod(pod)
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable}}
	now = start.Add(2 * time.Second)
	tr.observePod(pod)
	now = start.Add(3 * time.Second)
	tr.observePod(pod) // a later update keeps the first time
	pod.Spec.NodeName, pod.Status.Phase = "n", corev1.PodRunning
	now = start.Add(5 * time.Second)
	tr.observePod(pod)
	tr.observeNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "old"}}) // existed before: ignored
	tr.observeNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}})
	for m, want := range map[string]float64{PodCreated: 1, PodUnschedulable: 2, PodBound: 5, PodRunning: 5, NodeCreated: 5, NodeReady: 5} {
		if q := tr.Quantiles(m); q.Count != 1 || q.Last != want {
			t.Errorf("%s: %+v, want once at %vs", m, q, want)
		}
	}
	if q := tr.Quantiles(NodeCreated); q.Count != 1 {
		t.Errorf("nodes that existed before the trace must not count: %+v", q)
	}
}
