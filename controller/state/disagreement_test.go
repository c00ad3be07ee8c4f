package state

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
)

func testNode(name string, ready bool, since time.Time) corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{
		Type: corev1.NodeReady, Status: status, LastTransitionTime: metav1.NewTime(since)}}}}
}

func TestDisagreementsJudgeAfterGraceAndBackOff(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := NewDisagreements(clk, 30*time.Second)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}
	alive := func(string) bool { return true }

	d.Planned(pod, "n1", true)
	if h, held := d.Hold(pod, alive); !held || !h.Outstanding || h.PlannedNode != "n1" {
		t.Fatalf("a launch for the pod must be outstanding: %+v %v", h, held)
	}
	nodes := []corev1.Node{testNode("n1", true, clk.Now().Add(10*time.Second))}
	clk.Step(35 * time.Second) // planned 35 s ago, Ready only 25 s ago
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil); len(got) != 0 {
		t.Fatalf("judged before the node was Ready for the grace period: %+v", got)
	}
	clk.Step(6 * time.Second)
	got := d.Check([]*corev1.Pod{pod}, nodes, nil)
	if len(got) != 1 || got[0].Node.Name != "n1" || got[0].Count != 1 || !got[0].NoNewNodeUntil.Equal(clk.Now().Add(30*time.Second)) {
		t.Fatalf("want one disagreement on n1 with a 30 s backoff, got %+v", got)
	}
	h, _ := d.Hold(pod, alive)
	if !h.Excluded.Has("n1") || h.Outstanding || h.PlannedNode != "" || h.NoNewNodeUntil.IsZero() {
		t.Fatalf("after a disagreement: %+v", h)
	}
	clk.Step(31 * time.Second)
	if h, _ := d.Hold(pod, alive); !h.NoNewNodeUntil.IsZero() || !h.Excluded.Has("n1") {
		t.Fatalf("backoff over, exclusion kept: %+v", h)
	}
	// The second disagreement doubles the backoff.
	d.Planned(pod, "n2", true)
	clk.Step(31 * time.Second)
	got = d.Check([]*corev1.Pod{pod}, []corev1.Node{testNode("n2", true, clk.Now().Add(-time.Hour))}, nil)
	if len(got) != 1 || got[0].Count != 2 || !got[0].NoNewNodeUntil.Equal(clk.Now().Add(time.Minute)) {
		t.Fatalf("want a 60 s backoff on the second disagreement, got %+v", got)
	}
}

func TestDisagreementsReleaseAndForget(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := NewDisagreements(clk, 0)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}

	// A node launched for the pod that is gone (failed launch, reclaimed) releases it.
	d.Planned(pod, "gone", true)
	if h, held := d.Hold(pod, func(string) bool { return false }); held || h.Outstanding {
		t.Fatalf("a vanished node must not hold the pod: %+v", h)
	}
	// A node that never becomes Ready is judged after 5 minutes.
	d.Planned(pod, "stuck", true)
	nodes := []corev1.Node{testNode("stuck", false, clk.Now())}
	clk.Step(4 * time.Minute)
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil); len(got) != 0 {
		t.Fatalf("judged a NotReady node too early: %+v", got)
	}
	clk.Step(2 * time.Minute)
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil); len(got) != 1 {
		t.Fatalf("a node NotReady for 6 minutes must be judged: %+v", got)
	}
	// A pod that is no longer pending is forgotten.
	d.Check(nil, nodes, nil)
	if _, held := d.Hold(pod, func(string) bool { return true }); held {
		t.Fatal("a bound pod must be forgotten")
	}
}

func TestDisagreementsReleaseWhenNodeFull(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := NewDisagreements(clk, 30*time.Second)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}
	alive := func(string) bool { return true }
	d.Planned(pod, "n1", true)
	nodes := []corev1.Node{testNode("n1", true, clk.Now())}
	clk.Step(time.Minute) // Ready for longer than the grace period
	full := func(_ *corev1.Pod, node string) bool { return node != "n1" }
	if got := d.Check([]*corev1.Pod{pod}, nodes, full); len(got) != 0 {
		t.Fatalf("kube-scheduler filled the node with other pods: no disagreement, got %+v", got)
	}
	if h, held := d.Hold(pod, alive); held || h.Outstanding || h.Excluded.Has("n1") || !h.NoNewNodeUntil.IsZero() {
		t.Fatalf("a pod whose node filled up must be free to cause a launch: %+v %v", h, held)
	}
	// With room left, the same wait is a disagreement.
	d.Planned(pod, "n1", true)
	clk.Step(time.Minute)
	if got := d.Check([]*corev1.Pod{pod}, nodes, func(*corev1.Pod, string) bool { return true }); len(got) != 1 {
		t.Fatalf("room left and not bound after the grace period: want a disagreement, got %+v", got)
	}
}

func TestNominatedUntil(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	d := NewDisagreements(clk, 30*time.Second)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}
	planned := clk.Now()
	d.Planned(pod, "n1", true)
	unbound := func(key types.NamespacedName, uid types.UID) bool { return key.Name == "p" && uid == "u1" }
	booting := testNode("n1", false, planned)
	if got := d.NominatedUntil(&booting, unbound); !got.Equal(planned.Add(30 * time.Second)) {
		t.Errorf("not Ready: until %v, want the plan + 30 s", got)
	}
	readyLater := testNode("n1", true, planned.Add(20*time.Second))
	if got := d.NominatedUntil(&readyLater, unbound); !got.Equal(planned.Add(50 * time.Second)) {
		t.Errorf("Ready after the plan: until %v, want Ready + 30 s", got)
	}
	other := testNode("n2", true, planned)
	if got := d.NominatedUntil(&other, unbound); !got.IsZero() {
		t.Errorf("a node nothing is planned on: until %v, want zero", got)
	}
	// A pod bound (or gone) meanwhile holds nothing, even before the next Check.
	if got := d.NominatedUntil(&readyLater, func(types.NamespacedName, types.UID) bool { return false }); !got.IsZero() {
		t.Errorf("pod no longer unbound: until %v, want zero", got)
	}
	// The wait ends with the grace period.
	clk.Step(50 * time.Second)
	if got := d.NominatedUntil(&readyLater, unbound); !got.IsZero() {
		t.Errorf("grace over: until %v, want zero", got)
	}
}
