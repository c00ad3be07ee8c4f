package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Config configures a Demo. Only Bin is required.
type Config struct {
	// Bin is the built terraform-provider-karpenter binary (provider, controller and sandbox).
	Bin string
	// RepoRoot is the repository root (default: RepoRoot()).
	RepoRoot string
	// ManifestsDir holds the tutorial's inflate.yaml and provisioner.yaml (default:
	// ManifestsDir(RepoRoot), i.e. examples/quickstart/manifests).
	ManifestsDir string
	// SandboxDir is the sandbox's state directory (default <RepoRoot>/.sandbox/demo).
	SandboxDir string
	// SandboxArgs are extra `sandbox up` flags, e.g. {"--boot-delay", "0"}.
	SandboxArgs []string
	// Terraform is the terraform executable (default: "terraform" on PATH).
	Terraform string
	// Replicas is how far inflate is scaled (default 5).
	Replicas int32
	// EmptyToGoneLimit fails the run when launched nodes take longer than this to disappear
	// after their pods are gone (default 60 s: ttlSecondsAfterEmpty 30 s plus slack).
	EmptyToGoneLimit time.Duration
	// KeepWorkdir keeps the temporary Terraform working copy (for debugging).
	KeepWorkdir bool
	// Log receives progress (default os.Stdout).
	Log io.Writer
}

func (c *Config) setDefaults() error {
	if c.Bin == "" {
		return errors.New("the path of the built terraform-provider-karpenter binary is required (--bin, or $KARPENTER_BIN in tests)")
	}
	bin, err := filepath.Abs(c.Bin)
	if err != nil {
		return err
	}
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		return fmt.Errorf("binary %s not found (run `make build`)", bin)
	}
	c.Bin = bin
	if c.RepoRoot == "" {
		if c.RepoRoot, err = RepoRoot(); err != nil {
			return err
		}
	}
	if c.ManifestsDir == "" {
		if c.ManifestsDir, err = ManifestsDir(c.RepoRoot); err != nil {
			return err
		}
	}
	if c.SandboxDir == "" {
		c.SandboxDir = filepath.Join(c.RepoRoot, ".sandbox", "demo")
	}
	if c.Terraform == "" {
		if c.Terraform, err = exec.LookPath("terraform"); err != nil {
			return fmt.Errorf("terraform is not on PATH: %w", err)
		}
	}
	if c.Replicas == 0 {
		c.Replicas = 5
	}
	if c.EmptyToGoneLimit == 0 {
		c.EmptyToGoneLimit = 60 * time.Second
	}
	if c.Log == nil {
		c.Log = os.Stdout
	}
	return nil
}

// Demo is the tutorial's story, end to end, on a sandbox. Create with NewDemo, then Run.
type Demo struct {
	cfg      Config
	Timeline *Timeline

	sandbox *Sandbox
	tf      *Terraform
	kube    *Kube
	cloud   *Cloud
	outputs map[string]any
	workdir string
	ws      *Workspace
}

// NewDemo validates cfg and fills its defaults. Errors name the missing piece.
func NewDemo(cfg Config) (*Demo, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Demo{cfg: cfg, Timeline: NewTimeline(nil)}, nil
}

