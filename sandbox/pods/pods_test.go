package pods

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/nodeform/terraform-provider-karpenter/image"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

func TestIsControllerImage(t *testing.T) {
	for image, want := range map[string]bool{
		version.ControllerImage():                             true,
		version.ControllerImageRepository:                     true,
		version.ControllerImageRepository + "@sha256:abcd":    true,
		version.ControllerImageRepository + ":v1@sha256:abcd": true,
		version.ControllerImageRepository + "-other:v1":       false,
		"docker.io/library/nginx:1.27":                        false,
		"localhost:5000/nodeform/karpenter-controller":        false,
	} {
		if got := IsControllerImage(image); got != want {
			t.Errorf("IsControllerImage(%q) = %v", image, got)
		}
	}
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "karpenter-abc", Namespace: "karpenter", UID: "uid-1", Labels: map[string]string{"app": "karpenter"}},
		Spec:       corev1.PodSpec{NodeName: "ip-10-0-0-5.ec2.internal", ServiceAccountName: "karpenter"},
		Status:     corev1.PodStatus{PodIP: "10.244.0.7"},
	}
}

func TestContainerEnv(t *testing.T) {
	cs := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "karpenter"}, Data: map[string]string{"batchMaxDuration": "10s", "X": "from-cm"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "karpenter"}, Data: map[string][]byte{"token": []byte("s3cr3t")}},
	)
	yes := true
	c := corev1.Container{Name: "controller",
		EnvFrom: []corev1.EnvFromSource{{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}}}},
		Env: []corev1.EnvVar{
			{Name: "CLUSTER_NAME", Value: "demo"},
			{Name: "ENDPOINT", Value: "https://$(CLUSTER_NAME).local/$(UNKNOWN)/$$(CLUSTER_NAME)"},
			{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "BATCH", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "batchMaxDuration"}}},
			{Name: "TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "token"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Key: "k", Optional: &yes}}},
			{Name: "CM_X", Value: "overridden"},
		},
	}
	env, err := containerEnv(context.Background(), cs, testPod(), c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{
		"CM_batchMaxDuration": "10s", "CM_X": "overridden", "CLUSTER_NAME": "demo",
		"ENDPOINT": "https://demo.local/$(UNKNOWN)/$(CLUSTER_NAME)", "POD": "karpenter-abc", "NS": "karpenter",
		"NODE": "ip-10-0-0-5.ec2.internal", "IP": "10.244.0.7", "APP": "karpenter", "BATCH": "10s", "TOKEN": "s3cr3t",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["OPT"]; ok || len(got) != len(want) {
		t.Errorf("env = %v", got)
	}

	c.Env = []corev1.EnvVar{{Name: "BAD", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "nope"}}}}
	if _, err := containerEnv(context.Background(), cs, testPod(), c); err == nil || !strings.Contains(err.Error(), "spec.containers[controller].env[0](BAD).valueFrom") {
		t.Fatalf("err = %v", err)
	}
	c.Env = []corev1.EnvVar{{Name: "BAD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.unknown"}}}}
	if _, err := containerEnv(context.Background(), cs, testPod(), c); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("err = %v", err)
	}
}

func TestProcessSpecCommandLine(t *testing.T) {
	pod := testPod()
	cs := fake.NewClientset(pod)
	r := &Runner{Executable: "/opt/bin/terraform-provider-karpenter", StateDir: t.TempDir(), ExtraEnv: []string{"AWS_ENDPOINT_URL_EC2=http://127.0.0.1:1"}}
	creds := &credentials{r: r, pod: pod, dir: t.TempDir(), roleARN: "arn:aws:iam::1:role/r"}
	for _, tc := range []struct {
		command, args []string
		path          string
		argv          string
	}{
		{nil, []string{"controller", "--cluster-name=$(CLUSTER_NAME)"}, r.Executable, "controller --cluster-name=demo"},
		// The image's entrypoint and command (image.Config), as a container runtime runs them.
		{nil, nil, r.Executable, "controller"},
		{[]string{image.BinaryPath, "controller"}, []string{"--x"}, r.Executable, "controller --x"},
		// A command the image does not hold is run as given, and fails as it would on a node.
		{[]string{"/controller"}, []string{"controller"}, "/controller", "controller"},
		{[]string{"/bin/sh", "-c"}, []string{"echo hi"}, "/bin/sh", "-c echo hi"},
	} {
		c := corev1.Container{Name: "controller", Image: "img", Command: tc.command, Args: tc.args, Env: []corev1.EnvVar{{Name: "CLUSTER_NAME", Value: "demo"}}}
		spec, _, err := r.processSpec(context.Background(), cs, pod, c, nil, creds)
		if err != nil {
			t.Fatal(err)
		}
		if spec.Path != tc.path || strings.Join(spec.Args, " ") != tc.argv {
			t.Errorf("command %v args %v: ran %s %v", tc.command, tc.args, spec.Path, spec.Args)
		}
		env := strings.Join(spec.Env, "\n")
		for _, want := range []string{"KUBECONFIG=" + creds.kubeconfig(), "METRICS_PORT=", "HEALTH_PROBE_PORT=", "AWS_ROLE_ARN=arn:aws:iam::1:role/r",
			"AWS_WEB_IDENTITY_TOKEN_FILE=", "AWS_STS_REGIONAL_ENDPOINTS=regional", "AWS_ENDPOINT_URL_EC2=http://127.0.0.1:1", "CLUSTER_NAME=demo"} {
			if !strings.Contains(env, want) {
				t.Errorf("env lacks %q", want)
			}
		}
		if spec.LogPath != LogPath(r.StateDir, "karpenter", "karpenter-abc") {
			t.Errorf("log path %s", spec.LogPath)
		}
	}
}

