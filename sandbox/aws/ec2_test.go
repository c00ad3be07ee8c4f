package aws

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	clocktesting "k8s.io/utils/clock/testing"

	sdkhttp "github.com/nodeform/terraform-provider-karpenter/awshttp"
	"github.com/nodeform/terraform-provider-karpenter/sandbox/aws/catalog"
)

// startEC2 starts an emulator on 127.0.0.1 and returns it with a real EC2 client and the base
// URL. The client retries (3 attempts, 1 ms backoff): about 1 in 50 SDK reads of a response
// larger than 4 KiB fails client-side with "use of closed network connection" (seen with the
// SDK's HTTP client only; plain net/http reading the same responses never failed in 400 tries),
// and the SDK's own retryer recovers from it. Tests that need the first error use oneShot.
func startEC2(t *testing.T, opts Options) (*Emulator, *ec2.Client, string) {
	t.Helper()
	if opts.BootDelay == 0 {
		opts.NoBootDelay = true
	}
	e := New(opts)
	url, err := e.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e, ec2.NewFromConfig(sdkConfig(), func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) }), url
}

func sdkConfig() awssdk.Config {
	return awssdk.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(DefaultAdminAccessKeyID, DefaultAdminSecretAccessKey, ""),
		HTTPClient:  sdkhttp.New(),
		Retryer: func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = 3
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
				o.RateLimiter = ratelimitNone{}
			})
		},
	}
}

// ratelimitNone disables the client-side retry token bucket so that many expected errors in a
// test do not exhaust it.
type ratelimitNone struct{}

func (ratelimitNone) GetToken(context.Context, uint) (func() error, error) {
	return func() error { return nil }, nil
}
func (ratelimitNone) AddTokens(uint) error { return nil }

// oneShot returns a client that makes exactly one attempt per call.
func oneShot(url string) *ec2.Client {
	return ec2.NewFromConfig(sdkConfig(), func(o *ec2.Options) {
		o.BaseEndpoint = awssdk.String(url)
		o.Retryer = retry.AddWithMaxAttempts(o.Retryer, 1)
	})
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func filter(name string, values ...string) ec2types.Filter {
	return ec2types.Filter{Name: awssdk.String(name), Values: values}
}

// ec2Subtest is one behaviour checked against a shared emulator through client c.
type ec2Subtest struct {
	name  string
	check func(t *testing.T, c *ec2.Client)
}

// runEC2Subtests runs each check as a subtest, in order, against client c.
func runEC2Subtests(t *testing.T, c *ec2.Client, tests []ec2Subtest) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, c) })
	}
}

func TestDescribeSeedsAndDiscoveryTags(t *testing.T) {
	_, c, _ := startEC2(t, Options{ClusterName: "demo"})
	t.Run("seeded VPC and subnets", func(t *testing.T) { checkSeedVPCAndSubnets(t, c) })
	tagForDiscovery(t, c)
	runEC2Subtests(t, c, []ec2Subtest{
		{"subnets by tag, zone and ID", checkSubnetSelection},
		{"subnet lookup errors", checkSubnetLookupErrors},
		{"security groups by tag and ID", checkSecurityGroupSelection},
		{"availability zones", checkAvailabilityZones},
		{"images", checkSeedImages},
	})
}

// checkSeedVPCAndSubnets checks the seeded VPC and its three subnets with their free addresses
// (a /18 less AWS's five reserved) and zone IDs.
func checkSeedVPCAndSubnets(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(vpcs.Vpcs) != 1 || *vpcs.Vpcs[0].VpcId != SeedVPCID || *vpcs.Vpcs[0].CidrBlock != SeedVPCCIDR {
		t.Fatalf("DescribeVpcs = %+v, %v", vpcs, err)
	}
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("vpc-id", SeedVPCID)}})
	if err != nil || len(subnets.Subnets) != 3 {
		t.Fatalf("DescribeSubnets = %+v, %v", subnets, err)
	}
	for _, sn := range subnets.Subnets {
		if *sn.AvailableIpAddressCount != 16384-5 || *sn.AvailabilityZoneId == "" {
			t.Errorf("subnet %s: available IPs %d zone id %q", *sn.SubnetId, *sn.AvailableIpAddressCount, *sn.AvailabilityZoneId)
		}
	}
}

// tagForDiscovery puts the discovery tag karpenter.sh/discovery=demo on the first two seed
// subnets and the cluster security group, for the selection subtests.
func tagForDiscovery(t *testing.T, c *ec2.Client) {
	t.Helper()
	_, err := c.CreateTags(context.Background(), &ec2.CreateTagsInput{
		Resources: []string{SeedSubnets[0].ID, SeedSubnets[1].ID, SeedClusterSecurityGroupID},
		Tags:      []ec2types.Tag{{Key: awssdk.String("karpenter.sh/discovery"), Value: awssdk.String("demo")}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkSubnetSelection selects the tagged subnets by tag, by tag-key wildcard, by tag and
// zone, and one subnet by ID.
func checkSubnetSelection(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	got, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("tag:karpenter.sh/discovery", "demo")}})
	if err != nil || len(got.Subnets) != 2 {
		t.Fatalf("tag filter: %d subnets, %v", len(got.Subnets), err)
	}
	got, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("tag-key", "karpenter.sh/*")}})
	if err != nil || len(got.Subnets) != 2 {
		t.Fatalf("tag-key wildcard filter: %d subnets, %v", len(got.Subnets), err)
	}
	got, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{
		filter("tag:karpenter.sh/discovery", "demo"), filter("availability-zone", "us-east-1b")}})
	if err != nil || len(got.Subnets) != 1 || *got.Subnets[0].SubnetId != SeedSubnets[1].ID {
		t.Fatalf("tag+zone filter: %+v, %v", got.Subnets, err)
	}
	got, err = c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{SeedSubnets[2].ID}})
	if err != nil || len(got.Subnets) != 1 || *got.Subnets[0].CidrBlock != SeedSubnets[2].CIDR {
		t.Fatalf("by id: %+v, %v", got.Subnets, err)
	}
}

// checkSubnetLookupErrors checks the error codes for an unknown subnet ID and filter name.
func checkSubnetLookupErrors(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	if _, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{"subnet-0000000000000dead"}}); apiCode(err) != "InvalidSubnetID.NotFound" {
		t.Errorf("missing subnet: %v", err)
	}
	if _, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{filter("bogus", "x")}}); apiCode(err) != "InvalidParameterValue" {
		t.Errorf("unknown filter: %v", err)
	}
}

