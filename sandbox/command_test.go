package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/cluster"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/proc"
)

// providerBinary is $KARPENTER_BIN or a fresh `go build` of the module's main package.
func providerBinary(t *testing.T) string {
	if b := os.Getenv("KARPENTER_BIN"); b != "" {
		return b
	}
	out := filepath.Join(t.TempDir(), "terraform-provider-karpenter")
	cmd := exec.Command("go", "build", "-o", out, "github.com/nodeform/terraform-provider-karpenter")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

func TestUpTwiceEnvDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox (skipped with -short)")
	}
	bin := providerBinary(t)
	dir := filepath.Join(t.TempDir(), "state")
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"sandbox"}, append(args, "--dir", dir)...)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("sandbox %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	t.Cleanup(func() { _ = exec.Command(bin, "sandbox", "down", "--dir", dir).Run() })

	// Two ups of one directory at the same instant: one starts the sandbox, the other waits for
	// it and finds it running.
	outs := make(chan string, 2)
	for range 2 {
		go func() {
			cmd := exec.Command(bin, "sandbox", "up", "--static-nodes", "0", "--boot-delay", "0", "--dir", dir)
			var b bytes.Buffer
			cmd.Stdout, cmd.Stderr = &b, &b
			if err := cmd.Run(); err != nil {
				b.WriteString("\nFAILED: " + err.Error())
			}
			outs <- b.String()
		}()
	}
	first, second := <-outs, <-outs
	if strings.Contains(first, "already running") {
		first, second = second, first
	}
	if !strings.Contains(first, "kube-apiserver ready") || !strings.Contains(first, "sandbox ready") {
		t.Fatalf("up output lacks progress:\n%s\nthe other up:\n%s", first, second)
	}
	if !strings.Contains(second, "waiting for it") || !strings.Contains(second, "already running") {
		t.Fatalf("the concurrent up did not wait for the first:\n%s\nthe first:\n%s", second, first)
	}
	pidBytes, err := os.ReadFile(filepath.Join(dir, "sandbox.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidBytes)))

	if out := run("up"); !strings.Contains(out, "already running (pid "+strconv.Itoa(pid)) {
		t.Fatalf("second up:\n%s", out)
	}
	if out := run("up", "--boot-delay", "0ms"); !strings.Contains(out, "already running (pid "+strconv.Itoa(pid)) {
		t.Fatalf("up with the running settings:\n%s", out)
	}
	// Other settings than the running sandbox's are refused, not silently ignored.
	cmd := exec.Command(bin, "sandbox", "up", "--boot-delay", "5s", "--dir", dir)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "already running in "+dir) || !strings.Contains(string(b), "--boot-delay 0s (asked: 5s)") {
		t.Fatalf("up with another boot delay: %v\n%s", err, b)
	}

	env := run("env")
	m := regexp.MustCompile(`(?m)^export KUBECONFIG='([^']+)'$`).FindStringSubmatch(env)
	for _, want := range []string{"export CLUSTER_NAME=", "export AWS_REGION='us-east-1'", "export AWS_ACCESS_KEY_ID=", "export AWS_SECRET_ACCESS_KEY=",
		"export AWS_ENDPOINT_URL_EC2='http://127.0.0.1:", "export AWS_ENDPOINT_URL_IAM=", "export AWS_ENDPOINT_URL_STS=", "export AWS_ENDPOINT_URL_EKS=", "export AWS_ENDPOINT_URL_SSM=", "export AWS_ENDPOINT_URL_PRICING="} {
		if !strings.Contains(env, want) {
			t.Errorf("env lacks %q:\n%s", want, env)
		}
	}
	if m == nil {
		t.Fatalf("no KUBECONFIG export:\n%s", env)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", m[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{}); err != nil {
		t.Fatalf("cluster from `sandbox env` kubeconfig: %v", err)
	}
	stopKubelet(t, bin, dir, kubernetes.NewForConfigOrDie(cfg))
	// the control plane runs in the daemon's process group
	members := groupMembers(pid)
	if len(members) < 6 { // daemon + etcd + apiserver + controller-manager + scheduler + kwok
		t.Fatalf("process group %d has %d processes: %v", pid, len(members), members)
	}

	if out := run("down"); !strings.Contains(out, "removed") {
		t.Fatalf("down:\n%s", out)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("state dir still there: %v", err)
	}
	if left := groupMembers(pid); len(left) > 0 {
		t.Fatalf("processes left after down: %v", left)
	}
	checkSecondDown(t, run("down"))
	cmd = exec.Command(bin, "sandbox", "env", "--dir", dir)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "no sandbox is running") {
		t.Fatalf("env after down: %v %s", err, b)
	}
	cmd = exec.Command(bin, "sandbox", "stop-kubelet", "n1", "--dir", dir)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "no sandbox is running") {
		t.Fatalf("stop-kubelet after down: %v %s", err, b)
	}
}

