package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
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
	// LowerBoundUSDPerHour is CostLowerBound of the workloads: no set of nodes that holds
	// them costs less.
	LowerBoundUSDPerHour float64
	Steps                *Timeline
}

// Write prints the report.
func (r *ScaleReport) Write(w io.Writer) {
	fmt.Fprintf(w, "\nScale: %d pods Running %.1fs after scaling; %d nodes launched, %.4f USD/hour\n", r.Pods, r.Seconds, r.Nodes, r.TotalUSDPerHour)
	if r.LowerBoundUSDPerHour > 0 {
		fmt.Fprintf(w, "  cost lower bound %.4f USD/hour; launched/bound = %.2f\n", r.LowerBoundUSDPerHour, r.TotalUSDPerHour/r.LowerBoundUSDPerHour)
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
}

// Scale starts a sandbox with no instance boot delay, installs the controller with the
// quickstart (spot and on-demand allowed, CPU limit 100000), creates the workloads with 0
// replicas, scales them all at once and measures the seconds until every pod is Running. It
// always stops the sandbox. The report's Steps hold the timeline.
func Scale(ctx context.Context, cfg ScaleConfig) (rep *ScaleReport, err error) {
	if cfg.Bin == "" {
		return nil, errors.New("the built binary is required ($KARPENTER_BIN)")
	}
	if cfg.Log == nil {
		cfg.Log = os.Stdout
	}
	if cfg.RepoRoot == "" {
		if cfg.RepoRoot, err = RepoRoot(); err != nil {
			return nil, err
		}
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
	log := cfg.Log
	t := NewTimeline(nil)
	rep = &ScaleReport{Steps: t, ByType: map[string]int{}, ByCapacityType: map[string]int{}}
	sb := NewSandbox(cfg.Bin, cfg.SandboxDir, prefixWriter(log, "  [sandbox] "))
	var ws *Workspace
	defer func() {
		if err != nil {
			dumpLogs(log, cfg.SandboxDir)
		}
		err = errors.Join(err, t.Run(log, "sandbox down", func(*Step) error { return sb.Down(ctx) }))
		if ws != nil {
			_ = os.RemoveAll(ws.TempDir)
		}
	}()

	var kube *Kube
	var cloud *Cloud
	if err := t.Run(log, "sandbox up --boot-delay 0", func(*Step) error {
		if err := sb.Up(ctx, "--boot-delay", "0"); err != nil {
			return err
		}
		if kube, err = NewKube(sb.Env["KUBECONFIG"]); err != nil {
			return err
		}
		cloud, err = NewCloud(ctx, sb.Env)
		return err
	}); err != nil {
		return rep, err
	}
	if err := t.Run(log, "terraform init + apply", func(st *Step) error {
		ws, err = PrepareTerraform(ctx, cfg.Bin, cfg.RepoRoot, cfg.Terraform, "quickstart", prefixWriter(log, "  [terraform] "))
		if err != nil {
			return err
		}
		ws.Terraform.Env = ws.Environ(sb.Environ(),
			"TF_VAR_cluster_name="+sb.Env["CLUSTER_NAME"],
			`TF_VAR_capacity_types=["spot","on-demand"]`,
			"TF_VAR_cpu_limit=100000")
		if err := ws.Terraform.Init(ctx); err != nil {
			return err
		}
		return ws.Terraform.Apply(ctx)
	}); err != nil {
		return rep, err
	}
	if err := t.Run(log, "create workloads (0 replicas)", func(*Step) error {
		for _, w := range cfg.Workloads {
			if err := createWorkload(ctx, kube, w); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return rep, err
	}
	want := 0
	for _, w := range cfg.Workloads {
		want += int(w.Replicas)
	}
	rep.Pods = want
	if rep.LowerBoundUSDPerHour, err = CostLowerBound(cfg.Workloads); err != nil {
		return rep, err
	}
	var nodes []corev1.Node
	if err := t.Run(log, fmt.Sprintf("scale to %d pods, all Running", want), func(*Step) error {
		start := time.Now()
		for _, w := range cfg.Workloads {
			if err := kube.Scale(ctx, metav1.NamespaceDefault, w.Name, w.Replicas); err != nil {
				return err
			}
		}
		nodes, err = kube.WaitPodsOnLaunchedNodes(ctx, metav1.NamespaceDefault, "e2e-scale", want, "*", cfg.Timeout, log)
		rep.Seconds = time.Since(start).Seconds()
		return err
	}); err != nil {
		return rep, err
	}
	err = t.Run(log, "price launched nodes", func(st *Step) error {
		launched, err := kube.LaunchedNodes(ctx)
		if err != nil {
			return err
		}
		records, err := recordNodes(ctx, cloud, launched)
		t.AddNodes(records...)
		for _, r := range records {
			rep.ByType[r.Type]++
			rep.ByCapacityType[r.CapacityType]++
			rep.TotalUSDPerHour += r.PriceUSDPerHour
		}
		rep.Nodes = len(records)
		st.Notes = append(st.Notes, fmt.Sprintf("%d nodes hold the pods, %d launched", len(nodes), len(launched)))
		return err
	})
	return rep, err
}

// createWorkload creates (or replaces the spec of) a Deployment of w with 0 replicas whose pods
// carry the label e2e-scale=<name> and request w's CPU and memory.
func createWorkload(ctx context.Context, kube *Kube, w ScaleWorkload) error {
	cpu, err := resource.ParseQuantity(w.CPU)
	if err != nil {
		return fmt.Errorf("workload %s: cpu: %w", w.Name, err)
	}
	mem, err := resource.ParseQuantity(w.Memory)
	if err != nil {
		return fmt.Errorf("workload %s: memory: %w", w.Name, err)
	}
	labels := map[string]string{"e2e-scale": w.Name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: w.Name, Namespace: metav1.NamespaceDefault},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
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
			},
		},
	}
	_, err = kube.Clientset.AppsV1().Deployments(metav1.NamespaceDefault).Create(ctx, dep, metav1.CreateOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("creating deployment %s: %w", w.Name, err)
	}
	return nil
}

// CostLowerBound returns a lower bound, in USD/hour, on the price of any set of nodes that can
// hold the workloads: the larger of (total CPU requested, in cores) x (the cheapest price per
// vCPU) and (total memory requested, in MiB) x (the cheapest price per MiB), taken over every
// offering (type, zone; spot and on-demand) of the emulator's catalogue. Each node costs at
// least its capacity times the cheapest unit price, and the nodes' capacities must cover the
// requests, hence the bound (kube-reserved and daemonset overhead only raise the real cost).
// Prices: sandbox/aws/catalog, the numbers the emulator charges. Errors on a bad quantity.
func CostLowerBound(workloads []ScaleWorkload) (float64, error) {
	var cores, mib float64
	for _, w := range workloads {
		cpu, err := resource.ParseQuantity(w.CPU)
		if err != nil {
			return 0, fmt.Errorf("workload %s: cpu: %w", w.Name, err)
		}
		mem, err := resource.ParseQuantity(w.Memory)
		if err != nil {
			return 0, fmt.Errorf("workload %s: memory: %w", w.Name, err)
		}
		cores += float64(w.Replicas) * float64(cpu.MilliValue()) / 1000
		mib += float64(w.Replicas) * float64(mem.Value()) / (1 << 20)
	}
	perCore, perMiB := math.Inf(1), math.Inf(1)
	for _, o := range catalog.Offerings() {
		it, ok := catalog.Lookup(o.InstanceType)
		if !ok || it.VCPUs == 0 || it.MemoryMiB == 0 {
			continue
		}
		price := o.OnDemandPrice
		if o.SpotPrice > 0 && o.SpotPrice < price {
			price = o.SpotPrice
		}
		perCore = min(perCore, price/float64(it.VCPUs))
		perMiB = min(perMiB, price/float64(it.MemoryMiB))
	}
	if math.IsInf(perCore, 1) {
		return 0, errors.New("the catalogue has no priced offering")
	}
	return max(cores*perCore, mib*perMiB), nil
}