// checkSecurityGroupSelection selects the cluster security group by discovery tag and by ID.
func checkSecurityGroupSelection(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{filter("tag:karpenter.sh/discovery", "demo")}})
	if err != nil || len(sgs.SecurityGroups) != 1 || *sgs.SecurityGroups[0].GroupId != SeedClusterSecurityGroupID || *sgs.SecurityGroups[0].VpcId != SeedVPCID {
		t.Fatalf("DescribeSecurityGroups = %+v, %v", sgs, err)
	}
	sgs, err = c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: []ec2types.Filter{filter("group-id", SeedClusterSecurityGroupID)}})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		t.Fatalf("group-id filter: %+v, %v", sgs, err)
	}
}

// checkAvailabilityZones checks the three seeded zones, first us-east-1a, available.
func checkAvailabilityZones(t *testing.T, c *ec2.Client) {
	azs, err := c.DescribeAvailabilityZones(context.Background(), &ec2.DescribeAvailabilityZonesInput{})
	if err != nil || len(azs.AvailabilityZones) != 3 || *azs.AvailabilityZones[0].ZoneName != "us-east-1a" || azs.AvailabilityZones[0].State != ec2types.AvailabilityZoneStateAvailable {
		t.Fatalf("DescribeAvailabilityZones = %+v, %v", azs, err)
	}
}

// checkSeedImages selects the seeded AMIs by architecture filter and by ID.
func checkSeedImages(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	imgs, err := c.DescribeImages(ctx, &ec2.DescribeImagesInput{Filters: []ec2types.Filter{filter("architecture", "arm64")}})
	if err != nil || len(imgs.Images) != 3 { // AL2, Bottlerocket and Ubuntu
		t.Fatalf("DescribeImages arm64 = %d, %v", len(imgs.Images), err)
	}
	imgs, err = c.DescribeImages(ctx, &ec2.DescribeImagesInput{ImageIds: []string{SeedAMIs[0].ID}})
	if err != nil || len(imgs.Images) != 1 || *imgs.Images[0].Name != SeedAMIs[0].Name || imgs.Images[0].Architecture != ec2types.ArchitectureValuesX8664 {
		t.Fatalf("DescribeImages by id = %+v, %v", imgs, err)
	}
}

func TestTagsRoundTrip(t *testing.T) {
	_, c, _ := startEC2(t, Options{})
	ctx := context.Background()
	sn := SeedSubnets[0].ID
	_, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{sn, SeedVPCID}, Tags: []ec2types.Tag{
		{Key: awssdk.String("team"), Value: awssdk.String("a")},
		{Key: awssdk.String("env"), Value: awssdk.String("")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{filter("resource-id", sn), filter("key", "team", "env")}})
	if err != nil || len(out.Tags) != 2 || out.Tags[0].ResourceType != ec2types.ResourceTypeSubnet {
		t.Fatalf("DescribeTags = %+v, %v", out.Tags, err)
	}
	out, err = c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{filter("resource-type", "vpc"), filter("value", "a")}})
	if err != nil || len(out.Tags) != 1 || *out.Tags[0].ResourceId != SeedVPCID {
		t.Fatalf("DescribeTags vpc = %+v, %v", out.Tags, err)
	}

	// A value that does not match keeps the tag; key-only deletes whatever the value.
	if _, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{sn}, Tags: []ec2types.Tag{{Key: awssdk.String("team"), Value: awssdk.String("b")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{sn}, Tags: []ec2types.Tag{{Key: awssdk.String("env")}}}); err != nil {
		t.Fatal(err)
	}
	out, err = c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{filter("resource-id", sn), filter("key", "team", "env")}})
	if err != nil || len(out.Tags) != 1 || *out.Tags[0].Key != "team" || *out.Tags[0].Value != "a" {
		t.Fatalf("after deletes: %+v, %v", out.Tags, err)
	}
	if _, err := c.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{sn}, Tags: []ec2types.Tag{{Key: awssdk.String("team"), Value: awssdk.String("a")}}}); err != nil {
		t.Fatal(err)
	}
	out, _ = c.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{filter("resource-id", sn), filter("key", "team")}})
	if len(out.Tags) != 0 {
		t.Fatalf("matching value not deleted: %+v", out.Tags)
	}

	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"subnet-0000000000000dead"}, Tags: []ec2types.Tag{{Key: awssdk.String("k"), Value: awssdk.String("v")}}}); apiCode(err) != "InvalidSubnetID.NotFound" {
		t.Errorf("tag missing subnet: %v", err)
	}
	if _, err := c.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{sn}, Tags: []ec2types.Tag{{Key: awssdk.String("aws:x"), Value: awssdk.String("v")}}}); apiCode(err) != "InvalidParameterValue" {
		t.Errorf("reserved key: %v", err)
	}
}

func TestInstanceTypesOfferingsAndSpotPrices(t *testing.T) {
	_, c, _ := startEC2(t, Options{})
	runEC2Subtests(t, c, []ec2Subtest{
		{"instance types paginate", checkInstanceTypesPaginate},
		{"instance type attributes", checkInstanceTypeAttributes},
		{"instance type filters and errors", checkInstanceTypeFiltersAndErrors},
		{"offerings per zone", checkOfferingsPerZone},
		{"spot prices per zone", checkSpotPricesPerZone},
		{"spot prices paginate", checkSpotPricesPaginate},
	})
}

// catalogueOfferings is the number of (instance type, zone) pools in the catalogue.
func catalogueOfferings() int {
	n := 0
	for _, it := range catalog.All() {
		n += len(it.Zones)
	}
	return n
}

