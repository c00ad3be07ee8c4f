package simulate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/simulate"
)

// The built binary (KARPENTER_BIN, set by `make test`) on the tutorial's manifests: the inflate
// Deployment as shipped (0 replicas) needs nothing; scaled to 5 it gets spot nodes of the
// tutorial's Provisioner.
func TestBinaryOnTheQuickstartManifests(t *testing.T) {
	bin := os.Getenv("KARPENTER_BIN")
	if bin == "" {
		t.Skip("KARPENTER_BIN is not set (make test sets it to the built binary)")
	}
	manifests := filepath.Join("..", "examples", "quickstart", "manifests")
	inflate, err := os.ReadFile(filepath.Join(manifests, "inflate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	simulateBin := func(args ...string) (*simulate.Plan, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		cmd := exec.Command(bin, append([]string{"simulate"}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("simulate %v: %v\n%s", args, err, errOut.String())
		}
		if !strings.Contains(strings.Join(args, " "), "-o json") {
			return nil, out.String()
		}
		var p simulate.Plan
		if err := json.Unmarshal(out.Bytes(), &p); err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out.String())
		}
		return &p, out.String()
	}

	p, _ := simulateBin("-f", manifests, "-o", "json")
	if p.Summary.Pods != 0 || p.Summary.NewNodes != 0 {
		t.Fatalf("the shipped inflate (0 replicas): %+v", p.Summary)
	}

	scaled := strings.Replace(string(inflate), "replicas: 0", "replicas: 5", 1)
	if scaled == string(inflate) {
		t.Fatal("inflate.yaml no longer says replicas: 0")
	}
	workload := write(t, "inflate.yaml", scaled)
	provisioner := filepath.Join(manifests, "provisioner.yaml")
	p, _ = simulateBin("-f", workload, "-f", provisioner, "-o", "json")
	if p.Summary.Pods != 5 || p.Summary.PlacedOnNewNodes != 5 || p.Summary.NewNodes == 0 || p.Summary.USDPerHour <= 0 {
		t.Fatalf("inflate x5: %+v", p.Summary)
	}
	if p.Summary.LowerBoundUSDPerHour <= 0 || p.Summary.LowerBoundUSDPerHour > p.Summary.USDPerHour {
		t.Fatalf("lower bound %v against total %v", p.Summary.LowerBoundUSDPerHour, p.Summary.USDPerHour)
	}
	for _, g := range p.NewNodes {
		if g.Provisioner != "default" || g.CapacityType != v1alpha5.CapacityTypeSpot || g.Requests.CPUMillicores != int64(1000*len(g.Pods)) {
			t.Errorf("node group %+v: want the default provisioner's spot nodes with 1 CPU per pod", g)
		}
	}
	_, table := simulateBin("-f", workload, "-f", provisioner)
	if !strings.Contains(table, "Deployment default/inflate x5") || !strings.Contains(table, "spot") {
		t.Fatalf("table:\n%s", table)
	}

	// --fail-on-unschedulable: 0 when every pod is placed; 3 after the plan when one is not
	// (one asks for more cpu than any type has).
	simulateBin("-f", workload, "-f", provisioner, "--fail-on-unschedulable")
	huge := write(t, "huge.yaml", strings.Replace(scaled, "cpu: 1", "cpu: 1000", 1))
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "simulate", "-f", huge, "-f", provisioner, "--fail-on-unschedulable")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != simulate.UnschedulableExitCode || !strings.Contains(out.String(), "UNSCHEDULABLE PODS") ||
		!strings.Contains(errOut.String(), "error: 5 pods cannot be placed (--fail-on-unschedulable)") {
		t.Fatalf("--fail-on-unschedulable with 5 pods too large: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
}
