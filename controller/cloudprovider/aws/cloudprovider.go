// Package aws implements cloudprovider.CloudProvider on EC2 with aws-sdk-go-v2: instance types
// from DescribeInstanceTypes/-Offerings with live spot prices and on-demand prices from the AWS
// Price List API (a generated fallback table until it answers), subnet and security group discovery by tags, AMIs from SSM, generated launch
// templates carrying EKS AL2 bootstrap user data, launches through CreateFleet (instant), and
// List/Delete of the instances it launched. Endpoints come from the SDK configuration
// (BaseEndpoint / AWS_ENDPOINT_URL_<SERVICE>), so the same code talks to AWS and the sandbox.
package aws

import (
	"context"
	"errors"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/log"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws/pricelist"
	"github.com/nodeform/terraform-provider-karpenter/controller/metrics"
)

// Options are the operator's settings the cloud provider needs.
type Options struct {
	// ClusterName tags every instance and launch template (karpenter.sh/cluster) and names
	// the cluster in the bootstrap user data. Required.
	ClusterName string
	// ClusterEndpoint (https URL) and ClusterCABase64 (base64 PEM bundle) go into the user
	// data; when either is empty they are read from EKS DescribeCluster.
	ClusterEndpoint string
	ClusterCABase64 string
	// DefaultInstanceProfile is used when a provisioner sets no provider.instanceProfile.
	DefaultInstanceProfile string
	// Region is the AWS region (e.g. us-east-1).
	Region string
	// PricingRefreshInterval is how often on-demand prices are re-read from the Price List
	// API; 0 means DefaultPricingRefreshInterval (12 hours).
	PricingRefreshInterval time.Duration
	// LaunchTemplateGCGrace is how long a launch template the controller created must have
	// gone unused (by this process and by every pending or running instance) before
	// CollectLaunchTemplates deletes it; 0 means DefaultLaunchTemplateGCGrace.
	LaunchTemplateGCGrace time.Duration
	// DefaultTags (tag key -> value) go onto every launch template, instance, volume, network
	// interface and fleet the controller creates (v1alpha5.LaunchTags): over the default Name
	// tag (karpenter.sh/provisioner-name/<provisioner>), which a Name here replaces, and beneath
	// a Provisioner's provider.tags and the controller's own karpenter.sh/* tags, which win on a
	// shared key. The provider passes its default_tags here.
	DefaultTags map[string]string
}

// Validate returns an error naming the first missing setting.
func (o Options) Validate() error {
	if o.ClusterName == "" {
		return errors.New("cluster name is required")
	}
	if o.Region == "" {
		return errors.New("AWS region is required")
	}
	return nil
}

// Clients are the AWS and Kubernetes APIs the cloud provider calls.
type Clients struct {
	EC2 EC2API
	SSM SSMAPI
	EKS EKSAPI // may be nil when ClusterEndpoint and ClusterCABase64 are set
	// Versions reads the API server version for the AMI's SSM parameter (discovery client).
	Versions VersionAPI
	// Pricing is the AWS Price List API client (pricelist.NewClient); nil means the generated
	// fallback table only.
	Pricing pricelist.API
	// Events records Warning events on Provisioners (e.g. instance types without an on-demand
	// price); nil records none (the log lines remain).
	Events record.EventRecorder
}

// MaxAttempts is the standard retryer's attempt limit for every AWS call (the SDK's standard
// retryer retries throttling, 5xx and transient errors with exponential backoff and jitter).
const MaxAttempts = 8

// LoadAWSConfig loads the SDK's default configuration (credential chain, shared config,
// AWS_ENDPOINT_URL_<SERVICE> endpoint overrides) for region, with the standard retryer
// (MaxAttempts attempts, backoff up to 20 s); calls refused for lack of permission return a
// *cloudprovider.NotAuthorizedError, calls whose credentials could not be obtained (e.g. STS
// refused AssumeRoleWithWebIdentity, or the Pod Identity agent answered an error) a
// *cloudprovider.CredentialsError. extra load options come after these (simulate silences the
// SDK's logger with config.WithLogger). Errors: configuration load errors.
func LoadAWSConfig(ctx context.Context, region string, extra ...func(*config.LoadOptions) error) (awssdk.Config, error) {
	opts := append([]func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithRetryer(func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = MaxAttempts
				o.MaxBackoff = 20 * time.Second
			})
		}),
	}, extra...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	cfg.HTTPClient = sdkhttp.Wrap(cfg.HTTPClient)
	cfg.APIOptions = append(cfg.APIOptions, addNotAuthorizedMiddleware, addCredentialsErrorMiddleware(credentialsEndpoint(cfg)))
	return cfg, nil
}

