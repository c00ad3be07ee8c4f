// Package pods runs the controller's pods as local processes: every pod bound to a node, if it
// is labelled app.kubernetes.io/name=karpenter or has a container image in
// version.ControllerImageRepository, runs, when the sandbox can provide each of its container
// images (see pull.go: else its containers stay Waiting in ErrImagePull), as a runtime runs its
// image: the image's entrypoint and command (its executable extracted from the image pulled from
// a loopback registry, or Runner.Executable for the default image) with the container's
// command, args and environment and, like a real pod, a
// bound ServiceAccount token as its only Kubernetes credential, plus AWS credentials the way EKS
// injects them: a web identity token for the IAM role named in the ServiceAccount's
// eks.amazonaws.com/role-arn annotation (IRSA), else, when an EKS Pod Identity association
// exists for the ServiceAccount, AWS_CONTAINER_CREDENTIALS_FULL_URI (the Pod Identity agent)
// and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (a token with audience pods.eks.amazonaws.com).
//
// Every process listens on loopback only (BIND_ADDRESS=127.0.0.1), on free ports it gets as
// METRICS_PORT, HEALTH_PROBE_PORT and WEBHOOK_PORT: many pods share this host, so none can have
// its container ports. The container ports named http-metrics, http-health and https-webhook
// are served there, and Runner.LocalAddr says where while the process runs (the sandbox's
// stand-in for kube-proxy uses it to reach a Service's endpoints).
package pods

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/image"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/cluster"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/proc"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// RoleARNAnnotation on a ServiceAccount names the IAM role its pods assume (IRSA).
const RoleARNAnnotation = "eks.amazonaws.com/role-arn"

// STSAudience is the audience of web identity tokens for sts:AssumeRoleWithWebIdentity.
const STSAudience = "sts.amazonaws.com"

// PodIdentityAudience is the audience of the token the Pod Identity agent exchanges.
const PodIdentityAudience = "pods.eks.amazonaws.com"

// PodIdentityLookup says whether an EKS Pod Identity association exists for a ServiceAccount
// (what the EKS Pod Identity webhook checks). The AWS emulator implements it.
type PodIdentityLookup interface {
	PodIdentityRole(namespace, serviceAccount string) (roleArn string, ok bool)
}

// TokenLifetime is the lifetime requested for ServiceAccount tokens (the kubelet's default for
// projected tokens is one hour too); tokens are rewritten after 80% of it.
const TokenLifetime = time.Hour

// Backoff bounds for restarting a process that exited (restartPolicy Always).
const (
	InitialBackoff = time.Second
	MaxBackoff     = 5 * time.Minute
	// BackoffReset: a process that ran this long restarts after InitialBackoff again.
	BackoffReset = 10 * time.Minute
)

// localPorts are the container ports a process serves on a free loopback port, by port name,
// with the environment variable that gives it that port.
var localPorts = []struct{ portName, env string }{
	{"http-metrics", "METRICS_PORT"},
	{"http-health", "HEALTH_PROBE_PORT"},
	{"https-webhook", "WEBHOOK_PORT"},
}

// Runner watches pods and runs the controller ones.
type Runner struct {
	Admin      *rest.Config // administrator credentials (watch pods, request tokens, read env sources)
	Server     string       // API server URL written into pod kubeconfigs
	CACertPEM  []byte
	Audience   string // audience of API server tokens ("" = the API server's default)
	Executable string // the default image's binary (image.BinaryPath of version.ControllerImage()): this executable or $KARPENTER_BIN
	// ExtraEnv is added to every process after the container's env: the emulator endpoints
	// (AWS_ENDPOINT_URL_<SERVICE>) and AWS_REGION.
	ExtraEnv []string
	Region   string
	// PodIdentity and PodIdentityAgentURL (the agent's credentials URL) enable EKS Pod
	// Identity; nil or "" disables it.
	PodIdentity         PodIdentityLookup
	PodIdentityAgentURL string
	StateDir            string // per-pod credentials go to StateDir/pods/<ns>_<pod>/, logs to StateDir/pods/<ns>_<pod>.log
	Clock               clock.WithTicker
	Log                 *slog.Logger

	mu      sync.Mutex
	running map[types.UID]*podRun
	wg      sync.WaitGroup
	pullMu  sync.Mutex // one image extraction at a time (fetch.go)

	addrMu sync.RWMutex
	addrs  map[string]map[int32]int // "<namespace>/<pod>" -> container port -> local port
}

