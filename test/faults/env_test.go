package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/operator"
	"github.com/nodeform/terraform-provider-karpenter/provider"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

// env is one scenario's view of the shared sandbox: an administrator client, an EC2 client
// with the administrator key, the node instance profile and the controller role's temporary
// credentials the controller processes run with. Its methods fail t on error or timeout.
type env struct {
	t       *testing.T
	ctx     context.Context
	sb      *sandbox.Sandbox
	kube    client.Client
	ec2     *ec2.Client
	name    string   // scenario name: names the provisioner, deployment, roles and logs
	profile string   // node instance profile
	creds   []string // AWS_ACCESS_KEY_ID=..., AWS_SECRET_ACCESS_KEY=..., AWS_SESSION_TOKEN=...
	logDir  string
}

// newEnv joins the package's sandbox, installs the CRDs, tags the discovery resources, creates
// a node role and instance profile and a controller role with the policy
// karpenter_controller_role writes (provider.ControllerPolicy) and assumes it. timeout bounds
// the whole scenario.
func newEnv(t *testing.T, name string, timeout time.Duration) *env {
	t.Helper()
	sb := sandboxtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	scheme := operator.Scheme()
	_ = apiextensionsv1.AddToScheme(scheme)
	kube, err := client.New(sb.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, sb: sb, kube: kube, ec2: ec2.NewFromConfig(sb.AWSConfig()), name: name,
		logDir: filepath.Join(sb.Dir, "logs")}
	sandboxtest.InstallCRDs(t, ctx, e.kube)
	sandboxtest.TagDiscoveryResources(t, ctx, e.sb)
	var nodeRole string
	e.profile, nodeRole = sandboxtest.CreateNodeInstanceProfile(t, ctx, e.sb, sb.ClusterName+"-"+name+"-node")
	e.creds = e.assumeControllerRole(sb.ClusterName+"-"+name+"-controller", nodeRole)
	return e
}

// assumeControllerRole creates role name with the controller policy for the sandbox's cluster
// and the node role, assumes it with the administrator key and returns the session's
// credentials as environment entries: the controller processes never hold the administrator
// key, and the emulator authorises each of their calls against that policy.
func (e *env) assumeControllerRole(name, nodeRoleArn string) []string {
	t, ctx := e.t, e.ctx
	t.Helper()
	cfg := e.sb.AWSConfig()
	iamc := iam.NewFromConfig(cfg)
	account := strings.SplitN(nodeRoleArn, ":", 6)[4]
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"}]}`
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust})
	if err != nil {
		t.Fatal(err)
	}
	doc := provider.ControllerPolicy(provider.ControllerPolicyInput{Partition: "aws", Region: e.sb.Region,
		AccountID: account, ClusterName: e.sb.ClusterName, NodeRoleARN: nodeRoleArn})
	pol, err := iamc.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: &name, PolicyDocument: awssdk.String(doc.JSON())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &name, PolicyArn: pol.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: role.Role.Arn, RoleSessionName: awssdk.String("karpenter")})
	if err != nil {
		t.Fatal(err)
	}
	return []string{"AWS_ACCESS_KEY_ID=" + awssdk.ToString(out.Credentials.AccessKeyId),
		"AWS_SECRET_ACCESS_KEY=" + awssdk.ToString(out.Credentials.SecretAccessKey),
		"AWS_SESSION_TOKEN=" + awssdk.ToString(out.Credentials.SessionToken)}
}

// controllerBinary is the executable the controller processes run: $KARPENTER_BIN (set by
// `make test`), else the binary sandboxtest built.
func (e *env) controllerBinary() string {
	if b := os.Getenv("KARPENTER_BIN"); b != "" {
		return b
	}
	return filepath.Join(filepath.Dir(e.sb.Dir), filepath.Base(e.sb.Dir), "terraform-provider-karpenter")
}

// controller is one `controller` process of the binary.
type controller struct {
	name    string
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	offset  int64 // size of the log file when the process started
}

