package provisioning

import (
	"context"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Batcher groups triggers (pod events) into batches: a batch opens with the first trigger and
// closes when no trigger arrived for the idle duration, or when the max duration has passed
// since it opened, whichever comes first. Trigger never blocks.
type Batcher struct {
	clk     clock.Clock
	idle    time.Duration
	max     time.Duration
	trigger chan struct{}

	mu   sync.Mutex
	last time.Time // time of the latest trigger
}

// NewBatcher returns a Batcher; idle and max are the window's idle and maximum durations.
func NewBatcher(clk clock.Clock, idle, max time.Duration) *Batcher {
	return &Batcher{clk: clk, idle: idle, max: max, trigger: make(chan struct{}, 1)}
}

// Trigger opens a batch or extends the open one's idle window.
func (b *Batcher) Trigger() {
	b.mu.Lock()
	b.last = b.clk.Now()
	b.mu.Unlock()
	select {
	case b.trigger <- struct{}{}:
	default:
	}
}

func (b *Batcher) sinceLast() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.clk.Since(b.last)
}

// Wait blocks until a batch has opened and closed; it returns false when ctx ends first.
func (b *Batcher) Wait(ctx context.Context) bool {
	select {
	case <-b.trigger:
	case <-ctx.Done():
		return false
	}
	maxTimer := b.clk.NewTimer(b.max)
	defer maxTimer.Stop()
	idleTimer := b.clk.NewTimer(b.idle - b.sinceLast())
	defer func() { idleTimer.Stop() }()
	for {
		select {
		case <-b.trigger: // recorded in b.last; the idle timer re-checks it
		case <-idleTimer.C():
			since := b.sinceLast()
			if since >= b.idle {
				return true
			}
			idleTimer = b.clk.NewTimer(b.idle - since)
		case <-maxTimer.C():
			return true
		case <-ctx.Done():
			return false
		}
	}
}
