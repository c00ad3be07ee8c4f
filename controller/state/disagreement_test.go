package state

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
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
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil, nil); len(got) != 0 {
		t.Fatalf("judged before the node was Ready for the grace period: %+v", got)
	}
	clk.Step(6 * time.Second)
	got := d.Check([]*corev1.Pod{pod}, nodes, nil, nil)
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
	got = d.Check([]*corev1.Pod{pod}, []corev1.Node{testNode("n2", true, clk.Now().Add(-time.Hour))}, nil, nil)
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
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil, nil); len(got) != 0 {
		t.Fatalf("judged a NotReady node too early: %+v", got)
	}
	clk.Step(2 * time.Minute)
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil, nil); len(got) != 1 {
		t.Fatalf("a node NotReady for 6 minutes must be judged: %+v", got)
	}
	// A pod that is no longer pending is forgotten.
	d.Check(nil, nodes, nil, nil)
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
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil, full); len(got) != 0 {
		t.Fatalf("kube-scheduler filled the node with other pods: no disagreement, got %+v", got)
	}
	if h, held := d.Hold(pod, alive); held || h.Outstanding || h.Excluded.Has("n1") || !h.NoNewNodeUntil.IsZero() {
		t.Fatalf("a pod whose node filled up must be free to cause a launch: %+v %v", h, held)
	}
	// With room left, the same wait is a disagreement.
	d.Planned(pod, "n1", true)
	clk.Step(time.Minute)
	if got := d.Check([]*corev1.Pod{pod}, nodes, nil, func(*corev1.Pod, string) bool { return true }); len(got) != 1 {
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

// replica returns pod name of ReplicaSet rs (one template key per rs).
func replica(rs, name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name),
		Labels:          map[string]string{"app": rs},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs, UID: types.UID("rs-" + rs), Controller: ptr.To(true)}}}}
}

