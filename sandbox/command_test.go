package sandbox_test

import (
	"bufio"
	"bytes"
	"context"
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

	"github.com/nodeform/terraform-provider-karpenter/sandbox/cluster"
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
	if out := run("down"); !strings.Contains(out, "no sandbox running") {
		t.Fatalf("second down:\n%s", out)
	}
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
