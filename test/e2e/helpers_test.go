package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

func TestParseEnv(t *testing.T) {
	out := `# sandbox karpenter-demo
export KUBECONFIG='/tmp/a b/kubeconfig' CLUSTER_NAME=karpenter-demo
export AWS_REGION="us-east-1"
AWS_ENDPOINT_URL_EC2=http://127.0.0.1:4566 AWS_SECRET_ACCESS_KEY='x$y'

export EMPTY=
`
	got, err := ParseEnv(out)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"KUBECONFIG":            "/tmp/a b/kubeconfig",
		"CLUSTER_NAME":          "karpenter-demo",
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL_EC2":  "http://127.0.0.1:4566",
		"AWS_SECRET_ACCESS_KEY": "x$y",
		"EMPTY":                 "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseEnv = %v, want %v", got, want)
	}
	if _, err := ParseEnv("export KUBECONFIG=/a\nexport notanassignment\n"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("want an error naming line 2, got %v", err)
	}
	if _, err := ParseEnv("export A='unterminated\n"); err == nil {
		t.Fatal("want an error for an unterminated quote")
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{
		"terraform-provider-karpenter version v0.1.0-dev\n": "0.1.0-dev",
		"terraform-provider-karpenter version 1.2.3":        "1.2.3",
		"x version v2.0.0+abc.1":                            "2.0.0+abc.1",
	} {
		got, err := parseVersion(in)
		if err != nil || got != want {
			t.Errorf("parseVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := parseVersion("version dev"); err == nil {
		t.Error("want an error for a version that is not semantic")
	}
}

func TestDiffLines(t *testing.T) {
	plan := `karpenter_provisioner.default: Refreshing state... [id=default]

Note: Objects have changed outside of Terraform

Terraform detected the following changes made outside of Terraform since the
last "terraform apply" which may have affected this plan:

  # module.karpenter.karpenter_provisioner.default[0] has changed
  ~ resource "karpenter_provisioner" "default" {
      ~ ttl_seconds_after_empty = 30 -> 60
    }

Terraform used the selected providers to generate the following execution
plan. Resource actions are indicated with the following symbols:
  ~ update in-place

Terraform will perform the following actions:

  # module.karpenter.karpenter_provisioner.default[0] will be updated in-place
  ~ resource "karpenter_provisioner" "default" {
        id                      = "default"
      ~ ttl_seconds_after_empty = 60 -> 30
        # (3 unchanged attributes hidden)
    }

Plan: 0 to add, 1 to change, 0 to destroy.
`
	want := []string{
		"  # module.karpenter.karpenter_provisioner.default[0] has changed",
		`  ~ resource "karpenter_provisioner" "default" {`,
		"      ~ ttl_seconds_after_empty = 30 -> 60",
		"  # module.karpenter.karpenter_provisioner.default[0] will be updated in-place",
		`  ~ resource "karpenter_provisioner" "default" {`,
		"      ~ ttl_seconds_after_empty = 60 -> 30",
		"Plan: 0 to add, 1 to change, 0 to destroy.",
	}
	if got := DiffLines(plan); !reflect.DeepEqual(got, want) {
		t.Fatalf("DiffLines =\n%q\nwant\n%q", got, want)
	}
	if got := DiffLines("No changes. Your infrastructure matches the configuration.\n"); len(got) != 0 {
		t.Fatalf("DiffLines of an empty plan = %q, want none", got)
	}
}

func TestDecodeInstances(t *testing.T) {
	list := `[{"id":"i-2","instanceType":"m5.large","zone":"us-east-1b","capacityType":"spot","state":"running","priceUSDPerHour":0.0341,"launchTime":"2026-01-02T03:04:05Z","privateDnsName":"ip-10-0-1-2.ec2.internal","tags":{"karpenter.sh/cluster":"demo"}},
	          {"id":"i-1","instanceType":"t3.medium","zone":"us-east-1a","capacityType":"on-demand","state":"terminated","priceUSDPerHour":0.0416,"launchTime":"2026-01-02T03:00:00Z","tags":{"eks:nodegroup-name":"static"}}]`
	got, err := DecodeInstances([]byte(list))
	if err != nil {
		t.Fatal(err)
	}
	want := []Instance{
		{ID: "i-1", Type: "t3.medium", Zone: "us-east-1a", CapacityType: "on-demand", State: "terminated", PriceUSDPerHour: 0.0416,
			LaunchTime: time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC), Tags: map[string]string{"eks:nodegroup-name": "static"}},
		{ID: "i-2", Type: "m5.large", Zone: "us-east-1b", CapacityType: "spot", State: "running", PriceUSDPerHour: 0.0341,
			LaunchTime: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Tags: map[string]string{"karpenter.sh/cluster": "demo"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeInstances =\n%+v\nwant\n%+v", got, want)
	}
	for _, bad := range []string{`{"instances":[]}`, `[{"instanceType":"m5.large"}]`, `not json`} {
		if _, err := DecodeInstances([]byte(bad)); err == nil {
			t.Errorf("DecodeInstances(%s): want an error", bad)
		}
	}
}

func TestInstanceIDFromProviderID(t *testing.T) {
	for in, want := range map[string]string{
		"aws:///us-east-1a/i-0123456789abcdef0": "i-0123456789abcdef0",
		"aws:///us-east-1a/":                    "",
		"kwok://node-1":                         "",
		"":                                      "",
	} {
		if got := InstanceIDFromProviderID(in); got != want {
			t.Errorf("InstanceIDFromProviderID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDecodeManifestsErrors(t *testing.T) {
	objs, err := DecodeManifests([]byte("---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n"))
	if err != nil || len(objs) != 2 || objs[1].GetName() != "b" {
		t.Fatalf("DecodeManifests = %v, %v; want 2 objects", objs, err)
	}
	for doc, want := range map[string]string{
		"kind: ConfigMap\nmetadata:\n  name: a\n":              "apiVersion is required",
		"apiVersion: v1\nmetadata:\n  name: a\n":               "kind is required",
		"apiVersion: v1\nkind: ConfigMap\n":                    "metadata.name is required",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed": "document 1",
	} {
		if _, err := DecodeManifests([]byte(doc)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("DecodeManifests(%q) error = %v, want it to contain %q", doc, err, want)
		}
	}
}

func TestTimelineWrite(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tl := NewTimeline(func() time.Time { clock = clock.Add(1500 * time.Millisecond); return clock })
	var log bytes.Buffer
	_ = tl.Run(&log, "first", func(st *Step) error { st.Notes = append(st.Notes, "a note"); return nil })
	if err := tl.Run(&log, "second", func(*Step) error { return os.ErrNotExist }); err == nil || !tl.Failed() {
		t.Fatal("a failing step must return its error and mark the timeline failed")
	}
	tl.AddNodes(NodeRecord{Name: "n2", Type: "m5.large", PriceUSDPerHour: 0.5}, NodeRecord{Name: "n1", Type: "c5.large", PriceUSDPerHour: 0.25})
	tl.AddNodes(NodeRecord{Name: "n2", Type: "m5.large", PriceUSDPerHour: 1})
	var out bytes.Buffer
	tl.Write(&out)
	s := out.String()
	for _, want := range []string{"first", "1.5", "ok", "second", "FAILED: file does not exist", "total", "3.0", "a note", "Nodes launched: 2", "1.2500"} {
		if !strings.Contains(s, want) {
			t.Errorf("timeline output lacks %q:\n%s", want, s)
		}
	}
	if strings.Index(s, "n1") > strings.Index(s, "n2") {
		t.Errorf("nodes are not sorted by name:\n%s", s)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := prefixWriter(&out, "> ")
	_, _ = w.Write([]byte("a\nb"))
	_, _ = w.Write([]byte("c\n"))
	if out.String() != "> a\n> bc\n" {
		t.Fatalf("got %q", out.String())
	}
}

// TestMirrorInstallOffline checks that the CLI config, the mirror layout and the version
// override let a real `terraform init` select a pre-release provider with no network: the
// provider executable is not run by init, so any executable stands in for it.
func TestMirrorInstallOffline(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH")
	}
	dir := t.TempDir()
	fake := filepath.Join(dir, "provider")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(dir, "mirror")
	if _, err := InstallMirror(fake, mirror, "0.1.0-dev"); err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(dir, "cli.tfrc")
	if err := os.WriteFile(cli, []byte(CLIConfig(mirror)), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	main := "terraform {\n  required_providers {\n    karpenter = { source = \"nodeform/karpenter\" }\n  }\n}\n"
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	run := &Terraform{Bin: tf, Dir: work, Env: append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "CHECKPOINT_DISABLE=1")}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Without the override Terraform refuses the pre-release; with it, init succeeds offline.
	if err := run.Init(ctx); err == nil {
		t.Fatal("terraform init selected a pre-release without an exact constraint; the override would be unnecessary")
	}
	if err := os.WriteFile(filepath.Join(work, "provider_version_override.tf"), []byte(VersionOverride("0.1.0-dev")), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	run.Out = &out
	if err := run.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// The README says this warning is expected: it must be the text Terraform prints.
	const warning = "Warning: Incomplete lock file information for providers"
	if !strings.Contains(out.String(), warning) {
		t.Errorf("terraform init no longer warns %q (the README says it does):\n%s", warning, out.String())
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil || !strings.Contains(strings.Join(strings.Fields(string(readme)), " "), warning) {
		t.Errorf("README.md does not name the warning %q terraform init prints on the mirror (%v)", warning, err)
	}
	lock, err := os.ReadFile(filepath.Join(work, ".terraform.lock.hcl"))
	if err != nil || !strings.Contains(string(lock), `provider "registry.terraform.io/nodeform/karpenter"`) || !strings.Contains(string(lock), `"0.1.0-dev"`) {
		t.Fatalf("lock file does not pin nodeform/karpenter 0.1.0-dev: %s %v", lock, err)
	}
}

// TestHCLFormatted runs `terraform fmt -check` over the module and the examples this package
// drives.
func TestHCLFormatted(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH")
	}
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"modules", "examples/quickstart"} {
		cmd := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", "-no-color", filepath.Join(root, dir))
		cmd.Env = append(os.Environ(), "TF_CLI_CONFIG_FILE=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("terraform fmt -check %s: %v\n%s", dir, err, out)
		}
	}
}

func TestPrepareWorkdir(t *testing.T) {
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	work, err := PrepareWorkdir(root, "quickstart", dir, "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.tf", "provider_version_override.tf"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Error(err)
		}
	}
	// The example's relative module source must resolve inside the copy.
	if _, err := os.Stat(filepath.Join(work, "../../modules/karpenter/main.tf")); err != nil {
		t.Errorf("module not copied beside the example: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, ".terraform.lock.hcl")); !os.IsNotExist(err) {
		t.Errorf("a lock file was copied: %v", err)
	}
}

func TestScaleLowerBound(t *testing.T) {
	ctx := context.Background()
	bound, err := ScaleLowerBound(ctx, DefaultScaleWorkloads)
	if err != nil {
		t.Fatal(err)
	}
	if bound <= 0 {
		t.Fatalf("bound = %v, want > 0", bound)
	}
	// Twice the pods: at least the bound, at most twice it (the cover's part doubles).
	double := make([]ScaleWorkload, len(DefaultScaleWorkloads))
	for i, w := range DefaultScaleWorkloads {
		w.Replicas *= 2
		double[i] = w
	}
	if b2, _ := ScaleLowerBound(ctx, double); b2 < bound || b2 > 2*bound*(1+1e-9) {
		t.Errorf("bound of twice the pods = %v, want in [%v, %v]", b2, bound, 2*bound)
	}
	// A feasible packing costs at least the bound: 15 r6a.48xlarge (192 vCPU, 1536 GiB each)
	// hold the 2200 cores and ~15510 GiB requested, with room for kube-reserved.
	it, ok := catalog.Lookup("r6a.48xlarge")
	if !ok {
		t.Fatal("catalogue lacks r6a.48xlarge")
	}
	cheapest := it.OnDemandPrice
	for _, z := range it.Zones {
		cheapest = min(cheapest, catalog.SpotPrice(it, z))
	}
	if feasible := 15 * cheapest; bound > feasible {
		t.Errorf("bound %v exceeds the price %v of a feasible packing", bound, feasible)
	}
	if _, err := ScaleLowerBound(ctx, []ScaleWorkload{{Name: "bad", Replicas: 1, CPU: "one", Memory: "1Gi"}}); err == nil || !strings.Contains(err.Error(), "workload bad: cpu") {
		t.Errorf("bad quantity: err = %v", err)
	}
}

// A step whose context is cancelled (Ctrl-C) is reported as interrupted, not as failed with the
// signal its command got, and the run stops there; a failing step's error names the step once.
func TestRunStepsInterruptedAndFailed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tl := NewTimeline(nil)
	var log bytes.Buffer
	ran := 0
	err := runSteps(ctx, tl, &log, []namedStep{
		{"sandbox up", func(context.Context, *Step) error {
			cancel()
			return errors.New("/bin/x sandbox up: signal: interrupt: ") // what a killed command gave
		}},
		{"terraform init", func(context.Context, *Step) error { ran++; return nil }},
	})
	if !errors.Is(err, ErrInterrupted) || ran != 0 || err.Error() != `interrupted in step "sandbox up"` {
		t.Fatalf("runSteps = %v (later steps ran %d times), want interrupted in step \"sandbox up\"", err, ran)
	}
	var out bytes.Buffer
	tl.Write(&out)
	for _, s := range []string{log.String(), out.String()} {
		if strings.Contains(s, "signal") || strings.Contains(s, "FAILED") || !strings.Contains(s, "interrupted") {
			t.Errorf("an interrupted step is not reported as interrupted:\n%s", s)
		}
	}

	err = runSteps(context.Background(), NewTimeline(nil), io.Discard, []namedStep{
		{"sandbox up", func(context.Context, *Step) error {
			return errors.New("/bin/x sandbox up --authentication-mode X: exit status 1")
		}},
	})
	if err == nil || err.Error() != `step "sandbox up": /bin/x sandbox up --authentication-mode X: exit status 1` {
		t.Fatalf("runSteps = %v", err)
	}
}

// A command's error has no dangling ": " when its stderr is empty, and says "interrupted"
// (wrapping ErrInterrupted) instead of the signal when its context was cancelled.
func TestCommandError(t *testing.T) {
	exit := errors.New("exit status 1")
	if got := commandError(context.Background(), "x sandbox up", exit, "").Error(); got != "x sandbox up: exit status 1" {
		t.Errorf("empty stderr: %q", got)
	}
	if got := commandError(context.Background(), "x sandbox up", exit, "error: bad").Error(); got != "x sandbox up: exit status 1: error: bad" {
		t.Errorf("with stderr: %q", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := commandError(ctx, "x sandbox up", errors.New("signal: interrupt"), "")
	if !errors.Is(err, ErrInterrupted) || err.Error() != "x sandbox up: interrupted" {
		t.Errorf("cancelled: %v", err)
	}
}
