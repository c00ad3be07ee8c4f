package operator

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	"github.com/nodeform/terraform-provider-karpenter/controller/deprovisioning"
	"github.com/nodeform/terraform-provider-karpenter/controller/provisioning"
	"github.com/nodeform/terraform-provider-karpenter/controller/webhook"
)

// Options are every setting of the controller, read from flags with environment fallbacks
// (a flag given on the command line wins over its environment variable).
type Options struct {
	// inProcessRerun lets tests run the controller again in one process (it skips
	// controller-runtime's process-wide controller name check); no flag sets it.
	inProcessRerun bool

	ClusterName            string        // --cluster-name / CLUSTER_NAME (required)
	ClusterEndpoint        string        // --cluster-endpoint / CLUSTER_ENDPOINT (https URL; default: EKS DescribeCluster)
	DefaultInstanceProfile string        // --default-instance-profile / AWS_DEFAULT_INSTANCE_PROFILE
	AWSRegion              string        // --aws-region / AWS_REGION (required)
	LogLevel               string        // --log-level / LOG_LEVEL: debug, info, warn, error
	BatchIdleDuration      time.Duration // --batch-idle-duration / BATCH_IDLE_DURATION (1s)
	BatchMaxDuration       time.Duration // --batch-max-duration / BATCH_MAX_DURATION (10s)
	DisagreementGrace      time.Duration // --disagreement-grace / DISAGREEMENT_GRACE (30s)
	RegistrationTimeout    time.Duration // --registration-timeout / REGISTRATION_TIMEOUT (15m)
	NotReadyTimeout        time.Duration // --not-ready-timeout / NOT_READY_TIMEOUT (30m; 0 turns node repair off)
	MetricsPort            int           // --metrics-port / METRICS_PORT (8080; 0 disables)
	HealthProbePort        int           // --health-probe-port / HEALTH_PROBE_PORT (8081; 0 disables)
	BindAddress            string        // --bind-address / BIND_ADDRESS: host of the metrics, health and webhook servers ("" = all interfaces)
	WebhookPort            int           // --webhook-port / WEBHOOK_PORT (8443; 0 disables the webhook)
	WebhookService         string        // --webhook-service / WEBHOOK_SERVICE: the Service in front of the webhook, in POD_NAMESPACE (karpenter)
	WebhookConfiguration   string        // --webhook-configuration / WEBHOOK_CONFIGURATION: the ValidatingWebhookConfiguration whose caBundle the controller keeps ("" disables the webhook)
	LeaderElect            bool          // --leader-elect / LEADER_ELECT (true)
	LeaderElectionNS       string        // POD_NAMESPACE, default "karpenter"
	Kubeconfig             string        // --kubeconfig / KUBECONFIG (default: in-cluster or ~/.kube/config)
	KubeClientQPS          int           // --kube-client-qps / KUBE_CLIENT_QPS (200 requests/second)
	KubeClientBurst        int           // --kube-client-burst / KUBE_CLIENT_BURST (300 requests)
	EnableProfiling        bool          // --enable-profiling / ENABLE_PROFILING (false): /debug/pprof/ on the metrics server
	PricingRefreshInterval time.Duration // --pricing-refresh-interval / PRICING_REFRESH_INTERVAL (12h)
	LaunchTemplateGCGrace  time.Duration // --launch-template-gc-grace / LAUNCH_TEMPLATE_GC_GRACE (10m)
	DefaultTags            tagsFlag      // --default-tags / DEFAULT_TAGS: JSON object of tags on everything launched
}

// envOf maps each flag to its environment variable.
var envOf = map[string]string{
	"cluster-name":             "CLUSTER_NAME",
	"cluster-endpoint":         "CLUSTER_ENDPOINT",
	"default-instance-profile": "AWS_DEFAULT_INSTANCE_PROFILE",
	"aws-region":               "AWS_REGION",
	"log-level":                "LOG_LEVEL",
	"batch-idle-duration":      "BATCH_IDLE_DURATION",
	"batch-max-duration":       "BATCH_MAX_DURATION",
	"disagreement-grace":       "DISAGREEMENT_GRACE",
	"registration-timeout":     "REGISTRATION_TIMEOUT",
	"not-ready-timeout":        "NOT_READY_TIMEOUT",
	"metrics-port":             "METRICS_PORT",
	"health-probe-port":        "HEALTH_PROBE_PORT",
	"bind-address":             "BIND_ADDRESS",
	"webhook-port":             "WEBHOOK_PORT",
	"webhook-service":          "WEBHOOK_SERVICE",
	"webhook-configuration":    "WEBHOOK_CONFIGURATION",
	"leader-elect":             "LEADER_ELECT",
	"kubeconfig":               "KUBECONFIG",
	"kube-client-qps":          "KUBE_CLIENT_QPS",
	"kube-client-burst":        "KUBE_CLIENT_BURST",
	"enable-profiling":         "ENABLE_PROFILING",
	"pricing-refresh-interval": "PRICING_REFRESH_INTERVAL",
	"launch-template-gc-grace": "LAUNCH_TEMPLATE_GC_GRACE",
	"default-tags":             "DEFAULT_TAGS",
}