func TestSuperviseRestartsWithBackoff(t *testing.T) {
	pod, cs, clk, dir, r, creds := supervisedRunner(t)
	marker := filepath.Join(dir, "starts")
	c := corev1.Container{Name: "c", Command: []string{"/bin/sh", "-c"}, Args: []string{"echo x >> " + marker + "; exit 3"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.superviseContainer(ctx, cs, pod, c, nil, creds, r.Log); close(done) }()
	starts := func() int { b, _ := os.ReadFile(marker); return strings.Count(string(b), "x") }
	waitFor := func(cond func() bool) {
		t.Helper()
		for i := 0; i < 500 && !cond(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !cond() {
			t.Fatal("timed out")
		}
	}
	// exits -> waits 1s, 2s, 4s (fake time) between restarts
	for i, backoff := range []time.Duration{InitialBackoff, 2 * InitialBackoff, 4 * InitialBackoff} {
		waitFor(func() bool { return starts() == i+1 && clk.HasWaiters() })
		clk.Step(backoff - time.Millisecond)
		time.Sleep(50 * time.Millisecond)
		if starts() != i+1 {
			t.Fatalf("restarted before backoff %s", backoff)
		}
		clk.Step(time.Millisecond)
	}
	waitFor(func() bool { return starts() == 4 })
	cancel()
	<-done
}

// The container ports named http-metrics, http-health and https-webhook get the local ports
// given as METRICS_PORT, HEALTH_PROBE_PORT and WEBHOOK_PORT; other container ports none.
func TestProcessSpecLocalPorts(t *testing.T) {
	pod := testPod()
	r := &Runner{Executable: "/bin/true", StateDir: t.TempDir()}
	creds := &credentials{r: r, pod: pod, dir: t.TempDir()}
	c := corev1.Container{Name: "controller", Image: "img", Ports: []corev1.ContainerPort{
		{Name: "http-metrics", ContainerPort: 8080}, {Name: "http-health", ContainerPort: 8081},
		{Name: "https-webhook", ContainerPort: 8443}, {Name: "other", ContainerPort: 9000}}}
	spec, ports, err := r.processSpec(context.Background(), fake.NewClientset(pod), pod, c, nil, creds)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	want := map[int32]string{8080: env["METRICS_PORT"], 8081: env["HEALTH_PROBE_PORT"], 8443: env["WEBHOOK_PORT"]}
	if len(ports) != len(want) || env["BIND_ADDRESS"] != "127.0.0.1" {
		t.Fatalf("ports %v, env %v", ports, env)
	}
	for cp, v := range want {
		if v == "" || strconv.Itoa(ports[cp]) != v {
			t.Errorf("container port %d: local port %d, env %q", cp, ports[cp], v)
		}
	}
}

// LocalAddr answers while the container's process runs, and no longer once it has exited or
// been stopped; a stopping process does not remove what a new pod of the same name published.
func TestLocalAddrFollowsTheProcess(t *testing.T) {
	pod, cs, clk, dir, r, creds := supervisedRunner(t)
	marker, exit := filepath.Join(dir, "port"), filepath.Join(dir, "exit")
	c := corev1.Container{Name: "c", Command: []string{"/bin/sh", "-c"},
		Args:  []string{"echo $WEBHOOK_PORT > " + marker + ".tmp && mv " + marker + ".tmp " + marker + "; while [ ! -e " + exit + " ]; do sleep 0.02; done; rm " + exit + "; exit 3"},
		Ports: []corev1.ContainerPort{{Name: "https-webhook", ContainerPort: 8443}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.superviseContainer(ctx, cs, pod, c, nil, creds, r.Log); close(done) }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for i := 0; i < 500 && !cond(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if !cond() {
			t.Fatal("timed out waiting for", what)
		}
	}
	published := func() string {
		b, _ := os.ReadFile(marker)
		return "127.0.0.1:" + strings.TrimSpace(string(b))
	}
	addr := func(port int32) string { a, _ := r.LocalAddr("karpenter", "karpenter-abc", port); return a }
	waitFor("first start", func() bool { return addr(8443) != "" && addr(8443) == published() })
	if a, ok := r.LocalAddr("karpenter", "karpenter-abc", 8080); ok {
		t.Errorf("undeclared port 8080 served at %s", a)
	}
	if a, ok := r.LocalAddr("karpenter", "other", 8443); ok {
		t.Errorf("unknown pod served at %s", a)
	}
	if err := os.WriteFile(exit, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("exit, waiting to restart", func() bool { return addr(8443) == "" && clk.HasWaiters() })
	clk.Step(InitialBackoff)
	waitFor("restart", func() bool { return addr(8443) != "" && addr(8443) == published() })
	cancel()
	<-done
	if a, ok := r.LocalAddr("karpenter", "karpenter-abc", 8443); ok {
		t.Errorf("stopped process still served at %s", a)
	}

	// A recreated pod of the same name published its port before the old process stopped.
	r.publish(pod, map[int32]int{8443: 1000})
	r.publish(pod, map[int32]int{8443: 2000})
	r.unpublish(pod, map[int32]int{8443: 1000})
	if a := addr(8443); a != "127.0.0.1:2000" {
		t.Errorf("after the old process stopped: %q", a)
	}
	r.unpublish(pod, map[int32]int{8443: 2000})
	if len(r.addrs) != 0 {
		t.Errorf("entries left: %v", r.addrs)
	}
}

// supervisedRunner is a Runner with a fake clock and a state folder, the test pod, a clientset
// holding it, and its credentials, for superviseContainer tests.
func supervisedRunner(t *testing.T) (*corev1.Pod, *fake.Clientset, *clocktesting.FakeClock, string, *Runner, *credentials) {
	pod := testPod()
	clk := clocktesting.NewFakeClock(time.Now())
	dir := t.TempDir()
	r := &Runner{StateDir: dir, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	return pod, fake.NewClientset(pod), clk, dir, r, &credentials{r: r, pod: pod, dir: t.TempDir()}
}

// A container whose process exits shows it in the pod's status as a kubelet does: while the
// restart is pending, waiting CrashLoopBackOff, lastState.terminated with the exit code and
// the pod not Ready; once restarted, restartCount 1 and running again. Nothing is written while
// the pod is Pending (kwok's pod-running stage would overwrite it).
func TestSuperviseReportsRestartsInPodStatus(t *testing.T) {
	pod, cs, clk, dir, r, creds := supervisedRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pod.Status.Phase = corev1.PodPending
	if _, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	first, stop := filepath.Join(dir, "first"), filepath.Join(dir, "stop")
	c := corev1.Container{Name: "c", Command: []string{"/bin/sh", "-c"},
		Args: []string{"if [ -e " + first + " ]; then while [ ! -e " + stop + " ]; do sleep 0.02; done; else touch " + first + "; exit 3; fi"}}
	done := make(chan struct{})
	go func() { r.superviseContainer(ctx, cs, pod, c, nil, creds, r.Log); close(done) }()
	get := func() *corev1.Pod {
		p, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	waitFor := func(what string, cond func(p *corev1.Pod) bool) *corev1.Pod {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for p := get(); ; p = get() {
			if cond(p) {
				return p
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s: status %+v", what, p.Status)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	for i := 0; i < 100 && !clk.HasWaiters(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if p := get(); len(p.Status.ContainerStatuses) != 0 {
		t.Fatalf("status written while Pending: %+v", p.Status)
	}
	// kwok's pod-running stage
	p := get()
	p.Status.Phase = corev1.PodRunning
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}, {Type: corev1.ContainersReady, Status: corev1.ConditionTrue}}
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	if _, err := cs.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p = waitFor("the exit", func(p *corev1.Pod) bool { return p.Status.ContainerStatuses[0].LastTerminationState.Terminated != nil })
	st := p.Status.ContainerStatuses[0]
	term := st.LastTerminationState.Terminated
	if st.RestartCount != 0 || st.Ready || st.State.Waiting == nil || st.State.Waiting.Reason != "CrashLoopBackOff" ||
		term.ExitCode != 3 || term.Reason != "Error" || term.FinishedAt.IsZero() || term.StartedAt.IsZero() || condition(p, corev1.PodReady) != corev1.ConditionFalse {
		t.Fatalf("after the exit: %+v, conditions %+v", st, p.Status.Conditions)
	}
	clk.Step(InitialBackoff)
	p = waitFor("the restart", func(p *corev1.Pod) bool { return p.Status.ContainerStatuses[0].RestartCount == 1 })
	st = p.Status.ContainerStatuses[0]
	if st.State.Running == nil || !st.Ready || st.LastTerminationState.Terminated == nil || st.LastTerminationState.Terminated.ExitCode != 3 ||
		condition(p, corev1.PodReady) != corev1.ConditionTrue || condition(p, corev1.ContainersReady) != corev1.ConditionTrue {
		t.Fatalf("after the restart: %+v, conditions %+v", st, p.Status.Conditions)
	}
	cancel()
	<-done
}

func condition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}