// checkInstanceTypesPaginate lists every catalogue type once through the SDK paginator (pages
// of 37).
func checkInstanceTypesPaginate(t *testing.T, c *ec2.Client) {
	var all []ec2types.InstanceTypeInfo
	p := ec2.NewDescribeInstanceTypesPaginator(c, &ec2.DescribeInstanceTypesInput{MaxResults: awssdk.Int32(37)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		all = append(all, out.InstanceTypes...)
	}
	if len(all) != catalog.Len() || pages != (catalog.Len()+36)/37 {
		t.Fatalf("paginated %d types in %d pages, catalogue has %d", len(all), pages, catalog.Len())
	}
	seen := map[ec2types.InstanceType]bool{}
	for _, it := range all {
		if seen[it.InstanceType] {
			t.Fatalf("type %s listed twice", it.InstanceType)
		}
		seen[it.InstanceType] = true
	}
}

// checkInstanceTypeAttributes describes five types by name and checks their attributes: a
// general-purpose x86 type, a GPU type with instance storage, a Graviton type and the processor
// vendors of an Intel, an AMD, a Graviton and an accelerated AMD (g5) type.
func checkInstanceTypeAttributes(t *testing.T, c *ec2.Client) {
	out, err := c.DescribeInstanceTypes(context.Background(), &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"m5.large", "g4dn.xlarge", "m6g.large", "m5a.large", "g5.xlarge"}})
	if err != nil || len(out.InstanceTypes) != 5 {
		t.Fatalf("by name: %v %v", out, err)
	}
	byName := map[ec2types.InstanceType]ec2types.InstanceTypeInfo{}
	for _, it := range out.InstanceTypes {
		byName[it.InstanceType] = it
	}
	m5 := byName["m5.large"]
	if *m5.VCpuInfo.DefaultVCpus != 2 || *m5.MemoryInfo.SizeInMiB != 8192 || m5.ProcessorInfo.SupportedArchitectures[0] != ec2types.ArchitectureTypeX8664 ||
		*m5.NetworkInfo.MaximumNetworkInterfaces != 3 || *m5.NetworkInfo.Ipv4AddressesPerInterface != 10 || m5.Hypervisor != ec2types.InstanceTypeHypervisorNitro ||
		!*m5.CurrentGeneration || *m5.BurstablePerformanceSupported || len(m5.SupportedUsageClasses) != 2 || m5.GpuInfo != nil {
		t.Errorf("m5.large = %+v", m5)
	}
	g4 := byName["g4dn.xlarge"]
	if g4.GpuInfo == nil || *g4.GpuInfo.Gpus[0].Count != 1 || *g4.GpuInfo.Gpus[0].Name != "T4" || *g4.GpuInfo.Gpus[0].Manufacturer != "NVIDIA" ||
		!*g4.InstanceStorageSupported || *g4.InstanceStorageInfo.TotalSizeInGB != 125 {
		t.Errorf("g4dn.xlarge = %+v %+v", g4.GpuInfo, g4.InstanceStorageInfo)
	}
	for name, want := range map[ec2types.InstanceType]string{"m5.large": "Intel", "m5a.large": "AMD", "m6g.large": "AWS", "g5.xlarge": "AMD"} {
		if got := byName[name].ProcessorInfo; got == nil || awssdk.ToString(got.Manufacturer) != want {
			t.Errorf("%s processor info = %+v, want manufacturer %s", name, got, want)
		}
	}
	if byName["m6g.large"].ProcessorInfo.SupportedArchitectures[0] != ec2types.ArchitectureTypeArm64 {
		t.Errorf("m6g.large arch = %v", byName["m6g.large"].ProcessorInfo.SupportedArchitectures)
	}
}

// checkInstanceTypeFiltersAndErrors checks wildcard filters, an unknown type, a forged
// pagination token and a token reused for another query.
func checkInstanceTypeFiltersAndErrors(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	out, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{Filters: []ec2types.Filter{
		filter("instance-type", "m5.*"), filter("processor-info.supported-architecture", "x86_64")}})
	if err != nil || len(out.InstanceTypes) == 0 {
		t.Fatalf("wildcard filter: %v", err)
	}
	for _, it := range out.InstanceTypes {
		if !strings.HasPrefix(string(it.InstanceType), "m5.") {
			t.Errorf("m5.* matched %s", it.InstanceType)
		}
	}
	if _, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{InstanceTypes: []ec2types.InstanceType{"m5.huge"}}); apiCode(err) != "InvalidInstanceType" {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{NextToken: awssdk.String("forged")}); apiCode(err) != "InvalidPaginationToken" {
		t.Errorf("forged token: %v", err)
	}
	// A token is bound to its query.
	first, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{MaxResults: awssdk.Int32(5)})
	if err != nil || first.NextToken == nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeInstanceTypes(ctx, &ec2.DescribeInstanceTypesInput{NextToken: first.NextToken, Filters: []ec2types.Filter{filter("instance-type", "c5.*")}}); apiCode(err) != "InvalidPaginationToken" {
		t.Errorf("token reused for another query: %v", err)
	}
}

// checkOfferingsPerZone pages through the per-zone offerings (one per catalogue pool) and
// filters them by location and type.
func checkOfferingsPerZone(t *testing.T, c *ec2.Client) {
	ctx := context.Background()
	want := catalogueOfferings()
	var offerings []ec2types.InstanceTypeOffering
	op := ec2.NewDescribeInstanceTypeOfferingsPaginator(c, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: ec2types.LocationTypeAvailabilityZone, MaxResults: awssdk.Int32(500)})
	for op.HasMorePages() {
		page, err := op.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		offerings = append(offerings, page.InstanceTypeOfferings...)
	}
	if len(offerings) != want {
		t.Fatalf("%d offerings, want %d", len(offerings), want)
	}
	zo, err := c.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{filter("location", "us-east-1b"), filter("instance-type", "m5.large")}})
	if err != nil || len(zo.InstanceTypeOfferings) != 1 || *zo.InstanceTypeOfferings[0].Location != "us-east-1b" {
		t.Fatalf("offering filter: %+v %v", zo, err)
	}
}

// checkSpotPricesPerZone checks m5.large's Linux spot prices: one per zone, each the
// catalogue's price, not all equal.
func checkSpotPricesPerZone(t *testing.T, c *ec2.Client) {
	sp, err := c.DescribeSpotPriceHistory(context.Background(), &ec2.DescribeSpotPriceHistoryInput{
		InstanceTypes: []ec2types.InstanceType{"m5.large"}, ProductDescriptions: []string{"Linux/UNIX"},
		StartTime: awssdk.Time(time.Now()), EndTime: awssdk.Time(time.Now())})
	if err != nil || len(sp.SpotPriceHistory) != 3 {
		t.Fatalf("spot prices = %+v, %v", sp, err)
	}
	prices := map[string]bool{}
	for _, h := range sp.SpotPriceHistory {
		prices[*h.SpotPrice] = true
		it, _ := catalog.Lookup("m5.large")
		if want := catalog.SpotPrice(it, *h.AvailabilityZone); *h.SpotPrice != strconv.FormatFloat(want, 'f', 6, 64) {
			t.Errorf("%s spot price %s, want %v", *h.AvailabilityZone, *h.SpotPrice, want)
		}
		if h.ProductDescription != ec2types.RIProductDescriptionLinuxUnix || h.Timestamp == nil {
			t.Errorf("spot record %+v", h)
		}
	}
	if len(prices) < 2 {
		t.Errorf("spot prices do not vary by zone: %v", prices)
	}
}

// checkSpotPricesPaginate pages through every pool's Linux/UNIX spot price: one per pool.
func checkSpotPricesPaginate(t *testing.T, c *ec2.Client) {
	n := 0
	spp := ec2.NewDescribeSpotPriceHistoryPaginator(c, &ec2.DescribeSpotPriceHistoryInput{ProductDescriptions: []string{"Linux/UNIX"}, MaxResults: awssdk.Int32(400)})
	for spp.HasMorePages() {
		page, err := spp.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.SpotPriceHistory)
	}
	if want := catalogueOfferings(); n != want {
		t.Errorf("paginated %d spot prices, want %d", n, want)
	}
}

