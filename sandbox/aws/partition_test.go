package aws

import (
	"context"
	"net/url"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestPartitionOf(t *testing.T) {
	for _, c := range []struct{ region, id, suffix, ec2 string }{
		{"us-east-1", "aws", "amazonaws.com", "ec2.amazonaws.com"},
		{"eu-west-1", "aws", "amazonaws.com", "ec2.amazonaws.com"},
		{"cn-north-1", "aws-cn", "amazonaws.com.cn", "ec2.amazonaws.com.cn"},
		{"cn-northwest-1", "aws-cn", "amazonaws.com.cn", "ec2.amazonaws.com.cn"},
		{"us-gov-west-1", "aws-us-gov", "amazonaws.com", "ec2.amazonaws.com"},
	} {
		p := PartitionOf(c.region)
		if p.ID != c.id || p.DNSSuffix != c.suffix || p.EC2ServicePrincipal() != c.ec2 {
			t.Errorf("%s: %+v, principal %s", c.region, p, p.EC2ServicePrincipal())
		}
	}
	for _, bad := range []string{"", "local", "US-EAST-1", "us-east", "us-east-1a"} {
		if ValidRegion(bad) == nil {
			t.Errorf("ValidRegion(%q): no error", bad)
		}
	}
}

// otherEC2Principal is an EC2 principal of the wrong partition for p.
func otherEC2Principal(p Partition) string {
	if p.ID == "aws-cn" {
		return "ec2.amazonaws.com"
	}
	return "ec2.amazonaws.com.cn"
}

// TestEmulatorPartition runs one emulator per partition and checks that every ARN it forms is
// in the partition of its region (STS callers and sessions, IAM roles, instance profiles,
// policies and OIDC providers, the AWS managed policies and their documents, EC2 subnets and
// security groups, SSM parameters, the EKS cluster and access entries), that ARNs of another
// partition name nothing, that zones are named in the region, and that the EC2 service
// principal of the partition is the one iam:PassedToService carries and node role trust must
// name.
func TestEmulatorPartition(t *testing.T) {
	for _, region := range []string{"us-east-1", "cn-north-1", "us-gov-west-1"} {
		t.Run(region, func(t *testing.T) { checkEmulatorPartition(t, region) })
	}
}

// partitionFixture is an emulator in one region with SDK clients and what its partition
// makes of ARNs: prefix ("arn:aws-cn:") and wrong, the prefix of another partition.
type partitionFixture struct {
	t             *testing.T
	e             *Emulator
	p             Partition
	region        string
	prefix, wrong string
	cfg           awssdk.Config
	ep            *string
	iam           *iam.Client
	ec2           *ec2.Client
	sts           *sts.Client
}

func checkEmulatorPartition(t *testing.T, region string) {
	f := &partitionFixture{t: t, p: PartitionOf(region), region: region}
	f.prefix, f.wrong = "arn:"+f.p.ID+":", "arn:aws-cn:"
	if f.p.ID == "aws-cn" {
		f.wrong = "arn:aws:"
	}
	var base string
	f.e, base, f.cfg = startEmulator(t, Options{Region: region, ClusterName: "demo", NoBootDelay: true, AuthenticationMode: AuthModeAPI})
	f.cfg.Region = region
	f.ep = awssdk.String(base)
	f.iam = newIAM(base, f.cfg)
	f.ec2 = ec2.NewFromConfig(f.cfg, func(o *ec2.Options) { o.BaseEndpoint = f.ep })
	f.sts = sts.NewFromConfig(f.cfg, func(o *sts.Options) { o.BaseEndpoint = f.ep })
	nodeArn, wrongTrustArn := f.checkIAM()
	f.checkEC2Zones()
	f.checkSSMAndEKS(nodeArn, wrongTrustArn)
	f.checkPassedToService(nodeArn)
}

func (f *partitionFixture) wantPrefix(what, arn string) {
	f.t.Helper()
	if !strings.HasPrefix(arn, f.prefix) {
		f.t.Errorf("%s ARN %q is not in partition %s", what, arn, f.p.ID)
	}
}

// checkIAM: caller, roles, profile, policy, OIDC provider and AWS managed policies in the
// partition, and CheckInstanceTrust by the partition's EC2 principal. It returns the ARNs of
// role "node" (in profile "node", trusting the partition's EC2 principal) and of role
// "wrong-trust" (trusting the other partition's).
func (f *partitionFixture) checkIAM() (string, string) {
	t, ctx, p, ic := f.t, context.Background(), f.p, f.iam
	id, err := f.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	must(t, err)
	f.wantPrefix("caller", *id.Arn)

	trust := func(principal string) *string {
		return awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + principal + `"},"Action":"sts:AssumeRole"}]}`)
	}
	node, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("node"), AssumeRolePolicyDocument: trust(p.EC2ServicePrincipal())})
	must(t, err)
	f.wantPrefix("role", *node.Role.Arn)
	wrongTrust, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("wrong-trust"), AssumeRolePolicyDocument: trust(otherEC2Principal(p))})
	must(t, err)
	if err := f.e.CheckInstanceTrust(*node.Role.Arn); err != nil {
		t.Errorf("node role trusting %s: %v", p.EC2ServicePrincipal(), err)
	}
	if err := f.e.CheckInstanceTrust(*wrongTrust.Role.Arn); err == nil || !strings.Contains(err.Error(), p.EC2ServicePrincipal()) {
		t.Errorf("role trusting %s: %v", otherEC2Principal(p), err)
	}
	prof, err := ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String("node")})
	must(t, err)
	f.wantPrefix("instance profile", *prof.InstanceProfile.Arn)
	_, err = ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: awssdk.String("node"), RoleName: awssdk.String("node")})
	must(t, err)
	pol, err := ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: awssdk.String("p"), PolicyDocument: awssdk.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeSubnets","Resource":"*"}]}`)})
	must(t, err)
	f.wantPrefix("policy", *pol.Policy.Arn)
	oidc, err := ic.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{Url: awssdk.String("https://issuer.example/id/1"), ClientIDList: []string{"sts.amazonaws.com"}})
	must(t, err)
	f.wantPrefix("OIDC provider", *oidc.OpenIDConnectProviderArn)

	// AWS managed policies exist in the partition only, with documents in the partition.
	managed := p.ManagedPolicyARN("AmazonEKS_CNI_Policy")
	_, err = ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("node"), PolicyArn: &managed})
	must(t, err)
	_, err = ic.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("node"),
		PolicyArn: awssdk.String(f.wrong + "iam::aws:policy/AmazonEKSWorkerNodePolicy")})
	wantCode(t, err, "NoSuchEntity")
	v, err := ic.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &managed, VersionId: awssdk.String("v1")})
	must(t, err)
	doc, err := url.QueryUnescape(*v.PolicyVersion.Document)
	must(t, err)
	if !strings.Contains(doc, `"`+f.prefix+`ec2:*:*:network-interface/*"`) || (p.ID != "aws" && strings.Contains(doc, `"arn:aws:`)) {
		t.Errorf("AmazonEKS_CNI_Policy document not in partition %s: %s", p.ID, doc)
	}
	return *node.Role.Arn, *wrongTrust.Role.Arn
}