// startController starts a `controller` process against the sandbox with the controller
// role's credentials, short batch windows, no metrics or probe ports (replicas share the
// host), and extra flags; its output is appended to logs/faults-<scenario>-<replica>.log in
// the sandbox directory.
func (e *env) startController(replica string, extra ...string) *controller {
	e.t.Helper()
	args := append([]string{"controller",
		"--cluster-name", e.sb.ClusterName, "--cluster-endpoint", e.sb.Endpoint, "--aws-region", e.sb.Region,
		"--kubeconfig", e.sb.Kubeconfig, "--default-instance-profile", e.profile,
		"--batch-idle-duration", "500ms", "--batch-max-duration", "2s",
		"--metrics-port", "0", "--health-probe-port", "0", "--log-level", "info"}, extra...)
	logPath := filepath.Join(e.logDir, "faults-"+e.name+"-"+replica+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatal(err)
	}
	var offset int64
	if st, err := logf.Stat(); err == nil {
		offset = st.Size()
	}
	cmd := exec.Command(e.controllerBinary(), args...)
	cmd.Env = append(append(append(os.Environ(), e.sb.Env()...), e.creds...), "POD_NAMESPACE=default")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Killed with the test binary too, as the sandbox's own processes are (sandbox/proc).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		e.t.Fatalf("starting the controller: %v", err)
	}
	c := &controller{name: replica, cmd: cmd, done: make(chan struct{}), logPath: logPath, offset: offset}
	go func() {
		_ = cmd.Wait()
		_ = logf.Close()
		close(c.done)
	}()
	e.t.Cleanup(c.kill)
	return c
}

// kill sends SIGKILL (no shutdown, no lease release) and waits for the process to exit.
func (c *controller) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// leading reports whether this process has logged that it acquired the leader election
// Lease (client-go's leaderelection: "Successfully acquired lease").
func (c *controller) leading() bool { return c.logged("acquired lease") }

// logged reports whether this process has logged a line containing s (case-insensitive), such
// as "launching node" or "cordoned node".
func (c *controller) logged(s string) bool {
	b, err := os.ReadFile(c.logPath)
	if err != nil || int64(len(b)) < c.offset {
		return false
	}
	return strings.Contains(strings.ToLower(string(b[c.offset:])), strings.ToLower(s))
}

// waitLogged waits up to timeout for the process to log one of the strings; it reports
// whether one came (false at once without strings or when the process exited).
func (c *controller) waitLogged(timeout time.Duration, any ...string) bool {
	deadline := time.Now().Add(timeout)
	for len(any) > 0 && time.Now().Before(deadline) && !c.exited() {
		for _, s := range any {
			if c.logged(s) {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// exited reports whether the process has exited (on its own, or killed).
func (c *controller) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// createProvisioner creates the scenario's Provisioner: discovery-tagged subnets and security
// groups, capacity types, empty nodes removed after 5 seconds, cpu limit (0: none) and extra
// requirements.
func (e *env) createProvisioner(capacityTypes []string, cpuLimit int64, extra ...v1alpha5.NodeSelectorRequirement) *v1alpha5.Provisioner {
	e.t.Helper()
	prov := &v1alpha5.Provisioner{
		ObjectMeta: metav1.ObjectMeta{Name: e.name},
		Spec: v1alpha5.ProvisionerSpec{
			Requirements: []v1alpha5.NodeSelectorRequirement{
				{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: capacityTypes}},
			TTLSecondsAfterEmpty: ptr.To[int64](5),
			Provider: &v1alpha5.AWS{
				SubnetSelector:        map[string]string{v1alpha5.DiscoveryTagKey: e.sb.ClusterName},
				SecurityGroupSelector: map[string]string{v1alpha5.DiscoveryTagKey: e.sb.ClusterName},
			},
		},
	}
	prov.Spec.Requirements = append(prov.Spec.Requirements, extra...)
	if cpuLimit > 0 {
		prov.Spec.Limits = &v1alpha5.Limits{Resources: corev1.ResourceList{corev1.ResourceCPU: *resource.NewQuantity(cpuLimit, resource.DecimalSI)}}
	}
	if err := e.kube.Create(e.ctx, prov); err != nil {
		e.t.Fatal(err)
	}
	return prov
}

// createDeployment creates the scenario's Deployment (named and labelled app=<scenario>) of
// replicas pause pods requesting cpu each, selecting the scenario's provisioner.
func (e *env) createDeployment(replicas int32, cpu string) *appsv1.Deployment {
	e.t.Helper()
	return e.createNamedDeployment(e.name, replicas, cpu, nil)
}

// createNamedDeployment creates Deployment name (pods labelled app=name) of replicas pause pods
// requesting cpu each, selecting the scenario's provisioner and the labels in nodeSelector;
// opts change the pod spec.
func (e *env) createNamedDeployment(name string, replicas int32, cpu string, nodeSelector map[string]string, opts ...func(*corev1.PodSpec)) *appsv1.Deployment {
	e.t.Helper()
	labels := map[string]string{"app": name}
	sel := map[string]string{v1alpha5.LabelProvisionerName: e.name}
	for k, v := range nodeSelector {
		sel[k] = v
	}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: ptr.To[int64](0),
					NodeSelector:                  sel,
					Containers: []corev1.Container{{Name: "pause", Image: "public.ecr.aws/eks-distro/kubernetes/pause:3.7",
						Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu)}}}},
				},
			},
		},
	}
	for _, o := range opts {
		o(&deploy.Spec.Template.Spec)
	}
	if err := e.kube.Create(e.ctx, deploy); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.kube.Delete(context.Background(), deploy) })
	return deploy
}

