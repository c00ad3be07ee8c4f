package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go/logging"
	"k8s.io/utils/clock"

	"github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws/pricelist"
	sbaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// Catalogue names (--catalog).
const (
	// CatalogSandbox: the sandbox's EC2 catalogue (real instance types and us-east-1 on-demand
	// prices, modelled spot prices), served by the AWS emulator started in-process on 127.0.0.1.
	CatalogSandbox = "sandbox"
	// CatalogAWS: live EC2 in the region of the standard AWS configuration (AWS_REGION,
	// AWS_PROFILE, credentials chain; AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL_PRICING are
	// honoured), with on-demand prices from the Price List API.
	CatalogAWS = "aws"
	// CatalogAuto: aws when a region and credentials are configured, else sandbox.
	CatalogAuto = "auto"
)

// checkCatalogName returns nil for CatalogSandbox, CatalogAWS and CatalogAuto, else an error
// naming the flag, the name given and the names allowed.
func checkCatalogName(name string) error {
	switch name {
	case CatalogSandbox, CatalogAWS, CatalogAuto:
		return nil
	}
	return fmt.Errorf("--catalog: unknown catalogue %q (want %s, %s or %s)", name, CatalogSandbox, CatalogAWS, CatalogAuto)
}

// clusterName stands in for the cluster in the cloud provider's settings; simulate launches
// nothing, so it is never sent anywhere.
const clusterName = "simulate"

// credentialsTimeout bounds the credential lookup of --catalog=auto (the chain ends with the
// EC2 instance metadata service, which does not answer off EC2).
const credentialsTimeout = 5 * time.Second

// Catalog answers the instance types a Provisioner can launch, through the controller's own
// cloud provider (controller/cloudprovider/aws), so capacity, overhead, max pods, offerings
// and prices are exactly those the controller would use. Offerings are in every zone where
// the region offers the type (simulate needs no subnets). Close releases it.
type Catalog struct {
	Name   string // CatalogSandbox or CatalogAWS
	Region string
	cloud  *awscloud.CloudProvider
	zones  []string
	// types are the names of the instance types offered in zones, sorted (nil when listing
	// them failed: the hints that name them are left out).
	types []string
	close func() error
}

// OpenCatalog opens the named catalogue (CatalogSandbox, CatalogAWS or CatalogAuto). Notes
// for the user (which catalogue auto chose, prices outside us-east-1) go to notes. Errors:
// an unknown name; for aws, no region or no credentials; the emulator not starting; EC2
// errors listing offerings.
func OpenCatalog(ctx context.Context, name string, notes io.Writer) (*Catalog, error) {
	var (
		c   *Catalog
		err error
	)
	switch name {
	case CatalogSandbox:
		c, err = openSandbox()
	case CatalogAWS:
		c, err = openAWS(ctx)
	case CatalogAuto:
		c, err = openAWS(ctx)
		if err != nil {
			fmt.Fprintf(notes, "note: --catalog=auto: using the sandbox catalogue (%v)\n", err)
			c, err = openSandbox()
		}
	default:
		return nil, checkCatalogName(name)
	}
	if err != nil {
		return nil, err
	}
	if c.zones, err = c.cloud.OfferedZones(ctx); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("%s catalogue: %w", c.Name, err)
	}
	if all, err := c.cloud.GetInstanceTypesInZones(ctx, &v1alpha5.Provisioner{}, c.zones); err == nil {
		for _, it := range all {
			c.types = append(c.types, it.Name)
		}
		slices.Sort(c.types)
	}
	// On-demand prices from the Price List API, as the controller reads them; the built-in
	// table when it does not answer.
	if err := c.cloud.Pricing().Refresh(ctx); err != nil {
		fmt.Fprintf(notes, "note: on-demand prices are the controller's built-in table for %s (%d types): the Pricing API did not answer: %v\n",
			c.Region, c.cloud.Pricing().Known(), err)
	}
	return c, nil
}

// openSandbox starts the AWS emulator on a free loopback port and points the real cloud
// provider at it, as the sandbox points the controller at it.
func openSandbox() (*Catalog, error) {
	emu := sbaws.New(sbaws.Options{Region: catalog.Region, ClusterName: clusterName, NoBootDelay: true})
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the sandbox AWS emulator: %w", err)
	}
	cfg := awssdk.Config{
		Region: catalog.Region,
		// The emulator's administrator key: the emulator verifies every signature.
		Credentials:      credentials.NewStaticCredentialsProvider(sbaws.DefaultAdminAccessKeyID, sbaws.DefaultAdminSecretAccessKey, ""),
		BaseEndpoint:     awssdk.String(url),
		RetryMaxAttempts: 10,
		HTTPClient:       awshttp.New(),
	}
	c, err := newCatalog(CatalogSandbox, cfg, emu.Close)
	if err != nil {
		_ = emu.Close()
	}
	return c, err
}

// openAWS uses the standard AWS configuration, the SDK's own log lines silenced (looking for
// credentials, it warns on stderr that the instance metadata service did not answer, which
// off EC2 it never does; the error says what is missing). Errors: no region, no credentials.
func openAWS(ctx context.Context) (*Catalog, error) {
	cfg, err := awscloud.LoadAWSConfig(ctx, "", config.WithLogger(logging.Nop{}))
	if err != nil {
		return nil, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region configured (set AWS_REGION or a profile's region)")
	}
	credCtx, cancel := context.WithTimeout(ctx, credentialsTimeout)
	defer cancel()
	if _, err := cfg.Credentials.Retrieve(credCtx); err != nil {
		return nil, fmt.Errorf("no AWS credentials: %w", err)
	}
	return newCatalog(CatalogAWS, cfg, func() error { return nil })
}

func newCatalog(name string, cfg awssdk.Config, closeFn func() error) (*Catalog, error) {
	cloud, err := awscloud.New(awscloud.Options{ClusterName: clusterName, Region: cfg.Region},
		awscloud.Clients{EC2: ec2.NewFromConfig(cfg), SSM: ssm.NewFromConfig(cfg), Pricing: pricelist.NewClient(cfg, cfg.Region)}, clock.RealClock{})
	if err != nil {
		return nil, err
	}
	return &Catalog{Name: name, Region: cfg.Region, cloud: cloud, close: closeFn}, nil
}

// Zones are the zones offerings are listed in: every zone of the region that offers any type.
func (c *Catalog) Zones() []string { return c.zones }

// TypeNames are the names of the instance types the catalogue offers in Zones, sorted.
func (c *Catalog) TypeNames() []string { return c.types }

// InstanceTypes returns the instance types p can launch, with offerings in Zones (see
// awscloud.CloudProvider.GetInstanceTypesInZones). Errors: EC2 errors.
func (c *Catalog) InstanceTypes(ctx context.Context, p *v1alpha5.Provisioner) ([]*cloudprovider.InstanceType, error) {
	types, err := c.cloud.GetInstanceTypesInZones(ctx, p, c.zones)
	if err != nil {
		return nil, fmt.Errorf("%s catalogue: instance types for provisioner %s: %w", c.Name, p.Name, err)
	}
	return types, nil
}

// Close stops the emulator, if any.
func (c *Catalog) Close() error { return c.close() }