// Run performs every step of the demo in order, stopping at the first failure, then always
// stops the sandbox (even when ctx is cancelled) and removes the working copy, then prints the
// timeline. It returns the first error (joined with any teardown error).
//
// Steps: provider mirror and CLI config; `sandbox up`; terraform init and apply of
// examples/quickstart; inflate.yaml applied and scaled to Replicas, all pods Running on new spot
// nodes; inflate deleted, launched nodes gone within EmptyToGoneLimit of the pods being gone;
// `terraform plan` empty; Provisioner edited out of band, plan non-empty; `terraform destroy`;
// no instance, role, instance profile, discovery tag, access entry, Pod Identity association or
// launched node left. After the apply, the node access and controller identity the module chose
// are reported (and required to be access entries and Pod Identity in API authentication mode).
func (d *Demo) Run(ctx context.Context) (err error) {
	log := d.cfg.Log
	t := d.Timeline
	d.sandbox = NewSandbox(d.cfg.Bin, d.cfg.SandboxDir, prefixWriter(log, "  [sandbox] "))
	defer func() {
		if err != nil && ctx.Err() == nil { // not when interrupted: nothing failed
			d.dumpPodLogs()
		}
		downErr := t.Run(log, "sandbox down", func(*Step) error { return d.sandbox.Down(ctx) })
		if d.workdir != "" && !d.cfg.KeepWorkdir {
			_ = os.RemoveAll(d.workdir)
		}
		t.Write(log)
		err = errors.Join(err, downErr)
	}()

	steps := []namedStep{
		{"install provider into ./bin mirror", d.installProvider},
		{"sandbox up", func(ctx context.Context, _ *Step) error { return d.startSandbox(ctx) }},
		{"terraform init", func(ctx context.Context, _ *Step) error { return d.tf.Init(ctx) }},
		{"terraform apply", func(ctx context.Context, _ *Step) error { return d.tf.Apply(ctx) }},
		{"node access and controller identity", d.checkAccess},
		{"apply inflate.yaml", d.applyInflate},
		{fmt.Sprintf("scale inflate to %d, pods Running on new spot nodes", d.cfg.Replicas), d.scaleUp},
		{"delete inflate, empty nodes removed", d.scaleDown},
		{"terraform plan: no changes", d.planEmpty},
		{"edit Provisioner out of band, plan shows drift", d.planDrift},
		{"terraform destroy", d.destroy},
		{"nothing left behind", d.checkClean},
	}
	return runSteps(ctx, t, log, steps)
}

// namedStep is one step of a run: its name in the log and the timeline, and its work.
type namedStep struct {
	name string
	fn   func(context.Context, *Step) error
}

// runSteps runs steps in order on t, stopping at the first error, which it returns as
// `step "<name>": <error>` (the error names the command that failed, so the step's name is
// quoted rather than a second prefix). When ctx is cancelled (Ctrl-C) during a step, whatever
// that step's error says (the signal its commands got, a cancelled wait), the step is recorded
// and reported as interrupted, and the error returned wraps ErrInterrupted.
func runSteps(ctx context.Context, t *Timeline, log io.Writer, steps []namedStep) error {
	for _, s := range steps {
		if ctx.Err() != nil {
			return fmt.Errorf("%w before step %q", ErrInterrupted, s.name)
		}
		err := t.Run(log, s.name, func(st *Step) error {
			err := s.fn(ctx, st)
			if err != nil && ctx.Err() != nil {
				return ErrInterrupted
			}
			return err
		})
		if errors.Is(err, ErrInterrupted) {
			return fmt.Errorf("%w in step %q", ErrInterrupted, s.name)
		}
		if err != nil {
			return fmt.Errorf("step %q: %w", s.name, err)
		}
	}
	return nil
}

// installProvider copies the binary into the ./bin mirror and prepares the working copy.
func (d *Demo) installProvider(ctx context.Context, st *Step) error {
	ws, err := PrepareTerraform(ctx, d.cfg.Bin, d.cfg.RepoRoot, d.cfg.Terraform, "quickstart", prefixWriter(d.cfg.Log, "  [terraform] "))
	if err != nil {
		return err
	}
	d.ws, d.workdir, d.tf = ws, ws.TempDir, ws.Terraform
	st.Notes = append(st.Notes, ws.Notes...)
	return nil
}

// Workspace is a Terraform working copy of one example, wired to the ./bin provider mirror.
type Workspace struct {
	Terraform *Terraform // Env: os.Environ() plus TF_CLI_CONFIG_FILE and automation settings
	CLIConfig string     // path of the CLI config (TF_CLI_CONFIG_FILE)
	TempDir   string     // remove when done
	Notes     []string   // what was installed where
}