// onePerNode gives the pods labelled app=app a required hostname anti-affinity to each
// other: every pod needs a node of its own, so each added replica launches a node.
func onePerNode(app string) func(*corev1.PodSpec) {
	return func(p *corev1.PodSpec) {
		p.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
				TopologyKey:   corev1.LabelHostname}}}}
	}
}

// deleteDeployment deletes Deployment name (its pods go with it).
func (e *env) deleteDeployment(name string) {
	e.t.Helper()
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"}}
	if err := e.kube.Delete(e.ctx, d, client.PropagationPolicy(metav1.DeletePropagationForeground)); err != nil && !apierrors.IsNotFound(err) {
		e.t.Fatal(err)
	}
}

// scale sets the Deployment's replicas.
func (e *env) scale(replicas int32) {
	e.t.Helper()
	if err := e.tryScale(replicas); err != nil {
		e.t.Fatal(err)
	}
}

// ramp scales the scenario's Deployment from replicas from to to, by step every interval, in
// the background; the returned function waits for the ramp to end and returns the first
// scaling error.
func (e *env) ramp(from, to, step int32, interval time.Duration) (wait func() error) {
	done := make(chan error, 1)
	go func() {
		var err error
		for n := from; err == nil; {
			if to > from {
				n = min(n+step, to)
			} else {
				n = max(n-step, to)
			}
			err = e.tryScale(n)
			if n == to {
				break
			}
			time.Sleep(interval)
		}
		done <- err
	}()
	return func() error { return <-done }
}

// tryScale sets the Deployment's replicas; safe outside the test goroutine.
func (e *env) tryScale(replicas int32) error {
	d := &appsv1.Deployment{}
	if err := e.kube.Get(e.ctx, client.ObjectKey{Namespace: "default", Name: e.name}, d); err != nil {
		return err
	}
	orig := d.DeepCopy()
	d.Spec.Replicas = ptr.To(replicas)
	return e.kube.Patch(e.ctx, d, client.MergeFrom(orig))
}

// runningPods counts the pods of the scenario's Deployment that are Running, and all of them
// (not being deleted).
func (e *env) runningPods() (running, total int, err error) { return e.podsOf(e.name) }

// podsOf counts the pods labelled app=app that are Running, and all of them (not being deleted).
func (e *env) podsOf(app string) (running, total int, err error) {
	pods := &corev1.PodList{}
	if err := e.kube.List(e.ctx, pods, client.InNamespace("default"), client.MatchingLabels{"app": app}); err != nil {
		return 0, 0, err
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		total++
		if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			running++
		}
	}
	return running, total, nil
}

// waitRunning waits up to timeout for want pods of the scenario to be Running.
func (e *env) waitRunning(want int, timeout time.Duration) {
	e.t.Helper()
	e.waitFor(timeout, fmt.Sprintf("%d pods Running", want), func() (bool, string) {
		running, total, err := e.runningPods()
		if err != nil {
			return false, err.Error()
		}
		return running == want && total == want, fmt.Sprintf("%d of %d pods Running; not running: %s", running, total, e.notRunning())
	})
}