type podRun struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// IsControllerImage reports whether image (repo[:tag][@digest]) is in
// version.ControllerImageRepository.
func IsControllerImage(image string) bool {
	repo, _, _ := strings.Cut(image, "@")
	if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
		repo = repo[:i]
	}
	return repo == version.ControllerImageRepository
}

// Run watches pods until ctx is done, then stops every process it started and returns.
func (r *Runner) Run(ctx context.Context) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	r.running = map[types.UID]*podRun{}
	cs, err := kubernetes.NewForConfig(r.Admin)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = "spec.nodeName!="
	}))
	inf := factory.Core().V1().Pods().Informer()
	_, err = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.sync(ctx, cs, obj) },
		UpdateFunc: func(_, obj any) { r.sync(ctx, cs, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				r.stop(pod.UID)
			}
		},
	})
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
	r.mu.Lock()
	for uid := range r.running {
		r.running[uid].cancel()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

func (r *Runner) sync(ctx context.Context, cs kubernetes.Interface, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.Spec.NodeName == "" {
		return
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		r.stop(pod.UID)
		return
	}
	if !isControllerPod(pod) {
		return
	}
	r.mu.Lock()
	_, running := r.running[pod.UID]
	r.mu.Unlock()
	if running || ctx.Err() != nil {
		return
	}
	containers := pod.Spec.Containers
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.running[pod.UID]; ok || ctx.Err() != nil {
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	run := &podRun{cancel: cancel, done: make(chan struct{})}
	r.running[pod.UID] = run
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer close(run.done)
		pod := pod.DeepCopy()
		// See pull.go: images are pulled here, off the informer's event handler; a container
		// that cannot start keeps the pod from starting.
		imgs, failed := r.prepareAll(pctx, containers)
		if pctx.Err() != nil {
			return
		}
		if len(failed) > 0 {
			r.forget(pod.UID, run) // the next change of the pod tries again
			r.Log.Warn("pod cannot start", "pod", pod.Namespace+"/"+pod.Name, "containers", failed)
			if err := reportFailure(pctx, cs, pod, failed); err != nil {
				r.Log.Warn("cannot report the pod's waiting containers", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			}
			return
		}
		if err := markPulled(pctx, cs, pod); err != nil {
			r.Log.Warn("cannot mark images pulled; kwok will not start the pod", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
		r.runPod(pctx, cs, pod, containers, imgs)
	}()
}

// prepareAll prepares every container of containers (Runner.prepare), by name; failed says
// why those that cannot start cannot.
func (r *Runner) prepareAll(ctx context.Context, containers []corev1.Container) (map[string]*runnable, map[string]containerFailure) {
	imgs, failed := map[string]*runnable{}, map[string]containerFailure{}
	for _, c := range containers {
		rn, f := r.prepare(ctx, c)
		if f != nil {
			failed[c.Name] = *f
			continue
		}
		imgs[c.Name] = rn
	}
	return imgs, failed
}

// forget drops run, pod uid's entry, unless another run replaced it.
func (r *Runner) forget(uid types.UID, run *podRun) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[uid] == run {
		delete(r.running, uid)
	}
}

// stop starts ending the processes of pod uid (SIGTERM, grace period, SIGKILL) without
// blocking the informer; Run waits for them when it returns.
func (r *Runner) stop(uid types.UID) {
	r.mu.Lock()
	run, ok := r.running[uid]
	delete(r.running, uid)
	r.mu.Unlock()
	if ok {
		run.cancel()
	}
}

// LocalAddr returns "127.0.0.1:<port>", where a process of pod namespace/pod serves its
// container port containerPort: the port given to it as METRICS_PORT, HEALTH_PROBE_PORT or
// WEBHOOK_PORT for the container port named http-metrics, http-health or https-webhook. ok is
// false for other container ports, for pods this Runner does not run and while no process of
// the container runs (before its start, between restarts, after its stop). Safe for
// concurrent use.
func (r *Runner) LocalAddr(namespace, pod string, containerPort int32) (addr string, ok bool) {
	r.addrMu.RLock()
	defer r.addrMu.RUnlock()
	port, ok := r.addrs[namespace+"/"+pod][containerPort]
	if !ok {
		return "", false
	}
	return "127.0.0.1:" + strconv.Itoa(port), true
}

// publish records ports (container port -> local port) of a started process of pod.
func (r *Runner) publish(pod *corev1.Pod, ports map[int32]int) {
	if len(ports) == 0 {
		return
	}
	key := pod.Namespace + "/" + pod.Name
	r.addrMu.Lock()
	defer r.addrMu.Unlock()
	if r.addrs == nil {
		r.addrs = map[string]map[int32]int{}
	}
	if r.addrs[key] == nil {
		r.addrs[key] = map[int32]int{}
	}
	for cp, lp := range ports {
		r.addrs[key][cp] = lp
	}
}

// unpublish forgets ports of a process of pod that has stopped. Only entries still pointing at
// its local ports go: a pod of the same name created since may already have published its own.
func (r *Runner) unpublish(pod *corev1.Pod, ports map[int32]int) {
	key := pod.Namespace + "/" + pod.Name
	r.addrMu.Lock()
	defer r.addrMu.Unlock()
	for cp, lp := range ports {
		if r.addrs[key][cp] == lp {
			delete(r.addrs[key], cp)
		}
	}
	if len(r.addrs[key]) == 0 {
		delete(r.addrs, key)
	}
}

// Running returns the number of pods whose processes are supervised.
func (r *Runner) Running() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.running)
}

func (r *Runner) podDir(pod *corev1.Pod) string {
	return filepath.Join(r.StateDir, "pods", pod.Namespace+"_"+pod.Name)
}

// LogPath is where the processes of pod ns/name write stdout and stderr.
func LogPath(stateDir, namespace, name string) string {
	return filepath.Join(stateDir, "pods", namespace+"_"+name+".log")
}

func (r *Runner) runPod(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, containers []corev1.Container, imgs map[string]*runnable) {
	log := r.Log.With("pod", pod.Namespace+"/"+pod.Name)
	dir := r.podDir(pod)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		log.Error("pod directory", "err", err)
		return
	}
	defer os.RemoveAll(dir)
	creds := &credentials{r: r, cs: cs, pod: pod, dir: dir}
	// Tokens first: a pod whose ServiceAccount is missing does not start (the kubelet would
	// fail to mount its projected token). Retry until the pod goes away.
	backoff := InitialBackoff
	for {
		err := creds.refresh(ctx)
		if err == nil {
			break
		}
		log.Warn("cannot create pod credentials; retrying", "err", err, "retry_in", backoff)
		if !sleep(ctx, r.Clock, backoff) {
			return
		}
		backoff = min(2*backoff, MaxBackoff)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); creds.keepFresh(ctx, log) }()
	for _, c := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.superviseContainer(ctx, cs, pod, c, imgs[c.Name], creds, log.With("container", c.Name))
		}()
	}
	wg.Wait()
}

