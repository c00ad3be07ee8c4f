// Package bench measures the solver (controller/scheduling) on standard workloads against the
// full sandbox catalogue and prints one table: pods per second, allocations per pod, nodes,
// USD/hour and the ratio of that price to scheduling.LowerBound. `make bench` runs it
// (`go run ./bench/cmd/table`); `go test -bench . ./bench/` runs the same workloads as Go
// benchmarks.
package bench

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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// catalogueCluster names the emulated cluster whose discovery tag the subnets get.
const catalogueCluster = "bench"

// Provisioner returns the provisioner the benchmarks launch with: "default", spot and
// on-demand allowed, no limits, subnets discovered by the karpenter.sh/discovery tag (the
// quickstart's provisioner without its CPU limit).
func Provisioner() *v1alpha5.Provisioner {
	return &v1alpha5.Provisioner{
		ObjectMeta: metav1.ObjectMeta{Name: "default"},
		Spec: v1alpha5.ProvisionerSpec{Requirements: []v1alpha5.NodeSelectorRequirement{{
			Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn,
			Values: []string{v1alpha5.CapacityTypeSpot, v1alpha5.CapacityTypeOnDemand}}}},
	}
}

// Catalogue returns the sandbox catalogue (sandbox/aws/catalog: every type in the zones it is
// offered in, spot and on-demand) exactly as the controller sees it: it starts the sandbox's AWS
// emulator on 127.0.0.1 (no other address is touched), tags its three subnets for discovery and
// asks the real cloud provider (controller/cloudprovider/aws, through the real aws-sdk-go-v2
// EC2 client) for the instance types of Provisioner(). So capacities, kube-reserved and eviction
// overhead, ENI pod limits, labels, offerings and prices (on-demand from the shipped price table,
// spot from the emulator's DescribeSpotPriceHistory) are the production conversion's.
// Errors: the emulator failing to listen, or an AWS call failing.
func Catalogue(ctx context.Context) ([]*cloudprovider.InstanceType, error) {
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
	return cp.GetInstanceTypes(ctx, Provisioner())
}