// checkEC2Zones: subnet and security group ARNs in the partition; zones, offerings and spot
// prices named in the region.
func (f *partitionFixture) checkEC2Zones() {
	t, ctx, ec, region := f.t, context.Background(), f.ec2, f.region
	subnets, err := ec.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{SubnetIds: []string{SeedSubnets[0].ID}})
	must(t, err)
	sn := subnets.Subnets[0]
	f.wantPrefix("subnet", *sn.SubnetArn)
	// AWS's zone IDs: use1-az1, cnn1-az1, usgw1-az1.
	wantZoneID := map[string]string{"us-east-1": "use1-az1", "cn-north-1": "cnn1-az1", "us-gov-west-1": "usgw1-az1"}[region]
	if *sn.AvailabilityZone != region+"a" || *sn.AvailabilityZoneId != wantZoneID {
		t.Errorf("subnet zone %s (%s), want %sa", *sn.AvailabilityZone, *sn.AvailabilityZoneId, region)
	}
	groups, err := ec.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{SeedClusterSecurityGroupID}})
	must(t, err)
	f.wantPrefix("security group", *groups.SecurityGroups[0].SecurityGroupArn)
	zones, err := ec.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	must(t, err)
	for _, z := range zones.AvailabilityZones {
		if !strings.HasPrefix(*z.ZoneName, region) || *z.RegionName != region {
			t.Errorf("zone %s of region %s", *z.ZoneName, *z.RegionName)
		}
	}
	offers, err := ec.DescribeInstanceTypeOfferings(ctx, &ec2.DescribeInstanceTypeOfferingsInput{LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{{Name: awssdk.String("instance-type"), Values: []string{"m5.large"}}}})
	must(t, err)
	spot, err := ec.DescribeSpotPriceHistory(ctx, &ec2.DescribeSpotPriceHistoryInput{InstanceTypes: []ec2types.InstanceType{"m5.large"}, AvailabilityZone: awssdk.String(region + "a")})
	must(t, err)
	if len(offers.InstanceTypeOfferings) == 0 || len(spot.SpotPriceHistory) == 0 {
		t.Errorf("m5.large in %s: %d offerings, %d spot prices", region, len(offers.InstanceTypeOfferings), len(spot.SpotPriceHistory))
	}
	for _, o := range offers.InstanceTypeOfferings {
		if !strings.HasPrefix(*o.Location, region) {
			t.Errorf("offering in %s", *o.Location)
		}
	}
}