// AddFlags registers the flags on fs with their defaults.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.ClusterName, "cluster-name", "", "name of the cluster: tags launched instances and names it in node user data (env CLUSTER_NAME; required)")
	fs.StringVar(&o.ClusterEndpoint, "cluster-endpoint", "", "API server URL nodes join; default from EKS DescribeCluster (env CLUSTER_ENDPOINT)")
	fs.StringVar(&o.DefaultInstanceProfile, "default-instance-profile", "", "IAM instance profile of nodes whose provisioner sets none (env AWS_DEFAULT_INSTANCE_PROFILE)")
	fs.StringVar(&o.AWSRegion, "aws-region", "", "AWS region (env AWS_REGION; required)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "log level: debug, info, warn or error (env LOG_LEVEL)")
	fs.DurationVar(&o.BatchIdleDuration, "batch-idle-duration", time.Second, "close a provisioning batch after this long without new pending pods, or at the end of such an interval (not the first) that brought no more of them than the one before (env BATCH_IDLE_DURATION)")
	fs.DurationVar(&o.BatchMaxDuration, "batch-max-duration", 10*time.Second, "close a provisioning batch this long after it opened (env BATCH_MAX_DURATION)")
	fs.DurationVar(&o.RegistrationTimeout, "registration-timeout", provisioning.DefaultRegistrationTimeout, "how long a NodeClaim may go without its Node registering before the claim is deleted and its instance terminated (env REGISTRATION_TIMEOUT)")
	fs.DurationVar(&o.NotReadyTimeout, "not-ready-timeout", deprovisioning.DefaultNotReadyTimeout, "node repair: delete a node of a provisioner that has not been Ready (Ready False or Unknown: a dead kubelet, a hung instance) for this long, deleting its pods without waiting for them and terminating its instance; skipped while more than 20% of the provisioner's nodes are not Ready; 0 turns it off (env NOT_READY_TIMEOUT)")
	fs.DurationVar(&o.DisagreementGrace, "disagreement-grace", 30*time.Second, "how long kube-scheduler may take to bind a pod to the Ready node planned for it before the controller excludes that node for the pod and backs its launches off; while kube-scheduler keeps binding other pending pods (a backlog) the judgement waits until 10s after the last such bind, at most 5m past this grace (env DISAGREEMENT_GRACE)")
	fs.IntVar(&o.MetricsPort, "metrics-port", 8080, "port of the Prometheus /metrics endpoint; 0 disables it (env METRICS_PORT)")
	fs.IntVar(&o.HealthProbePort, "health-probe-port", 8081, "port of /healthz and /readyz; 0 disables it (env HEALTH_PROBE_PORT)")
	fs.StringVar(&o.BindAddress, "bind-address", "", "host the metrics, health and webhook servers listen on; empty means all interfaces (env BIND_ADDRESS)")
	fs.IntVar(&o.WebhookPort, "webhook-port", webhook.DefaultPort, "port of the Provisioner validating webhook (HTTPS); 0 disables the webhook (env WEBHOOK_PORT)")
	fs.StringVar(&o.WebhookService, "webhook-service", "karpenter", "the Service in front of the webhook, in the pod's namespace: the serving certificate is issued for <service>.<namespace>.svc and kept in the Secret <service>-cert (env WEBHOOK_SERVICE)")
	fs.StringVar(&o.WebhookConfiguration, "webhook-configuration", "", "the ValidatingWebhookConfiguration whose caBundle the controller keeps; empty disables the webhook (env WEBHOOK_CONFIGURATION)")
	fs.BoolVar(&o.LeaderElect, "leader-elect", true, "elect a leader through a Lease in the pod's namespace (POD_NAMESPACE, default karpenter) (env LEADER_ELECT)")
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig file; default in-cluster config or ~/.kube/config (env KUBECONFIG)")
	// Defaults as Karpenter's: a provisioning batch patches and reports on hundreds of pods and
	// nodes; client-go's own default of 5 requests/second would throttle it.
	fs.IntVar(&o.KubeClientQPS, "kube-client-qps", 200, "client-side limit of Kubernetes API requests per second (env KUBE_CLIENT_QPS)")
	fs.IntVar(&o.KubeClientBurst, "kube-client-burst", 300, "client-side burst of Kubernetes API requests (env KUBE_CLIENT_BURST)")
	fs.BoolVar(&o.EnableProfiling, "enable-profiling", false, "serve Go's pprof profiles under /debug/pprof/ on the metrics port (env ENABLE_PROFILING)")
	fs.DurationVar(&o.LaunchTemplateGCGrace, "launch-template-gc-grace", awscloud.DefaultLaunchTemplateGCGrace, "delete a launch template the controller created once it is this old, unused by the controller for this long and by no pending or running instance (env LAUNCH_TEMPLATE_GC_GRACE)")
	fs.Var(&o.DefaultTags, "default-tags", `tags of every launch template, instance, volume, network interface and fleet the controller creates, as a JSON object ({"team":"platform"}); a Name given here replaces the default Name (karpenter.sh/provisioner-name/<provisioner>); a Provisioner's provider.tags and the controller's karpenter.sh/* tags win on a shared key; at most 50 tags, keys as a Provisioner's provider.tags (env DEFAULT_TAGS)`)
	fs.DurationVar(&o.PricingRefreshInterval, "pricing-refresh-interval", awscloud.DefaultPricingRefreshInterval, "how often on-demand prices are re-read from the AWS Price List API (pricing:GetProducts); the built-in table serves until it first answers (env PRICING_REFRESH_INTERVAL)")
}

