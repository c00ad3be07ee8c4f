package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/bench/instancetypes"
	"github.com/nodeform/terraform-provider-karpenter/controller/scheduling"
)

// ScaleWorkload is one Deployment of the scale scenario: Replicas pods each requesting CPU and
// Memory (Kubernetes quantities).
type ScaleWorkload struct {
	Name     string
	Replicas int32
	CPU      string
	Memory   string
}

// DefaultScaleWorkloads are the figures: 500 pods of 0.9 CPU / 3100Mi and 500 pods of
// 3.5 CPU / 28Gi.
var DefaultScaleWorkloads = []ScaleWorkload{
	{Name: "scale-small", Replicas: 500, CPU: "900m", Memory: "3100Mi"},
	{Name: "scale-large", Replicas: 500, CPU: "3500m", Memory: "28Gi"},
}

// ScaleReport is the outcome of a scale run.
type ScaleReport struct {
	Pods            int
	Seconds         float64 // from scaling the deployments to every pod Running
	Nodes           int
	ByType          map[string]int // launched nodes per instance type
	ByCapacityType  map[string]int // launched nodes per capacity type
	TotalUSDPerHour float64        // sum of the launched instances' prices
	// LowerBoundUSDPerHour is ScaleLowerBound of the workloads: no set of new nodes that
	// holds them costs less.
	LowerBoundUSDPerHour float64
	// Breakdown says where the seconds to Running went (nil when it could not be read).
	Breakdown *ScaleBreakdown
	// Trace times the pods' and nodes' milestones from watch events (nil when the watch
	// could not start).
	Trace *Trace
	// Decisions is the controller's DecisionMetric histogram over the scale-up only (nil when
	// its metrics endpoint could not be read).
	Decisions *Histogram
	// Disagreements is how many scheduling disagreements (DisagreementMetric: pods
	// kube-scheduler did not bind to the node planned for them in time) the controller recorded
	// over the scale-up only (nil when its metrics endpoint could not be read).
	Disagreements *int
	Steps         *Timeline
}

// ScaleBreakdown splits the time from scaling to the last pod Running, in seconds after the
// scale call: the controller's first batch closing and its last launch call returning (from its
// "batch decided" log lines: time and decision seconds; one-second resolution), the last
// launched node turning Ready and the last pod turning Ready (their conditions'
// lastTransitionTime, one-second resolution).
type ScaleBreakdown struct {
	FirstBatchClosed, LastLaunchCall, LastNodeReady, LastPodRunning float64
	// Batches is the number of batches that launched nodes.
	Batches int
	// Launching lists those batches in the order they were decided.
	Launching []ScaleBatch
}

// ScaleBatch is one launching batch of a scale run, from the controller's "batch decided" log
// line: when it closed (seconds after the scale call, millisecond resolution), how long the
// decision took (seconds) and how many nodes it launched.
type ScaleBatch struct {
	Closed, DecisionSeconds float64
	Launched                int
}

// Write prints the report.
func (r *ScaleReport) Write(w io.Writer) {
	fmt.Fprintf(w, "\nScale: %d pods Running %.1fs after scaling; %d nodes launched, %.4f USD/hour\n", r.Pods, r.Seconds, r.Nodes, r.TotalUSDPerHour)
	if r.LowerBoundUSDPerHour > 0 {
		fmt.Fprintf(w, "  cost lower bound %.4f USD/hour; launched/bound = %.2f\n", r.LowerBoundUSDPerHour, r.TotalUSDPerHour/r.LowerBoundUSDPerHour)
	}
	if b := r.Breakdown; b != nil {
		fmt.Fprintf(w, "  scale -> first batch closed %.0fs -> last launch call %.0fs (%d launching batches) -> last node Ready %.0fs -> last pod Running %.0fs\n",
			b.FirstBatchClosed, b.LastLaunchCall, b.Batches, b.LastNodeReady, b.LastPodRunning)
		for _, lb := range b.Launching {
			fmt.Fprintf(w, "    batch closed %.2fs, decided in %.2fs, %d nodes launched\n", lb.Closed, lb.DecisionSeconds, lb.Launched)
		}
	}
	if h := r.Decisions; h != nil && h.Count > 0 {
		fmt.Fprintf(w, "  decision latency (%s): %d batches, mean %.2fs, p50 %.2fs, p99 %.2fs\n",
			DecisionMetric, h.Count, h.Sum/float64(h.Count), h.Quantile(0.5), h.Quantile(0.99))
	}
	if r.Disagreements != nil {
		fmt.Fprintf(w, "  scheduling disagreements (%s): %d\n", DisagreementMetric, *r.Disagreements)
	}
	if r.Trace != nil {
		r.Trace.Write(w)
	}
	types := make([]string, 0, len(r.ByType))
	for t := range r.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  INSTANCE TYPE\tNODES")
	for _, t := range types {
		fmt.Fprintf(tw, "  %s\t%d\n", t, r.ByType[t])
	}
	for ct, n := range r.ByCapacityType {
		fmt.Fprintf(tw, "  (%s)\t%d\n", ct, n)
	}
	_ = tw.Flush()
}