// TestDisagreementsSiblingsSwapNodes: kube-scheduler bound replica A to the node planned for
// replica B of the same ReplicaSet, and B waits for the node planned for A (a capacity-type
// anti-affinity lets one replica per capacity type; the node planned for B came up first). The
// plan holds, the replicas only swapped: B is judged on A's node, not on its own.
func TestDisagreementsSiblingsSwapNodes(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alive := func(string) bool { return true }
	t.Run("a sibling took the node: no disagreement, judged on the sibling's node", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(start)
		d := NewDisagreements(clk, 30*time.Second)
		a, b := replica("web", "a"), replica("web", "b")
		d.Planned(a, "spot-node", true)
		d.Planned(b, "od-node", true)
		nodes := []corev1.Node{testNode("od-node", true, start), testNode("spot-node", false, start)}
		clk.Step(5 * time.Second)
		bound := map[string][]*corev1.Pod{"od-node": {a}}
		if got := d.Check([]*corev1.Pod{b}, nodes, bound, nil); len(got) != 0 {
			t.Fatalf("disagreement: %+v", got)
		}
		if h, _ := d.Hold(b, alive); h.PlannedNode != "spot-node" || !h.Outstanding {
			t.Fatalf("b must now wait for the node planned for a: %+v", h)
		}
		clk.Step(time.Minute) // od-node Ready for over the grace period, spot-node still booting
		if got := d.Check([]*corev1.Pod{b}, nodes, bound, nil); len(got) != 0 {
			t.Fatalf("judged on the node its sibling took: %+v", got)
		}
		// spot-node Ready, and b still not bound after the grace period: a real disagreement,
		// on spot-node.
		nodes[1] = testNode("spot-node", true, clk.Now())
		clk.Step(31 * time.Second)
		got := d.Check([]*corev1.Pod{b}, nodes, bound, nil)
		if len(got) != 1 || got[0].Node.Name != "spot-node" {
			t.Fatalf("want a disagreement on spot-node, got %+v", got)
		}
	})
	t.Run("a chain of swaps is followed", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(start)
		d := NewDisagreements(clk, 30*time.Second)
		a, b, c := replica("web", "a"), replica("web", "b"), replica("web", "c")
		d.Planned(a, "n1", true)
		d.Planned(b, "n2", true)
		d.Planned(c, "n3", true)
		nodes := []corev1.Node{testNode("n1", false, start), testNode("n2", true, start), testNode("n3", true, start)}
		clk.Step(time.Minute)
		// a took b's node, b took c's: c takes the node planned for a.
		bound := map[string][]*corev1.Pod{"n2": {a}, "n3": {b}}
		if got := d.Check([]*corev1.Pod{c}, nodes, bound, nil); len(got) != 0 {
			t.Fatalf("disagreement: %+v", got)
		}
		if h, _ := d.Hold(c, alive); h.PlannedNode != "n1" {
			t.Fatalf("c must wait for n1: %+v", h)
		}
	})
	// minDomains 5 over 3 zones: the solver places 3 of 6 replicas and refuses 3, but
	// kube-scheduler may bind a refused one where a placed one was planned; the placed one is
	// then the one left without a place, which is no refusal of the plan.
	t.Run("a sibling the solver refused took the node: the plan is dropped", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(start)
		d := NewDisagreements(clk, 30*time.Second)
		b, refused := replica("web", "b"), replica("web", "refused")
		nodes := []corev1.Node{testNode("n2", true, start)}
		d.Check([]*corev1.Pod{b, refused}, nodes, nil, nil) // the batch's check, then its plan
		d.Planned(b, "n2", true)
		clk.Step(time.Minute)
		bound := map[string][]*corev1.Pod{"n2": {refused}}
		if got := d.Check([]*corev1.Pod{b}, nodes, bound, nil); len(got) != 0 {
			t.Fatalf("disagreement: %+v", got)
		}
		if h, held := d.Hold(b, alive); held || h.PlannedNode != "" || h.Excluded.Has("n2") {
			t.Fatalf("b must be free to be planned anew: %+v %v", h, held)
		}
	})
	t.Run("real refusals are still judged", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(start)
		d := NewDisagreements(clk, 30*time.Second)
		// a was planned on n1 with b and bound there: its own place, not b's.
		a, b := replica("web", "a"), replica("web", "b")
		// other is of another template, planned on n2 and bound to n1.
		other := replica("db", "other")
		d.Planned(a, "n1", true)
		d.Planned(b, "n1", true)
		d.Planned(other, "n2", true)
		nodes := []corev1.Node{testNode("n1", true, start), testNode("n2", true, start)}
		clk.Step(time.Minute)
		// A replica that was running before the batch is no sibling taking b's place either.
		running := replica("web", "running")
		bound := map[string][]*corev1.Pod{"n1": {a, other, running}}
		got := d.Check([]*corev1.Pod{b}, nodes, bound, nil)
		if len(got) != 1 || got[0].Node.Name != "n1" {
			t.Fatalf("b refused on n1 beside its sibling planned there: want a disagreement on n1, got %+v", got)
		}
	})
}

// backlog returns n pending pods of no template (bare pods, so no sibling swaps), named q0..
func backlog(n int) []*corev1.Pod {
	out := make([]*corev1.Pod, n)
	for i := range out {
		name := "q" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		out[i] = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, UID: types.UID("uid-" + name)}}
	}
	return out
}