// Environ returns the environment for terraform: base (e.g. Sandbox.Environ()) plus
// TF_CLI_CONFIG_FILE, TF_IN_AUTOMATION, CHECKPOINT_DISABLE and extra "K=V" entries.
func (w *Workspace) Environ(base []string, extra ...string) []string {
	env := append(base, "TF_CLI_CONFIG_FILE="+w.CLIConfig, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	return append(env, extra...)
}

// PrepareTerraform installs bin as the nodeform/karpenter provider into the filesystem mirror
// <repoRoot>/bin/terraform-mirror, writes the CLI config <repoRoot>/bin/terraform.tfrc (offline:
// nodeform/* only from the mirror), copies examples/<example> and modules/ into a new temporary
// directory (no stale .terraform.lock.hcl) with an exact-version override, and returns the
// workspace. terraformBin is the terraform executable; out receives terraform's output.
func PrepareTerraform(ctx context.Context, bin, repoRoot, terraformBin, example string, out io.Writer) (*Workspace, error) {
	version, err := ProviderVersion(ctx, bin)
	if err != nil {
		return nil, err
	}
	binDir := filepath.Join(repoRoot, "bin")
	mirror := filepath.Join(binDir, "terraform-mirror")
	if err := os.RemoveAll(filepath.Join(mirror, filepath.FromSlash(ProviderAddress))); err != nil {
		return nil, err
	}
	path, err := InstallMirror(bin, mirror, version)
	if err != nil {
		return nil, err
	}
	cliConfig := filepath.Join(binDir, "terraform.tfrc")
	if err := os.WriteFile(cliConfig, []byte(CLIConfig(mirror)), 0o644); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "karpenter-"+example+"-")
	if err != nil {
		return nil, err
	}
	work, err := PrepareWorkdir(repoRoot, example, tmp, version)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, err
	}
	ws := &Workspace{
		Terraform: &Terraform{Bin: terraformBin, Dir: work, Out: out},
		CLIConfig: cliConfig,
		TempDir:   tmp,
		Notes:     []string{"provider " + version + " at " + path, "CLI config " + cliConfig, "working copy " + work},
	}
	ws.Terraform.Env = ws.Environ(os.Environ())
	return ws, nil
}

func (d *Demo) startSandbox(ctx context.Context) error {
	if err := d.sandbox.Up(ctx, d.cfg.SandboxArgs...); err != nil {
		return err
	}
	var err error
	if d.kube, err = NewKube(d.sandbox.Env["KUBECONFIG"]); err != nil {
		return err
	}
	if d.cloud, err = NewCloud(ctx, d.sandbox.Env); err != nil {
		return err
	}
	d.tf.Env = d.ws.Environ(d.sandbox.Environ(), "TF_VAR_cluster_name="+d.sandbox.Env["CLUSTER_NAME"])
	return nil
}

func (d *Demo) readManifest(name string) ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(d.cfg.ManifestsDir, name))
	if err != nil {
		return nil, fmt.Errorf("the tutorial's manifest: %w", err)
	}
	return data, nil
}

// applyInflate server-side applies inflate.yaml verbatim (namespace default).
func (d *Demo) applyInflate(ctx context.Context, _ *Step) error {
	data, err := d.readManifest("inflate.yaml")
	if err != nil {
		return err
	}
	_, err = d.kube.Apply(ctx, data)
	return err
}

const inflateSelector = "app=inflate"

func (d *Demo) scaleUp(ctx context.Context, st *Step) error {
	if err := d.kube.Scale(ctx, metav1.NamespaceDefault, "inflate", d.cfg.Replicas); err != nil {
		return err
	}
	nodes, err := d.kube.WaitPodsOnLaunchedNodes(ctx, metav1.NamespaceDefault, inflateSelector, int(d.cfg.Replicas), v1alpha5.CapacityTypeSpot, 5*time.Minute, d.cfg.Log)
	if err != nil {
		return err
	}
	records, err := d.recordNodes(ctx, nodes)
	if err != nil {
		st.Notes = append(st.Notes, "prices unknown: "+err.Error())
	}
	d.Timeline.AddNodes(records...)
	for _, n := range records {
		st.Notes = append(st.Notes, fmt.Sprintf("%s %s %s %s %s $%.4f/h", n.Name, n.InstanceID, n.Type, n.Zone, n.CapacityType, n.PriceUSDPerHour))
	}
	st.Notes = append(st.Notes, fmt.Sprintf("%d pods Running on %d new spot nodes", d.cfg.Replicas, len(nodes)))
	return nil
}

// recordNodes describes nodes with the price the emulator recorded for their instance.
func (d *Demo) recordNodes(ctx context.Context, nodes []corev1.Node) ([]NodeRecord, error) {
	return recordNodes(ctx, d.cloud, nodes)
}

