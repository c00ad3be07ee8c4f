package provisioning

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Batcher groups pending-pod events into batches. A batch opens with the first Trigger or
// Recheck and closes at the first of:
//
//   - idle: no Trigger for the idle duration (a batch opened by a Recheck alone closes the
//     idle duration after it opened);
//   - steady stream: at the end of each idle-long interval after the batch opened, from the
//     second on, the interval brought Triggers but no more than the interval before it. The
//     stream of new pending pods is then steady or ebbing (kube-scheduler marks a burst of pods
//     unschedulable at its own pace, tens per second on a busy control plane): waiting longer
//     only adds pods at the same rate, while every pod already seen waits for its node. A batch
//     whose stream still grows stays open;
//   - max: the max duration has passed since it opened.
//
// Trigger is for new work (a pod seen pending for the first time, a changed provisioner); it
// opens a batch or extends the open one's idle window. Recheck is for news about work the
// batcher has already seen (kube-scheduler retried a known pending pod): it opens a batch when
// none is open, so the change is acted on within the idle duration, but it neither extends an
// open batch nor counts towards the stream, so that status updates of the pods already
// waiting cannot keep a batch open until its max duration. Trigger and Recheck never block.
type Batcher struct {
	clk    clock.Clock
	idle   time.Duration
	max    time.Duration
	signal chan struct{}

	mu      sync.Mutex
	last    time.Time // time of the latest Trigger
	arrived int       // Triggers so far
}

// NewBatcher returns a Batcher; idle and max are the window's idle and maximum durations.
func NewBatcher(clk clock.Clock, idle, max time.Duration) *Batcher {
	return &Batcher{clk: clk, idle: idle, max: max, signal: make(chan struct{}, 1)}
}

// Trigger opens a batch or extends the open one's idle window, and counts as one arrival of
// the stream.
func (b *Batcher) Trigger() {
	b.mu.Lock()
	b.last = b.clk.Now()
	b.arrived++
	b.mu.Unlock()
	b.notify()
}

// Recheck opens a batch when none is open; it leaves an open batch as it is.
func (b *Batcher) Recheck() { b.notify() }

func (b *Batcher) notify() {
	select {
	case b.signal <- struct{}{}:
	default:
	}
}

// state returns the time of the latest Trigger and the number of Triggers so far.
func (b *Batcher) state() (time.Time, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.last, b.arrived
}

// Wait blocks until a batch has opened and closed (see Batcher for the rules); it returns
// false when ctx ends first.
func (b *Batcher) Wait(ctx context.Context) bool {
	// The first interval counts the Triggers from now on: those that arrive while Wait
	// blocks open the batch. Triggers that arrived while the previous batch was provisioned
	// open it too but are not counted, which only makes the steady-stream rule later to close.
	_, base := b.state()
	select {
	case <-b.signal:
	case <-ctx.Done():
		return false
	}
	opened := b.clk.Now()
	maxTimer := b.clk.NewTimer(b.max)
	defer maxTimer.Stop()
	tick := opened.Add(b.idle) // end of the current interval
	previous := -1             // Triggers in the previous interval; -1 during the first
	for {
		now := b.clk.Now()
		last, arrived := b.state()
		if last.Before(opened) {
			last = opened
		}
		if now.Sub(last) >= b.idle {
			return true
		}
		if !now.Before(tick) {
			n := arrived - base
			if previous >= 0 && n <= previous {
				return true
			}
			previous, base, tick = n, arrived, tick.Add(b.idle)
			continue
		}
		if done, ok := b.sleep(ctx, maxTimer, min(tick.Sub(now), last.Add(b.idle).Sub(now))); done {
			return ok
		}
	}
}

// sleep waits for d on the batcher's clock, absorbing signals (Triggers are read from state
// when it returns). It returns done when the batch ends meanwhile: ok at the max timer, not ok
// when ctx ends.
func (b *Batcher) sleep(ctx context.Context, maxTimer clock.Timer, d time.Duration) (done, ok bool) {
	timer := b.clk.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case <-b.signal:
		case <-timer.C():
			return false, false
		case <-maxTimer.C():
			return true, true
		case <-ctx.Done():
			return true, false
		}
	}
}
