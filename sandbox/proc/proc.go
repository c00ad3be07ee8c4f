// Package proc runs the sandbox's child processes: each one logs to a file, dies with the
// sandbox (Linux parent-death signal) and stops with SIGTERM, a grace period, then SIGKILL.
// A Supervisor restarts a process that exits, with exponential backoff, and gives up on one
// that keeps exiting (RestartPolicy).
package proc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Spec describes a process to start.
type Spec struct {
	Name string   // short name for messages, e.g. "etcd"
	Path string   // executable path
	Args []string // arguments, without argv[0]
	// Env is the full environment ("K=V"); nil inherits the current process's environment.
	Env     []string
	Dir     string // working directory; "" = current
	LogPath string // stdout and stderr are appended to this file (created with its directory)
}

// Process is a started child process.
type Process struct {
	Spec Spec
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// started is when it was started; exited when its exit was seen (set before done closes).
	started, exited time.Time
}

// Start starts spec. Errors: the log file cannot be opened, or the executable cannot start.
// The child gets SIGKILL if the starting thread of this process dies (PR_SET_PDEATHSIG), so a
// crashed sandbox does not leak an API server; it stays in this process's process group so that
// `sandbox down` can signal the whole group.
func Start(spec Spec) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
		return nil, fmt.Errorf("%s: log directory: %w", spec.Name, err)
	}
	logf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: log file: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = spec.Env
	cmd.Dir = spec.Dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: start %s: %w", spec.Name, spec.Path, err)
	}
	p := &Process{Spec: spec, cmd: cmd, done: make(chan struct{}), started: time.Now()}
	go func() {
		p.err = cmd.Wait()
		p.exited = time.Now()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// StartedAt is when the process was started.
func (p *Process) StartedAt() time.Time { return p.started }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the exit error (nil for exit status 0); valid after Done is closed.
func (p *Process) Err() error { return p.err }

// Exit describes how a process ended.
type Exit struct {
	// StartedAt and FinishedAt are when the process was started and when its exit was seen.
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// Code is the exit status, or 128+N when signal N killed it (as a shell reports it: 137
	// for SIGKILL); -1 when the process could not be started.
	Code int `json:"code"`
	// Signal is the number of the signal that killed it; 0 when it exited by itself.
	Signal int `json:"signal,omitzero"`
	// Message is the exit as Go words it ("exit status 1", "signal: killed"), or why it could
	// not be started; "exit status 0" for a clean exit.
	Message string `json:"message"`
}

// Exit describes the process's end; valid after Done is closed.
func (p *Process) Exit() Exit {
	e := Exit{StartedAt: p.started, FinishedAt: p.exited, Message: "exit status 0"}
	if p.err != nil {
		e.Message = p.err.Error()
	}
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		e.Code = p.cmd.ProcessState.ExitCode()
	case ws.Signaled():
		e.Signal = int(ws.Signal())
		e.Code = 128 + e.Signal
	default:
		e.Code = ws.ExitStatus()
	}
	return e
}

// Stop sends SIGTERM, waits up to grace, then sends SIGKILL and waits for the exit. It returns
// nil if the process is gone (whatever its exit status).
func (p *Process) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: SIGTERM: %w", p.Spec.Name, err)
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free when asked (the kernel picks it; there
// is an unavoidable window before the caller binds it).
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// LookTool finds the executable name: in $KARPENTER_TOOLS_BIN, then extraDirs (in order), then
// in ./bin next to the running executable, then in bin/ of the nearest ancestor of the working
// directory holding go.mod (so `go test` finds `make tools` output), then on PATH.
// Error: the tool is in none of them.
func LookTool(name string, extraDirs ...string) (string, error) {
	var dirs []string
	if d := os.Getenv("KARPENTER_TOOLS_BIN"); d != "" {
		dirs = append(dirs, d)
	}
	dirs = append(dirs, extraDirs...)
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "bin"), filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dirs = append(dirs, filepath.Join(d, "bin"))
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("tool %q not found in $KARPENTER_TOOLS_BIN, %v or PATH (run `make tools`)", name, dirs)
}
