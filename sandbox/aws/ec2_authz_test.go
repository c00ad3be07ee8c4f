package aws

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// scopedPolicy has the shape of the provider's controller policy for cluster "demo": launches
// only with the cluster tag, into discovery-tagged subnets and security groups, from launch
// templates with the cluster tag, passing only role "node" to EC2.
const scopedPolicy = `{"Version":"2012-10-17","Statement":[
 {"Effect":"Allow","Action":["ec2:DescribeSubnets","ec2:DescribeInstances"],"Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":"us-east-1"}}},
 {"Effect":"Allow","Action":["ec2:CreateFleet","ec2:RunInstances"],"Resource":["arn:aws:ec2:us-east-1::image/*"]},
 {"Effect":"Allow","Action":["ec2:CreateFleet","ec2:RunInstances"],"Resource":["arn:aws:ec2:us-east-1:*:subnet/*","arn:aws:ec2:us-east-1:*:security-group/*"],
  "Condition":{"StringEquals":{"ec2:ResourceTag/karpenter.sh/discovery":"demo"}}},
 {"Effect":"Allow","Action":["ec2:CreateFleet","ec2:RunInstances"],"Resource":"arn:aws:ec2:us-east-1:*:launch-template/*",
  "Condition":{"StringEquals":{"aws:ResourceTag/karpenter.sh/cluster":"demo"}}},
 {"Effect":"Allow","Action":["ec2:CreateFleet","ec2:RunInstances","ec2:CreateLaunchTemplate"],
  "Resource":["arn:aws:ec2:us-east-1:*:fleet/*","arn:aws:ec2:us-east-1:*:instance/*","arn:aws:ec2:us-east-1:*:volume/*","arn:aws:ec2:us-east-1:*:network-interface/*","arn:aws:ec2:us-east-1:*:launch-template/*"],
  "Condition":{"StringEquals":{"aws:RequestTag/karpenter.sh/cluster":"demo"}}},
 {"Effect":"Allow","Action":"ec2:CreateTags","Resource":["arn:aws:ec2:us-east-1:*:fleet/*","arn:aws:ec2:us-east-1:*:instance/*","arn:aws:ec2:us-east-1:*:volume/*","arn:aws:ec2:us-east-1:*:network-interface/*","arn:aws:ec2:us-east-1:*:launch-template/*"],
  "Condition":{"StringEquals":{"aws:RequestTag/karpenter.sh/cluster":"demo","ec2:CreateAction":["CreateFleet","CreateLaunchTemplate","RunInstances"]}}},
 {"Effect":"Allow","Action":"ec2:TerminateInstances","Resource":"arn:aws:ec2:us-east-1:*:instance/*","Condition":{"StringEquals":{"ec2:ResourceTag/karpenter.sh/cluster":"demo"}}},
 {"Effect":"Allow","Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/node","Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}}]}`

// ec2AuthzFixture: an emulator whose first two seed subnets and the cluster security group are
// discovery-tagged, roles "node" and "other" in same-named instance profiles, and an EC2
// client of a session of role "ctl" holding scopedPolicy.
type ec2AuthzFixture struct {
	admin, ctl *ec2.Client
}

