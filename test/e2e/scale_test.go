package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// TestScale runs the scale scenario (1000 pods: 500 x 0.9 CPU / 3100Mi and 500 x 3.5 CPU / 28Gi,
// boot delay 0) when KARPENTER_SCALE=1, and prints the report. It fails when the pods do not all
// run within 20 minutes.
//
//	KARPENTER_SCALE=1 KARPENTER_BIN=$PWD/bin/terraform-provider-karpenter go test -run TestScale -v -timeout 40m ./test/e2e/
func TestScale(t *testing.T) {
	if os.Getenv("KARPENTER_SCALE") != "1" {
		t.Skip("set KARPENTER_SCALE=1 to run the 1000-pod scale scenario")
	}
	bin := requireBin(t)
	rep := runScale(t, bin)
	var out strings.Builder
	rep.Write(&out)
	t.Log(out.String())
}

// BenchmarkScale is the scale scenario as a benchmark (`make bench`): it reports seconds until
// all 1000 pods run, nodes launched, their USD/hour and the scheduling disagreements recorded
// during the scale-up (when the controller's metrics could be read) as custom metrics.
func BenchmarkScale(b *testing.B) {
	bin := benchBin(b)
	for i := 0; i < b.N; i++ {
		rep := runScale(b, bin)
		rep.Write(os.Stdout)
		b.ReportMetric(rep.Seconds, "s-to-running")
		b.ReportMetric(float64(rep.Nodes), "nodes")
		b.ReportMetric(rep.TotalUSDPerHour, "usd/hour")
		if rep.Disagreements != nil {
			b.ReportMetric(float64(*rep.Disagreements), "disagreements")
		}
	}
}

// LiveLoop5kWorkloads are the live-loop benchmark's 5,000 pods: the scale scenario's mix five
// times over (2,500 pods of 0.9 CPU / 3100Mi and 2,500 of 3.5 CPU / 28Gi).
var LiveLoop5kWorkloads = []ScaleWorkload{
	{Name: "live-small", Replicas: 2500, CPU: "900m", Memory: "3100Mi"},
	{Name: "live-large", Replicas: 2500, CPU: "3500m", Memory: "28Gi"},
}

// BenchmarkLiveLoop5k is the live provisioning loop under 5,000 pending pods (`make bench`
// only: benchmarks never run under `go test` without -bench): the scale scenario with
// LiveLoop5kWorkloads. It reports the p99 of the controller's decision latency (batch close to
// last launch call, from its karpenter_provisioner_decision_duration_seconds histogram over the
// scale-up, interpolated within the bucket as histogram_quantile does), the seconds from
// scaling to every pod Running, the nodes launched, their USD/hour and the scheduling
// disagreements the controller recorded during the scale-up
// (karpenter_provisioner_scheduling_disagreements_total). Scale always stops the sandbox it
// started.
func BenchmarkLiveLoop5k(b *testing.B) {
	bin := benchBin(b)
	for i := 0; i < b.N; i++ {
		rep := runScale(b, bin, LiveLoop5kWorkloads...)
		rep.Write(os.Stdout)
		if rep.Decisions == nil || rep.Decisions.Count == 0 {
			b.Fatal("no decision latency was recorded during the scale-up")
		}
		if rep.Disagreements == nil {
			b.Fatal("the scheduling disagreements could not be read")
		}
		b.ReportMetric(rep.Decisions.Quantile(0.99), "p99-decision-s")
		b.ReportMetric(float64(rep.Decisions.Count), "decisions")
		b.ReportMetric(rep.Seconds, "s-to-running")
		b.ReportMetric(float64(rep.Nodes), "nodes")
		b.ReportMetric(rep.TotalUSDPerHour, "usd/hour")
		b.ReportMetric(float64(*rep.Disagreements), "disagreements")
	}
}

// runScale runs Scale with workloads (DefaultScaleWorkloads when none) and fails tb on error
// or when no node was launched. KARPENTER_KEEP_LOGS names a directory to keep the sandbox's
// logs and the trace in.
func runScale(tb testing.TB, bin string, workloads ...ScaleWorkload) *ScaleReport {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 35*time.Minute)
	defer cancel()
	rep, err := Scale(ctx, ScaleConfig{Bin: bin, Log: os.Stdout, Workloads: workloads, KeepLogs: os.Getenv("KARPENTER_KEEP_LOGS")})
	if rep != nil && rep.Steps != nil {
		rep.Steps.Write(os.Stdout)
	}
	if err != nil {
		tb.Fatal(err)
	}
	if rep.Nodes == 0 {
		tb.Fatal("all pods ran but no node was launched")
	}
	return rep
}

// benchBin skips a scale benchmark under -short and returns the KARPENTER_BIN binary, failing
// when it is not set.
func benchBin(b *testing.B) string {
	b.Helper()
	if testing.Short() {
		b.Skip("skipped under -short")
	}
	bin := os.Getenv("KARPENTER_BIN")
	if bin == "" {
		b.Fatal("KARPENTER_BIN is not set: it must name the built terraform-provider-karpenter binary (`make bench` sets it)")
	}
	return bin
}
