package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/cluster"
)

// Files of a state directory written by the daemon (`sandbox run`).
const (
	PIDFile    = "sandbox.pid" // daemon pid (also its process group id: it runs in its own session)
	ReadyFile  = "ready"       // exists once the sandbox is ready
	FailedFile = "failed"      // the error that stopped the daemon from starting
	EnvFile    = "env"         // `export K='V'` lines (what `sandbox env` prints)
	DaemonLog  = "sandbox.log" // the daemon's stdout/stderr
	// ProgressFile holds the daemon's progress lines (what `up` prints while it waits).
	ProgressFile = "progress"
	// MarkerFile marks a directory as a sandbox state directory: `up` and `down` remove only
	// directories that are empty or carry it (or a PIDFile), never a folder given by mistake.
	MarkerFile = ".karpenter-sandbox"
)

// removeStateDir removes dir if it is absent, empty, or a sandbox state directory (it holds
// MarkerFile or PIDFile). Errors: any other directory (nothing is removed), or the removal's.
func removeStateDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		_, markerErr := os.Stat(filepath.Join(dir, MarkerFile))
		_, pidErr := os.Stat(filepath.Join(dir, PIDFile))
		if markerErr != nil && pidErr != nil {
			return fmt.Errorf("%s is not a sandbox state directory (it has no %s file); not removing it: choose another --dir", dir, MarkerFile)
		}
	}
	return os.RemoveAll(dir)
}

// makeStateDir creates dir and marks it as a sandbox state directory.
func makeStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, MarkerFile), []byte("terraform-provider-karpenter sandbox state; `sandbox down` removes this directory\n"), 0o644)
}

// UpTimeout bounds how long `sandbox up` waits for the daemon to become ready.
const UpTimeout = 6 * time.Minute

// Interrupted is the error of a command that SIGINT or SIGTERM stopped after it cleaned up:
// Message is the whole text to print (e.g. "interrupted; sandbox stopped"), with no "error:"
// prefix, and the process exits with ExitCode.
type Interrupted struct{ Message string }

func (e *Interrupted) Error() string { return e.Message }

// ExitCode is 130 (128 + SIGINT), the status shells give a command stopped by Ctrl-C.
func (e *Interrupted) ExitCode() int { return 130 }

type flags struct {
	dir         string
	clusterName string
	region      string
	bootDelay   time.Duration
	staticNodes int
	authMode    string
}

func (f *flags) config() Config {
	return Config{Dir: f.dir, ClusterName: f.clusterName, Region: f.region, BootDelay: f.bootDelay, NoBootDelay: f.bootDelay == 0, StaticNodes: f.staticNodes,
		AuthenticationMode: f.authMode}
}

func (f *flags) args() []string {
	return []string{"--dir", f.dir, "--cluster-name", f.clusterName, "--region", f.region, "--boot-delay", f.bootDelay.String(), "--static-nodes", strconv.Itoa(f.staticNodes),
		"--authentication-mode", f.authMode}
}