// sleep waits d on clk; false if ctx ended first.
func sleep(ctx context.Context, clk clock.Clock, d time.Duration) bool {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}

// superviseContainer runs the container's process until ctx ends, restarting it with
// exponential backoff when it exits, and reports the restarts in the pod's status
// (statusReporter). img says what runs (nil: the default image, builtinImage).
func (r *Runner) superviseContainer(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, c corev1.Container, img *runnable, creds *credentials, log *slog.Logger) {
	grace := 30 * time.Second
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		grace = min(grace, time.Duration(*pod.Spec.TerminationGracePeriodSeconds)*time.Second)
	}
	status := newStatusReporter(cs, pod, c.Name, log)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); status.run(ctx) }()
	defer wg.Wait()
	backoff := InitialBackoff
	var exits int32 // processes of the container that have exited: the restartCount of the next
	for ctx.Err() == nil {
		spec, ports, err := r.processSpec(ctx, cs, pod, c, img, creds)
		var p *proc.Process
		if err == nil {
			p, err = proc.Start(spec)
		}
		if err != nil {
			log.Warn("cannot start container", "err", err)
		} else {
			log.Info("container started", "pid", p.Pid(), "restarts", exits, "log", spec.LogPath)
			if exits > 0 {
				status.restarted(exits, p.StartedAt())
			}
			r.publish(pod, ports)
			started := r.Clock.Now()
			select {
			case <-ctx.Done():
				_ = p.Stop(grace)
				r.unpublish(pod, ports)
				log.Info("container stopped")
				return
			case <-p.Done():
			}
			r.unpublish(pod, ports)
			exits++
			if r.Clock.Since(started) >= BackoffReset {
				backoff = InitialBackoff
			}
			log.Warn("container exited; restarting", "err", p.Err(), "retry_in", backoff)
			status.exited(exits, p.Exit(), backoff)
		}
		if !sleep(ctx, r.Clock, backoff) {
			return
		}
		backoff = min(2*backoff, MaxBackoff)
	}
}