func createTemplate(t *testing.T, c *ec2.Client, name string, data *ec2types.RequestLaunchTemplateData) *ec2types.LaunchTemplate {
	t.Helper()
	out, err := c.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String(name), LaunchTemplateData: data,
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: []ec2types.Tag{{Key: awssdk.String("karpenter.sh/cluster"), Value: awssdk.String("demo")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	return out.LaunchTemplate
}

func TestLaunchTemplateCRUD(t *testing.T) {
	_, c, _ := startEC2(t, Options{})
	ctx := context.Background()
	data := &ec2types.RequestLaunchTemplateData{
		ImageId:            awssdk.String(SeedAMIs[0].ID),
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: awssdk.String("node")},
		UserData:           awssdk.String(base64.StdEncoding.EncodeToString([]byte("#!/bin/bash\n/etc/eks/bootstrap.sh demo"))),
		SecurityGroupIds:   []string{SeedClusterSecurityGroupID},
		MetadataOptions:    &ec2types.LaunchTemplateInstanceMetadataOptionsRequest{HttpTokens: ec2types.LaunchTemplateHttpTokensStateRequired, HttpPutResponseHopLimit: awssdk.Int32(2)},
		BlockDeviceMappings: []ec2types.LaunchTemplateBlockDeviceMappingRequest{{DeviceName: awssdk.String("/dev/xvda"),
			Ebs: &ec2types.LaunchTemplateEbsBlockDeviceRequest{VolumeSize: awssdk.Int32(20), VolumeType: ec2types.VolumeTypeGp3, Encrypted: awssdk.Bool(true)}}},
		TagSpecifications: []ec2types.LaunchTemplateTagSpecificationRequest{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: awssdk.String("Name"), Value: awssdk.String("node")}}}},
	}
	lt := createTemplate(t, c, "karpenter.k8s.aws/demo", data)
	if !strings.HasPrefix(*lt.LaunchTemplateId, "lt-") || *lt.LatestVersionNumber != 1 || lt.CreateTime == nil {
		t.Fatalf("created %+v", lt)
	}
	_, err := c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String("karpenter.k8s.aws/demo"), LaunchTemplateData: data})
	if apiCode(err) != "InvalidLaunchTemplateName.AlreadyExistsException" {
		t.Errorf("duplicate: %v", err)
	}
	_, err = c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String("bad-userdata"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{UserData: awssdk.String("%%%not base64")}})
	if apiCode(err) != "InvalidUserData.Malformed" {
		t.Errorf("bad user data: %v", err)
	}

	got, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"karpenter.k8s.aws/demo"}})
	if err != nil || len(got.LaunchTemplates) != 1 || *got.LaunchTemplates[0].LaunchTemplateId != *lt.LaunchTemplateId {
		t.Fatalf("by name: %+v %v", got, err)
	}
	got, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{*lt.LaunchTemplateId}})
	if err != nil || len(got.LaunchTemplates) != 1 || len(got.LaunchTemplates[0].Tags) != 1 {
		t.Fatalf("by id: %+v %v", got, err)
	}
	got, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{filter("tag:karpenter.sh/cluster", "demo")}})
	if err != nil || len(got.LaunchTemplates) != 1 {
		t.Fatalf("by tag: %+v %v", got, err)
	}
	got, err = c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{filter("tag:karpenter.sh/cluster", "other")}})
	if err != nil || len(got.LaunchTemplates) != 0 {
		t.Fatalf("by other tag: %+v %v", got, err)
	}

	if _, err := c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: awssdk.String("karpenter.k8s.aws/demo")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{"karpenter.k8s.aws/demo"}}); apiCode(err) != "InvalidLaunchTemplateName.NotFoundException" {
		t.Errorf("deleted by name: %v", err)
	}
	if _, err := c.DeleteLaunchTemplate(ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateId: lt.LaunchTemplateId}); apiCode(err) != "InvalidLaunchTemplateId.NotFound" {
		t.Errorf("deleted by id: %v", err)
	}
}

// fleetTemplate creates a template without an instance profile, for fleet tests.
func fleetTemplate(t *testing.T, c *ec2.Client) string {
	return *createTemplate(t, c, "fleet", &ec2types.RequestLaunchTemplateData{ImageId: awssdk.String(SeedAMIs[0].ID),
		UserData: awssdk.String(base64.StdEncoding.EncodeToString([]byte("boot")))}).LaunchTemplateId
}

// overrides returns an override for each type in each seed subnet.
func overrides(types ...string) []ec2types.FleetLaunchTemplateOverridesRequest {
	var out []ec2types.FleetLaunchTemplateOverridesRequest
	for _, ty := range types {
		for _, sn := range SeedSubnets {
			out = append(out, ec2types.FleetLaunchTemplateOverridesRequest{InstanceType: ec2types.InstanceType(ty), SubnetId: awssdk.String(sn.ID), AvailabilityZone: awssdk.String(sn.Zone)})
		}
	}
	return out
}

func fleetInput(ltID, capacityType string, n int32, ov []ec2types.FleetLaunchTemplateOverridesRequest) *ec2.CreateFleetInput {
	return &ec2.CreateFleetInput{
		Type: ec2types.FleetTypeInstant,
		LaunchTemplateConfigs: []ec2types.FleetLaunchTemplateConfigRequest{{
			LaunchTemplateSpecification: &ec2types.FleetLaunchTemplateSpecificationRequest{LaunchTemplateId: awssdk.String(ltID), Version: awssdk.String("$Latest")},
			Overrides:                   ov}},
		TargetCapacitySpecification: &ec2types.TargetCapacitySpecificationRequest{TotalTargetCapacity: awssdk.Int32(n), DefaultTargetCapacityType: ec2types.DefaultTargetCapacityType(capacityType)},
		SpotOptions:                 &ec2types.SpotOptionsRequest{AllocationStrategy: ec2types.SpotAllocationStrategyPriceCapacityOptimized},
		OnDemandOptions:             &ec2types.OnDemandOptionsRequest{AllocationStrategy: ec2types.FleetOnDemandAllocationStrategyLowestPrice},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{
			{Key: awssdk.String("karpenter.sh/provisioner-name"), Value: awssdk.String("default")}}}},
	}
}

// cheapestPool returns the type and zone of the lowest price among types x seed zones.
func cheapestPool(capacityType string, types ...string) (string, string, float64) {
	best, bz, bp := "", "", 0.0
	for _, ty := range types {
		it, _ := catalog.Lookup(ty)
		for _, sn := range SeedSubnets {
			if p := poolPrice(it, &subnet{catalogZone: sn.Zone}, capacityType); best == "" || p < bp {
				best, bz, bp = ty, sn.Zone, p
			}
		}
	}
	return best, bz, bp
}