// stopKubelet registers a kwok Node by hand, waits for kwok to hold its Lease, stops its
// kubelet with `sandbox stop-kubelet` and checks the Lease changed holder and stays so (kwok
// does not take it back); a node without a Lease is a clear error.
func stopKubelet(t *testing.T, bin, dir string, kube kubernetes.Interface) {
	t.Helper()
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kubelet-cli-test",
		Annotations: map[string]string{cluster.KwokNodeAnnotationKey: cluster.KwokNodeAnnotationValue}}}
	if _, err := kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = kube.CoreV1().Nodes().Delete(ctx, node.Name, metav1.DeleteOptions{}) }()
	leases := kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	holder := func() string {
		l, err := leases.Get(ctx, node.Name, metav1.GetOptions{})
		if err != nil || l.Spec.HolderIdentity == nil {
			return ""
		}
		return *l.Spec.HolderIdentity
	}
	deadline := time.Now().Add(time.Minute)
	for holder() == "" && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	if h := holder(); h == "" || h == cluster.DeadKubeletHolder {
		t.Fatalf("kwok does not hold the Lease of %s: holder %q", node.Name, h)
	}
	cmd := exec.Command(bin, "sandbox", "stop-kubelet", node.Name, "--dir", dir)
	if b, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(b), "kubelet of "+node.Name+" stopped") {
		t.Fatalf("stop-kubelet: %v %s", err, b)
	}
	time.Sleep(15 * time.Second) // longer than kwok's renew interval (10 s for its 40 s Lease)
	if h := holder(); h != cluster.DeadKubeletHolder {
		t.Fatalf("Lease holder %q after stop-kubelet, want %q", h, cluster.DeadKubeletHolder)
	}
	// kwok's node-kubelet-stopped Stage acknowledged the annotation (so no heartbeat it had
	// scheduled can revive the node).
	got, err := kube.CoreV1().Nodes().Get(ctx, node.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := got.Annotations[cluster.KubeletStoppedAnnotationKey]; v == "" || got.Annotations[cluster.KubeletStoppedAckAnnotationKey] != v {
		t.Fatalf("annotations after stop-kubelet: %v", got.Annotations)
	}
	cmd = exec.Command(bin, "sandbox", "stop-kubelet", "no-such-node", "--dir", dir)
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "node no-such-node does not exist") {
		t.Fatalf("stop-kubelet of a missing node: %v %s", err, b)
	}
}

// groupMembers lists the live processes of process group pgid (from /proc).
func groupMembers(pgid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := syscall.Getpgid(pid); err == nil && g == pgid {
			stat, _ := os.ReadFile("/proc/" + e.Name() + "/stat")
			if fields := strings.Fields(string(stat)); len(fields) > 2 && fields[2] == "Z" {
				continue // zombie, already dead
			}
			out = append(out, pid)
		}
	}
	return out
}

// checkSecondDown checks the output of a down with nothing left to stop or remove: it says no
// sandbox runs, and does not say it removed anything.
func checkSecondDown(t *testing.T, out string) {
	t.Helper()
	if !strings.Contains(out, "no sandbox running") || strings.Contains(out, "removed") {
		t.Fatalf("second down (nothing to remove, nothing said removed):\n%s", out)
	}
}

