// Package instancetypes loads the sandbox catalogue as the controller sees it, for the
// benchmarks (package bench) and the scale report's lower bound. It is apart from package bench
// because it links the AWS cloud provider, whose metrics (karpenter_nodes_created_total, ...)
// share names with Karpenter's: bench/karpenter, which links Karpenter, reads the catalogue as
// JSON written by cmd/instancetypes instead.
package instancetypes

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	clocktesting "k8s.io/utils/clock/testing"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/bench"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// catalogueCluster names the emulated cluster whose discovery tag the subnets get.
const catalogueCluster = "bench"

// Sandbox returns the sandbox catalogue (sandbox/aws/catalog: every type in the zones it is
// offered in, spot and on-demand) exactly as the controller sees it: it starts the sandbox's AWS
// emulator on 127.0.0.1 (no other address is touched), tags its three subnets for discovery and
// asks the real cloud provider (controller/cloudprovider/aws, through the real aws-sdk-go-v2
// EC2 client) for the instance types of bench.Provisioner(). So capacities, kube-reserved and eviction
// overhead, ENI pod limits, labels, offerings and prices (on-demand from the shipped price table,
// spot from the emulator's DescribeSpotPriceHistory) are the production conversion's.
// Errors: the emulator failing to listen, or an AWS call failing.
func Sandbox(ctx context.Context) ([]*cloudprovider.InstanceType, error) {
	emu := sandboxaws.New(sandboxaws.Options{ClusterName: catalogueCluster, ClusterEndpoint: "https://127.0.0.1:6443", NoBootDelay: true})
	url, err := emu.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the AWS emulator: %w", err)
	}
	defer func() { _ = emu.Close() }()
	cfg := awssdk.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench", ""),
		Retryer:     func() awssdk.Retryer { return retry.NewStandard() },
		HTTPClient:  sdkhttp.New(),
	}
	ec2c := ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
	resources := []string{sandboxaws.SeedClusterSecurityGroupID}
	for _, s := range sandboxaws.SeedSubnets {
		resources = append(resources, s.ID)
	}
	if _, err := ec2c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: resources, Tags: []ec2types.Tag{
		{Key: awssdk.String(v1alpha5.DiscoveryTagKey), Value: awssdk.String(catalogueCluster)}}}); err != nil {
		return nil, fmt.Errorf("tagging the emulator's subnets: %w", err)
	}
	cp, err := awscloud.New(awscloud.Options{ClusterName: catalogueCluster, Region: "us-east-1"}, awscloud.Clients{
		EC2: ec2c,
		SSM: ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = awssdk.String(url) }),
	}, clocktesting.NewFakeClock(time.Now()))
	if err != nil {
		return nil, err
	}
	return cp.GetInstanceTypes(ctx, bench.Provisioner())
}
