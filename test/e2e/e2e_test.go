package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
)

// requireBin returns $KARPENTER_BIN (absolute), skipping under -short and failing when unset.
func requireBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end: skipped under -short")
	}
	bin := os.Getenv("KARPENTER_BIN")
	if bin == "" {
		t.Fatal("KARPENTER_BIN is not set: it must name the built terraform-provider-karpenter binary (`make test` sets it; by hand: make build && KARPENTER_BIN=$PWD/bin/terraform-provider-karpenter go test ./test/e2e/)")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("KARPENTER_BIN=%s: %v (run `make build`)", bin, err)
	}
	return abs
}

// TestDemo runs `make demo` as a new user would: in a copy of the working tree (files git
// tracks or would track, no bin/ or .sandbox/) placed alone in a fresh temporary folder, so that
// nothing outside the repository (a folder beside the clone, a file under bin/) can be read.
// The copy links the tools from the per-user cache and builds its own binary. Every demo step
// must pass and the launched nodes must all be spot.
func TestDemo(t *testing.T) {
	requireBin(t)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	// <tmp>/repo is the only entry of <tmp>: no folder beside the clone can be read.
	clone := filepath.Join(t.TempDir(), "repo")
	if err := CopyWorkingTree(root, clone); err != nil {
		t.Fatal(err)
	}
	nodesJSON := filepath.Join(t.TempDir(), "nodes.json")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", "demo", "DEMO_FLAGS=--timeline-json="+nodesJSON)
	cmd.Dir = clone
	cmd.Env = bareEnviron(root)
	cmd.Stdout = logWriter(t)
	cmd.Stderr = cmd.Stdout
	cmd.WaitDelay = time.Minute
	if err := cmd.Run(); err != nil {
		t.Fatalf("make demo in a bare copy of the repository (%s): %v", clone, err)
	}
	data, err := os.ReadFile(nodesJSON)
	if err != nil {
		t.Fatal(err)
	}
	var nodes []NodeRecord
	if err := json.Unmarshal(data, &nodes); err != nil {
		t.Fatalf("nodes launched: %v", err)
	}
	if len(nodes) == 0 {
		t.Fatal("the demo passed without recording a launched node")
	}
	for _, n := range nodes {
		if n.CapacityType != "spot" {
			t.Errorf("node %s has capacity type %q, want spot", n.Name, n.CapacityType)
		}
	}
}

