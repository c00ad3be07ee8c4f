package provisioning

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// runWait starts Wait and returns a channel that receives its result.
func runWait(ctx context.Context, b *Batcher) <-chan bool {
	done := make(chan bool, 1)
	go func() { done <- b.Wait(ctx) }()
	return done
}

// waitForTimers waits until the batcher goroutine has armed n timers on the fake clock.
func waitForTimers(t *testing.T, clk *clocktesting.FakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for clk.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("batcher armed %d timers, want %d", clk.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func closed(ch <-chan bool) bool {
	select {
	case <-ch:
		return true
	case <-time.After(20 * time.Millisecond):
		return false
	}
}

func TestBatcherClosesAfterIdle(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 10*time.Second)
	done := runWait(context.Background(), b)
	if closed(done) {
		t.Fatal("Wait returned without a trigger")
	}
	b.Trigger()
	waitForTimers(t, clk, 2)
	clk.Step(900 * time.Millisecond)
	b.Trigger()                      // extends the idle window to 1.9 s
	clk.Step(900 * time.Millisecond) // 1.8 s since open, 0.9 s idle: the first idle timer fired
	waitForTimers(t, clk, 2)         // and was re-armed
	if closed(done) {
		t.Fatal("batch closed before 1 s idle")
	}
	clk.Step(200 * time.Millisecond)
	expectClose(t, done, "after 1 s idle")
}

// expectClose fails the test unless the batch closes (Wait returns true) now.
func expectClose(t *testing.T, done <-chan bool, what string) {
	t.Helper()
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Wait returned false")
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("batch did not close %s", what)
	}
}

// stepStream steps clk in 0.5 s steps up to end seconds after the start, calling perStep(i)
// Triggers at step i (i = 1, 2, ...) and failing if the batch closes on the way.
func stepStream(t *testing.T, clk *clocktesting.FakeClock, b *Batcher, done <-chan bool, end time.Duration, perStep func(i int) int) {
	t.Helper()
	for i := 1; time.Duration(i)*500*time.Millisecond < end; i++ {
		clk.Step(500 * time.Millisecond)
		for range perStep(i) {
			b.Trigger()
		}
		waitForTimers(t, clk, 2)
		if closed(done) {
			t.Fatalf("batch closed at %v", clk.Since(time.Unix(0, 0)))
		}
	}
	clk.Step(500 * time.Millisecond)
}

func TestBatcherClosesAtMax(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 10*time.Second)
	done := runWait(context.Background(), b)
	b.Trigger()
	waitForTimers(t, clk, 2)
	// A stream that grows every second (2k+2 Triggers in second k, half-way through it, so
	// more than the opening Trigger and the first second's together) keeps the batch open
	// until the max duration.
	stepStream(t, clk, b, done, 10*time.Second, func(i int) int {
		if i%2 == 1 {
			return 2*(i/2) + 4
		}
		return 0
	})
	expectClose(t, done, "at the max duration")
}

func TestBatcherClosesSteadyStream(t *testing.T) {
	for name, perStep := range map[string]func(int) int{
		"steady": func(int) int { return 1 },             // 2 Triggers every second
		"ebbing": func(i int) int { return max(1, 4-i) }, // 3+2, then 1+1: fewer in the second second
	} {
		t.Run(name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Unix(0, 0))
			b := NewBatcher(clk, time.Second, 10*time.Second)
			done := runWait(context.Background(), b)
			b.Trigger()
			waitForTimers(t, clk, 2)
			// The first second sets the rate; at 2 s the second brought no more: close.
			stepStream(t, clk, b, done, 2*time.Second, perStep)
			expectClose(t, done, "when the stream stopped growing")
		})
	}
}

func TestBatcherRecheck(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 10*time.Second)
	done := runWait(context.Background(), b)
	b.Recheck() // opens a batch
	waitForTimers(t, clk, 2)
	clk.Step(900 * time.Millisecond)
	b.Recheck() // does not extend it
	b.Recheck()
	if closed(done) {
		t.Fatal("batch closed before its idle duration")
	}
	clk.Step(100 * time.Millisecond)
	expectClose(t, done, "1 s after a Recheck opened it")

	// Rechecks while a Trigger-opened batch is open do not keep it open either.
	done = runWait(context.Background(), b)
	b.Trigger()
	waitForTimers(t, clk, 2)
	for range 3 {
		clk.Step(300 * time.Millisecond)
		b.Recheck()
		waitForTimers(t, clk, 2)
	}
	clk.Step(100 * time.Millisecond)
	expectClose(t, done, "1 s after its only Trigger")
}

func TestBatcherContextCancel(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 10*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	done := runWait(ctx, b)
	cancel()
	if ok := <-done; ok {
		t.Fatal("Wait returned true after cancel")
	}
}

func TestReconcilePodTriggersOnlyNewPendingPods(t *testing.T) {
	ctx := context.Background()
	pod := pendingPod("web", "1", "1Gi")
	pod.UID = "uid-1"
	e := newEnv(t, pod)
	req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(pod)}
	arrivals := func() int { _, n := e.prov.batcher.state(); return n }
	reconcileOK := func() {
		t.Helper()
		if _, err := e.prov.reconcilePod(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	reconcileOK()
	if arrivals() != 1 {
		t.Fatalf("a pod pending for the first time is new work: %d Triggers", arrivals())
	}
	reconcileOK() // kube-scheduler updated its condition after another attempt
	if arrivals() != 1 {
		t.Fatalf("another event of a known pending pod must be a Recheck: %d Triggers", arrivals())
	}
	// Deleted and recreated under the same name: a new pod.
	if err := e.kube.Delete(ctx, pod); err != nil {
		t.Fatal(err)
	}
	reconcileOK()
	again := pendingPod("web", "1", "1Gi")
	again.UID = "uid-2"
	if err := e.kube.Create(ctx, again); err != nil {
		t.Fatal(err)
	}
	reconcileOK()
	if arrivals() != 2 {
		t.Fatalf("a recreated pod is new work: %d Triggers", arrivals())
	}
	// Bound: forgotten.
	again.Spec.NodeName = "n1"
	if err := e.kube.Update(ctx, again); err != nil {
		t.Fatal(err)
	}
	reconcileOK()
	e.prov.pendingMu.Lock()
	defer e.prov.pendingMu.Unlock()
	if len(e.prov.pendingSeen) != 0 {
		t.Fatalf("a bound pod must be forgotten: %v", e.prov.pendingSeen)
	}
}