func TestCreateFleetLowestPrice(t *testing.T) {
	e, c, _ := startEC2(t, Options{})
	ctx := context.Background()
	lt := fleetTemplate(t, c)
	types := []string{"m5.large", "c5.large", "r5.large", "m5a.large"}

	for _, ct := range []string{"spot", "on-demand"} {
		out, err := c.CreateFleet(ctx, fleetInput(lt, ct, 2, overrides(types...)))
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Errors) != 0 || len(out.Instances) != 1 || len(out.Instances[0].InstanceIds) != 2 {
			t.Fatalf("%s fleet: errors %+v instances %+v", ct, out.Errors, out.Instances)
		}
		fi := out.Instances[0]
		wantType, wantZone, wantPrice := cheapestPool(ct, types...)
		if string(fi.InstanceType) != wantType || string(fi.Lifecycle) != ct || *fi.LaunchTemplateAndOverrides.Overrides.AvailabilityZone != wantZone {
			t.Errorf("%s fleet chose %s/%s (%s), want %s/%s", ct, fi.InstanceType, *fi.LaunchTemplateAndOverrides.Overrides.AvailabilityZone, fi.Lifecycle, wantType, wantZone)
		}
		desc, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: fi.InstanceIds})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range desc.Reservations {
			for _, inst := range r.Instances {
				if (ct == "spot") != (inst.InstanceLifecycle == ec2types.InstanceLifecycleTypeSpot) || (ct == "spot") != (inst.SpotInstanceRequestId != nil) {
					t.Errorf("%s instance lifecycle %q", ct, inst.InstanceLifecycle)
				}
				if *inst.Placement.AvailabilityZone != wantZone || !inCIDR(*inst.PrivateIpAddress, zoneCIDR(wantZone)) ||
					*inst.PrivateDnsName != "ip-"+strings.ReplaceAll(*inst.PrivateIpAddress, ".", "-")+".ec2.internal" {
					t.Errorf("instance network %s %s %s", *inst.Placement.AvailabilityZone, *inst.PrivateIpAddress, *inst.PrivateDnsName)
				}
				tags := map[string]string{}
				for _, tg := range inst.Tags {
					tags[*tg.Key] = *tg.Value
				}
				if tags["karpenter.sh/provisioner-name"] != "default" || tags["aws:ec2:fleet-id"] != *out.FleetId {
					t.Errorf("instance tags %v", tags)
				}
			}
		}
		for _, info := range e.Instances() {
			if contains(fi.InstanceIds, info.ID) && info.PriceUSDPerHour != wantPrice {
				t.Errorf("%s recorded price %v, want %v", info.ID, info.PriceUSDPerHour, wantPrice)
			}
		}
	}
}

func zoneCIDR(zone string) string {
	for _, sn := range SeedSubnets {
		if sn.Zone == zone {
			return sn.CIDR
		}
	}
	return ""
}

func inCIDR(ip, cidr string) bool {
	_, n, err := net.ParseCIDR(cidr)
	return err == nil && n.Contains(net.ParseIP(ip))
}