// ScaleConfig configures Scale.
type ScaleConfig struct {
	Bin        string
	RepoRoot   string // default RepoRoot()
	SandboxDir string // default <RepoRoot>/.sandbox/scale
	Terraform  string // default "terraform"
	Workloads  []ScaleWorkload
	Timeout    time.Duration // for all pods to run (default 20 min)
	Log        io.Writer
	// KeepLogs, when set, is a directory the sandbox's logs (logs/, pods/, sandbox.log) are
	// copied into before the sandbox stops, for reading where the time went.
	KeepLogs string
}

// Scale starts a sandbox with no instance boot delay, installs the controller with the
// quickstart (spot and on-demand allowed, CPU limit 100000), creates the workloads with 0
// replicas, scales them all at once and measures the seconds until every pod is Running. It
// always stops the sandbox. The report's Steps hold the timeline.
func Scale(ctx context.Context, cfg ScaleConfig) (rep *ScaleReport, err error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := newScaleRun(cfg)
	defer func() { err = r.tearDown(ctx, err) }()
	if err := r.step(ctx, "sandbox up --boot-delay 0", r.sandboxUp); err != nil {
		return r.rep, err
	}
	if err := r.step(ctx, "terraform init + apply", r.applyQuickstart); err != nil {
		return r.rep, err
	}
	if err := r.step(ctx, "create workloads (0 replicas)", r.createWorkloads); err != nil {
		return r.rep, err
	}
	if err := r.setTargets(ctx); err != nil {
		return r.rep, err
	}
	if err := r.step(ctx, fmt.Sprintf("scale to %d pods, all Running", r.rep.Pods), r.scaleUp); err != nil {
		return r.rep, err
	}
	return r.rep, r.step(ctx, "price launched nodes", r.priceNodes)
}

// setDefaults checks that Bin is set and fills in the other fields' defaults as documented on
// ScaleConfig (Log: os.Stdout). Errors: no Bin, or the repository root not found.
func (cfg *ScaleConfig) setDefaults() error {
	if cfg.Bin == "" {
		return errors.New("the built binary is required ($KARPENTER_BIN)")
	}
	if cfg.Log == nil {
		cfg.Log = os.Stdout
	}
	if cfg.RepoRoot == "" {
		root, err := RepoRoot()
		if err != nil {
			return err
		}
		cfg.RepoRoot = root
	}
	if cfg.SandboxDir == "" {
		cfg.SandboxDir = filepath.Join(cfg.RepoRoot, ".sandbox", "scale")
	}
	if cfg.Terraform == "" {
		cfg.Terraform = "terraform"
	}
	if len(cfg.Workloads) == 0 {
		cfg.Workloads = DefaultScaleWorkloads
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 20 * time.Minute
	}
	return nil
}

// scaleRun is one run of Scale: its configuration, the report being filled in and what the
// steps hand each other.
type scaleRun struct {
	cfg      ScaleConfig
	log      io.Writer
	timeline *Timeline
	rep      *ScaleReport

	sandbox *Sandbox
	ws      *Workspace // nil until the terraform step prepared it
	kube    *Kube
	cloud   *Cloud
	nodes   []corev1.Node // the nodes holding the pods once all are Running
}

// newScaleRun returns a run of cfg (defaults filled in) with an empty report and timeline.
func newScaleRun(cfg ScaleConfig) *scaleRun {
	t := NewTimeline(nil)
	return &scaleRun{
		cfg: cfg, log: cfg.Log, timeline: t,
		rep:     &ScaleReport{Steps: t, ByType: map[string]int{}, ByCapacityType: map[string]int{}},
		sandbox: NewSandbox(cfg.Bin, cfg.SandboxDir, prefixWriter(cfg.Log, "  [sandbox] ")),
	}
}