// Load applies environment variables (getenv, usually os.Getenv) to every flag not given on
// the command line, and reads POD_NAMESPACE. Errors name the variable and the flag.
func (o *Options) Load(fs *pflag.FlagSet, getenv func(string) string) error {
	var errs []error
	fs.VisitAll(func(f *pflag.Flag) {
		env, ok := envOf[f.Name]
		if !ok || f.Changed {
			return
		}
		v := getenv(env)
		if v == "" {
			return
		}
		if env == "KUBECONFIG" && strings.Contains(v, string(os.PathListSeparator)) {
			// A KUBECONFIG list is left to client-go's loading rules.
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q (for --%s): %w", env, v, f.Name, err))
		}
	})
	o.LeaderElectionNS = getenv("POD_NAMESPACE")
	if o.LeaderElectionNS == "" {
		o.LeaderElectionNS = "karpenter"
	}
	return errors.Join(errs...)
}

// Validate returns every invalid or missing setting, each naming its flag and variable.
func (o *Options) Validate() error {
	var errs []error
	if o.ClusterName == "" {
		errs = append(errs, errors.New("--cluster-name (CLUSTER_NAME) is required"))
	}
	if o.AWSRegion == "" {
		errs = append(errs, errors.New("--aws-region (AWS_REGION) is required"))
	}
	if o.ClusterEndpoint != "" {
		if u, err := url.Parse(o.ClusterEndpoint); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, fmt.Errorf("--cluster-endpoint (CLUSTER_ENDPOINT): %q is not an https URL", o.ClusterEndpoint))
		}
	}
	if _, err := o.ZapLevel(); err != nil {
		errs = append(errs, err)
	}
	if o.BatchIdleDuration <= 0 {
		errs = append(errs, fmt.Errorf("--batch-idle-duration (BATCH_IDLE_DURATION): %s must be positive", o.BatchIdleDuration))
	}
	if o.RegistrationTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--registration-timeout (REGISTRATION_TIMEOUT): %s must be positive", o.RegistrationTimeout))
	}
	if o.NotReadyTimeout < 0 {
		errs = append(errs, fmt.Errorf("--not-ready-timeout (NOT_READY_TIMEOUT): %s must not be negative (0 turns node repair off)", o.NotReadyTimeout))
	}
	if o.DisagreementGrace <= 0 {
		errs = append(errs, fmt.Errorf("--disagreement-grace (DISAGREEMENT_GRACE): %s must be positive", o.DisagreementGrace))
	}
	if o.BatchMaxDuration < o.BatchIdleDuration {
		errs = append(errs, fmt.Errorf("--batch-max-duration (BATCH_MAX_DURATION): %s must be at least --batch-idle-duration %s", o.BatchMaxDuration, o.BatchIdleDuration))
	}
	for _, p := range []struct {
		flag, env string
		v         int
	}{{"metrics-port", "METRICS_PORT", o.MetricsPort}, {"health-probe-port", "HEALTH_PROBE_PORT", o.HealthProbePort}, {"webhook-port", "WEBHOOK_PORT", o.WebhookPort}} {
		if p.v < 0 || p.v > 65535 {
			errs = append(errs, fmt.Errorf("--%s (%s): %d is not a port (0-65535)", p.flag, p.env, p.v))
		}
	}
	if o.KubeClientQPS < 1 || o.KubeClientBurst < o.KubeClientQPS {
		errs = append(errs, fmt.Errorf("--kube-client-qps (KUBE_CLIENT_QPS) must be at least 1 and --kube-client-burst (KUBE_CLIENT_BURST) at least the QPS (got %d and %d)", o.KubeClientQPS, o.KubeClientBurst))
	}
	if o.PricingRefreshInterval < time.Minute {
		errs = append(errs, fmt.Errorf("--pricing-refresh-interval (PRICING_REFRESH_INTERVAL): %s must be at least 1m", o.PricingRefreshInterval))
	}
	if o.LaunchTemplateGCGrace < 10*time.Second {
		errs = append(errs, fmt.Errorf("--launch-template-gc-grace (LAUNCH_TEMPLATE_GC_GRACE): %s must be at least 10s", o.LaunchTemplateGCGrace))
	}
	if o.EnableProfiling && o.MetricsPort == 0 {
		errs = append(errs, errors.New("--enable-profiling (ENABLE_PROFILING) serves on the metrics port, which --metrics-port (METRICS_PORT) 0 disables"))
	}
	if o.MetricsPort != 0 && o.MetricsPort == o.HealthProbePort {
		errs = append(errs, fmt.Errorf("--metrics-port and --health-probe-port must differ (both %d)", o.MetricsPort))
	}
	if o.webhookEnabled() {
		if o.WebhookPort == o.MetricsPort || o.WebhookPort == o.HealthProbePort {
			errs = append(errs, fmt.Errorf("--webhook-port (WEBHOOK_PORT) %d must differ from --metrics-port and --health-probe-port", o.WebhookPort))
		}
		if msgs := validation.IsDNS1035Label(o.WebhookService); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--webhook-service (WEBHOOK_SERVICE): %q is not a Service name: %s", o.WebhookService, strings.Join(msgs, "; ")))
		}
	}
	return errors.Join(errs...)
}