// NewCommand returns the `sandbox` subcommand: up, down, env, status, stop-kubelet, registry
// (and the hidden daemon, run).
func NewCommand() *cobra.Command {
	f := &flags{}
	root := &cobra.Command{
		Use:   "sandbox",
		Short: "Local AWS emulator + Kubernetes cluster for demos and tests",
		Long: "A local, self-contained AWS account (emulator on 127.0.0.1) and Kubernetes cluster\n" +
			"(etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), with a static node group.\n" +
			"  sandbox up      start in the background and wait until ready\n" +
			"  eval \"$(terraform-provider-karpenter sandbox env)\"\n" +
			"  sandbox status  each component's pid, state, restarts and last exit; the API server's /readyz\n" +
			"  sandbox down    stop everything and remove the state directory\n" +
			"  sandbox registry  an in-memory registry on 127.0.0.1:5555 for `make image-push`\n" +
			"The daemon restarts a control-plane component that exits (backoff 1 s doubling to 30 s) and\n" +
			"gives up on one that exits again after 5 restarts within 5 minutes; `status` and `up` report it.",
	}
	clusterDefault := os.Getenv("CLUSTER_NAME")
	if clusterDefault == "" {
		clusterDefault = DefaultClusterName
	}
	root.PersistentFlags().StringVar(&f.dir, "dir", DefaultDir(), "state directory ($KARPENTER_SANDBOX_DIR, default ./.sandbox)")
	root.PersistentFlags().StringVar(&f.clusterName, "cluster-name", clusterDefault, "EKS cluster name ($CLUSTER_NAME)")
	regionDefault := os.Getenv("KARPENTER_SANDBOX_REGION")
	if regionDefault == "" {
		regionDefault = DefaultRegion
	}
	root.PersistentFlags().StringVar(&f.region, "region", regionDefault,
		"the emulated AWS region ($KARPENTER_SANDBOX_REGION); its partition follows: cn-* is aws-cn (arn:aws-cn:, principal ec2.amazonaws.com.cn), us-gov-* aws-us-gov, any other aws")
	root.PersistentFlags().DurationVar(&f.bootDelay, "boot-delay", 3*time.Second, "how long a launched instance stays pending before it joins (0 allowed)")
	root.PersistentFlags().IntVar(&f.staticNodes, "static-nodes", 2, "t3.medium instances in the static node group (not managed by the controller); the default 2 gives each of the controller's two replicas its own node, as the Helm chart's anti-affinity requires")
	authDefault := os.Getenv("KARPENTER_SANDBOX_AUTHENTICATION_MODE")
	if authDefault == "" {
		authDefault = "API_AND_CONFIG_MAP"
	}
	root.PersistentFlags().StringVar(&f.authMode, "authentication-mode", authDefault,
		"the EKS cluster's authentication mode: CONFIG_MAP, API_AND_CONFIG_MAP or API ($KARPENTER_SANDBOX_AUTHENTICATION_MODE)")

	root.AddCommand(&cobra.Command{
		Use: "up", Short: "Start the sandbox in the background and wait until it is ready", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			asked := map[string]bool{}
			for _, name := range []string{"cluster-name", "region", "boot-delay", "static-nodes", "authentication-mode"} {
				asked[name] = cmd.Flags().Changed(name)
			}
			asked["cluster-name"] = asked["cluster-name"] || os.Getenv("CLUSTER_NAME") != ""
			asked["authentication-mode"] = asked["authentication-mode"] || os.Getenv("KARPENTER_SANDBOX_AUTHENTICATION_MODE") != ""
			asked["region"] = asked["region"] || os.Getenv("KARPENTER_SANDBOX_REGION") != ""
			// Ctrl-C (or SIGTERM) while waiting stops the daemon this up started: see up.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return up(ctx, cmd.OutOrStdout(), f, asked)
		},
	}, &cobra.Command{
		Use: "down", Short: "Stop every sandbox process and remove the state directory", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return down(cmd.OutOrStdout(), f.dir) },
	}, &cobra.Command{
		Use:   "status",
		Short: "Show each component's pid, state, restarts and last exit, and whether the API server is ready",
		Long: "Show the sandbox daemon and each control-plane component (etcd, kube-apiserver,\n" +
			"kube-controller-manager, kube-scheduler, kwok): pid, state (running, restarting, gave-up),\n" +
			"restart count and last exit, then the API server's /readyz and whether the AWS emulator\n" +
			"answers. It exits non-zero when no sandbox runs, a component is down or was given up,\n" +
			"the API server is not ready or the emulator does not answer. The daemon keeps this state\n" +
			"in " + StatusFile + " in the state directory.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return status(cmd.Context(), cmd.OutOrStdout(), f.dir) },
	}, &cobra.Command{
		Use: "env", Short: "Print shell exports (KUBECONFIG, CLUSTER_NAME, AWS_*) for the running sandbox", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := os.ReadFile(filepath.Join(f.dir, EnvFile))
			if err != nil || !running(f.dir) {
				return fmt.Errorf("no sandbox is running in %s (run `sandbox up`)", f.dir)
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}, &cobra.Command{
		Use:   "stop-kubelet NODE",
		Short: "Make a node's kubelet die: its Lease is no longer renewed and no pod deletion is confirmed; the instance keeps running",
		Long: "Make the kubelet of NODE die as a real one does when its process is killed or its instance hangs:\n" +
			"kwok stops renewing the node's Lease, posting its status and confirming pod deletions. After\n" +
			"kube-controller-manager's --node-monitor-grace-period (50 s) the node is Ready=Unknown and tainted\n" +
			"node.kubernetes.io/unreachable; its EC2 instance keeps running. The Node is annotated\n" +
			"sandbox.nodeform.github.io/kubelet-stopped, which keeps every kwok node stage (even a heartbeat\n" +
			"already scheduled) off it, so it stays dead until `sandbox down`.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return stopKubelet(cmd.Context(), cmd.OutOrStdout(), f.dir, args[0])
		},
	}, registryCommand(), &cobra.Command{
		Use: "run", Short: "Run the sandbox in the foreground (the daemon that `up` starts)", Args: cobra.NoArgs, Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error { return run(f) },
	})
	return root
}