// step runs fn as the timeline step name.
func (r *scaleRun) step(ctx context.Context, name string, fn func(context.Context, *Step) error) error {
	return r.timeline.Run(r.log, name, func(st *Step) error { return fn(ctx, st) })
}

// tearDown dumps the sandbox's logs if err is set, always stops the sandbox (a timeline step)
// and removes the Terraform working copy. It returns err joined with the stop's error.
func (r *scaleRun) tearDown(ctx context.Context, err error) error {
	if err != nil {
		dumpLogs(r.log, r.cfg.SandboxDir)
	}
	if r.cfg.KeepLogs != "" {
		kerr := keepLogs(r.cfg.SandboxDir, r.cfg.KeepLogs)
		if r.rep.Trace != nil && kerr == nil {
			kerr = r.rep.Trace.WriteJSON(filepath.Join(r.cfg.KeepLogs, "trace.json"))
		}
		if kerr != nil {
			fmt.Fprintf(r.log, "  (keeping the sandbox logs: %v)\n", kerr)
		} else {
			fmt.Fprintf(r.log, "  sandbox logs kept in %s\n", r.cfg.KeepLogs)
		}
	}
	err = errors.Join(err, r.timeline.Run(r.log, "sandbox down", func(*Step) error { return r.sandbox.Down(ctx) }))
	if r.ws != nil {
		_ = os.RemoveAll(r.ws.TempDir)
	}
	return err
}

// sandboxUp starts the sandbox without instance boot delay and connects to its cluster and
// AWS emulator.
func (r *scaleRun) sandboxUp(ctx context.Context, _ *Step) (err error) {
	if err := r.sandbox.Up(ctx, "--boot-delay", "0"); err != nil {
		return err
	}
	if r.kube, err = NewKube(r.sandbox.Env["KUBECONFIG"]); err != nil {
		return err
	}
	r.cloud, err = NewCloud(ctx, r.sandbox.Env)
	return err
}

// applyQuickstart prepares a working copy of examples/quickstart and applies it with spot and
// on-demand capacity allowed and a CPU limit of 100000.
func (r *scaleRun) applyQuickstart(ctx context.Context, _ *Step) (err error) {
	r.ws, err = PrepareTerraform(ctx, r.cfg.Bin, r.cfg.RepoRoot, r.cfg.Terraform, "quickstart", prefixWriter(r.log, "  [terraform] "))
	if err != nil {
		return err
	}
	r.ws.Terraform.Env = r.ws.Environ(r.sandbox.Environ(),
		"TF_VAR_cluster_name="+r.sandbox.Env["CLUSTER_NAME"],
		`TF_VAR_capacity_types=["spot","on-demand"]`,
		"TF_VAR_cpu_limit=100000")
	if err := r.ws.Terraform.Init(ctx); err != nil {
		return err
	}
	return r.ws.Terraform.Apply(ctx)
}

// createWorkloads creates every workload's Deployment with 0 replicas.
func (r *scaleRun) createWorkloads(ctx context.Context, _ *Step) error {
	for _, w := range r.cfg.Workloads {
		if err := createWorkload(ctx, r.kube, w); err != nil {
			return err
		}
	}
	return nil
}

// setTargets records in the report the number of pods to run and their ScaleLowerBound.
func (r *scaleRun) setTargets(ctx context.Context) (err error) {
	r.rep.Pods = 0
	for _, w := range r.cfg.Workloads {
		r.rep.Pods += int(w.Replicas)
	}
	r.rep.LowerBoundUSDPerHour, err = ScaleLowerBound(ctx, r.cfg.Workloads)
	return err
}