func TestCreateFleetInsufficientCapacityFallsBack(t *testing.T) {
	e, c, url := startEC2(t, Options{})
	ctx := context.Background()
	lt := fleetTemplate(t, c)
	types := []string{"m5.large", "c5.large"}
	cheapType, cheapZone, _ := cheapestPool("spot", types...)

	// Set through the HTTP control API, as a test in another process would.
	body := `{"instanceType":"` + cheapType + `","zone":"` + cheapZone + `","capacityType":"spot"}`
	resp, err := http.Post(url+"/_sandbox/faults/capacity", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set fault: %v %v", resp, err)
	}
	resp.Body.Close()

	out, err := c.CreateFleet(ctx, fleetInput(lt, "spot", 1, overrides(types...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Errors) != 1 || *out.Errors[0].ErrorCode != "InsufficientInstanceCapacity" ||
		string(out.Errors[0].LaunchTemplateAndOverrides.Overrides.InstanceType) != cheapType || *out.Errors[0].LaunchTemplateAndOverrides.Overrides.AvailabilityZone != cheapZone {
		t.Fatalf("errors = %+v", out.Errors)
	}
	if len(out.Instances) != 1 {
		t.Fatalf("no fallback launch: %+v", out.Instances)
	}
	got := out.Instances[0]
	if string(got.InstanceType) == cheapType && *got.LaunchTemplateAndOverrides.Overrides.AvailabilityZone == cheapZone {
		t.Fatalf("launched into the faulted pool")
	}

	// Every spot pool faulted (wildcards): nothing launches, one error per override;
	// on-demand still works.
	if err := e.AddInsufficientCapacity(CapacityFault{InstanceType: "*", Zone: "us-east-1?", CapacityType: "spot"}); err != nil {
		t.Fatal(err)
	}
	out, err = c.CreateFleet(ctx, fleetInput(lt, "spot", 1, overrides(types...)))
	if err != nil || len(out.Instances) != 0 || len(out.Errors) != 6 {
		t.Fatalf("all faulted: instances %+v errors %d %v", out.Instances, len(out.Errors), err)
	}
	out, err = c.CreateFleet(ctx, fleetInput(lt, "on-demand", 1, overrides(types...)))
	if err != nil || len(out.Instances) != 1 {
		t.Fatalf("on-demand while spot faulted: %+v %v", out, err)
	}
	if err := e.AddInsufficientCapacity(CapacityFault{Zone: "[bad"}); err == nil {
		t.Error("bad pattern accepted")
	}

	// Clearing through the control API restores spot.
	req, _ := http.NewRequest(http.MethodDelete, url+"/_sandbox/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("clear: %v %v", resp, err)
	}
	out, err = c.CreateFleet(ctx, fleetInput(lt, "spot", 1, overrides(types...)))
	if err != nil || len(out.Errors) != 0 || string(out.Instances[0].InstanceType) != cheapType {
		t.Fatalf("after clear: %+v %v", out, err)
	}
}

func TestCreateFleetPrioritizedAndErrors(t *testing.T) {
	_, c, _ := startEC2(t, Options{})
	ctx := context.Background()
	lt := fleetTemplate(t, c)
	ov := overrides("r5.large", "c5.large")
	for i := range ov {
		ov[i].Priority = awssdk.Float64(float64(10 + i))
	}
	in := fleetInput(lt, "on-demand", 3, ov)
	in.OnDemandOptions.AllocationStrategy = ec2types.FleetOnDemandAllocationStrategyPrioritized
	out, err := c.CreateFleet(ctx, in)
	if err != nil || len(out.Instances) != 1 || out.Instances[0].InstanceType != "r5.large" || *out.Instances[0].LaunchTemplateAndOverrides.Overrides.SubnetId != SeedSubnets[0].ID {
		t.Fatalf("prioritized: %+v %v", out, err)
	}
	// An unknown type and an unknown subnet are per-override errors; the valid override launches.
	bad := []ec2types.FleetLaunchTemplateOverridesRequest{
		{InstanceType: "m5.huge", SubnetId: awssdk.String(SeedSubnets[0].ID)},
		{InstanceType: "m5.large", SubnetId: awssdk.String("subnet-0000000000000dead")},
		{InstanceType: "m5.large", SubnetId: awssdk.String(SeedSubnets[1].ID)},
	}
	out, err = c.CreateFleet(ctx, fleetInput(lt, "spot", 1, bad))
	if err != nil || len(out.Errors) != 2 || len(out.Instances) != 1 {
		t.Fatalf("mixed: %+v %v", out, err)
	}
	codes := []string{*out.Errors[0].ErrorCode, *out.Errors[1].ErrorCode}
	sort.Strings(codes)
	if codes[0] != "InvalidParameterValue" || codes[1] != "InvalidSubnetID.NotFound" {
		t.Errorf("codes %v", codes)
	}
	// arm64 type with an x86_64 AMI.
	out, err = c.CreateFleet(ctx, fleetInput(lt, "spot", 1, overrides("m6g.large")))
	if err != nil || len(out.Instances) != 0 || len(out.Errors) != 3 || *out.Errors[0].ErrorCode != "InvalidParameterValue" {
		t.Fatalf("arch mismatch: %+v %v", out, err)
	}
	// Missing template.
	in = fleetInput("lt-0123456789abcdef0", "spot", 1, overrides("m5.large"))
	out, err = c.CreateFleet(ctx, in)
	if err != nil || len(out.Errors) != 1 || *out.Errors[0].ErrorCode != "InvalidLaunchTemplateId.NotFound" {
		t.Fatalf("missing template: %+v %v", out, err)
	}
	in = fleetInput(lt, "spot", 1, overrides("m5.large"))
	in.Type = ec2types.FleetTypeMaintain
	if _, err := c.CreateFleet(ctx, in); apiCode(err) != "Unsupported" {
		t.Errorf("maintain fleet: %v", err)
	}
}

func TestThrottling(t *testing.T) {
	e, _, url := startEC2(t, Options{})
	c := oneShot(url)
	ctx := context.Background()
	resp, err := http.Post(url+"/_sandbox/faults/throttle", "application/json", strings.NewReader(`{"service":"ec2","next":2}`))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("set throttle: %v %v", resp, err)
	}
	for i := 0; i < 2; i++ {
		_, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
		if apiCode(err) != "RequestLimitExceeded" {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("third call: %v", err)
	}
	// The SDK's standard retryer treats it as retryable throttling: with 3 attempts and one
	// throttled call, the call succeeds.
	if err := e.AddThrottle(ThrottleFault{Service: "ec2", Next: 1}); err != nil {
		t.Fatal(err)
	}
	retrying := ec2.NewFromConfig(sdkConfig(), func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
	if _, err := retrying.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); err != nil {
		t.Fatalf("retried call: %v", err)
	}
	// Fraction 0.5: every second call.
	if err := e.AddThrottle(ThrottleFault{Service: "*", Fraction: 0.5}); err != nil {
		t.Fatal(err)
	}
	throttled := 0
	for i := 0; i < 10; i++ {
		if _, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}); apiCode(err) == "RequestLimitExceeded" {
			throttled++
		}
	}
	if throttled != 5 {
		t.Errorf("fraction 0.5 throttled %d of 10", throttled)
	}
	e.ClearFaults()
	if err := e.AddThrottle(ThrottleFault{Fraction: 2}); err == nil {
		t.Error("fraction 2 accepted")
	}
	resp, err = http.Post(url+"/_sandbox/faults/throttle", "application/json", strings.NewReader(`{"service":"ec2","nxt":2}`))
	if err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown field: %v %v", resp, err)
	}
}

// lifecycleEnv is an emulator with a fake clock, a 10 s boot delay and hooks that report
// booted and terminated instances on channels, plus the instance profile to launch with.
type lifecycleEnv struct {
	fc         *clocktesting.FakeClock
	booted     chan BootedInstance
	terminated chan BootedInstance
	c          *ec2.Client
	url        string
	profileArn string // of KarpenterNodeInstanceProfile-demo
}

const lifecycleProfile = "KarpenterNodeInstanceProfile-demo"

// lifecycleUserData is the user data every lifecycleEnv launch carries.
const lifecycleUserData = "#!/bin/bash\n/etc/eks/bootstrap.sh demo"

func newLifecycleEnv(t *testing.T) *lifecycleEnv {
	t.Helper()
	env := &lifecycleEnv{
		fc:         clocktesting.NewFakeClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)),
		booted:     make(chan BootedInstance, 20),
		terminated: make(chan BootedInstance, 20),
	}
	_, env.c, env.url = startEC2(t, Options{ClusterName: "demo", Clock: env.fc, BootDelay: 10 * time.Second, Hooks: Hooks{
		OnBoot:      func(_ context.Context, bi BootedInstance) error { env.booted <- bi; return nil },
		OnTerminate: func(_ context.Context, bi BootedInstance) error { env.terminated <- bi; return nil },
	}})
	// The instance profile must exist in IAM.
	ic := iam.NewFromConfig(sdkConfig(), func(o *iam.Options) { o.BaseEndpoint = awssdk.String(env.url) })
	prof, err := ic.CreateInstanceProfile(context.Background(), &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String(lifecycleProfile)})
	if err != nil {
		t.Fatalf("CreateInstanceProfile: %v", err)
	}
	env.profileArn = *prof.InstanceProfile.Arn
	return env
}

// run launches up to n m5.large instances in the second seed subnet with the named profile
// and, if given, one instance tag (key, value).
func (env *lifecycleEnv) run(profile string, n int32, tags ...string) (*ec2.RunInstancesOutput, error) {
	in := &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(n), ImageId: awssdk.String(SeedAMIs[0].ID),
		InstanceType: "m5.large", SubnetId: awssdk.String(SeedSubnets[1].ID),
		UserData:           awssdk.String(base64.StdEncoding.EncodeToString([]byte(lifecycleUserData))),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: awssdk.String(profile)}}
	if len(tags) > 0 {
		in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance, Tags: []ec2types.Tag{{Key: awssdk.String(tags[0]), Value: awssdk.String(tags[1])}}}}
	}
	return env.c.RunInstances(context.Background(), in)
}

// state is the instance's state as DescribeInstances reports it, or the error code.
func (env *lifecycleEnv) state(id string) ec2types.InstanceStateName {
	d, err := env.c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		return ec2types.InstanceStateName(apiCode(err))
	}
	return d.Reservations[0].Instances[0].State.Name
}