func recordNodes(ctx context.Context, cloud *Cloud, nodes []corev1.Node) ([]NodeRecord, error) {
	records := make([]NodeRecord, 0, len(nodes))
	for _, n := range nodes {
		records = append(records, NodeRecord{
			Name:         n.Name,
			InstanceID:   InstanceIDFromProviderID(n.Spec.ProviderID),
			Type:         n.Labels[v1alpha5.LabelInstanceType],
			Zone:         n.Labels[v1alpha5.LabelZone],
			CapacityType: n.Labels[v1alpha5.LabelCapacityType],
		})
	}
	instances, err := cloud.Instances(ctx)
	if err != nil {
		return records, err
	}
	byID := map[string]Instance{}
	for _, in := range instances {
		byID[in.ID] = in
	}
	var missing []string
	for i := range records {
		in, ok := byID[records[i].InstanceID]
		if !ok {
			missing = append(missing, records[i].InstanceID)
			continue
		}
		records[i].PriceUSDPerHour = in.PriceUSDPerHour
	}
	if len(missing) > 0 {
		return records, fmt.Errorf("instances not in the emulator: %s", strings.Join(missing, ", "))
	}
	return records, nil
}

// InstanceIDFromProviderID returns the instance ID of a providerID aws:///<zone>/<instance-id>,
// or "" when it has another shape.
func InstanceIDFromProviderID(providerID string) string {
	rest, ok := strings.CutPrefix(providerID, "aws:///")
	if !ok {
		return ""
	}
	_, id, ok := strings.Cut(rest, "/")
	if !ok || !strings.HasPrefix(id, "i-") {
		return ""
	}
	return id
}

func (d *Demo) scaleDown(ctx context.Context, st *Step) error {
	launched, err := d.kube.LaunchedNodes(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(launched))
	for _, n := range launched {
		names = append(names, n.Name)
	}
	if len(names) == 0 {
		return errors.New("no launched nodes to wait for")
	}
	if err := d.kube.Clientset.AppsV1().Deployments(metav1.NamespaceDefault).Delete(ctx, "inflate", metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("deleting deployment inflate: %w", err)
	}
	if err := d.kube.WaitNoPods(ctx, metav1.NamespaceDefault, inflateSelector, 2*time.Minute); err != nil {
		return err
	}
	empty := time.Now()
	limit := d.cfg.EmptyToGoneLimit
	if err := d.kube.WaitNodesGone(ctx, names, limit+2*time.Minute); err != nil {
		return err
	}
	gone := time.Since(empty)
	st.Notes = append(st.Notes, fmt.Sprintf("%d nodes gone %.1fs after their pods were gone (ttlSecondsAfterEmpty 30)", len(names), gone.Seconds()))
	if gone > limit {
		return fmt.Errorf("nodes took %.1fs after becoming empty to go away; expected at most %s", gone.Seconds(), limit)
	}
	return nil
}

func (d *Demo) planEmpty(ctx context.Context, st *Step) error {
	code, diff, err := d.tf.Plan(ctx)
	if err != nil {
		return err
	}
	if code != 0 {
		st.Notes = append(st.Notes, diff...)
		return fmt.Errorf("terraform plan -detailed-exitcode exited %d, want 0 (no changes):\n%s", code, strings.Join(diff, "\n"))
	}
	st.Notes = append(st.Notes, "No changes (exit code 0)")
	return nil
}

// planDrift edits the default Provisioner as `kubectl edit` would (ttlSecondsAfterEmpty 30 -> 60)
// and expects terraform plan to report exactly that resource as changed.
func (d *Demo) planDrift(ctx context.Context, st *Step) error {
	if err := d.kube.PatchProvisioner(ctx, "default", []byte(`{"spec":{"ttlSecondsAfterEmpty":60}}`)); err != nil {
		return err
	}
	st.Notes = append(st.Notes, "patched provisioner/default spec.ttlSecondsAfterEmpty: 30 -> 60")
	code, diff, err := d.tf.Plan(ctx)
	if err != nil {
		return err
	}
	st.Notes = append(st.Notes, diff...)
	if code != 2 {
		return fmt.Errorf("terraform plan -detailed-exitcode exited %d after the out-of-band edit, want 2 (changes)", code)
	}
	if !strings.Contains(strings.Join(diff, "\n"), "ttl_seconds_after_empty") {
		return fmt.Errorf("the plan does not mention ttl_seconds_after_empty:\n%s", strings.Join(diff, "\n"))
	}
	return nil
}