// TestDisagreementsBacklogPostponesJudgement: under thousands of pending pods kube-scheduler
// takes longer than the grace period to reach each one. While it binds pods that were pending at
// the previous Check, a pod past its grace period is not judged; 10 s without such progress, it
// is, and the planned node stays nominated exactly as long as the judgement is postponed.
func TestDisagreementsBacklogPostponesJudgement(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakeClock(start)
	d := NewDisagreements(clk, 30*time.Second)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}
	unbound := func(types.NamespacedName, types.UID) bool { return true }
	others := backlog(3)
	nodes := []corev1.Node{testNode("n1", true, start), testNode("n2", true, start)}
	d.Planned(pod, "n1", true)
	d.Check(append([]*corev1.Pod{pod}, others...), nodes, nil, nil)

	clk.Step(29 * time.Second)
	bound := map[string][]*corev1.Pod{"n2": others[:1]} // kube-scheduler bound a pending pod
	if got := d.Check(append([]*corev1.Pod{pod}, others[1:]...), nodes, bound, nil); len(got) != 0 {
		t.Fatalf("judged within the grace period: %+v", got)
	}
	clk.Step(5 * time.Second) // grace over; kube-scheduler still binding
	bound = map[string][]*corev1.Pod{"n2": others[:2]}
	if got := d.Check(append([]*corev1.Pod{pod}, others[2:]...), nodes, bound, nil); len(got) != 0 {
		t.Fatalf("judged while kube-scheduler works through its backlog: %+v", got)
	}
	progress := clk.Now()
	if got := d.NominatedUntil(&nodes[0], unbound); !got.Equal(progress.Add(10 * time.Second)) {
		t.Errorf("postponed: nominated until %v, want the last progress + 10 s (%v)", got, progress.Add(10*time.Second))
	}
	clk.Step(9 * time.Second) // no new bind since
	if got := d.Check(append([]*corev1.Pod{pod}, others[2:]...), nodes, bound, nil); len(got) != 0 {
		t.Fatalf("judged 9 s after the last progress: %+v", got)
	}
	if got := d.NominatedUntil(&nodes[0], unbound); !got.Equal(progress.Add(10 * time.Second)) {
		t.Errorf("still postponed: nominated until %v, want %v", got, progress.Add(10*time.Second))
	}
	clk.Step(time.Second)
	if got := d.NominatedUntil(&nodes[0], unbound); !got.IsZero() {
		t.Errorf("quiet period over: nominated until %v, want zero", got)
	}
	got := d.Check(append([]*corev1.Pod{pod}, others[2:]...), nodes, bound, nil)
	if len(got) != 1 || got[0].Node.Name != "n1" {
		t.Fatalf("10 s without progress after the grace period: want a disagreement on n1, got %+v", got)
	}
}

// TestDisagreementsBacklogQuietAndCap: a pod pending at the previous Check that is gone rather
// than bound is no progress; and with kube-scheduler binding a pod every 5 s forever, a pod is
// still judged 5 minutes after its grace period.
func TestDisagreementsBacklogQuietAndCap(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	unbound := func(types.NamespacedName, types.UID) bool { return true }
	nodes := []corev1.Node{testNode("n1", true, start), testNode("n2", true, start)}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "p", UID: "u1"}}
	t.Run("deleted pods are no progress", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(start)
		d := NewDisagreements(clk, 30*time.Second)
		others := backlog(2)
		d.Planned(pod, "n1", true)
		d.Check(append([]*corev1.Pod{pod}, others...), nodes, nil, nil)
		clk.Step(31 * time.Second)
		if got := d.Check([]*corev1.Pod{pod}, nodes, nil, nil); len(got) != 1 {
			t.Fatalf("no pod bound since the previous check: want a disagreement, got %+v", got)
		}
	})
	t.Run("the cap judges under constant progress", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(start)
		d := NewDisagreements(clk, 30*time.Second)
		others := backlog(100)
		d.Planned(pod, "n1", true)
		d.Check(append([]*corev1.Pod{pod}, others...), nodes, nil, nil)
		capped := start.Add(30*time.Second + 5*time.Minute)
		for i := 1; ; i++ {
			clk.Step(5 * time.Second)
			got := d.Check(append([]*corev1.Pod{pod}, others[i:]...), nodes, map[string][]*corev1.Pod{"n2": others[:i]}, nil)
			if clk.Now().Before(capped) {
				if len(got) != 0 {
					t.Fatalf("judged at %v, before the cap %v", clk.Now(), capped)
				}
				want := max(30*time.Second, min(clk.Now().Add(10*time.Second).Sub(start), capped.Sub(start)))
				if until := d.NominatedUntil(&nodes[0], unbound); !until.Equal(start.Add(want)) {
					t.Fatalf("at %v: nominated until %v, want %v", clk.Now(), until, start.Add(want))
				}
				continue
			}
			if len(got) != 1 || !clk.Now().Equal(capped) {
				t.Fatalf("at %v (cap %v): want a disagreement at the cap, got %+v", clk.Now(), capped, got)
			}
			return
		}
	})
}
