package provider

import (
	"encoding/base64"
	"fmt"
	"regexp"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// TestAccNodeAccessEntry covers method = "access_entry" on the sandbox cluster (authentication
// mode API_AND_CONFIG_MAP): an entry someone else made is refused and survives; this
// resource's entry is created, imported, recreated after an out-of-band delete, put back after
// an out-of-band change of type, and deleted on destroy. Instances of the role join the
// cluster only while the entry exists (the role has no aws-auth mapping).
func TestAccNodeAccessEntry(t *testing.T) {
	sb, _ := startSandbox(t)
	const addr = "karpenter_node_access.test"
	cfg := sb.AWSConfig()
	ekc := eks.NewFromConfig(cfg)
	mine := createNodeRole(t, sb, "acc-entry-node")
	foreign := createNodeRole(t, sb, "acc-entry-foreign")
	cluster := awssdk.String(sb.ClusterName)
	_, err := ekc.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: &foreign, Type: awssdk.String("EC2_LINUX")})
	must(t, err)
	t.Cleanup(func() {
		_, _ = ekc.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: cluster, PrincipalArn: &foreign})
	})
	config := func(arn, extra string) string {
		return fmt.Sprintf(`resource "karpenter_node_access" "test" {
  role_arn     = %q
  method       = "access_entry"
  cluster_name = %q
%s}
`, arn, sb.ClusterName, extra)
	}
	entryType := func(arn string) string {
		typ, ok := sb.Emulator.AccessEntryType(arn)
		if !ok {
			return ""
		}
		return typ
	}
	checkType := func(arn, want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got := entryType(arn); got != want {
				return fmt.Errorf("access entry of %s has type %q, want %q", arn, got, want)
			}
			return nil
		}
	}

	// Before any entry: the role's instance does not join (no access entry, no aws-auth entry).
	if err := launchAndJoin(t, sb, "acc-entry-node"); err == nil {
		t.Fatal("an instance of a role with neither an access entry nor an aws-auth mapping joined")
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config(foreign, ""), ExpectError: regexp.MustCompile(`(?s)already has an access entry for this role.*node_access_method[\s│]+=[\s│]+"none"`)},
			{Config: config(mine, `  groups = ["system:nodes"]
`), ExpectError: regexp.MustCompile(`Not used with access_entry`)},
			{Config: config(mine, ""), Check: resource.ComposeAggregateTestCheckFunc(
				checkType(mine, "EC2_LINUX"), checkType(foreign, "EC2_LINUX"),
				resource.TestCheckResourceAttr(addr, "id", sb.ClusterName+":"+mine),
				resource.TestMatchResourceAttr(addr, "access_entry_arn", regexp.MustCompile(`^arn:aws:eks:.*:access-entry/`)),
				func(*terraform.State) error { return launchAndJoin(t, sb, "acc-entry-node") },
			)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: sb.ClusterName + ":" + mine,
				ImportStateVerifyIgnore: []string{"timeouts"}},
			{ // deleted outside Terraform: planned and created again
				PreConfig: func() {
					_, err := ekc.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: cluster, PrincipalArn: &mine})
					must(t, err)
				},
				Config:           config(mine, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
				Check:            checkType(mine, "EC2_LINUX"),
			},
			{ // replaced by a STANDARD entry outside Terraform: the plan shows it, apply puts EC2_LINUX back
				PreConfig: func() {
					_, err := ekc.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{ClusterName: cluster, PrincipalArn: &mine})
					must(t, err)
					_, err = ekc.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{ClusterName: cluster, PrincipalArn: &mine, KubernetesGroups: []string{"ops"}})
					must(t, err)
				},
				Config:           config(mine, ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check:            checkType(mine, "EC2_LINUX"),
			},
			{Config: config(mine, ""), PlanOnly: true},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(checkType(mine, ""), checkType(foreign, "EC2_LINUX")),
	})
}

// createNodeRole creates an EC2 role and an instance profile, both named name, and returns the
// role ARN; both are removed when the test ends.
func createNodeRole(t *testing.T, sb *sandbox.Sandbox, name string) string {
	t.Helper()
	ic := iam.NewFromConfig(sb.AWSConfig())
	trust := sandbox.NodeTrustPolicy(sb.Region)
	role, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: &name, AssumeRolePolicyDocument: &trust})
	must(t, err)
	_, err = ic.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: &name})
	must(t, err)
	_, err = ic.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: &name, RoleName: &name})
	must(t, err)
	t.Cleanup(func() {
		_, _ = ic.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{InstanceProfileName: &name, RoleName: &name})
		_, _ = ic.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: &name})
		_, _ = ic.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &name})
	})
	return *role.Role.Arn
}

// launchAndJoin launches one instance with instance profile profile and EKS user data for the
// sandbox cluster, waits for it to boot and returns its join error (nil: it registered as a
// Node). The instance is terminated before returning.
func launchAndJoin(t *testing.T, sb *sandbox.Sandbox, profile string) error {
	t.Helper()
	ec := ec2.NewFromConfig(sb.AWSConfig())
	ud := sandbox.StaticNodeUserData(sb.ClusterName, sb.Endpoint, sb.CACertPEM)
	out, err := ec.RunInstances(ctx, &ec2.RunInstancesInput{
		MinCount: awssdk.Int32(1), MaxCount: awssdk.Int32(1), ImageId: awssdk.String(sandboxaws.SeedAMIs[0].ID),
		InstanceType: ec2types.InstanceTypeT3Medium, SubnetId: awssdk.String(sandboxaws.SeedSubnets[0].ID),
		IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: &profile},
		UserData:           awssdk.String(base64.StdEncoding.EncodeToString([]byte(ud))),
	})
	must(t, err)
	id := *out.Instances[0].InstanceId
	defer func() { _, _ = ec.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{id}}) }()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if joinErr, booted := sb.BootResult(id); booted {
			return joinErr
		}
	}
	return fmt.Errorf("instance %s did not boot within a minute", id)
}
