package provider

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

func TestAccControllerRole(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	const addr = "karpenter_controller_role.test"
	cfg := func(sa string) string {
		return `resource "karpenter_node_role" "node" {
  name = "acc-node"
}
resource "karpenter_controller_role" "test" {
  name                 = "KarpenterControllerRole-acc"
  cluster_name         = "` + testClusterName + `"
  node_role_arn        = karpenter_node_role.node.arn
  service_account_name = "` + sa + `"
}
`
	}
	var policyARN string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("karpenter"), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "oidc_issuer_url", "https://127.0.0.1:6443/oidc"), // from EKS DescribeCluster
				resource.TestCheckResourceAttr(addr, "service_account_namespace", "karpenter"),
				resource.TestMatchResourceAttr(addr, "oidc_provider_arn", mustRegexp(`:oidc-provider/127.0.0.1:6443/oidc$`)),
				resource.TestMatchResourceAttr(addr, "policy_json", mustRegexp(`"ec2:ResourceTag/karpenter.sh/cluster":"`+testClusterName+`"`)),
				resource.TestMatchResourceAttr(addr, "policy_json", mustRegexp(`"iam:PassRole","Resource":"arn:aws:iam::[0-9]+:role/acc-node"`)),
				func(s *terraform.State) error {
					policyARN = s.RootModule().Resources[addr].Primary.Attributes["policy_arn"]
					role, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("KarpenterControllerRole-acc")})
					if err != nil {
						return err
					}
					doc, err := ParsePolicyDocument(awssdk.ToString(role.Role.AssumeRolePolicyDocument))
					if err != nil {
						return err
					}
					if _, _, ns, sa, ok := trustPolicyFacts(doc); !ok || ns != "karpenter" || sa != "karpenter" {
						return fmt.Errorf("trust = %s", doc.JSON())
					}
					return nil
				},
			)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "KarpenterControllerRole-acc",
				ImportStateVerifyIgnore: []string{"oidc_provider_created"}}, // an imported role never deletes the provider
			{ // a policy widened outside Terraform is planned back
				PreConfig: func() {
					wide, _ := json.Marshal(PolicyDocument{Version: "2012-10-17", Statement: []PolicyStatement{{Effect: "Allow", Action: policyValues{"ec2:*"}, Resource: policyValues{"*"}}}})
					_, err := env.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: awssdk.String(policyARN), PolicyDocument: awssdk.String(string(wide)), SetAsDefault: true})
					must(t, err)
				},
				Config: cfg("karpenter"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(), plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: resource.TestMatchResourceAttr(addr, "policy_json", mustRegexp(`AllowScopedDeletion`)),
			},
			{ // deleted outside Terraform: planned for re-creation
				PreConfig: func() {
					must(t, deleteRole(ctx, env.iam, "KarpenterControllerRole-acc"))
					must(t, deletePolicy(ctx, env.iam, policyARN))
				},
				Config: cfg("karpenter"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
			},
			{ // update: another service account name rewrites the trust
				Config: cfg("karpenter-controller"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: func(s *terraform.State) error {
					role, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("KarpenterControllerRole-acc")})
					if err != nil {
						return err
					}
					if doc := awssdk.ToString(role.Role.AssumeRolePolicyDocument); !strings.Contains(doc, "system%3Aserviceaccount%3Akarpenter%3Akarpenter-controller") &&
						!strings.Contains(doc, "system:serviceaccount:karpenter:karpenter-controller") {
						return fmt.Errorf("trust not updated: %s", doc)
					}
					return nil
				},
			},
		},
	})
}

func TestAccDiscoveryTags(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	subnets, err := env.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	must(t, err)
	sgs, err := env.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	must(t, err)
	if len(subnets.Subnets) < 2 || len(sgs.SecurityGroups) < 1 {
		t.Fatalf("emulator seed: %d subnets, %d security groups", len(subnets.Subnets), len(sgs.SecurityGroups))
	}
	s0, s1, sg := awssdk.ToString(subnets.Subnets[0].SubnetId), awssdk.ToString(subnets.Subnets[1].SubnetId), awssdk.ToString(sgs.SecurityGroups[0].GroupId)
	const addr = "karpenter_discovery_tags.test"
	cfg := func(ids ...string) string {
		return `resource "karpenter_discovery_tags" "test" {
  cluster_name = "acc-tags"
  resource_ids = ["` + strings.Join(ids, `", "`) + `"]
}
`
	}
	untag := func(id string) {
		_, err := env.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{id}, Tags: []ec2types.Tag{{Key: awssdk.String("karpenter.sh/discovery")}}})
		must(t, err)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(s0, sg), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "acc-tags"),
				resource.TestCheckResourceAttr(addr, "resource_ids.#", "2"),
			)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "acc-tags:" + s0 + "," + sg},
			{PreConfig: func() { untag(sg) }, Config: cfg(s0, sg),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(), plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}},
			{PreConfig: func() { untag(sg); untag(s0) }, Config: cfg(s0, sg),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}}},
			{Config: cfg(s1, sg),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: func(*terraform.State) error {
					out, err := env.ec2.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
						{Name: awssdk.String("key"), Values: []string{"karpenter.sh/discovery"}}, {Name: awssdk.String("resource-id"), Values: []string{s0}}}})
					if err != nil {
						return err
					}
					if len(out.Tags) != 0 {
						return fmt.Errorf("%s still tagged after removal from resource_ids", s0)
					}
					return nil
				}},
		},
	})
}

func TestAccClusterDataSource(t *testing.T) {
	testAccPreCheck(t)
	startEmulator(t)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `data "karpenter_cluster" "this" {
  name = "` + testClusterName + `"
}`,
			Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr("data.karpenter_cluster.this", "endpoint", "https://127.0.0.1:6443"),
				resource.TestCheckResourceAttr("data.karpenter_cluster.this", "oidc_issuer_url", "https://127.0.0.1:6443/oidc"),
				resource.TestCheckResourceAttr("data.karpenter_cluster.this", "authentication_mode", "API_AND_CONFIG_MAP"),
				resource.TestMatchResourceAttr("data.karpenter_cluster.this", "arn", mustRegexp(`:cluster/`+testClusterName+`$`)),
				resource.TestMatchResourceAttr("data.karpenter_cluster.this", "vpc_id", mustRegexp(`^vpc-`)),
			),
		}},
	})
}