// scaleUp scales every workload to its replicas at once and waits up to cfg.Timeout for all
// pods to run on launched nodes; the report's Seconds is the time that took. It waits on a
// Trace (watch events) rather than polling lists, so that the wait itself loads the API server
// little even with thousands of pods; one list at the end confirms the outcome.
func (r *scaleRun) scaleUp(ctx context.Context, _ *Step) (err error) {
	traceCtx, stopTrace := context.WithCancel(ctx)
	defer stopTrace()
	trace, err := StartTrace(traceCtx, r.kube, metav1.NamespaceDefault, "e2e-scale")
	if err != nil {
		return err
	}
	r.rep.Trace = trace
	scrapeMetrics := r.startMetrics(ctx)
	trace.Restart()
	start := time.Now()
	for _, w := range r.cfg.Workloads {
		if err := r.kube.Scale(ctx, metav1.NamespaceDefault, w.Name, w.Replicas); err != nil {
			return err
		}
	}
	err = trace.Wait(ctx, PodRunning, r.rep.Pods, r.cfg.Timeout, r.log)
	r.rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		return err
	}
	r.nodes, err = r.kube.WaitPodsOnLaunchedNodes(ctx, metav1.NamespaceDefault, "e2e-scale", r.rep.Pods, "*", time.Minute, r.log)
	if err != nil {
		return err
	}
	scrapeMetrics(ctx)
	b, berr := r.breakdown(ctx, start)
	if berr != nil {
		fmt.Fprintf(r.log, "  (no time breakdown: %v)\n", berr)
	}
	r.rep.Breakdown = b
	return nil
}

// startMetrics scrapes the controller's DecisionMetric histogram and DisagreementMetric
// counter now, summed over its replicas (ScrapeControllers: only the leader provisions, and
// which replica leads is not known here), and returns a function that scrapes the same replicas
// again and sets the report's Decisions and Disagreements to what was observed in between; both
// are left nil (after a note in the log) when the metrics endpoints cannot be found or read, or
// a replica restarted in between.
func (r *scaleRun) startMetrics(ctx context.Context) func(context.Context) {
	urls, err := ControllerMetricsURLs(r.cfg.SandboxDir)
	var before *ControllerMetrics
	if err == nil {
		before, err = ScrapeControllers(ctx, urls, DecisionMetric, DisagreementMetric)
	}
	return func(ctx context.Context) {
		var after *ControllerMetrics
		if err == nil {
			after, err = ScrapeControllers(ctx, before.URLs, DecisionMetric, DisagreementMetric)
		}
		if err == nil && len(after.URLs) != len(before.URLs) {
			err = fmt.Errorf("%d of the %d controller replicas scraped before answered after: did one restart?", len(after.URLs), len(before.URLs))
		}
		if err == nil && after.Counter < before.Counter {
			err = fmt.Errorf("%s fell from %v to %v: did the controller restart?", DisagreementMetric, before.Counter, after.Counter)
		}
		var decisions *Histogram
		if err == nil {
			decisions, err = after.Histogram.Since(before.Histogram)
		}
		if err != nil {
			fmt.Fprintf(r.log, "  (no decision latency histogram nor scheduling disagreement count: %v)\n", err)
			return
		}
		r.rep.Decisions = decisions
		r.rep.Disagreements = ptr.To(int(after.Counter - before.Counter))
	}
}

// breakdown reads the ScaleBreakdown of a scale-up that began at start. Errors: the
// controller's log or the API cannot be read, or it holds no launching batch.
func (r *scaleRun) breakdown(ctx context.Context, start time.Time) (*ScaleBreakdown, error) {
	b := &ScaleBreakdown{}
	logs, _ := filepath.Glob(filepath.Join(r.cfg.SandboxDir, "pods", "*karpenter*.log"))
	for _, path := range logs {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			var rec struct {
				TS       string  `json:"ts"`
				Msg      string  `json:"msg"`
				Seconds  float64 `json:"seconds"`
				Launched int     `json:"launched"`
			}
			if !strings.Contains(line, `"batch decided"`) || json.Unmarshal([]byte(line), &rec) != nil {
				continue
			}
			ts, err := time.Parse(time.RFC3339Nano, rec.TS)
			if err != nil || ts.Before(start.Truncate(time.Second)) {
				continue
			}
			at := ts.Sub(start).Seconds()
			if b.Batches == 0 || at-rec.Seconds < b.FirstBatchClosed {
				b.FirstBatchClosed = max(0, at-rec.Seconds)
			}
			b.LastLaunchCall = max(b.LastLaunchCall, at)
			b.Batches++
			b.Launching = append(b.Launching, ScaleBatch{Closed: at - rec.Seconds, DecisionSeconds: rec.Seconds, Launched: rec.Launched})
		}
	}
	if b.Batches == 0 {
		return nil, fmt.Errorf("no \"batch decided\" line after the scale call in %v", logs)
	}
	for _, n := range r.nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				b.LastNodeReady = max(b.LastNodeReady, c.LastTransitionTime.Sub(start).Seconds())
			}
		}
	}
	pods, err := r.kube.PodsBySelector(ctx, metav1.NamespaceDefault, "e2e-scale")
	if err != nil {
		return nil, err
	}
	for _, p := range pods {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				b.LastPodRunning = max(b.LastPodRunning, c.LastTransitionTime.Sub(start).Seconds())
			}
		}
	}
	return b, nil
}