func (d *Demo) destroy(ctx context.Context, st *Step) error {
	out, err := d.tf.Outputs(ctx)
	if err != nil {
		return err
	}
	d.outputs = out
	return d.tf.Destroy(ctx)
}

// checkAccess reports how nodes join and how the controller gets its AWS credentials, as the
// module chose them from the cluster's authentication mode: in API mode (aws-auth ignored) the
// node role must have an EC2_LINUX access entry and the controller's service account a Pod
// Identity association with the controller role; otherwise whatever exists is noted.
func (d *Demo) checkAccess(ctx context.Context, st *Step) error {
	out, err := d.tf.Outputs(ctx)
	if err != nil {
		return err
	}
	str := func(k string) string { s, _ := out[k].(string); return s }
	mode, err := d.cloud.AuthenticationMode(ctx)
	if err != nil {
		return err
	}
	st.Notes = append(st.Notes, "authentication mode "+mode)
	if mode == "CONFIG_MAP" {
		st.Notes = append(st.Notes, "nodes join through aws-auth; the controller uses IRSA")
		return nil
	}
	entry, err := d.cloud.AccessEntryType(ctx, str("node_role_arn"))
	if err != nil {
		return err
	}
	assocs, err := d.cloud.PodIdentityAssociations(ctx)
	if err != nil {
		return err
	}
	if entry != "" {
		st.Notes = append(st.Notes, "node role access entry: "+entry)
	} else {
		st.Notes = append(st.Notes, "no access entry for the node role (aws-auth)")
	}
	for _, a := range assocs {
		st.Notes = append(st.Notes, "Pod Identity association "+a)
	}
	if mode != "API" {
		return nil
	}
	var errs []error
	if entry != "EC2_LINUX" {
		errs = append(errs, fmt.Errorf("authentication mode API: the node role %s needs an EC2_LINUX access entry, found %q", str("node_role_arn"), entry))
	}
	want := str("namespace") + "/"
	if !slices.ContainsFunc(assocs, func(a string) bool {
		return strings.HasPrefix(a, want) && strings.HasSuffix(a, " -> "+str("controller_role_arn"))
	}) {
		errs = append(errs, fmt.Errorf("authentication mode API: no Pod Identity association of namespace %s with the controller role %s (found %v)",
			str("namespace"), str("controller_role_arn"), assocs))
	}
	return errors.Join(errs...)
}

// checkClean verifies through the AWS SDK and client-go that destroy left nothing behind.
func (d *Demo) checkClean(ctx context.Context, st *Step) error {
	return CheckClean(ctx, d.cloud, d.kube, d.outputs, st)
}

// CheckClean verifies that no launched instance is pending or running, that the IAM roles and
// instance profile named in the quickstart's outputs (node_role_arn, controller_role_arn,
// instance_profile_name) are gone, that no subnet or security group keeps karpenter.sh/discovery,
// that no access entry for the node role nor any Pod Identity association is left (clusters
// with access entries), and that no launched Node remains. Findings go to st's notes; the error lists every leftover.
func CheckClean(ctx context.Context, cloud *Cloud, kube *Kube, outputs map[string]any, st *Step) error {
	var errs []error
	live, err := cloud.LiveInstances(ctx)
	switch {
	case err != nil:
		errs = append(errs, err)
	case len(live) > 0:
		errs = append(errs, fmt.Errorf("instances still pending/running: %s", strings.Join(live, ", ")))
	default:
		st.Notes = append(st.Notes, "no launched instance pending or running")
	}
	str := func(k string) string { s, _ := outputs[k].(string); return s }
	for _, arnKey := range []string{"node_role_arn", "controller_role_arn"} {
		arn := str(arnKey)
		if arn == "" {
			errs = append(errs, fmt.Errorf("terraform output %s is missing", arnKey))
			continue
		}
		exists, err := cloud.RoleExists(ctx, roleName(arn))
		switch {
		case err != nil:
			errs = append(errs, err)
		case exists:
			errs = append(errs, fmt.Errorf("IAM role %s still exists", roleName(arn)))
		default:
			st.Notes = append(st.Notes, "IAM role "+roleName(arn)+" deleted")
		}
	}
	if name := str("instance_profile_name"); name == "" {
		errs = append(errs, errors.New("terraform output instance_profile_name is missing"))
	} else if exists, err := cloud.InstanceProfileExists(ctx, name); err != nil {
		errs = append(errs, err)
	} else if exists {
		errs = append(errs, fmt.Errorf("instance profile %s still exists", name))
	} else {
		st.Notes = append(st.Notes, "instance profile "+name+" deleted")
	}
	tagged, err := cloud.DiscoveryTagged(ctx)
	switch {
	case err != nil:
		errs = append(errs, err)
	case len(tagged) > 0:
		errs = append(errs, fmt.Errorf("still tagged %s: %s", v1alpha5.DiscoveryTagKey, strings.Join(tagged, ", ")))
	default:
		st.Notes = append(st.Notes, "no subnet or security group tagged "+v1alpha5.DiscoveryTagKey)
	}
	errs = append(errs, checkEKSAccessClean(ctx, cloud, str("node_role_arn"), st)...)
	nodes, err := kube.LaunchedNodes(ctx)
	switch {
	case err != nil:
		errs = append(errs, err)
	case len(nodes) > 0:
		names := make([]string, 0, len(nodes))
		for _, n := range nodes {
			names = append(names, n.Name)
		}
		errs = append(errs, fmt.Errorf("launched nodes remain: %s", strings.Join(names, ", ")))
	default:
		st.Notes = append(st.Notes, "no launched Node remains")
	}
	return errors.Join(errs...)
}