// processSpec builds the command line and environment of container c and returns, with it,
// the local port serving each of c's container ports named in localPorts (container port ->
// local port). img is the container's image (nil: the default image, builtinImage).
func (r *Runner) processSpec(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, c corev1.Container, img *runnable, creds *credentials) (proc.Spec, map[int32]int, error) {
	if img == nil {
		img = builtinImage(r.Executable)
	}
	// The pod may have changed since it was first seen (podIP is set once kwok runs it).
	if fresh, err := cs.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{}); err == nil && fresh.UID == pod.UID {
		pod = fresh
	}
	env, err := containerEnv(ctx, cs, pod, c)
	if err != nil {
		return proc.Spec{}, nil, err
	}
	// A pod's environment is its own: nothing of the sandbox's (credentials, KUBECONFIG)
	// leaks in, except PATH/HOME so the process can run.
	// The image's environment comes first, as a runtime sets it, but for PATH: the process runs
	// on this host's filesystem, not the image's.
	full := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + creds.dir, "HOSTNAME=" + pod.Name}
	for _, kv := range img.config.Env {
		if !strings.HasPrefix(kv, "PATH=") {
			full = append(full, kv)
		}
	}
	full = append(full, env...)
	full = append(full, "KUBECONFIG="+creds.kubeconfig())
	ports := map[int32]int{}
	for _, lp := range localPorts {
		port, err := proc.FreePort()
		if err != nil {
			return proc.Spec{}, nil, err
		}
		full = append(full, lp.env+"="+strconv.Itoa(port))
		for _, cp := range c.Ports {
			if cp.Name == lp.portName {
				ports[cp.ContainerPort] = port
			}
		}
	}
	// The pod's servers listen on loopback only: the sandbox runs every pod on this host.
	full = append(full, "BIND_ADDRESS=127.0.0.1")
	full = append(full, creds.awsEnv()...)
	full = append(full, r.ExtraEnv...)

	vals := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vals[k] = v
	}
	cargs := make([]string, len(c.Args))
	for i, a := range c.Args {
		cargs[i] = expandRefs(a, vals)
	}
	// The container runs what the image would: its command or the image's entrypoint, its args
	// or the image's command (image.ArgvFor the image's configuration; for the default image
	// the one `make image` writes, whose binary is Runner.Executable). The first word is the
	// image's file, extracted (pull.go).
	argv := image.ArgvFor(img.config, c.Command, cargs)
	if len(argv) == 0 {
		return proc.Spec{}, nil, fmt.Errorf("no command specified")
	}
	path, args := argv[0], argv[1:]
	if img.exe != "" && (img.argv0 == "" || path == img.argv0) {
		path = img.exe
	}
	return proc.Spec{
		Name:    pod.Namespace + "/" + pod.Name + "/" + c.Name,
		Path:    path,
		Args:    args,
		Env:     full,
		Dir:     creds.dir,
		LogPath: LogPath(r.StateDir, pod.Namespace, pod.Name),
	}, ports, nil
}

// credentials are a pod's ServiceAccount token (in a kubeconfig) and, if its ServiceAccount
// names an IAM role, its web identity token.
type credentials struct {
	r   *Runner
	cs  kubernetes.Interface
	pod *corev1.Pod
	dir string

	mu          sync.Mutex
	roleARN     string
	podIdentity bool
}

