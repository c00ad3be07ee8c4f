package provider

import (
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

func TestAccNodeRole(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	const addr = "karpenter_node_role.test"
	cfg := func(tag string) string {
		return `resource "karpenter_node_role" "test" {
  name = "KarpenterNodeRole-acc"
  tags = { team = "` + tag + `" }
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("a"), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "id", "KarpenterNodeRole-acc"),
				resource.TestCheckResourceAttr(addr, "path", "/"),
				resource.TestCheckResourceAttr(addr, "managed_policy_arns.#", "4"),
				resource.TestCheckTypeSetElemAttr(addr, "managed_policy_arns.*", "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"),
				resource.TestMatchResourceAttr(addr, "arn", mustRegexp(`^arn:aws:iam::[0-9]{12}:role/KarpenterNodeRole-acc$`)),
			)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "KarpenterNodeRole-acc"},
			{ // out-of-band: a policy detached outside Terraform is planned back
				PreConfig: func() {
					_, err := env.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String("KarpenterNodeRole-acc"),
						PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore")})
					must(t, err)
				},
				Config: cfg("a"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(), plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
			},
			{ // out-of-band deletion: planned for re-creation
				PreConfig: func() { must(t, deleteRole(ctx, env.iam, "KarpenterNodeRole-acc")) },
				Config:    cfg("a"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
			},
			{ // update in place
				Config: cfg("b"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: resource.TestCheckResourceAttr(addr, "tags.team", "b"),
			},
			{ // out-of-band tag change is drift
				PreConfig: func() {
					_, err := env.iam.TagRole(ctx, &iam.TagRoleInput{RoleName: awssdk.String("KarpenterNodeRole-acc"),
						Tags: []iamtypes.Tag{{Key: awssdk.String("team"), Value: awssdk.String("edited")}}})
					must(t, err)
				},
				Config:             cfg("b"),
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
		},
	})
}

func TestAccInstanceProfile(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	const addr = "karpenter_instance_profile.test"
	cfg := func(role string) string {
		return `resource "karpenter_node_role" "a" {
  name = "acc-node-a"
}
resource "karpenter_node_role" "b" {
  name = "acc-node-b"
}
resource "karpenter_instance_profile" "test" {
  name = "KarpenterNodeInstanceProfile-acc"
  role = karpenter_node_role.` + role + `.name
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("a"), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "role", "acc-node-a"),
				resource.TestMatchResourceAttr(addr, "arn", mustRegexp(`:instance-profile/KarpenterNodeInstanceProfile-acc$`)),
			)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "KarpenterNodeInstanceProfile-acc"},
			{
				PreConfig: func() {
					_, err := env.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
						InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-acc"), RoleName: awssdk.String("acc-node-a")})
					must(t, err)
				},
				Config: cfg("a"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(), plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: resource.TestCheckResourceAttr(addr, "role", "acc-node-a"),
			},
			{
				PreConfig: func() {
					_, err := env.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
						InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-acc"), RoleName: awssdk.String("acc-node-a")})
					must(t, err)
					_, err = env.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: awssdk.String("KarpenterNodeInstanceProfile-acc")})
					must(t, err)
				},
				Config: cfg("a"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
			},
			{
				Config: cfg("b"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check: resource.TestCheckResourceAttr(addr, "role", "acc-node-b"),
			},
		},
	})
}