func newEC2AuthzFixture(t *testing.T) *ec2AuthzFixture {
	t.Helper()
	ctx := context.Background()
	_, base, cfg := startEmulator(t, Options{ClusterName: "demo", NoBootDelay: true})
	ep := awssdk.String(base)
	f := &ec2AuthzFixture{admin: ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = ep })}
	_, err := f.admin.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{SeedSubnets[0].ID, SeedSubnets[1].ID, SeedClusterSecurityGroupID},
		Tags: []ec2types.Tag{{Key: awssdk.String("karpenter.sh/discovery"), Value: awssdk.String("demo")}}})
	must(t, err)
	iamC := newIAM(base, cfg)
	for _, name := range []string{"node", "other"} {
		_, err = iamC.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String(name), AssumeRolePolicyDocument: awssdk.String(
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
		must(t, err)
		_, err = iamC.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: awssdk.String(name)})
		must(t, err)
		_, err = iamC.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: awssdk.String(name), RoleName: awssdk.String(name)})
		must(t, err)
	}
	_, err = iamC.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("ctl"), AssumeRolePolicyDocument: awssdk.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`)})
	must(t, err)
	_, err = iamC.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("ctl"), PolicyName: awssdk.String("ctl"), PolicyDocument: awssdk.String(scopedPolicy)})
	must(t, err)
	out, err := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = ep }).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: awssdk.String("arn:aws:iam::111122223333:role/ctl"), RoleSessionName: awssdk.String("controller")})
	must(t, err)
	sess := cfg.Copy()
	sess.Credentials = credentials.NewStaticCredentialsProvider(*out.Credentials.AccessKeyId, *out.Credentials.SecretAccessKey, *out.Credentials.SessionToken)
	f.ctl = ec2.NewFromConfig(sess, func(o *ec2.Options) { o.BaseEndpoint = ep })
	return f
}

func clusterTags(extra ...string) []ec2types.Tag {
	tags := []ec2types.Tag{{Key: awssdk.String("karpenter.sh/cluster"), Value: awssdk.String("demo")}}
	for i := 0; i+1 < len(extra); i += 2 {
		tags = append(tags, ec2types.Tag{Key: awssdk.String(extra[i]), Value: awssdk.String(extra[i+1])})
	}
	return tags
}

// template creates a launch template (as c) passing profile, with the given tags (none: untagged).
func (f *ec2AuthzFixture) template(c *ec2.Client, name, profile string, tags []ec2types.Tag) (string, error) {
	in := &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String(name), LaunchTemplateData: &ec2types.RequestLaunchTemplateData{
		ImageId: awssdk.String(SeedAMIs[0].ID), SecurityGroupIds: []string{SeedClusterSecurityGroupID},
		IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: awssdk.String(profile)},
		UserData:           awssdk.String(base64.StdEncoding.EncodeToString([]byte("boot")))}}
	if tags != nil {
		in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}}
	}
	out, err := c.CreateLaunchTemplate(context.Background(), in)
	if err != nil {
		return "", err
	}
	return *out.LaunchTemplate.LaunchTemplateId, nil
}

// fleet launches one on-demand m5.large from lt into subnet, tagging the listed resource types.
func (f *ec2AuthzFixture) fleet(lt, subnet string, tagged ...ec2types.ResourceType) (*ec2.CreateFleetOutput, error) {
	in := fleetInput(lt, "on-demand", 1, []ec2types.FleetLaunchTemplateOverridesRequest{{InstanceType: "m5.large", SubnetId: awssdk.String(subnet)}})
	in.TagSpecifications = nil
	for _, rt := range tagged {
		in.TagSpecifications = append(in.TagSpecifications, ec2types.TagSpecification{ResourceType: rt, Tags: clusterTags()})
	}
	return f.ctl.CreateFleet(context.Background(), in)
}

// wantDenied fails unless err is UnauthorizedOperation naming action and resource text.
func wantDenied(t *testing.T, err error, action, resource string) {
	t.Helper()
	wantCode(t, err, "UnauthorizedOperation")
	if err != nil && (!strings.Contains(err.Error(), "perform: "+action+" on resource: ") || !strings.Contains(err.Error(), resource)) {
		t.Errorf("denial %v does not name %s on %s", err, action, resource)
	}
}

// TestEC2AuthorisationWithScopedPolicy drives EC2 calls of an assumed-role session through the
// condition keys of the controller policy: request tags, resource tags, ec2:CreateAction and
// iam:PassRole with iam:PassedToService, and the administrator key unaffected.
func TestEC2AuthorisationWithScopedPolicy(t *testing.T) {
	ctx := context.Background()
	f := newEC2AuthzFixture(t)
	all := []ec2types.ResourceType{ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance, ec2types.ResourceTypeVolume, ec2types.ResourceTypeNetworkInterface}

	_, err := f.ctl.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	must(t, err)
	_, err = f.ctl.DescribeImages(ctx, &ec2.DescribeImagesInput{})
	wantDenied(t, err, "ec2:DescribeImages", "*")

	// Launch templates: only with the cluster tag in the request.
	_, err = f.template(f.ctl, "untagged", "node", nil)
	wantDenied(t, err, "ec2:CreateLaunchTemplate", "launch-template/*")
	_, err = f.template(f.ctl, "wrong-tag", "node", []ec2types.Tag{{Key: awssdk.String("karpenter.sh/cluster"), Value: awssdk.String("prod")}})
	wantDenied(t, err, "ec2:CreateLaunchTemplate", "launch-template/*")
	lt, err := f.template(f.ctl, "scoped", "node", clusterTags("team", "a"))
	must(t, err)

	// Launches: every created resource must carry the cluster tag in the request.
	out, err := f.fleet(lt, SeedSubnets[0].ID, all...)
	must(t, err)
	if len(out.Instances) != 1 {
		t.Fatalf("fleet launched %d instance sets, errors %+v", len(out.Instances), out.Errors)
	}
	_, err = f.fleet(lt, SeedSubnets[0].ID, ec2types.ResourceTypeInstance, ec2types.ResourceTypeVolume, ec2types.ResourceTypeNetworkInterface)
	wantDenied(t, err, "ec2:CreateFleet", ":fleet/*")
	_, err = f.fleet(lt, SeedSubnets[0].ID, ec2types.ResourceTypeFleet, ec2types.ResourceTypeInstance, ec2types.ResourceTypeNetworkInterface)
	wantDenied(t, err, "ec2:CreateFleet", ":volume/*")
	// Subnets and security groups: only discovery-tagged ones.
	_, err = f.fleet(lt, SeedSubnets[2].ID, all...)
	wantDenied(t, err, "ec2:CreateFleet", ":subnet/"+SeedSubnets[2].ID)
	// Launch templates used: only those with the cluster tag (here one the admin made untagged).
	foreign, err := f.template(f.admin, "foreign", "node", nil)
	must(t, err)
	_, err = f.fleet(foreign, SeedSubnets[0].ID, all...)
	wantDenied(t, err, "ec2:CreateFleet", ":launch-template/"+foreign)
	// PassRole: only the node role.
	other, err := f.template(f.ctl, "other-profile", "other", clusterTags())
	must(t, err)
	_, err = f.fleet(other, SeedSubnets[0].ID, all...)
	wantDenied(t, err, "iam:PassRole", "arn:aws:iam::111122223333:role/other")

	// Tags outside a create action are not allowed, even the cluster tag.
	id := out.Instances[0].InstanceIds[0]
	_, err = f.ctl.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id}, Tags: clusterTags()})
	wantDenied(t, err, "ec2:CreateTags", ":instance/"+id)

	// Termination: only instances with the cluster tag.
	adminRun, err := f.admin.RunInstances(ctx, &ec2.RunInstancesInput{MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1),
		LaunchTemplate: &ec2types.LaunchTemplateSpecification{LaunchTemplateId: awssdk.String(foreign)}, InstanceType: "m5.large"})
	must(t, err)
	foreignID := *adminRun.Instances[0].InstanceId
	_, err = f.ctl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{foreignID}})
	wantDenied(t, err, "ec2:TerminateInstances", ":instance/"+foreignID)
	_, err = f.ctl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}})
	must(t, err)

	// DryRun answers with the authorisation decision.
	_, err = f.ctl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{foreignID}, DryRun: awssdk.Bool(true)})
	wantCode(t, err, "UnauthorizedOperation")
	_, err = f.ctl.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}, DryRun: awssdk.Bool(true)})
	wantCode(t, err, "DryRunOperation")
}
