package proc

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startsOf reads the start times (ns since the epoch, one a line) a test process appended to path.
func startsOf(t *testing.T, path string) []time.Time {
	t.Helper()
	b, _ := os.ReadFile(path)
	var out []time.Time
	for _, l := range strings.Fields(string(b)) {
		ns, err := strconv.ParseInt(l, 10, 64)
		if err != nil {
			t.Fatalf("%s: %q", path, l)
		}
		out = append(out, time.Unix(0, ns))
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for a logger and the test at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A process that exits at once every time is restarted after 20, 40, 80, 80 ms (doubling,
// capped), and after MaxRestarts restarts within the window the supervisor gives up.
func TestSuperviseBacksOffThenGivesUp(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	spec := Spec{Name: "crasher", Path: "/bin/sh", Args: []string{"-c", "date +%s%N >> " + starts + "; exit 3"}, LogPath: filepath.Join(dir, "c.log")}
	p, err := Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	var mu sync.Mutex
	changes := 0
	s := Supervise(p, RestartPolicy{InitialBackoff: 20 * time.Millisecond, MaxBackoff: 80 * time.Millisecond, MaxRestarts: 4, Window: time.Minute},
		slog.New(slog.NewTextHandler(&log, nil)), func() { mu.Lock(); changes++; mu.Unlock() })
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("did not give up: %+v", s.Status())
	}
	st := s.Status()
	if st.State != StateGaveUp || st.Restarts != 4 || st.GaveUpAfter != 4 || st.LastExit == nil || st.LastExit.Code != 3 || st.LastExit.Message != "exit status 3" {
		t.Fatalf("status %+v (last exit %+v)", st, st.LastExit)
	}
	ts := startsOf(t, starts)
	if len(ts) != 5 {
		t.Fatalf("%d starts, want 5 (the first and 4 restarts)", len(ts))
	}
	for i, want := range []time.Duration{20, 40, 80, 80} {
		if gap := ts[i+1].Sub(ts[i]); gap < want*time.Millisecond {
			t.Errorf("restart %d after %s, want at least %dms", i+1, gap, want)
		}
	}
	for _, want := range []string{"process exited; restarting it", "restart_in=20ms", "restart_in=80ms", "not restarting it any more", "log=" + spec.LogPath} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if changes < 9 { // per restart: exited, started; then gave up
		t.Errorf("%d change notifications", changes)
	}
	s.Stop(time.Second) // after the give-up: returns at once, state kept
	if s.Status().State != StateGaveUp {
		t.Errorf("state after Stop: %s", s.Status().State)
	}
}

// A killed process is restarted; its exit is reported as a shell would (137, signal 9); Stop
// stops the new one and starts nothing more.
func TestSuperviseRestartsKilledProcess(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{Name: "sleeper", Path: "/bin/sleep", Args: []string{"30"}, LogPath: filepath.Join(dir, "s.log")})
	if err != nil {
		t.Fatal(err)
	}
	first := p.Pid()
	s := Supervise(p, RestartPolicy{InitialBackoff: 10 * time.Millisecond}, nil, nil)
	if st := s.Status(); st.State != StateRunning || st.Pid != first || st.Restarts != 0 {
		t.Fatalf("status %+v", st)
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "restart", func() bool { st := s.Status(); return st.State == StateRunning && st.Restarts == 1 })
	st := s.Status()
	if st.Pid == first || st.LastExit == nil || st.LastExit.Code != 137 || st.LastExit.Signal != 9 || st.LastExit.Message != "signal: killed" ||
		st.LastExit.FinishedAt.Before(st.LastExit.StartedAt) || !st.StartedAt.After(st.LastExit.StartedAt) {
		t.Fatalf("status %+v, last exit %+v", st, st.LastExit)
	}
	s.Stop(5 * time.Second)
	if syscall.Kill(st.Pid, 0) == nil {
		t.Fatalf("restarted process %d still runs after Stop", st.Pid)
	}
	if st := s.Status(); st.State != StateStopped || st.Restarts != 1 {
		t.Fatalf("status after Stop %+v", st)
	}
}

// Stop during a pending restart returns at once and starts nothing.
func TestSuperviseStopDuringBackoff(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	p, err := Start(Spec{Name: "crasher", Path: "/bin/sh", Args: []string{"-c", "date +%s%N >> " + starts + "; exit 1"}, LogPath: filepath.Join(dir, "c.log")})
	if err != nil {
		t.Fatal(err)
	}
	s := Supervise(p, RestartPolicy{InitialBackoff: time.Minute}, nil, nil)
	waitUntil(t, "restart pending", func() bool { return s.Status().State == StateRestarting })
	if st := s.Status(); time.Until(st.NextStart) < 50*time.Second || st.LastExit.Code != 1 {
		t.Fatalf("status %+v", st)
	}
	begin := time.Now()
	s.Stop(time.Second)
	if d := time.Since(begin); d > time.Second {
		t.Fatalf("Stop took %s", d)
	}
	if st := s.Status(); st.State != StateStopped || !st.NextStart.IsZero() || st.Restarts != 0 || len(startsOf(t, starts)) != 1 {
		t.Fatalf("status %+v, %d starts", st, len(startsOf(t, starts)))
	}
}

// Restarts older than the window do not count: a process exiting more slowly than
// MaxRestarts per Window is restarted for ever; one that ran ResetAfter restarts after
// InitialBackoff again. A start that fails counts as an exit.
func TestSuperviseWindowAndStartFailure(t *testing.T) {
	dir := t.TempDir()
	starts := filepath.Join(dir, "starts")
	// Each process runs 30 ms; with MaxRestarts 1 per 20 ms window there is never more than
	// one restart in the window, and ResetAfter 25 ms keeps the backoff at 5 ms.
	p, err := Start(Spec{Name: "slow", Path: "/bin/sh", Args: []string{"-c", "date +%s%N >> " + starts + "; sleep 0.03; exit 2"}, LogPath: filepath.Join(dir, "s.log")})
	if err != nil {
		t.Fatal(err)
	}
	s := Supervise(p, RestartPolicy{InitialBackoff: 5 * time.Millisecond, MaxBackoff: time.Minute, ResetAfter: 25 * time.Millisecond, MaxRestarts: 1, Window: 20 * time.Millisecond}, nil, nil)
	waitUntil(t, "6 starts", func() bool { return len(startsOf(t, starts)) >= 6 })
	if st := s.Status(); st.State == StateGaveUp {
		t.Fatalf("gave up: %+v", st)
	}
	ts := startsOf(t, starts)
	if gap := ts[5].Sub(ts[4]); gap > time.Second {
		t.Errorf("backoff not reset: %s between starts", gap)
	}
	s.Stop(time.Second)

	// The executable disappears: the restart fails, which counts as an exit, until the give-up.
	exe := filepath.Join(dir, "tool")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 4\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err = Start(Spec{Name: "vanishing", Path: exe, LogPath: filepath.Join(dir, "v.log")})
	if err != nil {
		t.Fatal(err)
	}
	<-p.Done()
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	s = Supervise(p, RestartPolicy{InitialBackoff: time.Millisecond, MaxRestarts: 2}, nil, nil)
	<-s.Done()
	if st := s.Status(); st.State != StateGaveUp || st.Restarts != 2 || st.LastExit.Code != -1 || !strings.Contains(st.LastExit.Message, "no such file") {
		t.Fatalf("status %+v, last exit %+v", st, st.LastExit)
	}
}