// checkEKSAccessClean verifies, on a cluster whose authentication mode has access entries, that
// the node role's access entry and every Pod Identity association are gone.
func checkEKSAccessClean(ctx context.Context, cloud *Cloud, nodeRoleARN string, st *Step) []error {
	mode, err := cloud.AuthenticationMode(ctx)
	if err != nil {
		return []error{err}
	}
	if mode == "CONFIG_MAP" {
		return nil
	}
	var errs []error
	if entry, err := cloud.AccessEntryType(ctx, nodeRoleARN); err != nil {
		errs = append(errs, err)
	} else if entry != "" {
		errs = append(errs, fmt.Errorf("access entry %s for the node role %s still exists", entry, nodeRoleARN))
	} else {
		st.Notes = append(st.Notes, "no access entry for the node role")
	}
	if assocs, err := cloud.PodIdentityAssociations(ctx); err != nil {
		errs = append(errs, err)
	} else if len(assocs) > 0 {
		errs = append(errs, fmt.Errorf("pod identity associations remain: %s", strings.Join(assocs, ", ")))
	} else {
		st.Notes = append(st.Notes, "no Pod Identity association")
	}
	return errs
}

// dumpPodLogs prints the tail of every controller pod log the sandbox kept (<dir>/pods/*.log),
// to explain a failure before `sandbox down` removes them.
func (d *Demo) dumpPodLogs() {
	dumpLogs(d.cfg.Log, d.cfg.SandboxDir)
}

func dumpLogs(w io.Writer, sandboxDir string) {
	var files []string
	for _, pattern := range []string{"pods/*.log", "sandbox.log", "logs/sandbox.log"} {
		m, _ := filepath.Glob(filepath.Join(sandboxDir, pattern))
		files = append(files, m...)
	}
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		fmt.Fprintf(w, "---- last lines of %s ----\n%s\n", f, lastLines(string(data), 40))
	}
	// `sandbox down` removes the state directory: keep its logs for a post-mortem.
	keep, err := os.MkdirTemp("", "karpenter-sandbox-logs-")
	if err != nil {
		return
	}
	_ = keepLogs(sandboxDir, keep)
	fmt.Fprintf(w, "sandbox logs kept in %s\n", keep)
}

// keepLogs copies the sandbox's logs (logs/, pods/ and sandbox.log of sandboxDir) into keep,
// creating it. Errors: the first copy that failed.
func keepLogs(sandboxDir, keep string) error {
	if err := os.MkdirAll(keep, 0o755); err != nil {
		return err
	}
	for _, sub := range []string{"logs", "pods", "sandbox.log"} {
		src := filepath.Join(sandboxDir, sub)
		st, err := os.Stat(src)
		switch {
		case err != nil:
			continue
		case st.IsDir():
			err = copyTree(src, filepath.Join(keep, sub))
		default:
			err = copyFile(src, filepath.Join(keep, sub), 0o644)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
