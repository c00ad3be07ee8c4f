package e2e

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cancelOnWrite is a progress writer that cancels when the text written so far contains
// marker; safe for the concurrent writes of a command's stdout and stderr copiers.
type cancelOnWrite struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.cancel()
	}
	return len(p), nil
}

func (w *cancelOnWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// Up interrupted (as the demo's Ctrl-C does: SIGINT to `sandbox up`) returns an error that
// wraps ErrInterrupted and says "interrupted", without the signal or a dangling ": ", and the
// sandbox has stopped its daemon, saying so.
func TestSandboxUpInterrupted(t *testing.T) {
	bin := requireBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	upCtx, interrupt := context.WithCancel(ctx)
	defer interrupt()
	out := &cancelOnWrite{marker: "sandbox daemon started", cancel: interrupt}
	sb := NewSandbox(bin, filepath.Join(t.TempDir(), "sandbox"), out)
	defer func() { _ = sb.Down(ctx) }()
	err := sb.Up(upCtx, "--static-nodes", "0")
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("Up = %v, want ErrInterrupted\n%s", err, out.String())
	}
	if msg := err.Error(); strings.Contains(msg, "signal") || strings.HasSuffix(msg, ": ") || !strings.HasSuffix(msg, "sandbox up --static-nodes 0: interrupted") {
		t.Errorf("Up's error %q, want \"<bin> sandbox up --static-nodes 0: interrupted\"", msg)
	}
	if !strings.Contains(out.String(), "interrupted; sandbox stopped") {
		t.Errorf("sandbox up did not say it stopped the sandbox:\n%s", out.String())
	}
}