// TestQuickstartAPIMode runs the demo's story on a cluster in API authentication mode, where
// EKS ignores aws-auth: the quickstart (module defaults) must pick an EC2_LINUX access entry for
// the node role and Pod Identity for the controller, the sandbox's Pod Identity agent must hand
// the controller pods their credentials, the launched nodes must join through the access entry,
// and destroy must remove the entry and the association. The demo itself covers the default
// mode (API_AND_CONFIG_MAP).
func TestQuickstartAPIMode(t *testing.T) {
	bin := requireBin(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	demo, err := NewDemo(Config{
		Bin:         bin,
		SandboxDir:  filepath.Join(t.TempDir(), "sandbox"),
		SandboxArgs: []string{"--authentication-mode", "API", "--boot-delay", "0"},
		Replicas:    3,
		Log:         logWriter(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := demo.Run(ctx); err != nil {
		t.Fatal(err)
	}
	var access *Step
	for i, st := range demo.Timeline.Steps {
		if st.Name == "node access and controller identity" {
			access = &demo.Timeline.Steps[i]
		}
	}
	if access == nil || !slices.Contains(access.Notes, "node role access entry: EC2_LINUX") {
		t.Fatalf("the access step did not find the node role's access entry: %+v", access)
	}
}

// bareEnviron is the test's environment without what `make test` exports for its own run
// (make's jobserver flags, KARPENTER_BIN, TF_ACC, root's bin/ on PATH), so a nested
// `make demo` starts as a user's and cannot fall back on the original checkout's tools.
func bareEnviron(root string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, value, _ := strings.Cut(kv, "=")
		switch name {
		case "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "KARPENTER_BIN", "TF_ACC":
			continue
		case "PATH":
			var keep []string
			for _, dir := range filepath.SplitList(value) {
				if filepath.Clean(dir) != filepath.Join(root, "bin") {
					keep = append(keep, dir)
				}
			}
			kv = "PATH=" + strings.Join(keep, string(filepath.ListSeparator))
		}
		env = append(env, kv)
	}
	return env
}

// TestTerraformValidate validates modules/karpenter (through examples/quickstart) against the
// real provider schema: the provider is installed from the mirror exactly as in the demo.
func TestTerraformValidate(t *testing.T) {
	bin := requireBin(t)
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Fatal("terraform is not on PATH")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ws, err := PrepareTerraform(ctx, bin, root, tf, "quickstart", logWriter(t))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(ws.TempDir)
	if err := ws.Terraform.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ws.Terraform.Run(ctx, "validate", "-no-color"); err != nil {
		t.Fatal(err)
	}
	// The module's own validation refuses bad input with the variable named.
	bad := filepath.Join(ws.Terraform.Dir, "bad_override.tf")
	if err := os.WriteFile(bad, []byte(`module "karpenter" {
  default_provisioner = { capacity_types = ["reserved"] }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := ws.Terraform.Run(ctx, "plan", "-input=false", "-no-color", "-refresh=false", "-var", "cluster_name=demo")
	if err == nil || !strings.Contains(err.Error()+out, "default_provisioner.capacity_types") {
		t.Fatalf("plan with capacity_types [reserved]: want a validation error naming default_provisioner.capacity_types, got %v\n%s", err, out)
	}
}

// TestSeedManifestsAccepted applies the tutorial's provisioner.yaml (with ${CLUSTER_NAME}
// substituted) and inflate.yaml unchanged to a sandbox with the Provisioner CRD installed, reads
// them back, and checks that invalid Provisioners are refused with the field path.
func TestSeedManifestsAccepted(t *testing.T) {
	bin := requireBin(t)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := ManifestsDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	sb := NewSandbox(bin, filepath.Join(root, ".sandbox", "e2e-seed"), logWriter(t))
	t.Cleanup(func() {
		if err := sb.Down(ctx); err != nil {
			t.Errorf("sandbox down: %v", err)
		}
	})
	if err := sb.Up(ctx); err != nil {
		t.Fatal(err)
	}
	kube, err := NewKube(sb.Env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	for _, manifest := range crds.All() {
		if _, err := kube.Apply(ctx, manifest); err != nil {
			t.Fatalf("installing the controller's CRDs: %v", err)
		}
	}
	cluster := sb.Env["CLUSTER_NAME"]
	raw, err := os.ReadFile(filepath.Join(manifests, "provisioner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	provisionerYAML := []byte(strings.ReplaceAll(string(raw), "${CLUSTER_NAME}", cluster))

	// The CRD needs a moment to be served; retry while the kind is unknown.
	var applied []*unstructured.Unstructured
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		applied, err = kube.Apply(ctx, provisionerYAML)
		if err != nil && strings.Contains(err.Error(), "no matches for kind") {
			return false, nil
		}
		return true, err
	})
	if err != nil {
		t.Fatalf("provisioner.yaml refused: %v", err)
	}
	p := applied[0].Object
	if got, _, _ := unstructured.NestedInt64(p, "spec", "ttlSecondsAfterEmpty"); got != 30 {
		t.Errorf("stored ttlSecondsAfterEmpty = %d, want 30", got)
	}
	if got, _, _ := unstructured.NestedString(p, "spec", "provider", "subnetSelector", "karpenter.sh/discovery"); got != cluster {
		t.Errorf("stored subnetSelector = %q, want %q", got, cluster)
	}
	reqs, _, _ := unstructured.NestedSlice(p, "spec", "requirements")
	if len(reqs) != 1 || !strings.Contains(strings.Join(toStrings(reqs[0].(map[string]any)["values"]), ","), "spot") {
		t.Errorf("stored requirements = %v, want capacity-type In [spot]", reqs)
	}

	inflate, err := os.ReadFile(filepath.Join(manifests, "inflate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Apply(ctx, inflate)
	if err != nil {
		t.Fatalf("inflate.yaml refused: %v", err)
	}
	if replicas, _, _ := unstructured.NestedInt64(objs[0].Object, "spec", "replicas"); objs[0].GetKind() != "Deployment" || replicas != 0 {
		t.Errorf("stored inflate = %s with %d replicas, want a Deployment with 0", objs[0].GetKind(), replicas)
	}

	// Bad input is refused by the CRD with the field path.
	for name, tc := range map[string]struct{ from, to, path string }{
		"negative-ttl":     {"ttlSecondsAfterEmpty: 30", "ttlSecondsAfterEmpty: -1", "spec.ttlSecondsAfterEmpty"},
		"unknown-operator": {"operator: In", "operator: Maybe", "spec.requirements[0].operator"},
	} {
		bad := strings.Replace(string(provisionerYAML), tc.from, tc.to, 1)
		bad = strings.Replace(bad, "name: default", "name: "+name, 1)
		if _, err := kube.Apply(ctx, []byte(bad)); err == nil || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("%s: want a refusal naming %s, got %v", name, tc.path, err)
		}
	}
}

func toStrings(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, i := range items {
		if s, ok := i.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// logWriter returns a writer that sends each complete line to t.Log.
func logWriter(t *testing.T) io.Writer { return prefixWriter(testWriter{t}, "") }

// testWriter sends what it is given to t.Log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