// checkSSMAndEKS: parameter, cluster and access entry ARNs in the partition; an access entry
// for a role ARN of another partition is refused.
func (f *partitionFixture) checkSSMAndEKS(nodeArn, wrongTrustArn string) {
	t, ctx, cfg, ep := f.t, context.Background(), f.cfg, f.ep
	param, err := ssm.NewFromConfig(cfg, func(o *ssm.Options) { o.BaseEndpoint = ep }).GetParameter(ctx, &ssm.GetParameterInput{
		Name: awssdk.String("/aws/service/eks/optimized-ami/1.37/amazon-linux-2/recommended/image_id")})
	must(t, err)
	f.wantPrefix("SSM parameter", *param.Parameter.ARN)
	eksC := eks.NewFromConfig(cfg, func(o *eks.Options) { o.BaseEndpoint = ep })
	cl, err := eksC.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: awssdk.String("demo")})
	must(t, err)
	f.wantPrefix("cluster", *cl.Cluster.Arn)
	entry, err := eksC.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: awssdk.String("demo"), PrincipalArn: &nodeArn, Type: awssdk.String(AccessEntryEC2Linux)})
	must(t, err)
	f.wantPrefix("access entry", *entry.AccessEntry.AccessEntryArn)
	_, err = eksC.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: awssdk.String("demo"),
		PrincipalArn: awssdk.String(strings.Replace(wrongTrustArn, f.prefix, f.wrong, 1)), Type: awssdk.String(AccessEntryEC2Linux)})
	wantCode(t, err, "InvalidParameterException")
}

// checkPassedToService: iam:PassedToService is the partition's EC2 principal, so a controller
// allowed to pass the node role to the other one cannot launch with the node profile.
func (f *partitionFixture) checkPassedToService(nodeArn string) {
	t, ctx, p, ic, cfg, ep := f.t, context.Background(), f.p, f.iam, f.cfg, f.ep
	for _, c := range []struct {
		name, passTo string
		ok           bool
	}{{"ctl", p.EC2ServicePrincipal(), true}, {"ctl-wrong", otherEC2Principal(p), false}} {
		_, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &c.name, AssumeRolePolicyDocument: awssdk.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + f.prefix + `iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`)})
		must(t, err)
		_, err = ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &c.name, PolicyName: &c.name, PolicyDocument: awssdk.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"},` +
				`{"Effect":"Allow","Action":"iam:PassRole","Resource":"` + nodeArn + `","Condition":{"StringEquals":{"iam:PassedToService":"` + c.passTo + `"}}}]}`)})
		must(t, err)
		out, err := f.sts.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(f.prefix + "iam::111122223333:role/" + c.name), RoleSessionName: awssdk.String("controller")})
		must(t, err)
		f.wantPrefix("assumed role", *out.AssumedRoleUser.Arn)
		sess := cfg.Copy()
		sess.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
		run, err := ec2.NewFromConfig(sess, func(o *ec2.Options) { o.BaseEndpoint = ep }).RunInstances(ctx, &ec2.RunInstancesInput{
			MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ImageId: awssdk.String(SeedAMIs[0].ID), InstanceType: "m5.large",
			SubnetId: awssdk.String(SeedSubnets[0].ID), IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: awssdk.String("node")}})
		if c.ok {
			must(t, err)
			// ec2.internal in us-east-1, <region>.compute.internal elsewhere.
			if dns := *run.Instances[0].PrivateDnsName; !strings.HasSuffix(dns, map[bool]string{true: ".ec2.internal", false: "." + f.region + ".compute.internal"}[f.region == "us-east-1"]) {
				t.Errorf("private DNS name %s in %s", dns, f.region)
			}
		} else {
			wantDenied(t, err, "iam:PassRole", nodeArn)
		}
	}
}