// daemonPID returns the pid in dir's pid file if that process is alive and is a sandbox daemon.
func daemonPID(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, PIDFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	if syscall.Kill(pid, 0) != nil {
		return pid, false
	}
	// Guard against pid reuse: the process must be `... sandbox run ...`.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err == nil && !bytes.Contains(cmdline, []byte("sandbox\x00run")) {
		return pid, false
	}
	return pid, true
}

func running(dir string) bool { _, ok := daemonPID(dir); return ok }

// lockParent takes an exclusive flock(2) on dir's parent directory (created if absent), so
// that concurrent `sandbox up`s under it run one after the other, and returns its release.
// While another holds it, it says so once and waits (polling, so ctx still cancels the wait).
func lockParent(ctx context.Context, out io.Writer, dir string) (func(), error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, err
	}
	fd, err := os.Open(parent)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := syscall.Flock(int(fd.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(fd.Fd()), syscall.LOCK_UN); _ = fd.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = fd.Close()
			return nil, fmt.Errorf("lock %s: %w", parent, err)
		}
		if !said {
			fmt.Fprintf(out, "another `sandbox up` is starting a sandbox in %s; waiting for it\n", parent)
			said = true
		}
		select {
		case <-ctx.Done():
			_ = fd.Close()
			return nil, &Interrupted{Message: "interrupted while waiting for another `sandbox up`; no sandbox was started"}
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// runningDiffers compares the settings the user asked for (f, the names in asked) with those
// the daemon pid runs with (its command line, `sandbox run --name value ...`) and describes the
// first that differs, e.g. "--boot-delay 3s (asked: 0s)"; "" when none does.
func runningDiffers(pid int, f *flags, asked map[string]bool) string {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	have := map[string]string{}
	for i := 0; i+1 < len(args); i++ {
		if name, ok := strings.CutPrefix(args[i], "--"); ok {
			have[name] = args[i+1]
			i++
		}
	}
	want := f.args()
	for i := 0; i+1 < len(want); i += 2 {
		name := strings.TrimPrefix(want[i], "--")
		got, ok := have[name]
		if !asked[name] || !ok || sameSetting(got, want[i+1]) {
			continue
		}
		return fmt.Sprintf("--%s %s (asked: %s)", name, got, want[i+1])
	}
	return ""
}

// sameSetting compares two flag values, durations by their length ("3s" = "3000ms").
func sameSetting(a, b string) bool {
	if a == b {
		return true
	}
	da, errA := time.ParseDuration(a)
	db, errB := time.ParseDuration(b)
	return errA == nil && errB == nil && da == db
}

// check validates f's settings. Errors name the flag, the value and what is allowed.
func (f *flags) check() error {
	if f.staticNodes < 0 {
		return fmt.Errorf("--static-nodes: must be >= 0, got %d", f.staticNodes)
	}
	if f.bootDelay < 0 {
		return fmt.Errorf("--boot-delay: must be >= 0, got %s", f.bootDelay)
	}
	if err := aws.CheckAuthMode(f.authMode); err != nil {
		return fmt.Errorf("--authentication-mode: %w, got %q", err, f.authMode)
	}
	if err := aws.ValidRegion(f.region); err != nil {
		return fmt.Errorf("--region: %w", err)
	}
	return nil
}

// up starts the daemon for f and waits until the sandbox is ready. f is checked first, before
// anything is locked or started. asked names the settings the user chose (flags given or set
// through the environment): when a sandbox already runs in the directory, it must have those,
// else up fails and says how to restart it; it must also be healthy (awaitHealthy: a component
// being restarted gets HealthWait to come back, one given up fails at once). Two `up`s of the
// same directory at once are serialised (lockParent): the second waits for the first and finds
// its sandbox running. When
// ctx ends (Ctrl-C) before the sandbox is ready, up stops the daemon it started, removes the
// state directory and returns *Interrupted ("interrupted; sandbox stopped").
func up(ctx context.Context, out io.Writer, f *flags, asked map[string]bool) error {
	if err := f.check(); err != nil {
		return err
	}
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return err
	}
	f.dir = dir
	unlock, err := lockParent(ctx, out, dir)
	if err != nil {
		return err
	}
	defer unlock()
	if pid, ok := daemonPID(dir); ok {
		return alreadyRunning(ctx, out, f, asked, pid)
	}
	// A state directory without a live daemon is left over from a crash: start afresh.
	if err := removeStateDir(dir); err != nil {
		return fmt.Errorf("remove stale state: %w", err)
	}
	if err := makeStateDir(dir); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(dir, DaemonLog)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, append([]string{"sandbox", "run"}, f.args()...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start sandbox daemon: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }() // reaps the daemon if it dies while we wait
	fmt.Fprintf(out, "sandbox daemon started (pid %d); log %s\n", pid, logPath)

	var printed int
	printNew := func() {
		b, err := os.ReadFile(filepath.Join(dir, ProgressFile))
		if err != nil || len(b) <= printed {
			return
		}
		// whole lines only; a partly written line is printed next time
		end := bytes.LastIndexByte(b, '\n') + 1
		if end <= printed {
			return
		}
		for _, line := range strings.SplitAfter(string(b[printed:end]), "\n") {
			if line != "" {
				fmt.Fprint(out, "  ", line)
			}
		}
		printed = end
	}
	deadline := time.After(UpTimeout)
	for {
		printNew()
		if _, err := os.Stat(filepath.Join(dir, ReadyFile)); err == nil {
			fmt.Fprintf(out, "sandbox ready; run: eval \"$(%s sandbox env --dir %s)\"\n", exe, dir)
			return nil
		}
		select {
		case err := <-exited:
			printNew()
			msg, _ := os.ReadFile(filepath.Join(dir, FailedFile))
			why := strings.TrimSpace(string(msg))
			if why == "" {
				why = "it stopped before it was ready (interrupted or killed)"
			}
			return fmt.Errorf("sandbox daemon exited (%v): %s\nlast log lines:\n%s", err, why, tail(logPath, 30))
		case <-deadline:
			_ = syscall.Kill(-pid, syscall.SIGTERM)
			return fmt.Errorf("sandbox not ready after %s; stopped it. last log lines:\n%s", UpTimeout, tail(logPath, 30))
		case <-ctx.Done():
			// By the pid started, not the pid file: the daemon may not have written it yet.
			err := stopGroup(out, pid)
			if err == nil {
				err = removeStateDir(dir)
			}
			if err != nil {
				return fmt.Errorf("interrupted; stopping the sandbox: %w", err)
			}
			return &Interrupted{Message: "interrupted; sandbox stopped"}
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// alreadyRunning is up on f.dir, where daemon pid runs: an error if it runs with other settings
// than those asked or is not healthy (awaitHealthy), else it says that the sandbox runs.
func alreadyRunning(ctx context.Context, out io.Writer, f *flags, asked map[string]bool, pid int) error {
	if diff := runningDiffers(pid, f, asked); diff != "" {
		return fmt.Errorf("a sandbox is already running in %s (pid %d) with %s; stop it with `sandbox down --dir %s` to start one with other settings", f.dir, pid, diff, f.dir)
	}
	if err := awaitHealthy(ctx, out, f.dir); err != nil {
		return err
	}
	fmt.Fprintf(out, "sandbox already running (pid %d, state %s); `sandbox env` prints its settings\n", pid, f.dir)
	return nil
}

// tail returns the last n lines of the file at path ("" if it cannot be read).
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// run is the daemon: start the sandbox, publish its settings and status (StatusFile, rewritten
// on every component change), run until SIGTERM/SIGINT, then stop everything in order.
func run(f *flags) error {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return err
	}
	f.dir = dir
	if err := makeStateDir(dir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, PIDFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	progress, err := os.OpenFile(filepath.Join(dir, ProgressFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer progress.Close()
	cfg := f.config()
	cfg.Progress = io.MultiWriter(os.Stdout, progress)
	cfg.SupervisionLog = os.Stdout
	sb, err := Start(ctx, cfg)
	if err != nil {
		_ = os.WriteFile(filepath.Join(dir, FailedFile), []byte(err.Error()+"\n"), 0o644)
		return err
	}
	defer sb.Stop()
	var env strings.Builder
	for _, kv := range sb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&env, "export %s=%s\n", k, shellQuote(v))
	}
	if err := os.WriteFile(filepath.Join(dir, EnvFile), []byte(env.String()), 0o644); err != nil {
		return err
	}
	if err := writeStatus(dir, sb.daemonStatus(false)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ReadyFile), nil, 0o644); err != nil {
		return err
	}
	fmt.Fprintln(cfg.Progress, "sandbox ready: cluster", sb.ClusterName, "API server", sb.Endpoint, "AWS", sb.AWSEndpoint)
	for {
		select {
		case <-sb.Cluster.Changes():
			if err := writeStatus(dir, sb.daemonStatus(false)); err != nil {
				fmt.Println("cannot write the status file:", err)
			}
		case <-ctx.Done():
			fmt.Println("sandbox stopping")
			_ = writeStatus(dir, sb.daemonStatus(true))
			return nil
		}
	}
}

// down stops the daemon: SIGTERM to it alone (it stops the controller pods, then the control
// plane in reverse start order, so no component is seen to exit and restarted), up to 30 s,
// then SIGKILL to its whole process group (whatever is left); then it removes the state
// directory.
func down(out io.Writer, dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	pid, ok := daemonPID(dir)
	if !ok {
		fmt.Fprintf(out, "no sandbox running in %s\n", dir)
	} else if err := stopGroup(out, pid); err != nil {
		return err
	}
	_, statErr := os.Stat(dir)
	if err := removeStateDir(dir); err != nil {
		return fmt.Errorf("sandbox down: %w", err)
	}
	if statErr == nil { // say so only when there was something to remove
		fmt.Fprintf(out, "removed %s\n", dir)
	}
	return nil
}

// stopGroup stops the daemon pid and its process group (the daemon leads it): SIGTERM to the
// daemon only (it stops its components in order, sandbox/proc), up to 30 s for it to exit, then
// SIGKILL to whatever is left of the group. Errors: the
// SIGKILL's, other than the group being gone.
func stopGroup(out io.Writer, pid int) error {
	fmt.Fprintf(out, "stopping sandbox (pid %d)\n", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	// Whatever is left of the group (a child that ignored SIGTERM) is killed.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill sandbox process group %d: %w", pid, err)
	}
	for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// stopKubelet stops the kubelet of node in the sandbox running in dir (cluster.StopKubelet),
// through the administrator kubeconfig dir/kubeconfig.
func stopKubelet(ctx context.Context, out io.Writer, dir, node string) error {
	if !running(dir) {
		return fmt.Errorf("no sandbox is running in %s (run `sandbox up`)", dir)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dir, "kubeconfig"))
	if err != nil {
		return fmt.Errorf("reading the sandbox kubeconfig: %w", err)
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	if err := cluster.StopKubelet(ctx, kube, node); err != nil {
		return err
	}
	fmt.Fprintf(out, "kubelet of %s stopped: the node turns Ready=Unknown within about 50 s\n", node)
	return nil
}
