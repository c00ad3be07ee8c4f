// Package operator is the `controller` command: settings (options.go), the controller-runtime
// manager with leader election, metrics, health probes and a zap logger, and the wiring of the
// AWS cloud provider and every controller (controller.NewControllers).
package operator

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/config"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/nodeform/terraform-provider-karpenter/controller"
	karpv1 "github.com/nodeform/terraform-provider-karpenter/controller/apis/v1"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	_ "github.com/nodeform/terraform-provider-karpenter/controller/metrics" // registers the metrics
	"github.com/nodeform/terraform-provider-karpenter/controller/webhook"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// LeaderElectionID names the Lease the replicas compete for.
const LeaderElectionID = "karpenter-leader-election"

// NewCommand returns the `controller` subcommand. Missing or invalid settings make it exit
// non-zero with a message naming each flag and environment variable.
func NewCommand() *cobra.Command {
	opts := &Options{}
	cmd := &cobra.Command{
		Use:   "controller",
		Short: "run the autoscaler controller (provisioning, deprovisioning, termination, garbage collection)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.Load(cmd.Flags(), os.Getenv); err != nil {
				return err
			}
			if err := opts.Validate(); err != nil {
				return fmt.Errorf("invalid settings:\n%w", err)
			}
			return Run(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// Scheme returns the scheme of the manager: client-go types and karpenter.sh/v1alpha5.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha5.AddToScheme(s))
	utilruntime.Must(karpv1.AddToScheme(s))
	return s
}

// restConfig honours --kubeconfig, else controller-runtime's rules (KUBECONFIG, in-cluster,
// ~/.kube/config).
func restConfig(o *Options) (*rest.Config, error) {
	var cfg *rest.Config
	var err error
	if o.Kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	} else {
		cfg, err = config.GetConfig()
	}
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = float32(o.KubeClientQPS), o.KubeClientBurst
	return cfg, nil
}

// profilingHandlers returns Go's pprof handlers under /debug/pprof/ (net/http/pprof) when
// profiling is enabled, else nil.
func (o *Options) profilingHandlers() map[string]http.Handler {
	if !o.EnableProfiling {
		return nil
	}
	return map[string]http.Handler{
		"/debug/pprof/":        http.HandlerFunc(pprof.Index),
		"/debug/pprof/cmdline": http.HandlerFunc(pprof.Cmdline),
		"/debug/pprof/profile": http.HandlerFunc(pprof.Profile),
		"/debug/pprof/symbol":  http.HandlerFunc(pprof.Symbol),
		"/debug/pprof/trace":   http.HandlerFunc(pprof.Trace),
	}
}

// webhook returns the Provisioner webhook's certificate keeper and server when the webhook is
// enabled (webhookEnabled); nil, nil otherwise. Errors: creating the Kubernetes client.
func (o *Options) webhook(cfg *rest.Config, scheme *runtime.Scheme) (*webhook.Certificates, ctrlwebhook.Server, error) {
	if !o.webhookEnabled() {
		return nil, nil, nil
	}
	// Uncached: the Secret and the configuration are read by name (the controller may not
	// list Secrets or webhook configurations).
	direct, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, nil, fmt.Errorf("creating the webhook's client: %w", err)
	}
	certs := &webhook.Certificates{Client: direct, Namespace: o.LeaderElectionNS, Service: o.WebhookService,
		SecretName: o.WebhookService + "-cert", Configuration: o.WebhookConfiguration}
	srv := ctrlwebhook.NewServer(ctrlwebhook.Options{Host: o.BindAddress, Port: o.WebhookPort,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) { c.GetCertificate = certs.GetCertificate }}})
	srv.Register(webhook.ProvisionerPath, webhook.NewProvisionerValidator(scheme))
	return certs, srv, nil
}