// NewClients builds the SDK clients from cfg (the Price List client for cfg.Region, see
// pricelist.NewClient); versions is the Kubernetes discovery client, events the recorder of
// Provisioner events (may be nil).
func NewClients(cfg awssdk.Config, versions VersionAPI, events record.EventRecorder) Clients {
	return Clients{
		EC2:      ec2.NewFromConfig(cfg),
		SSM:      ssm.NewFromConfig(cfg),
		EKS:      eks.NewFromConfig(cfg),
		Versions: versions,
		Pricing:  pricelist.NewClient(cfg, cfg.Region),
		Events:   events,
	}
}

// CloudProvider implements cloudprovider.CloudProvider on EC2. Safe for concurrent use.
type CloudProvider struct {
	opts          Options
	clk           clock.Clock
	ec2           EC2API
	ice           *unavailableOfferings
	pricing       *PricingProvider
	priceNotes    *priceNotes
	instanceTypes *instanceTypeProvider
	discovery     *discovery
	templates     *launchTemplates
}

var _ cloudprovider.CloudProvider = (*CloudProvider)(nil)

// New returns a CloudProvider. Errors: invalid options, missing EC2 or SSM client.
func New(opts Options, c Clients, clk clock.Clock) (*CloudProvider, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if c.EC2 == nil || c.SSM == nil {
		return nil, errors.New("EC2 and SSM clients are required")
	}
	ice := newUnavailableOfferings(clk)
	pricing := NewPricingProvider(opts.Region, c.Pricing, clk, opts.PricingRefreshInterval)
	return &CloudProvider{
		opts:          opts,
		clk:           clk,
		ec2:           c.EC2,
		ice:           ice,
		pricing:       pricing,
		priceNotes:    newPriceNotes(c.Events),
		instanceTypes: newInstanceTypeProvider(opts.Region, c.EC2, pricing, ice, clk),
		discovery:     newDiscovery(c.EC2, clk),
		templates:     newLaunchTemplates(opts, c.EC2, c.SSM, c.EKS, c.Versions, clk),
	}, nil
}

// providerSettings returns the provisioner's AWS settings; a provisioner without
// spec.provider discovers subnets and security groups tagged karpenter.sh/discovery=<cluster>.
func (c *CloudProvider) providerSettings(p *v1alpha5.Provisioner) *v1alpha5.AWS {
	if p.Spec.Provider != nil {
		return p.Spec.Provider
	}
	sel := map[string]string{v1alpha5.DiscoveryTagKey: c.opts.ClusterName}
	return &v1alpha5.AWS{SubnetSelector: sel, SecurityGroupSelector: sel}
}

// storageGi is the ephemeral-storage (GiB) of the provisioner's nodes: the AMI family's data
// volume among spec.provider.blockDeviceMappings (ephemeralStorageGi); the default root volume
// for a user-managed launch template, whose mappings the controller does not read.
func (c *CloudProvider) storageGi(p *v1alpha5.Provisioner) int64 {
	s := c.providerSettings(p)
	if s.LaunchTemplate != nil {
		return rootVolumeGi
	}
	return ephemeralStorageGi(amiFamily(s), s.BlockDeviceMappings)
}