// notRunning describes the scenario's pods that are not Running (phase, node, the
// PodScheduled condition's message), for timeout messages.
func (e *env) notRunning() string {
	pods := &corev1.PodList{}
	if err := e.kube.List(e.ctx, pods, client.InNamespace("default"), client.MatchingLabels{"app": e.name}); err != nil {
		return err.Error()
	}
	var out []string
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		why := ""
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				why = c.Reason + " " + c.Message
			}
		}
		out = append(out, fmt.Sprintf("%s (%s on %q, podIP %q: %s)", p.Name, p.Status.Phase, p.Spec.NodeName, p.Status.PodIP, why))
	}
	return strings.Join(out, "; ")
}

// scenarioInstances returns the emulator's instances (terminated ones included: they stay
// visible for an hour) launched for the scenario's provisioner.
func (e *env) scenarioInstances() []sandboxaws.InstanceInfo {
	var out []sandboxaws.InstanceInfo
	for _, i := range e.sb.Emulator.Instances() {
		if i.Tags[v1alpha5.TagCluster] == e.sb.ClusterName && i.Tags[v1alpha5.TagProvisionerName] == e.name {
			out = append(out, i)
		}
	}
	return out
}

func live(i sandboxaws.InstanceInfo) bool { return i.State == "pending" || i.State == "running" }

// vcpus is the instance type's vCPU count from the emulator's catalogue (the Node's cpu
// capacity).
func vcpus(instanceType string) int64 {
	it, ok := catalog.Lookup(instanceType)
	if !ok {
		return 0
	}
	return int64(it.VCPUs)
}

// consistency is the cross-check of instances, NodeClaims and Nodes of the scenario.
type consistency struct {
	live, claims, nodes int
	leaked              []string // live instances without a NodeClaim or without a Node
	lostClaims          []string // claims whose instance is not live
}

func (c consistency) String() string {
	return fmt.Sprintf("%d live instances, %d claims, %d nodes, leaked %v, claims without an instance %v", c.live, c.claims, c.nodes, c.leaked, c.lostClaims)
}

// check compares the live instances of the scenario with its NodeClaims and Nodes: every live
// instance must have the claim its tag names and a Node with its provider ID, and every claim
// a live instance.
func (e *env) check() (consistency, error) {
	var c consistency
	claims := &karpv1.NodeClaimList{}
	if err := e.kube.List(e.ctx, claims); err != nil {
		return c, err
	}
	nodes := &corev1.NodeList{}
	if err := e.kube.List(e.ctx, nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: e.name}); err != nil {
		return c, err
	}
	claimOf := map[string]bool{}
	for _, cl := range claims.Items {
		if cl.Spec.ProvisionerName == e.name {
			claimOf[cl.Name] = true
			c.claims++
		}
	}
	nodeOf := map[string]bool{}
	for _, n := range nodes.Items {
		nodeOf[n.Spec.ProviderID] = true
	}
	c.nodes = len(nodes.Items)
	liveClaims := map[string]bool{}
	for _, i := range e.scenarioInstances() {
		if !live(i) {
			continue
		}
		c.live++
		claim := i.Tags[karpv1.TagNodeClaim]
		liveClaims[claim] = true
		if !claimOf[claim] || !nodeOf["aws:///"+i.Zone+"/"+i.ID] {
			c.leaked = append(c.leaked, i.ID)
		}
	}
	for name := range claimOf {
		if !liveClaims[name] {
			c.lostClaims = append(c.lostClaims, name)
		}
	}
	return c, nil
}

// waitConsistent waits up to timeout for every live instance to have its claim and Node, and
// every claim its instance, with live instances numbering want (-1: any).
func (e *env) waitConsistent(want int, timeout time.Duration) consistency {
	e.t.Helper()
	var last consistency
	e.waitFor(timeout, "instances, NodeClaims and Nodes to agree", func() (bool, string) {
		c, err := e.check()
		if err != nil {
			return false, err.Error()
		}
		last = c
		return len(c.leaked) == 0 && len(c.lostClaims) == 0 && c.live == c.claims && c.live == c.nodes && (want < 0 || c.live == want), c.String()
	})
	return last
}