// Run starts the manager and blocks until ctx ends or a component fails. Errors: Kubernetes
// or AWS configuration, manager start.
func Run(ctx context.Context, o *Options) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	level, err := o.ZapLevel()
	if err != nil {
		return err
	}
	// Timestamps to the millisecond: batch and launch timings are read from these lines.
	logger := zap.New(zap.Level(level), func(zo *zap.Options) {
		zo.TimeEncoder = zapcore.TimeEncoderOfLayout("2006-01-02T15:04:05.000Z07:00")
	})
	log.SetLogger(logger)
	ctx = log.IntoContext(ctx, logger)
	logger.Info("starting controller", "version", version.Version, "clusterName", o.ClusterName, "region", o.AWSRegion,
		"leaderElect", o.LeaderElect, "leaderElectionNamespace", o.LeaderElectionNS,
		"batchIdleDuration", o.BatchIdleDuration.String(), "batchMaxDuration", o.BatchMaxDuration.String())

	cfg, err := restConfig(o)
	if err != nil {
		return fmt.Errorf("loading Kubernetes client configuration: %w", err)
	}
	scheme := Scheme()
	certs, webhookServer, err := o.webhook(cfg, scheme)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		WebhookServer:           webhookServer,
		Logger:                  logger,
		Metrics:                 metricsserver.Options{BindAddress: o.addr(o.MetricsPort), ExtraHandlers: o.profilingHandlers()},
		HealthProbeBindAddress:  o.addr(o.HealthProbePort),
		LeaderElection:          o.LeaderElect,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: o.LeaderElectionNS,
		// Release the lease on shutdown so a new replica takes over at once.
		LeaderElectionReleaseOnCancel: true,
		// Controller names are process-global in controller-runtime; tests run Run more than
		// once in one process.
		Controller: ctrlconfig.Controller{SkipNameValidation: ptr.To(o.inProcessRerun)},
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding healthz check: %w", err)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return fmt.Errorf("adding readyz check: %w", err)
	}
	if certs != nil {
		// Every replica keeps the certificate and serves the webhook (no leader election); a
		// replica is ready once its webhook answers TLS with the certificate.
		if err := mgr.Add(certs); err != nil {
			return fmt.Errorf("adding the webhook certificates: %w", err)
		}
		// GetWebhookServer adds the server to the manager's runnables.
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return fmt.Errorf("adding the webhook readyz check: %w", err)
		}
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating discovery client: %w", err)
	}
	awsCfg, err := awscloud.LoadAWSConfig(ctx, o.AWSRegion)
	if err != nil {
		return fmt.Errorf("loading AWS configuration: %w", err)
	}
	clk := clock.RealClock{}
	recorder := mgr.GetEventRecorderFor("karpenter") //nolint:staticcheck // provisioning takes record.EventRecorder
	cloud, err := awscloud.New(awscloud.Options{
		ClusterName:            o.ClusterName,
		ClusterEndpoint:        o.ClusterEndpoint,
		DefaultInstanceProfile: o.DefaultInstanceProfile,
		Region:                 o.AWSRegion,
		PricingRefreshInterval: o.PricingRefreshInterval,
		LaunchTemplateGCGrace:  o.LaunchTemplateGCGrace,
		DefaultTags:            o.DefaultTags,
	}, awscloud.NewClients(awsCfg, disc, recorder), clk)
	if err != nil {
		return fmt.Errorf("creating AWS cloud provider: %w", err)
	}
	controllers := controller.NewControllers(mgr.GetClient(), cloud, clk, recorder,
		controller.Options{BatchIdleDuration: o.BatchIdleDuration, BatchMaxDuration: o.BatchMaxDuration, DisagreementGrace: o.DisagreementGrace,
			RegistrationTimeout: o.RegistrationTimeout, NotReadyTimeout: o.NotReadyTimeout})
	if err := controller.Register(ctx, mgr, controllers); err != nil {
		return err
	}
	// Instance types, offerings and spot prices are read ahead of the batches that need them.
	if err := mgr.Add(manager.RunnableFunc(cloud.RefreshCaches)); err != nil {
		return fmt.Errorf("adding the cloud provider's cache refresh: %w", err)
	}
	// On-demand prices from the Price List API, the built-in table until it answers.
	if err := mgr.Add(manager.RunnableFunc(cloud.RefreshPrices)); err != nil {
		return fmt.Errorf("adding the on-demand price refresh: %w", err)
	}
	// Launch templates the controller created and nothing uses any more, on the leader only.
	if err := mgr.Add(manager.RunnableFunc(cloud.CollectLaunchTemplates)); err != nil {
		return fmt.Errorf("adding the launch template garbage collection: %w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running manager: %w", err)
	}
	return nil
}
