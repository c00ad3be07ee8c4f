package proc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStopEscalatesToSIGKILL(t *testing.T) {
	dir := t.TempDir()
	// ignores SIGTERM, so Stop must fall back to SIGKILL after the grace period
	p, err := Start(Spec{Name: "stubborn", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; echo up; while :; do sleep 0.05; done"}, LogPath: filepath.Join(dir, "logs", "p.log")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if b, _ := os.ReadFile(filepath.Join(dir, "logs", "p.log")); strings.Contains(string(b), "up") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := p.Stop(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("process still running after Stop")
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("stopped after %s, before the grace period: SIGTERM was not ignored?", d)
	}
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "killed") {
		t.Fatalf("exit error %v, want killed", p.Err())
	}
}

func TestStopGraceful(t *testing.T) {
	p, err := Start(Spec{Name: "sleep", Path: "/bin/sleep", Args: []string{"30"}, LogPath: filepath.Join(t.TempDir(), "s.log")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if p.Err() == nil || !strings.Contains(p.Err().Error(), "terminated") {
		t.Fatalf("exit error %v, want terminated by SIGTERM", p.Err())
	}
}

func TestLookTool(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "mytool")
	if err := os.WriteFile(tool, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KARPENTER_TOOLS_BIN", dir)
	if got, err := LookTool("mytool"); err != nil || got != tool {
		t.Fatalf("LookTool = %q, %v", got, err)
	}
	if _, err := LookTool("no-such-tool-h4"); err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("missing tool: %v", err)
	}
	if _, err := Start(Spec{Name: "x", Path: filepath.Join(dir, "absent"), LogPath: filepath.Join(dir, "x.log")}); err == nil {
		t.Fatal("started a missing executable")
	}
}