// waitFor polls cond every 250ms until it holds or timeout passes.
func (e *env) waitFor(timeout time.Duration, what string, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	var status string
	for time.Now().Before(deadline) && e.ctx.Err() == nil {
		var ok bool
		if ok, status = cond(); ok {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	e.t.Fatalf("timed out after %s waiting for %s: %s", timeout, what, status)
}

// cleanup deletes the scenario's Deployment and Provisioner objects' workload and waits for
// its instances to be gone (with a controller running), so that the next scenario starts on
// an empty sandbox.
func (e *env) cleanup(timeout time.Duration) {
	e.t.Helper()
	e.scale(0)
	e.waitFor(timeout, "scenario nodes and instances gone", func() (bool, string) {
		c, err := e.check()
		if err != nil {
			return false, err.Error()
		}
		return c.live == 0 && c.nodes == 0 && c.claims == 0, c.String()
	})
}

// monitor samples the scenario's instances every 100ms while a scenario runs: the largest cpu
// capacity of live instances (what the provisioner's limit bounds) and every instance seen.
type monitor struct {
	mu       sync.Mutex
	maxCPU   int64
	overAt   []string // samples over the limit: "time: usage"
	limit    int64
	stop     chan struct{}
	finished chan struct{}
}

func (e *env) startMonitor(limit int64) *monitor {
	m := &monitor{limit: limit, stop: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(m.finished)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			var cpu int64
			for _, i := range e.scenarioInstances() {
				if live(i) {
					cpu += vcpus(i.InstanceType)
				}
			}
			m.mu.Lock()
			if cpu > m.maxCPU {
				m.maxCPU = cpu
			}
			if limit > 0 && cpu > limit {
				m.overAt = append(m.overAt, fmt.Sprintf("%s: %d vCPU", time.Now().UTC().Format("15:04:05.000"), cpu))
			}
			m.mu.Unlock()
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
	e.t.Cleanup(m.close)
	return m
}

func (m *monitor) close() {
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	<-m.finished
}

func (m *monitor) result() (maxCPU int64, over []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.maxCPU, append([]string{}, m.overAt...)
}

// launches counts, over every instance the scenario's provisioner ever launched (the
// emulator keeps terminated ones visible for an hour), the instances, the distinct claims
// they were launched for, the claims with more than one instance (duplicate launches) and the
// instances without a claim tag.
func (e *env) launches() (instances, claims int, duplicates map[string][]string, untagged []string) {
	byClaim := map[string][]string{}
	for _, i := range e.scenarioInstances() {
		instances++
		claim := i.Tags[karpv1.TagNodeClaim]
		if claim == "" {
			untagged = append(untagged, i.ID)
			continue
		}
		byClaim[claim] = append(byClaim[claim], i.ID)
	}
	duplicates = map[string][]string{}
	for c, ids := range byClaim {
		if len(ids) > 1 {
			duplicates[c] = ids
		}
	}
	return instances, len(byClaim), duplicates, untagged
}

// claimRecorder records every NodeClaim of the scenario's provisioner that the API server
// ever held while it watched (a controller-runtime informer: list, then watch, re-listing
// after a dropped watch).
type claimRecorder struct {
	mu   sync.Mutex
	seen map[string]bool // claim name -> seen
}

func (e *env) recordClaims() *claimRecorder {
	e.t.Helper()
	r := &claimRecorder{seen: map[string]bool{}}
	c, err := cache.New(e.sb.RESTConfig(), cache.Options{Scheme: operator.Scheme()})
	if err != nil {
		e.t.Fatal(err)
	}
	inf, err := c.GetInformer(e.ctx, &karpv1.NodeClaim{})
	if err != nil {
		e.t.Fatal(err)
	}
	add := func(obj any) {
		if cl, ok := obj.(*karpv1.NodeClaim); ok && cl.Spec.ProvisionerName == e.name {
			r.mu.Lock()
			r.seen[cl.Name] = true
			r.mu.Unlock()
		}
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{AddFunc: add, UpdateFunc: func(_, o any) { add(o) }}); err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	go func() { _ = c.Start(ctx) }()
	e.t.Cleanup(cancel)
	if !c.WaitForCacheSync(e.ctx) {
		e.t.Fatal("NodeClaim informer did not sync")
	}
	return r
}

func (r *claimRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}
