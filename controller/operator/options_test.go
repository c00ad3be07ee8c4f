package operator

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func load(t *testing.T, args []string, env map[string]string) (*Options, error) {
	t.Helper()
	o := &Options{}
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if err := o.Load(fs, func(k string) string { return env[k] }); err != nil {
		return o, err
	}
	return o, o.Validate()
}

func TestOptionsDefaultsAndEnv(t *testing.T) {
	o, err := load(t, []string{"--batch-idle-duration=2s"}, map[string]string{
		"CLUSTER_NAME": "demo", "AWS_REGION": "us-east-1", "BATCH_IDLE_DURATION": "5s", "BATCH_MAX_DURATION": "20s",
		"LEADER_ELECT": "false", "POD_NAMESPACE": "kube-system", "CLUSTER_ENDPOINT": "https://127.0.0.1:6443",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.ClusterName != "demo" || o.AWSRegion != "us-east-1" || o.ClusterEndpoint != "https://127.0.0.1:6443" {
		t.Errorf("env not applied: %+v", o)
	}
	if o.BatchIdleDuration != 2*time.Second {
		t.Errorf("flag should win over env: batch idle = %s", o.BatchIdleDuration)
	}
	if o.BatchMaxDuration != 20*time.Second || o.LeaderElect || o.LeaderElectionNS != "kube-system" {
		t.Errorf("options = %+v", o)
	}
	if o.MetricsPort != 8080 || o.HealthProbePort != 8081 || o.LogLevel != "info" {
		t.Errorf("defaults = %+v", o)
	}
	if o.addr(o.MetricsPort) != ":8080" || o.addr(0) != "0" {
		t.Errorf("addr = %q, %q", o.addr(o.MetricsPort), o.addr(0))
	}
	if o.PricingRefreshInterval != 12*time.Hour {
		t.Errorf("default pricing refresh interval = %s, want 12h", o.PricingRefreshInterval)
	}
	if o.EnableProfiling || o.profilingHandlers() != nil {
		t.Errorf("profiling is on by default")
	}
	o.EnableProfiling = true
	if h := o.profilingHandlers(); h["/debug/pprof/profile"] == nil || h["/debug/pprof/"] == nil {
		t.Errorf("profiling handlers = %v", h)
	}
	o, err = load(t, nil, map[string]string{"CLUSTER_NAME": "demo", "AWS_REGION": "us-east-1", "PRICING_REFRESH_INTERVAL": "1h30m"})
	if err != nil || o.PricingRefreshInterval != 90*time.Minute {
		t.Errorf("PRICING_REFRESH_INTERVAL: %s, err %v", o.PricingRefreshInterval, err)
	}
	if err != nil || o.LeaderElectionNS != "karpenter" || !o.LeaderElect {
		t.Errorf("default leader election = %v in %q, err %v", o.LeaderElect, o.LeaderElectionNS, err)
	}
}

func TestOptionsNodeRepairAndDefaultTags(t *testing.T) {
	o, err := load(t, nil, map[string]string{"CLUSTER_NAME": "demo", "AWS_REGION": "us-east-1"})
	if err != nil || o.NotReadyTimeout != 30*time.Minute {
		t.Errorf("default not-ready timeout = %s, want 30m, err %v", o.NotReadyTimeout, err)
	}
	o, err = load(t, nil, map[string]string{"CLUSTER_NAME": "demo", "AWS_REGION": "us-east-1", "NOT_READY_TIMEOUT": "0s"})
	if err != nil || o.NotReadyTimeout != 0 {
		t.Errorf("NOT_READY_TIMEOUT=0s (node repair off): %s, err %v", o.NotReadyTimeout, err)
	}
	o, err = load(t, nil, map[string]string{"CLUSTER_NAME": "demo", "AWS_REGION": "us-east-1", "DEFAULT_TAGS": `{"team":"platform","a,b":"c=d"}`})
	if err != nil || len(o.DefaultTags) != 2 || o.DefaultTags["team"] != "platform" || o.DefaultTags["a,b"] != "c=d" {
		t.Errorf("DEFAULT_TAGS: %v, err %v", o.DefaultTags, err)
	}
}

func TestOptionsErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
		want []string
	}{
		"missing":   {nil, nil, []string{"--cluster-name (CLUSTER_NAME) is required", "--aws-region (AWS_REGION) is required"}},
		"bad env":   {nil, map[string]string{"METRICS_PORT": "abc"}, []string{`METRICS_PORT="abc" (for --metrics-port)`}},
		"bad level": {[]string{"--cluster-name=a", "--aws-region=r", "--log-level=loud"}, nil, []string{"--log-level (LOG_LEVEL)"}},
		"endpoint":  {[]string{"--cluster-name=a", "--aws-region=r", "--cluster-endpoint=http://x"}, nil, []string{"not an https URL"}},
		"batch":     {[]string{"--cluster-name=a", "--aws-region=r", "--batch-idle-duration=5s", "--batch-max-duration=1s"}, nil, []string{"--batch-max-duration"}},
		"grace":     {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DISAGREEMENT_GRACE": "0s"}, []string{"--disagreement-grace (DISAGREEMENT_GRACE): 0s must be positive"}},
		"ports":     {[]string{"--cluster-name=a", "--aws-region=r", "--metrics-port=70000", "--health-probe-port=-1"}, nil, []string{"--metrics-port (METRICS_PORT): 70000", "--health-probe-port (HEALTH_PROBE_PORT): -1"}},
		"pricing":   {[]string{"--cluster-name=a", "--aws-region=r", "--pricing-refresh-interval=10s"}, nil, []string{"--pricing-refresh-interval (PRICING_REFRESH_INTERVAL): 10s must be at least 1m"}},
		"notready":  {[]string{"--cluster-name=a", "--aws-region=r", "--not-ready-timeout=-1s"}, nil, []string{"--not-ready-timeout (NOT_READY_TIMEOUT): -1s must not be negative (0 turns node repair off)"}},
		"ltgc":      {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"LAUNCH_TEMPLATE_GC_GRACE": "1s"}, []string{"--launch-template-gc-grace (LAUNCH_TEMPLATE_GC_GRACE): 1s must be at least 10s"}},
		"tags json": {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": "team=platform"}, []string{`DEFAULT_TAGS="team=platform" (for --default-tags)`, "not a JSON object"}},
		"tags aws":  {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": `{"AWS:x":"1"}`}, []string{`tag key "AWS:x": the aws: prefix of tag keys is reserved`}},
		"tags reserved": {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": `{"karpenter.sh/managed-by":"me"}`},
			[]string{`tag key "karpenter.sh/managed-by": reserved tag key`}},
		"tags cluster": {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": `{"kubernetes.io/cluster/x":"owned"}`},
			[]string{`tag key "kubernetes.io/cluster/x": reserved tag key`}},
		"tags many": {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": manyTags(51)}, []string{"51 tags: at most 50"}},
		"tags long": {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": `{"k":"` + strings.Repeat("v", 257) + `"}`}, []string{`tag "k": value longer than 256`}},
		"tags num":  {[]string{"--cluster-name=a", "--aws-region=r"}, map[string]string{"DEFAULT_TAGS": `{"k":1}`}, []string{"not a JSON object of string values"}},
		"profiling": {[]string{"--cluster-name=a", "--aws-region=r", "--metrics-port=0"}, map[string]string{"ENABLE_PROFILING": "true"}, []string{"--enable-profiling (ENABLE_PROFILING)"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, tc.args, tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// manyTags is a JSON object of n distinct tags.
func manyTags(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf("%q:\"v\"", fmt.Sprintf("k%d", i))
	}
	return "{" + strings.Join(parts, ",") + "}"
}