// Ctrl-C while `sandbox up` waits for the daemon stops the daemon (in its own session, it does
// not get the terminal's SIGINT) and removes the state directory; up says so in one line, with
// no error wording, and exits 130. The interrupt comes with the first progress line, while
// the daemon starts the control plane.
func TestUpInterruptedStopsTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox daemon (skipped with -short)")
	}
	bin := providerBinary(t)
	dir := filepath.Join(t.TempDir(), "state")
	t.Cleanup(func() { _ = exec.Command(bin, "sandbox", "down", "--dir", dir).Run() })
	cmd := exec.Command(bin, "sandbox", "up", "--static-nodes", "0", "--dir", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := regexp.MustCompile(`sandbox daemon started \(pid (\d+)\)`)
	pids := make(chan int, 1)
	var out bytes.Buffer
	go func() {
		daemon, sent := 0, false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if m := started.FindStringSubmatch(sc.Text()); m != nil {
				daemon, _ = strconv.Atoi(m[1])
			}
			if daemon != 0 && strings.HasPrefix(sc.Text(), "  ") && !sent {
				pids <- daemon
				sent = true
			}
		}
		close(pids)
	}()
	var pid int
	select {
	case pid = <-pids:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("sandbox up showed no progress of its daemon within a minute")
	}
	if pid == 0 {
		_ = cmd.Wait()
		t.Fatalf("sandbox up ended before its daemon made progress:\n%s\nstderr:\n%s", out.String(), stderr.String())
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	for range pids { // until stdout closes
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d (%v), want 130", code, err)
	}
	if got := stderr.String(); got != "interrupted; sandbox stopped\n" {
		t.Errorf("stderr %q, want \"interrupted; sandbox stopped\\n\"", got)
	}
	if !strings.Contains(out.String(), "stopping sandbox (pid "+strconv.Itoa(pid)+")") {
		t.Errorf("stdout does not say the daemon is stopped:\n%s", out.String())
	}
	if left := groupMembers(pid); len(left) > 0 {
		t.Errorf("processes of the daemon left: %v", left)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("state dir still there: %v", err)
	}
}

