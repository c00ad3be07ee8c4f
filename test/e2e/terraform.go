package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// ProviderAddress is the provider's registry address (hostname/namespace/type).
const ProviderAddress = "registry.terraform.io/nodeform/karpenter"

// ProviderVersion returns the version the binary reports with --version (cobra prints
// "terraform-provider-karpenter version v0.1.0-dev"), without the leading "v": the version
// Terraform sees in the mirror. Errors when the output holds no semantic version.
func ProviderVersion(ctx context.Context, bin string) (string, error) {
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w: %s", bin, err, out)
	}
	return parseVersion(string(out))
}

var semverRE = regexp.MustCompile(`v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)`)

func parseVersion(out string) (string, error) {
	m := semverRE.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("no semantic version in %q", strings.TrimSpace(out))
	}
	return m[1], nil
}

// InstallMirror copies the provider binary into a Terraform filesystem mirror (the "unpacked"
// layout: <mirror>/registry.terraform.io/nodeform/karpenter/<version>/<os>_<arch>/
// terraform-provider-karpenter_v<version>) and returns the copy's path.
func InstallMirror(bin, mirror, version string) (string, error) {
	dst := filepath.Join(mirror, filepath.FromSlash(ProviderAddress), version,
		runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-karpenter_v"+version)
	if err := copyFile(bin, dst, 0o755); err != nil {
		return "", fmt.Errorf("installing the provider into the mirror: %w", err)
	}
	return dst, nil
}

// CLIConfig returns a Terraform CLI configuration (for TF_CLI_CONFIG_FILE) that installs
// nodeform/* providers only from the filesystem mirror at mirror and never from the network.
func CLIConfig(mirror string) string {
	return fmt.Sprintf(`# Written by test/e2e: install nodeform/* providers from the local mirror only (offline).
provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/nodeform/*"]
  }
  direct {
    exclude = ["registry.terraform.io/nodeform/*"]
  }
}
`, mirror)
}

// VersionOverride returns a Terraform override file (`*_override.tf`) that pins the root
// module's nodeform/karpenter requirement to exactly version. Terraform selects a pre-release
// version (such as 0.1.0-dev) only when a constraint names it exactly, so the working copy of a
// configuration gets this file to use the freshly built provider.
func VersionOverride(version string) string {
	return fmt.Sprintf(`# Written by test/e2e: use exactly the provider version just built.
terraform {
  required_providers {
    karpenter = {
      source  = "nodeform/karpenter"
      version = %q
    }
  }
}
`, version)
}

// Terraform runs the terraform CLI in one working directory.
type Terraform struct {
	Bin string   // terraform executable
	Dir string   // working directory (a configuration root)
	Env []string // full environment, e.g. Sandbox.Environ(TF_CLI_CONFIG_FILE=...)
	Out io.Writer
}

// Run executes `terraform <args...>` in Dir with Env (callers pass -no-color etc.).
// stdout and stderr are copied to Out and returned; code is the exit status (-1 when the
// process did not start or was killed). err is non-nil for every non-zero exit.
func (t *Terraform) Run(ctx context.Context, args ...string) (stdout string, code int, err error) {
	cmd := exec.CommandContext(ctx, t.Bin, args...)
	cmd.Dir = t.Dir
	cmd.Env = t.Env
	out := t.Out
	if out == nil {
		out = io.Discard
	}
	var so, se bytes.Buffer
	cmd.Stdout = io.MultiWriter(&so, out)
	cmd.Stderr = io.MultiWriter(&se, out)
	interruptOnCancel(cmd)
	err = cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			code = -1
		}
		return so.String(), code, fmt.Errorf("terraform %s: %w\n%s", strings.Join(args, " "), err, lastLines(so.String()+se.String(), 30))
	}
	return so.String(), code, nil
}

// Init runs `terraform init` (offline: the CLI config must point at the mirror).
func (t *Terraform) Init(ctx context.Context) error {
	_, _, err := t.Run(ctx, "init", "-input=false", "-no-color")
	return err
}

// Apply runs `terraform apply -auto-approve`.
func (t *Terraform) Apply(ctx context.Context) error {
	_, _, err := t.Run(ctx, "apply", "-input=false", "-auto-approve", "-no-color")
	return err
}

// Destroy runs `terraform destroy -auto-approve`.
func (t *Terraform) Destroy(ctx context.Context) error {
	_, _, err := t.Run(ctx, "destroy", "-input=false", "-auto-approve", "-no-color")
	return err
}

// Plan runs `terraform plan -detailed-exitcode` and returns its exit code (0: no changes,
// 2: changes) and the plan's change lines (see DiffLines). err is non-nil only for exit code 1
// or a failure to run.
func (t *Terraform) Plan(ctx context.Context) (code int, diff []string, err error) {
	out, code, err := t.Run(ctx, "plan", "-input=false", "-detailed-exitcode", "-no-color")
	if code == 2 {
		return 2, DiffLines(out), nil
	}
	return code, DiffLines(out), err
}

// Outputs runs `terraform output -json` and returns each output's value.
func (t *Terraform) Outputs(ctx context.Context) (map[string]any, error) {
	out, _, err := t.Run(ctx, "output", "-json", "-no-color")
	if err != nil {
		return nil, err
	}
	var raw map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("terraform output -json: %w", err)
	}
	values := make(map[string]any, len(raw))
	for k, v := range raw {
		values[k] = v.Value
	}
	return values, nil
}

// diffLineRE matches the lines of a human-readable plan that describe a change: resource
// headers ("# karpenter_provisioner.default will be updated in-place", "... has changed"),
// attribute changes ("~ ttl_seconds_after_empty = 30 -> 60"), additions and removals, and the
// summary.
var diffLineRE = regexp.MustCompile(`^\s*(# \S+ (will|must|has)|[~+-] |-/\+ |\+/- |Plan: )`)

// DiffLines returns the lines of `terraform plan` output that describe changes, in order: those
// after "Objects have changed outside of Terraform" (drift) or "Terraform will perform the
// following actions" (the symbol legend before them is skipped).
func DiffLines(planOutput string) []string {
	var lines []string
	in := false
	for _, l := range strings.Split(planOutput, "\n") {
		if strings.Contains(l, "Objects have changed outside of Terraform") || strings.Contains(l, "Terraform will perform the following actions") {
			in = true
			continue
		}
		if strings.Contains(l, "Resource actions are indicated with the following symbols") {
			in = false // the symbol legend
			continue
		}
		if in && diffLineRE.MatchString(l) || strings.HasPrefix(l, "Plan: ") {
			lines = append(lines, strings.TrimRight(l, " "))
		}
	}
	return lines
}

// PrepareWorkdir copies examples/<example> and modules/ from repoRoot into dir, keeping their
// relative layout so that the example's `source = "../../modules/..."` resolves, writes the
// exact-version override into the example, and returns the example's directory in the copy.
func PrepareWorkdir(repoRoot, example, dir, version string) (string, error) {
	if err := copyTree(filepath.Join(repoRoot, "modules"), filepath.Join(dir, "modules")); err != nil {
		return "", err
	}
	work := filepath.Join(dir, "examples", example)
	if err := copyTree(filepath.Join(repoRoot, "examples", example), work); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(work, "provider_version_override.tf"), []byte(VersionOverride(version)), 0o644); err != nil {
		return "", err
	}
	return work, nil
}
