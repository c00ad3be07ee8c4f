package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccDefaultTags sets default_tags on the provider: the node role and instance profile
// carry them merged with their own tags (their own value wins on a shared key), state keeps
// them out of `tags` (the plan after apply is empty, which resource.Test checks), and import
// reads the same.
func TestAccDefaultTags(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	cfg := `provider "karpenter" {
  default_tags = { team = "platform", env = "default" }
}
resource "karpenter_node_role" "test" {
  name = "acc-default-tags"
  tags = { env = "prod", app = "karpenter" }
}
resource "karpenter_instance_profile" "test" {
  name = "acc-default-tags"
  role = karpenter_node_role.test.name
}
resource "karpenter_controller_role" "test" {
  name          = "acc-default-tags-ctrl"
  cluster_name  = "` + testClusterName + `"
  node_role_arn = karpenter_node_role.test.arn
  tags          = { env = "ctrl" }
}
`
	want := map[string]string{"team": "platform", "env": "prod", "app": "karpenter"}
	liveTags := func(*terraform.State) error {
		role, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("acc-default-tags")})
		if err != nil {
			return err
		}
		if got := tagMap(role.Role.Tags); fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("role tags %v, want %v", got, want)
		}
		p, err := env.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: awssdk.String("acc-default-tags")})
		if err != nil {
			return err
		}
		if got := tagMap(p.InstanceProfile.Tags); fmt.Sprint(got) != fmt.Sprint(map[string]string{"team": "platform", "env": "default"}) {
			return fmt.Errorf("instance profile tags %v", got)
		}
		return controllerRoleTags(env)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: resource.ComposeAggregateTestCheckFunc(liveTags,
				resource.TestCheckResourceAttr("karpenter_node_role.test", "tags.%", "2"),
				resource.TestCheckResourceAttr("karpenter_controller_role.test", "tags.%", "1"),
				resource.TestCheckNoResourceAttr("karpenter_instance_profile.test", "tags.%"))},
			{Config: cfg, ResourceName: "karpenter_node_role.test", ImportState: true, ImportStateVerify: true, ImportStateId: "acc-default-tags"},
			{ // the controller role's own tags change; default_tags stay on the role
				Config: strings.Replace(cfg, `tags          = { env = "ctrl" }`, `tags          = { env = "ctrl2" }`, 1),
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr("karpenter_controller_role.test", "tags.env", "ctrl2"), func(*terraform.State) error {
					role, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("acc-default-tags-ctrl")})
					if err != nil {
						return err
					}
					if got := tagMap(role.Role.Tags); fmt.Sprint(got) != fmt.Sprint(map[string]string{"team": "platform", "env": "ctrl2"}) {
						return fmt.Errorf("controller role tags after update %v", got)
					}
					return nil
				}),
			},
		},
	})
}

// controllerRoleTags checks that the controller role and its policy carry the default tags
// beneath their own, and the OIDC provider it created the default tags.
func controllerRoleTags(env *awsEnv) error {
	want := fmt.Sprint(map[string]string{"team": "platform", "env": "ctrl"})
	role, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("acc-default-tags-ctrl")})
	if err != nil {
		return err
	}
	if got := tagMap(role.Role.Tags); fmt.Sprint(got) != want {
		return fmt.Errorf("controller role tags %v, want %s", got, want)
	}
	pols, err := env.iam.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: awssdk.String("acc-default-tags-ctrl")})
	if err != nil || len(pols.AttachedPolicies) != 1 {
		return fmt.Errorf("controller policy: %v (err %v)", pols, err)
	}
	pol, err := env.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: pols.AttachedPolicies[0].PolicyArn})
	if err != nil {
		return err
	}
	if got := tagMap(pol.Policy.Tags); fmt.Sprint(got) != want {
		return fmt.Errorf("controller policy tags %v, want %s", got, want)
	}
	oidc, err := env.iam.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
	if err != nil || len(oidc.OpenIDConnectProviderList) != 1 {
		return fmt.Errorf("OIDC providers %v (err %v)", oidc, err)
	}
	p, err := env.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: oidc.OpenIDConnectProviderList[0].Arn})
	if err != nil {
		return err
	}
	if got := tagMap(p.Tags); fmt.Sprint(got) != fmt.Sprint(map[string]string{"team": "platform", "env": "default"}) {
		return fmt.Errorf("OIDC provider tags %v", got)
	}
	return nil
}

// TestDefaultTagsValidation refuses, at plan, default_tags the controller or AWS would refuse:
// an aws: key in any case, a key longer than 128 characters, a value longer than 256; each
// error names the attribute.
func TestDefaultTagsValidation(t *testing.T) {
	for _, bad := range []struct{ tags, want string }{
		{`{ "AWS:team" = "x" }`, `(?s)default_tags.*the aws: prefix is reserved`},
		{`{ "` + strings.Repeat("k", 129) + `" = "x" }`, `(?s)default_tags.*length`},
		{`{ team = "` + strings.Repeat("v", 257) + `" }`, `(?s)default_tags.*length`},
	} {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: `provider "karpenter" {
  region       = "us-east-1"
  default_tags = ` + bad.tags + `
}
resource "karpenter_node_role" "test" {
  name = "x"
}
`, PlanOnly: true, ExpectError: regexp.MustCompile(bad.want)}},
		})
	}
}