// crashSwitchTools makes a tools folder for $KARPENTER_TOOLS_BIN whose kube-scheduler and kwok
// run the real ones until the file of the same name plus ".crash" exists in the folder, then
// exit 7 at once, every time.
func crashSwitchTools(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"kube-scheduler", "kwok"} {
		real, err := proc.LookTool(name)
		if err != nil {
			t.Skip(err)
		}
		flag := filepath.Join(dir, name+".crash")
		script := "#!/bin/sh\nif [ -e '" + flag + "' ]; then echo 'crashing on purpose' >&2; exit 7; fi\nexec '" + real + "' \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// sandboxCLI runs `<bin> sandbox <args> --dir dir` with env added to this process's.
type sandboxCLI struct {
	bin, dir string
	env      []string
}

// run returns the combined output and whether the command exited 0.
func (c sandboxCLI) run(args ...string) (string, bool) {
	cmd := exec.Command(c.bin, append([]string{"sandbox"}, append(args, "--dir", c.dir)...)...)
	cmd.Env = append(os.Environ(), c.env...)
	b, err := cmd.CombinedOutput()
	return string(b), err == nil
}

// status reads the daemon's status file.
func (c sandboxCLI) status(t *testing.T) sandbox.DaemonStatus {
	t.Helper()
	var st sandbox.DaemonStatus
	b, err := os.ReadFile(filepath.Join(c.dir, sandbox.StatusFile))
	if err != nil || json.Unmarshal(b, &st) != nil {
		t.Fatalf("status file: %v %s", err, b)
	}
	return st
}

func (c sandboxCLI) component(t *testing.T, name string) proc.Status {
	t.Helper()
	for _, s := range c.status(t).Components {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no component %s in the status file", name)
	return proc.Status{}
}

// waitComponent waits up to timeout for cond on component name's status.
func (c sandboxCLI) waitComponent(t *testing.T, name string, timeout time.Duration, cond func(proc.Status) bool) proc.Status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := c.component(t, name)
		if cond(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s; %s: %+v (last exit %+v)", timeout, name, s, s.LastExit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The daemon restarts a killed component and reports it (`status`, `up`); it gives up on one
// that keeps crashing, after which `status` and `up` fail and say so; `down` during a pending
// restart stops everything.
func TestComponentsAreSupervised(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a sandbox (skipped with -short)")
	}
	tools := crashSwitchTools(t)
	c := sandboxCLI{bin: providerBinary(t), dir: filepath.Join(t.TempDir(), "state"), env: []string{"KARPENTER_TOOLS_BIN=" + tools}}
	t.Cleanup(func() { c.run("down") })
	if out, ok := c.run("status"); ok || !strings.Contains(out, "no sandbox is running in "+c.dir) {
		t.Fatalf("status without a sandbox (ok %v):\n%s", ok, out)
	}
	if out, ok := c.run("up", "--static-nodes", "0", "--boot-delay", "0"); !ok {
		t.Fatalf("up:\n%s", out)
	}
	out, ok := c.run("status")
	if !ok || !regexp.MustCompile(`(?m)^kube-apiserver\s+\d+\s+running\s+0\s+-$`).MatchString(out) || !strings.Contains(out, "/readyz: ok") {
		t.Fatalf("status of a fresh sandbox (ok %v):\n%s", ok, out)
	}
	pgid := c.status(t).PID
	apiServerComesBack(t, c)
	schedulerIsGivenUp(t, c)

	// kwok crashes at every start too; `down` while its restart is pending stops everything.
	if err := os.WriteFile(filepath.Join(tools, "kwok.crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	kwok := c.component(t, "kwok")
	if err := syscall.Kill(kwok.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.waitComponent(t, "kwok", 30*time.Second, func(s proc.Status) bool {
		return s.Restarts >= 2 && s.State == proc.StateRestarting && time.Until(s.NextStart) > time.Second
	})
	begin := time.Now()
	if out, ok := c.run("down"); !ok || !strings.Contains(out, "removed") {
		t.Fatalf("down:\n%s", out)
	}
	if d := time.Since(begin); d > 25*time.Second {
		t.Errorf("down took %s", d)
	}
	if left := groupMembers(pgid); len(left) > 0 {
		t.Fatalf("processes left after down: %v", left)
	}
}

// apiServerComesBack kills kube-apiserver with SIGKILL: `up` waits for it to come back and
// says the sandbox runs; `status` shows one restart and the kill; the daemon log names it.
func apiServerComesBack(t *testing.T, c sandboxCLI) {
	t.Helper()
	before := c.component(t, "kube-apiserver")
	if err := syscall.Kill(before.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out, ok := c.run("up")
	if !ok || !strings.Contains(out, "already running") {
		t.Fatalf("up after kube-apiserver was killed (ok %v):\n%s", ok, out)
	}
	after := c.waitComponent(t, "kube-apiserver", 30*time.Second, func(s proc.Status) bool { return s.State == proc.StateRunning && s.Restarts == 1 })
	if after.Pid == before.Pid || after.LastExit == nil || after.LastExit.Code != 137 || after.LastExit.Message != "signal: killed" {
		t.Fatalf("kube-apiserver after the kill: %+v, last exit %+v", after, after.LastExit)
	}
	out, ok = c.run("status")
	if !ok || !regexp.MustCompile(`(?m)^kube-apiserver\s+`+strconv.Itoa(after.Pid)+`\s+running\s+1\s+signal: killed \(code 137\)`).MatchString(out) ||
		!strings.Contains(out, "/readyz: ok") {
		t.Fatalf("status after the restart (ok %v):\n%s", ok, out)
	}
	kubeconfig := filepath.Join(c.dir, "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kubernetes.NewForConfigOrDie(cfg).CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("API after the restart: %v", err)
	}
	log, _ := os.ReadFile(filepath.Join(c.dir, sandbox.DaemonLog))
	if !strings.Contains(string(log), `msg="process exited; restarting it" component=supervisor process=kube-apiserver err="signal: killed"`) ||
		!strings.Contains(string(log), "log="+before.LogPath) {
		t.Fatalf("daemon log:\n%s", log)
	}
}

// schedulerIsGivenUp makes kube-scheduler crash at every start and kills it: after 5
// restarts the daemon gives up; `status` and `up` fail, naming it.
func schedulerIsGivenUp(t *testing.T, c sandboxCLI) {
	t.Helper()
	tools := strings.TrimPrefix(c.env[0], "KARPENTER_TOOLS_BIN=")
	if err := os.WriteFile(filepath.Join(tools, "kube-scheduler.crash"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(c.component(t, "kube-scheduler").Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// 1+2+4+8+16 s of backoff
	s := c.waitComponent(t, "kube-scheduler", 90*time.Second, func(s proc.Status) bool { return s.State == proc.StateGaveUp })
	if s.Restarts != 5 || s.LastExit.Code != 7 || c.status(t).State != sandbox.DaemonDegraded {
		t.Fatalf("kube-scheduler %+v, last exit %+v; daemon %s", s, s.LastExit, c.status(t).State)
	}
	out, ok := c.run("status")
	if ok || !regexp.MustCompile(`(?m)^kube-scheduler\s+-\s+gave-up\s+5\s+exit status 7 at `).MatchString(out) ||
		!strings.Contains(out, "kube-scheduler is down: it exited again after 5 restarts") || !strings.Contains(out, "degraded") {
		t.Fatalf("status after the give-up (ok %v):\n%s", ok, out)
	}
	out, ok = c.run("up")
	if ok || !strings.Contains(out, "is not healthy") || !strings.Contains(out, "kube-scheduler is down") || !strings.Contains(out, "sandbox down --dir "+c.dir) {
		t.Fatalf("up after the give-up (ok %v):\n%s", ok, out)
	}
}
