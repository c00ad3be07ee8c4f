package provider

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// diagRecorder records the warnings the provider returns to Terraform in the calls that read,
// plan and apply resources (terraform-plugin-testing does not show a step's warnings), and can
// run a change in the cluster right before the next apply call (beforeNextApply). Serve the
// provider through factories.
type diagRecorder struct {
	mu          sync.Mutex
	warnings    []recordedWarning
	beforeApply func()
}

// beforeNextApply makes the next ApplyResourceChange call run f first: a change in the cluster
// after Terraform's last plan of the change (it plans each change again during the apply),
// which only the provider's apply can see.
func (r *diagRecorder) beforeNextApply(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.beforeApply = f
}

// recordedWarning is a warning diagnostic and the protocol call that returned it
// (ReadResource, PlanResourceChange or ApplyResourceChange).
type recordedWarning struct{ rpc, summary, detail string }

// factories serves the provider as testAccProtoV6ProviderFactories does, recording into r.
func (r *diagRecorder) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){
		"karpenter": func() (tfprotov6.ProviderServer, error) {
			s, err := testAccProtoV6ProviderFactories["karpenter"]()
			if err != nil {
				return nil, err
			}
			return recordingServer{ProviderServer: s, r: r}, nil
		},
	}
}

// reset forgets the warnings recorded so far.
func (r *diagRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.warnings = nil
}

func (r *diagRecorder) add(rpc string, diags []*tfprotov6.Diagnostic) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range diags {
		if d != nil && d.Severity == tfprotov6.DiagnosticSeverityWarning {
			r.warnings = append(r.warnings, recordedWarning{rpc: rpc, summary: d.Summary, detail: d.Detail})
		}
	}
}

// warned returns nil when, since the last reset, call rpc returned a warning with summary whose
// detail contains each of details; else an error listing the warnings recorded.
func (r *diagRecorder) warned(rpc, summary string, details ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seen []string
	for _, w := range r.warnings {
		seen = append(seen, fmt.Sprintf("%s: %q: %q", w.rpc, w.summary, w.detail))
		if w.rpc != rpc || w.summary != summary {
			continue
		}
		all := true
		for _, d := range details {
			all = all && strings.Contains(w.detail, d)
		}
		if all {
			return nil
		}
	}
	return fmt.Errorf("no %s warning %q with %q; warnings recorded: %v", rpc, summary, details, seen)
}

// expectWarning is warned as a check; details are evaluated when the check runs.
func (r *diagRecorder) expectWarning(rpc, summary string, details ...func() string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		ds := make([]string, len(details))
		for i, d := range details {
			ds[i] = d()
		}
		return r.warned(rpc, summary, ds...)
	}
}

// text is a fixed detail for expectWarning.
func text(s string) func() string { return func() string { return s } }

// recordingServer is a provider server that records the warnings of its resource calls.
type recordingServer struct {
	tfprotov6.ProviderServer
	r *diagRecorder
}

func (s recordingServer) ReadResource(ctx context.Context, req *tfprotov6.ReadResourceRequest) (*tfprotov6.ReadResourceResponse, error) {
	resp, err := s.ProviderServer.ReadResource(ctx, req)
	if resp != nil {
		s.r.add("ReadResource", resp.Diagnostics)
	}
	return resp, err
}

func (s recordingServer) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := s.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		s.r.add("PlanResourceChange", resp.Diagnostics)
	}
	return resp, err
}

func (s recordingServer) ApplyResourceChange(ctx context.Context, req *tfprotov6.ApplyResourceChangeRequest) (*tfprotov6.ApplyResourceChangeResponse, error) {
	s.r.mu.Lock()
	f := s.r.beforeApply
	s.r.beforeApply = nil
	s.r.mu.Unlock()
	if f != nil {
		f()
	}
	resp, err := s.ProviderServer.ApplyResourceChange(ctx, req)
	if resp != nil {
		s.r.add("ApplyResourceChange", resp.Diagnostics)
	}
	return resp, err
}

// cliState is a Terraform state of its own, beside a test case's: the terraform CLI
// (TF_ACC_TERRAFORM_PATH) run in a directory of its own with the provider binary KARPENTER_BIN
// as nodeform/karpenter (a dev_overrides CLI configuration: no init, no registry), in the
// environment of the test (the sandbox's KUBECONFIG and AWS variables). Its output is what
// Terraform shows a user, warnings included.
type cliState struct {
	t   *testing.T
	dir string
	env []string
}

// newCLIState prepares a cliState; it runs nothing.
func newCLIState(t *testing.T) *cliState {
	t.Helper()
	bin, err := filepath.Abs(os.Getenv("KARPENTER_BIN"))
	must(t, err)
	plugins := t.TempDir()
	must(t, os.Symlink(bin, filepath.Join(plugins, "terraform-provider-karpenter")))
	rc := filepath.Join(plugins, "terraform.rc")
	must(t, os.WriteFile(rc, []byte(fmt.Sprintf("provider_installation {\n  dev_overrides {\n    \"nodeform/karpenter\" = %q\n  }\n  direct {}\n}\n", plugins)), 0o600))
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+rc, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
	return &cliState{t: t, dir: t.TempDir(), env: env}
}

// run writes config (resources; the provider requirement is added) as main.tf and runs
// `terraform <args> -input=false -no-color`, returning its output (stdout and stderr); err is
// non-nil when terraform fails, and then includes the output.
func (c *cliState) run(config string, args ...string) (string, error) {
	c.t.Helper()
	main := "terraform {\n  required_providers {\n    karpenter = { source = \"nodeform/karpenter\" }\n  }\n}\n\n" + config
	if err := os.WriteFile(filepath.Join(c.dir, "main.tf"), []byte(main), 0o600); err != nil {
		return "", err
	}
	cctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, os.Getenv("TF_ACC_TERRAFORM_PATH"), append(args, "-input=false", "-no-color")...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("terraform %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// mustRun is run that fails the test on an error.
func (c *cliState) mustRun(config string, args ...string) string {
	c.t.Helper()
	out, err := c.run(config, args...)
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

// shows checks that output (of terraform, without colour) shows a warning with summary followed
// by each of details (Terraform wraps lines: spaces match any run of blanks and box characters).
func shows(output, summary string, details ...string) error {
	if !diagLine("Warning", summary, details...).MatchString(output) {
		return fmt.Errorf("terraform output shows no warning %q with %q:\n%s", summary, details, output)
	}
	return nil
}