// ZapLevel parses LogLevel. Errors: unknown level.
func (o *Options) ZapLevel() (zapcore.Level, error) {
	l, err := zapcore.ParseLevel(o.LogLevel)
	if err != nil {
		return 0, fmt.Errorf("--log-level (LOG_LEVEL): %q is not debug, info, warn or error", o.LogLevel)
	}
	return l, nil
}

// webhookEnabled: the webhook is served when it has a port and a configuration to keep.
func (o *Options) webhookEnabled() bool { return o.WebhookPort != 0 && o.WebhookConfiguration != "" }

// addr returns host:port for a server, or "0" (disabled) for port 0.
func (o *Options) addr(port int) string {
	if port == 0 {
		return "0"
	}
	return fmt.Sprintf("%s:%d", o.BindAddress, port)
}

// SettingFlags returns a flag set holding every controller flag with its default, for callers
// that check settings before the controller runs (the provider validates a
// karpenter_controller's `settings` against it at plan time). Set on it parses a value as the
// controller would.
func SettingFlags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("controller", pflag.ContinueOnError)
	(&Options{}).AddFlags(fs)
	return fs
}

// tagsFlag is a pflag.Value holding tags given as a JSON object of strings. Errors: input
// that is not such an object, more than v1alpha5.MaxTags tags, a key v1alpha5.ValidateTagKey
// refuses (empty or longer than 128 characters, starting with "aws:", or a tag the
// controller sets itself: karpenter.sh/cluster, karpenter.sh/managed-by,
// karpenter.sh/nodeclaim, karpenter.sh/provisioner-name, kubernetes.io/cluster/*) or a value
// longer than v1alpha5.MaxTagValueLength (256) characters, as a Provisioner's provider.tags
// (EC2's limits and reserved prefix: EC2 User Guide, "Tag restrictions").
type tagsFlag map[string]string

func (t *tagsFlag) String() string {
	if len(*t) == 0 {
		return ""
	}
	b, _ := json.Marshal(map[string]string(*t))
	return string(b)
}

func (t *tagsFlag) Set(v string) error {
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return fmt.Errorf("not a JSON object of string values: %w", err)
	}
	if len(m) > v1alpha5.MaxTags {
		return fmt.Errorf("%d tags: at most %d are allowed (EC2's limit)", len(m), v1alpha5.MaxTags)
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if errs := v1alpha5.ValidateTagKey(k); len(errs) > 0 {
			return fmt.Errorf("tag key %q: %s", k, strings.Join(errs, "; "))
		}
		if utf8.RuneCountInString(m[k]) > v1alpha5.MaxTagValueLength {
			return fmt.Errorf("tag %q: value longer than %d characters", k, v1alpha5.MaxTagValueLength)
		}
	}
	*t = m
	return nil
}

func (t *tagsFlag) Type() string { return "json" }