func (c *credentials) kubeconfig() string { return filepath.Join(c.dir, "kubeconfig") }
func (c *credentials) tokenPath() string  { return filepath.Join(c.dir, "token") }
func (c *credentials) awsTokenPath() string {
	return filepath.Join(c.dir, "eks.amazonaws.com", "serviceaccount", "token")
}

// podIdentityTokenPath is where EKS mounts the Pod Identity token
// (/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token), under the
// pod's directory.
func (c *credentials) podIdentityTokenPath() string {
	return filepath.Join(c.dir, "pods.eks.amazonaws.com", "serviceaccount", "eks-pod-identity-token")
}

func (c *credentials) awsEnv() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.podIdentity {
		return []string{
			"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + c.r.PodIdentityAgentURL,
			"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=" + c.podIdentityTokenPath(),
			"AWS_REGION=" + c.r.Region,
			"AWS_DEFAULT_REGION=" + c.r.Region,
		}
	}
	if c.roleARN == "" {
		return nil
	}
	return []string{
		"AWS_ROLE_ARN=" + c.roleARN,
		"AWS_WEB_IDENTITY_TOKEN_FILE=" + c.awsTokenPath(),
		"AWS_REGION=" + c.r.Region,
		"AWS_DEFAULT_REGION=" + c.r.Region,
		"AWS_STS_REGIONAL_ENDPOINTS=regional",
	}
}

// refresh requests new tokens bound to the pod and writes them (atomically).
func (c *credentials) refresh(ctx context.Context) error {
	saName := c.pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	sa, err := c.cs.CoreV1().ServiceAccounts(c.pod.Namespace).Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("serviceaccount %s/%s: %w", c.pod.Namespace, saName, err)
	}
	var audiences []string
	if c.r.Audience != "" {
		audiences = []string{c.r.Audience}
	}
	tok, err := c.token(ctx, saName, audiences)
	if err != nil {
		return err
	}
	if err := writeAtomic(c.tokenPath(), []byte(tok)); err != nil {
		return err
	}
	if _, err := os.Stat(c.kubeconfig()); os.IsNotExist(err) {
		user := "system:serviceaccount:" + c.pod.Namespace + ":" + saName
		if err := cluster.WriteTokenKubeconfig(c.kubeconfig(), c.r.Server, c.r.CACertPEM, user, c.tokenPath()); err != nil {
			return err
		}
	}
	role := sa.Annotations[RoleARNAnnotation]
	podIdentity := false
	if role == "" && c.r.PodIdentity != nil && c.r.PodIdentityAgentURL != "" {
		_, podIdentity = c.r.PodIdentity.PodIdentityRole(c.pod.Namespace, saName)
	}
	if podIdentity {
		tok, err := c.token(ctx, saName, []string{PodIdentityAudience})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(c.podIdentityTokenPath()), 0o700); err != nil {
			return err
		}
		if err := writeAtomic(c.podIdentityTokenPath(), []byte(tok)); err != nil {
			return err
		}
	}
	if role != "" {
		awsTok, err := c.token(ctx, saName, []string{STSAudience})
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(c.awsTokenPath()), 0o700); err != nil {
			return err
		}
		if err := writeAtomic(c.awsTokenPath(), []byte(awsTok)); err != nil {
			return err
		}
	}
	c.mu.Lock()
	c.roleARN, c.podIdentity = role, podIdentity
	c.mu.Unlock()
	return nil
}

func (c *credentials) token(ctx context.Context, sa string, audiences []string) (string, error) {
	secs := int64(TokenLifetime / time.Second)
	tr, err := c.cs.CoreV1().ServiceAccounts(c.pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: &secs,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: c.pod.Name, UID: c.pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for serviceaccount %s/%s (audiences %v): %w", c.pod.Namespace, sa, audiences, err)
	}
	return tr.Status.Token, nil
}

// keepFresh rewrites the tokens after 80% of their lifetime, retrying every 10 s on failure.
func (c *credentials) keepFresh(ctx context.Context, log *slog.Logger) {
	wait := TokenLifetime * 8 / 10
	for sleep(ctx, c.r.Clock, wait) {
		if err := c.refresh(ctx); err != nil {
			log.Warn("token refresh failed", "err", err)
			wait = 10 * time.Second
			continue
		}
		wait = TokenLifetime * 8 / 10
	}
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