// priceNodes adds every launched node to the timeline and the report (counts per instance type
// and capacity type, total USD/hour), and notes how many nodes hold the pods.
func (r *scaleRun) priceNodes(ctx context.Context, st *Step) error {
	launched, err := r.kube.LaunchedNodes(ctx)
	if err != nil {
		return err
	}
	records, err := recordNodes(ctx, r.cloud, launched)
	r.timeline.AddNodes(records...)
	for _, rec := range records {
		r.rep.ByType[rec.Type]++
		r.rep.ByCapacityType[rec.CapacityType]++
		r.rep.TotalUSDPerHour += rec.PriceUSDPerHour
	}
	r.rep.Nodes = len(records)
	st.Notes = append(st.Notes, fmt.Sprintf("%d nodes hold the pods, %d launched", len(r.nodes), len(launched)))
	return err
}

// workloadPodSpec returns the pod template of w: label e2e-scale=<name>, one pause container
// requesting w's CPU and memory. Errors name the workload and the bad quantity.
func workloadPodSpec(w ScaleWorkload) (corev1.PodTemplateSpec, error) {
	cpu, err := resource.ParseQuantity(w.CPU)
	if err != nil {
		return corev1.PodTemplateSpec{}, fmt.Errorf("workload %s: cpu: %w", w.Name, err)
	}
	mem, err := resource.ParseQuantity(w.Memory)
	if err != nil {
		return corev1.PodTemplateSpec{}, fmt.Errorf("workload %s: memory: %w", w.Name, err)
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"e2e-scale": w.Name}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To[int64](0),
			Containers: []corev1.Container{{
				Name:  "pause",
				Image: "registry.k8s.io/pause:3.10",
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: cpu, corev1.ResourceMemory: mem},
				},
			}},
		},
	}, nil
}

// createWorkload creates (or replaces the spec of) a Deployment of w with 0 replicas whose pods
// carry the label e2e-scale=<name> and request w's CPU and memory.
func createWorkload(ctx context.Context, kube *Kube, w ScaleWorkload) error {
	tmpl, err := workloadPodSpec(w)
	if err != nil {
		return err
	}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: metav1.NamespaceDefault},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: tmpl.Labels},
			Template: tmpl,
		},
	}
	_, err = kube.Clientset.AppsV1().Deployments(metav1.NamespaceDefault).Create(ctx, dep, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("creating deployment %s: %w", w.Name, err)
	}
	return nil
}

// ScaleLowerBound returns scheduling.LowerBound (USD/hour) of the workloads' pods on the
// quickstart's provisioner (spot and on-demand) and the sandbox catalogue as the controller
// sees it (instancetypes.Sandbox, which runs the AWS emulator on 127.0.0.1 for a moment): no set of
// new nodes that holds the pods costs less. The sandbox runs no daemonsets on launched nodes.
// Errors: a bad quantity (naming the workload), or the catalogue failing to load.
func ScaleLowerBound(ctx context.Context, workloads []ScaleWorkload) (float64, error) {
	in := scheduling.Input{}
	for _, w := range workloads {
		spec, err := workloadPodSpec(w)
		if err != nil {
			return 0, err
		}
		for i := range w.Replicas {
			in.Pods = append(in.Pods, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceDefault, Name: fmt.Sprintf("%s-%d", w.Name, i), Labels: spec.Labels},
				Spec:       spec.Spec,
			})
		}
	}
	types, err := instancetypes.Sandbox(ctx)
	if err != nil {
		return 0, err
	}
	in.Provisioners = []scheduling.ProvisionerInput{{Provisioner: bench.Provisioner(), InstanceTypes: types}}
	return scheduling.LowerBound(in), nil
}
