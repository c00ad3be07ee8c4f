package provisioning

import (
	"context"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
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
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Wait returned false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("batch did not close after 1 s idle")
	}
}

func TestBatcherClosesAtMax(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(0, 0))
	b := NewBatcher(clk, time.Second, 10*time.Second)
	done := runWait(context.Background(), b)
	b.Trigger()
	waitForTimers(t, clk, 2)
	for i := 0; i < 19; i++ { // a trigger every 0.5 s keeps the idle window open
		clk.Step(500 * time.Millisecond)
		b.Trigger()
		waitForTimers(t, clk, 2)
		if closed(done) {
			t.Fatalf("batch closed at %v", clk.Since(time.Unix(0, 0)))
		}
	}
	clk.Step(500 * time.Millisecond) // 10 s since open
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("Wait returned false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("batch did not close at the max duration")
	}
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