// GetInstanceTypes implements cloudprovider.CloudProvider: every x86_64/arm64 instance type,
// with offerings in the zones of the provisioner's discovered subnets. Errors: subnet
// discovery (field path spec.provider.subnetSelector) and EC2 errors.
func (c *CloudProvider) GetInstanceTypes(ctx context.Context, p *v1alpha5.Provisioner) ([]*cloudprovider.InstanceType, error) {
	defer observe("GetInstanceTypes", time.Now())
	if p == nil {
		return nil, errors.New("provisioner is nil")
	}
	subnets, err := c.discovery.Subnets(ctx, "spec.provider.subnetSelector", c.providerSettings(p).SubnetSelector)
	if err != nil {
		return nil, fmt.Errorf("provisioner %s: %w", p.Name, err)
	}
	zones := sets.New[string]()
	for _, s := range subnets {
		zones.Insert(awssdk.ToString(s.AvailabilityZone))
	}
	types, unpriced, err := c.instanceTypes.List(ctx, zones, p.Spec.KubeletConfiguration, c.storageGi(p))
	if err == nil {
		c.notePrices(ctx, p, unpriced)
	}
	return types, err
}

// GetInstanceTypesInZones is GetInstanceTypes with offerings in the given zones instead of the
// zones of the provisioner's discovered subnets, for capacity planning where no subnets need
// exist (the simulate command takes the zones from OfferedZones). Capacity, overhead, labels,
// prices and availability are computed exactly as for GetInstanceTypes. Errors: EC2 errors.
func (c *CloudProvider) GetInstanceTypesInZones(ctx context.Context, p *v1alpha5.Provisioner, zones []string) ([]*cloudprovider.InstanceType, error) {
	defer observe("GetInstanceTypes", time.Now())
	if p == nil {
		return nil, errors.New("provisioner is nil")
	}
	types, unpriced, err := c.instanceTypes.List(ctx, sets.New(zones...), p.Spec.KubeletConfiguration, c.storageGi(p))
	if err == nil {
		c.notePrices(ctx, p, unpriced)
	}
	return types, err
}

// OfferedZones returns, sorted, every availability zone of the region in which at least one
// instance type is offered (DescribeInstanceTypeOfferings, cached for InstanceTypesCacheTTL).
// Errors: EC2 errors.
func (c *CloudProvider) OfferedZones(ctx context.Context) ([]string, error) {
	offered, err := c.instanceTypes.offerings(ctx)
	if err != nil {
		return nil, err
	}
	zones := sets.New[string]()
	for _, z := range offered {
		zones = zones.Union(z)
	}
	return sets.List(zones), nil
}

// RefreshInterval is how often RefreshCaches re-reads the instance types, offerings and spot
// prices: half their cache lifetime, so a batch finds them fresh and never waits for the
// dozens of paginated EC2 calls that read them (seconds on a busy account).
const RefreshInterval = InstanceTypesCacheTTL / 2

// RefreshCaches reads the instance types, their offerings and the spot prices from EC2 at once
// and then every RefreshInterval, on the cloud provider's clock, until ctx ends; it always
// returns nil. A failed refresh is logged and the caches keep what they had (GetInstanceTypes
// reads EC2 itself once they are older than their lifetime). The operator runs it beside the
// controllers (a leader-elected runnable), as Karpenter's instance type and pricing refresh
// controllers do.
func (c *CloudProvider) RefreshCaches(ctx context.Context) error {
	logger := log.FromContext(ctx).WithName("cloudprovider")
	for {
		start := c.clk.Now()
		if err := c.instanceTypes.refresh(ctx); err != nil && ctx.Err() == nil {
			logger.Error(err, "refreshing instance types, offerings and spot prices failed; retrying", "after", RefreshInterval.String())
		} else if ctx.Err() == nil {
			logger.V(1).Info("refreshed instance types, offerings and spot prices", "seconds", c.clk.Since(start).Seconds())
		}
		timer := c.clk.NewTimer(RefreshInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
		}
	}
}

// Pricing returns the on-demand price provider (its Refresh reads the Price List API now).
func (c *CloudProvider) Pricing() *PricingProvider { return c.pricing }

// RefreshPrices re-reads the on-demand prices from the Price List API at once and then every
// PricingRefreshInterval until ctx ends (see PricingProvider.Run); it always returns nil. The
// operator runs it beside RefreshCaches.
func (c *CloudProvider) RefreshPrices(ctx context.Context) error { return c.pricing.Run(ctx) }

func observe(method string, start time.Time) {
	metrics.CloudProviderDuration.WithLabelValues(method).Observe(time.Since(start).Seconds())
}