func TestInstanceLifecycleHooksAndDescribe(t *testing.T) {
	env := newLifecycleEnv(t)
	id, bi := env.launchAndBoot(t)
	env.checkDescribeRunning(t, id, bi)
	env.checkPaginatedBatch(t, id)
	env.checkTerminate(t, id, bi)
	env.checkTerminatePendingDoesNotBoot(t)
	env.checkControlAPIListing(t)
	if _, err := env.c.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{"i-0123456789abcdef0"}}); apiCode(err) != "InvalidInstanceID.NotFound" {
		t.Errorf("terminate unknown: %v", err)
	}
}

// launchAndBoot checks that a launch with an unknown profile fails, launches one tagged
// instance, checks it is pending with the profile and boots only after the boot delay, and
// checks what OnBoot receives. It returns the instance's ID and boot record.
func (env *lifecycleEnv) launchAndBoot(t *testing.T) (string, BootedInstance) {
	t.Helper()
	if _, err := env.run("missing-profile", 1); apiCode(err) != "InvalidParameterValue" {
		t.Fatalf("missing profile: %v", err)
	}
	out, err := env.run(lifecycleProfile, 1, "karpenter.sh/discovery", "demo")
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Instances[0]
	id := *inst.InstanceId
	if inst.State.Name != ec2types.InstanceStateNamePending || *inst.IamInstanceProfile.Arn != env.profileArn {
		t.Fatalf("launched %+v", inst)
	}
	select {
	case bi := <-env.booted:
		t.Fatalf("booted before the delay: %+v", bi)
	default:
	}
	env.fc.Step(10 * time.Second)
	var bi BootedInstance
	select {
	case bi = <-env.booted:
	case <-time.After(5 * time.Second):
		t.Fatal("OnBoot not called")
	}
	it, _ := catalog.Lookup("m5.large")
	if bi.InstanceID != id || bi.Zone != "us-east-1b" || bi.CapacityType != "on-demand" || string(bi.UserData) != lifecycleUserData ||
		bi.MaxPods != 29 || bi.VCPUs != 2 || bi.MemoryMiB != it.MemoryMiB || bi.InstanceProfileArn != env.profileArn || bi.Tags["karpenter.sh/discovery"] != "demo" {
		t.Errorf("booted %+v", bi)
	}
	return id, bi
}

// checkDescribeRunning finds the booted instance by state and tag, and by private DNS name.
func (env *lifecycleEnv) checkDescribeRunning(t *testing.T, id string, bi BootedInstance) {
	t.Helper()
	ctx := context.Background()
	desc, err := env.c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("instance-state-name", "running"), filter("tag:karpenter.sh/discovery", "demo")}})
	if err != nil || len(desc.Reservations) != 1 || *desc.Reservations[0].Instances[0].InstanceId != id {
		t.Fatalf("running by tag: %+v %v", desc, err)
	}
	desc, err = env.c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{filter("private-dns-name", bi.PrivateDNSName)}})
	if err != nil || len(desc.Reservations) != 1 {
		t.Fatalf("by dns name: %+v %v", desc, err)
	}
}

// checkPaginatedBatch launches a batch of 12 tagged instances (batch=b1) and pages through a
// tag-filtered listing 5 at a time; instance IDs with MaxResults are rejected.
func (env *lifecycleEnv) checkPaginatedBatch(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	if _, err := env.run(lifecycleProfile, 12, "batch", "b1"); err != nil {
		t.Fatal(err)
	}
	var ids []string
	p := ec2.NewDescribeInstancesPaginator(env.c, &ec2.DescribeInstancesInput{MaxResults: awssdk.Int32(5), Filters: []ec2types.Filter{filter("tag-key", "batch")}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				ids = append(ids, *i.InstanceId)
			}
		}
	}
	if len(ids) != 12 {
		t.Fatalf("paginated %d instances", len(ids))
	}
	if _, err := env.c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}, MaxResults: awssdk.Int32(5)}); apiCode(err) != "InvalidParameterCombination" {
		t.Errorf("ids with MaxResults: %v", err)
	}
}

