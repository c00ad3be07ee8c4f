package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/shell"
)

// SandboxDirEnv is the environment variable the sandbox reads its state directory from.
const SandboxDirEnv = "KARPENTER_SANDBOX_DIR"

// Sandbox is a running `<bin> sandbox` whose state lives in Dir. Env holds the variables that
// `sandbox env` exports (KUBECONFIG, CLUSTER_NAME, AWS_REGION, AWS credentials,
// AWS_ENDPOINT_URL_<SERVICE>).
type Sandbox struct {
	Bin string
	Dir string
	Env map[string]string
	Out io.Writer
}

// NewSandbox returns a handle for the sandbox with state directory dir (absolute), driven through
// the binary bin; progress of the subcommands goes to out (nil: discarded). Nothing is started.
func NewSandbox(bin, dir string, out io.Writer) *Sandbox {
	if out == nil {
		out = io.Discard
	}
	return &Sandbox{Bin: bin, Dir: dir, Out: out}
}

// Up runs `<bin> sandbox up <args...>` (e.g. "--boot-delay", "0"), then `sandbox env`, and
// fills Env. A stale sandbox left in Dir by an earlier, killed run is stopped first so that the
// run starts from a clean state. Errors name the command that failed (see run); when ctx is
// cancelled, the error wraps ErrInterrupted. On error the caller must still call Down.
func (s *Sandbox) Up(ctx context.Context, args ...string) error {
	if err := s.Down(ctx); err != nil {
		return fmt.Errorf("stopping a stale sandbox in %s: %w", s.Dir, err)
	}
	if _, err := s.run(ctx, s.Out, append([]string{"sandbox", "up"}, args...)...); err != nil {
		return err // names the command: no "sandbox up: " prefix of its own
	}
	out, err := s.run(ctx, nil, "sandbox", "env")
	if err != nil {
		return err
	}
	env, err := ParseEnv(out)
	if err != nil {
		return fmt.Errorf("sandbox env: %w", err)
	}
	for _, k := range []string{"KUBECONFIG", "CLUSTER_NAME", "AWS_REGION", "AWS_ENDPOINT_URL_EC2", "AWS_ENDPOINT_URL_IAM"} {
		if env[k] == "" {
			return fmt.Errorf("sandbox env: %s is not exported (output: %q)", k, out)
		}
	}
	s.Env = env
	return nil
}

// Down runs `<bin> sandbox down`, which stops every process of the sandbox in Dir and removes
// its state. It uses its own 2-minute deadline, detached from ctx's cancellation, so that it
// still runs after Ctrl-C or a failed step.
func (s *Sandbox) Down(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	_, err := s.run(ctx, s.Out, "sandbox", "down")
	if err == nil && filepath.Base(filepath.Dir(s.Dir)) == ".sandbox" {
		// `sandbox down` removes s.Dir; the .sandbox folder that holds it goes too when nothing
		// else is in it (os.Remove leaves a non-empty folder alone).
		_ = os.Remove(filepath.Dir(s.Dir))
	}
	return err
}

// Environ returns os.Environ() with the sandbox's variables (and extra "K=V" entries) set,
// later entries winning; the result is suitable for exec.Cmd.Env.
func (s *Sandbox) Environ(extra ...string) []string {
	env := os.Environ()
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+s.Env[k])
	}
	return append(env, extra...)
}

// run executes the binary with args and KARPENTER_SANDBOX_DIR=Dir; stderr (and stdout when
// tee is non-nil) are copied to the progress writer. It returns stdout. Errors: "<bin> <args>:
// <exit status>", then ": " and the last 20 lines of stderr when it has any; when ctx was
// cancelled (the command got SIGINT), "<bin> <args>: interrupted", wrapping ErrInterrupted.
func (s *Sandbox) run(ctx context.Context, tee io.Writer, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.Bin, args...)
	cmd.Env = append(os.Environ(), SandboxDirEnv+"="+s.Dir)
	var stdout bytes.Buffer
	var stderr bytes.Buffer
	if tee != nil {
		cmd.Stdout = io.MultiWriter(&stdout, tee)
	} else {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = io.MultiWriter(&stderr, s.Out)
	interruptOnCancel(cmd)
	if err := cmd.Run(); err != nil {
		return stdout.String(), commandError(ctx, s.Bin+" "+strings.Join(args, " "), err, lastLines(strings.TrimSpace(stderr.String()), 20))
	}
	return stdout.String(), nil
}

// ErrInterrupted is wrapped by the errors of commands and steps stopped because their context
// was cancelled (Ctrl-C): they did not fail, they were interrupted.
var ErrInterrupted = errors.New("interrupted")

// commandError describes the failure err of the command line cmd whose stderr ended with
// stderrTail: "<cmd>: interrupted" (wrapping ErrInterrupted) when ctx was cancelled, else
// "<cmd>: <err>", followed by ": <stderrTail>" when that is not empty.
func commandError(ctx context.Context, cmd string, err error, stderrTail string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", cmd, ErrInterrupted)
	}
	if stderrTail == "" {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	return fmt.Errorf("%s: %w: %s", cmd, err, stderrTail)
}

// interruptOnCancel makes a cancelled context send SIGINT (so that terraform and the sandbox
// can clean up) and SIGKILL 30 s later.
func interruptOnCancel(cmd *exec.Cmd) {
	// Its own process group: a Ctrl-C at the terminal reaches the demo, which forwards exactly
	// one SIGINT (terraform treats a second one as "exit immediately").
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) }
	cmd.WaitDelay = 30 * time.Second
}

// ParseEnv parses the output of `sandbox env`: lines of shell assignments, optionally prefixed
// by `export`, several per line allowed, with shell quoting ('...', "...", \x). Blank lines and
// # comments are skipped. Errors name the offending line.
func ParseEnv(out string) (map[string]string, error) {
	env := map[string]string{}
	lookup := func(name string) string { return env[name] }
	for n, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := shell.Fields(line, lookup)
		if err != nil {
			return nil, fmt.Errorf("line %d %q: %w", n+1, line, err)
		}
		for i, w := range words {
			if i == 0 && w == "export" {
				continue
			}
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d %q: %q is not an assignment NAME=value", n+1, line, w)
			}
			env[k] = v
		}
	}
	return env, nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