// checkTerminate terminates the running instance: shutting-down, OnTerminate called with its
// record, terminated after shutdownDuration, gone after terminatedVisibility.
func (env *lifecycleEnv) checkTerminate(t *testing.T, id string, bi BootedInstance) {
	t.Helper()
	term, err := env.c.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	if err != nil || term.TerminatingInstances[0].CurrentState.Name != ec2types.InstanceStateNameShuttingDown ||
		term.TerminatingInstances[0].PreviousState.Name != ec2types.InstanceStateNameRunning {
		t.Fatalf("terminate: %+v %v", term, err)
	}
	select {
	case got := <-env.terminated:
		if got.InstanceID != id || got.PrivateDNSName != bi.PrivateDNSName {
			t.Errorf("OnTerminate got %+v", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnTerminate not called")
	}
	if s := env.state(id); s != ec2types.InstanceStateNameShuttingDown {
		t.Errorf("state %s", s)
	}
	env.fc.Step(shutdownDuration)
	if s := env.state(id); s != ec2types.InstanceStateNameTerminated {
		t.Errorf("state %s", s)
	}
	env.fc.Step(terminatedVisibility)
	if s := env.state(id); s != "InvalidInstanceID.NotFound" {
		t.Errorf("after an hour: %s", s)
	}
}

// checkTerminatePendingDoesNotBoot terminates a pending instance and checks that it does not
// boot on the step that boots the (still pending) batch of 12.
func (env *lifecycleEnv) checkTerminatePendingDoesNotBoot(t *testing.T) {
	t.Helper()
	pend, err := env.run(lifecycleProfile, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.c.TerminateInstances(context.Background(), &ec2.TerminateInstancesInput{InstanceIds: []string{*pend.Instances[0].InstanceId}}); err != nil {
		t.Fatal(err)
	}
	<-env.terminated
	env.fc.Step(10 * time.Second)
	for len(env.booted) < 12 { // the batch of 12 boots on the same step
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	for len(env.booted) > 0 {
		if b := <-env.booted; b.InstanceID == *pend.Instances[0].InstanceId {
			t.Fatal("terminated pending instance booted")
		}
	}
}

// checkControlAPIListing checks GET /_sandbox/instances: the 12 running batch instances, each
// with its launch price, tags and zone.
func (env *lifecycleEnv) checkControlAPIListing(t *testing.T) {
	t.Helper()
	resp, err := http.Get(env.url + "/_sandbox/instances")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var infos []InstanceInfo
	if err := json.NewDecoder(resp.Body).Decode(&infos); err != nil {
		t.Fatal(err)
	}
	it, _ := catalog.Lookup("m5.large")
	running := 0
	for _, in := range infos {
		if in.State == "running" {
			running++
			if in.PriceUSDPerHour != it.OnDemandPrice || in.Tags["batch"] != "b1" || in.Zone != "us-east-1b" {
				t.Errorf("info %+v", in)
			}
		}
	}
	if running != 12 {
		t.Errorf("%d running instances listed, want 12", running)
	}
}

func TestRunInstancesSpotAndCapacityFault(t *testing.T) {
	e, c, _ := startEC2(t, Options{})
	ctx := context.Background()
	lt := createTemplate(t, c, "arm", &ec2types.RequestLaunchTemplateData{ImageId: awssdk.String(SeedAMIs[1].ID), InstanceType: "m6g.large"})
	in := &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
		LaunchTemplate:        &ec2types.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplateId},
		InstanceMarketOptions: &ec2types.InstanceMarketOptionsRequest{MarketType: ec2types.MarketTypeSpot},
		Placement:             &ec2types.Placement{AvailabilityZone: awssdk.String("us-east-1c")}}
	out, err := c.RunInstances(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	i := out.Instances[0]
	if i.InstanceLifecycle != ec2types.InstanceLifecycleTypeSpot || i.Architecture != ec2types.ArchitectureValuesArm64 || *i.SubnetId != SeedSubnets[2].ID {
		t.Errorf("spot run: %+v", i)
	}
	if err := e.AddInsufficientCapacity(CapacityFault{InstanceType: "m6g.*", CapacityType: "spot"}); err != nil {
		t.Fatal(err)
	}
	in.ClientToken = nil // the SDK filled in the first call's token; a new call needs a new one
	if _, err := c.RunInstances(ctx, in); apiCode(err) != "InsufficientInstanceCapacity" {
		t.Errorf("ICE: %v", err)
	}
	// A retried request (same client token) launches nothing new; other parameters with the same
	// token are refused.
	in.ClientToken = awssdk.String("token-1")
	e.ClearFaults()
	first, err := c.RunInstances(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.RunInstances(ctx, in)
	if err != nil || *again.Instances[0].InstanceId != *first.Instances[0].InstanceId || len(e.Instances()) != 2 {
		t.Errorf("retry with the same token: %v %v, %d instances", again, err, len(e.Instances()))
	}
	in.MaxCount = awssdk.Int32(2)
	if _, err := c.RunInstances(ctx, in); apiCode(err) != "IdempotentParameterMismatch" {
		t.Errorf("token reuse: %v", err)
	}
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: awssdk.Int32(2), MaxCount: awssdk.Int32(1), ImageId: awssdk.String(SeedAMIs[0].ID), InstanceType: "m5.large"}); apiCode(err) != "InvalidParameterValue" {
		t.Errorf("min > max: %v", err)
	}
	if _, err := c.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ImageId: awssdk.String("ami-0123456789abcdef0"), InstanceType: "m5.large"}); apiCode(err) != "InvalidAMIID.NotFound" {
		t.Errorf("missing AMI: %v", err)
	}
}

func TestQueryHelpers(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{{"m5.*", "m5.large", true}, {"m5.*", "m5a.large", false}, {"*", "", true}, {"us-east-1?", "us-east-1a", true},
		{"us-east-1?", "us-east-1", false}, {"a*b*c", "axxbyyc", true}, {"a*b*c", "axxbyy", false}, {"exact", "exact", true}} {
		if got := wildcardMatch(c.p, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v", c.p, c.s, got)
		}
	}
	form := map[string][]string{"Filter.2.Name": {"b"}, "Filter.1.Name": {"a"}, "Filter.1.Value.1": {"x"}, "Filter.1.Value.2": {"y"}, "Filter.10.Name": {"c"}}
	fs, err := parseFilters(form)
	if err != nil || len(fs) != 3 || fs[0].Name != "a" || len(fs[0].Values) != 2 || fs[2].Name != "c" {
		t.Errorf("parseFilters = %+v %v", fs, err)
	}
	var s ec2Store
	s.secret = []byte("k")
	tok := s.encodeToken("DescribeX", form, 42)
	if off, ok := s.decodeToken(tok, "DescribeX", form); !ok || off != 42 {
		t.Errorf("token round trip: %d %v", off, ok)
	}
	if _, ok := s.decodeToken(tok, "DescribeY", form); ok {
		t.Error("token accepted for another action")
	}
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	raw[3] ^= 1
	if _, ok := s.decodeToken(base64.RawURLEncoding.EncodeToString(raw), "DescribeX", form); ok {
		t.Error("tampered token accepted")
	}
}

// TestConcurrentLaunches checks the store under parallel fleets (run with -race).
func TestConcurrentLaunches(t *testing.T) {
	e, c, _ := startEC2(t, Options{})
	lt := fleetTemplate(t, c)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.CreateFleet(context.Background(), fleetInput(lt, "spot", 3, overrides("m5.large", "c5.large"))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	ips := map[string]bool{}
	for _, in := range e.Instances() {
		if ips[in.PrivateIPAddress] {
			t.Fatalf("IP %s handed out twice", in.PrivateIPAddress)
		}
		ips[in.PrivateIPAddress] = true
	}
	if len(ips) != 24 {
		t.Errorf("%d instances, want 24", len(ips))
	}
}

// BenchmarkCreateFleet measures one instant fleet of 10 spot instances over 20 candidate pools
// through the real SDK client (the allocator's launch path).
func BenchmarkCreateFleet(b *testing.B) {
	e := New(Options{NoBootDelay: true})
	url, err := e.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c := ec2.NewFromConfig(sdkConfig(), func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
	lt, err := c.CreateLaunchTemplate(context.Background(), &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String("bench"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: awssdk.String(SeedAMIs[0].ID)}})
	if err != nil {
		b.Fatal(err)
	}
	ov := overrides("m5.large", "m5.xlarge", "c5.large", "c5.xlarge", "r5.large", "m5a.large", "c5a.large")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.CreateFleet(context.Background(), fleetInput(*lt.LaunchTemplate.LaunchTemplateId, "spot", 10, ov)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribeInstances measures a tag-filtered listing over 2000 instances.
func BenchmarkDescribeInstances(b *testing.B) {
	e := New(Options{NoBootDelay: true})
	url, err := e.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	c := ec2.NewFromConfig(sdkConfig(), func(o *ec2.Options) { o.BaseEndpoint = awssdk.String(url) })
	for i := 0; i < 2; i++ {
		if _, err := c.RunInstances(context.Background(), &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1000),
			ImageId: awssdk.String(SeedAMIs[0].ID), InstanceType: "m5.large"}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{MaxResults: awssdk.Int32(1000),
			Filters: []ec2types.Filter{filter("instance-state-name", "running", "pending"), filter("tag-key", "missing")}}); err != nil {
			b.Fatal(err)
		}
	}
}
