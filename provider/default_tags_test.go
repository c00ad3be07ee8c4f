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

// TestDefaultTagsValidation refuses, at plan, default_tags the controller or AWS would refuse,
// as a Provisioner's tags are refused: an aws: key in any case, a key the controller sets
// itself (karpenter.sh/cluster, karpenter.sh/managed-by, karpenter.sh/nodeclaim,
// karpenter.sh/provisioner-name, kubernetes.io/cluster/*), a key longer than 128 characters,
// a value longer than 256, more than 50 tags; each error names the attribute and the key.
// A Provisioner whose tags, with default_tags, Name and the controller's four, exceed 50 is
// refused at plan time with an error at aws[0].tags; a Name in both is counted once.
func TestDefaultTagsValidation(t *testing.T) {
	many := func(prefix string, n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`"%s%d" = "v"`, prefix, i))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	provisioner := func(tags string) string {
		return `resource "karpenter_provisioner" "test" {
  name = "x"
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "x" }
    security_group_selector = { "karpenter.sh/discovery" = "x" }
    tags                    = ` + tags + `
  }
}
`
	}
	nodeRole := `resource "karpenter_node_role" "test" {
  name = "x"
}
`
	for _, c := range []struct{ tags, resource, want string }{
		{`{ "AWS:team" = "x" }`, nodeRole, `(?s)default_tags\["AWS:team"\].*the aws: prefix of tag keys is reserved for AWS`},
		{`{ "karpenter.sh/cluster" = "x" }`, nodeRole, `(?s)default_tags\["karpenter.sh/cluster"\].*reserved tag key`},
		{`{ "karpenter.sh/managed-by" = "x" }`, nodeRole, `(?s)default_tags\["karpenter.sh/managed-by"\].*reserved tag key`},
		{`{ "karpenter.sh/nodeclaim" = "x" }`, nodeRole, `(?s)default_tags\["karpenter.sh/nodeclaim"\].*reserved tag key`},
		{`{ "karpenter.sh/provisioner-name" = "x" }`, nodeRole, `(?s)default_tags\["karpenter.sh/provisioner-name"\].*reserved tag key`},
		{`{ "kubernetes.io/cluster/demo" = "owned" }`, nodeRole, `(?s)default_tags\["kubernetes.io/cluster/demo"\].*reserved tag key`},
		{`{ "` + strings.Repeat("k", 129) + `" = "x" }`, nodeRole, `(?s)default_tags\["k+"\].*tag keys must be 1 to 128 characters`},
		{`{ team = "` + strings.Repeat("v", 257) + `" }`, nodeRole, `(?s)default_tags\["team"\].*length`},
		{many("d", 51), nodeRole, `(?s)default_tags.*at most 50 elements`},
		// 30 + 16 + Name + 4 = 51 on an instance.
		{many("d", 30), provisioner(many("p", 16)), `(?s)aws\[0\]\.tags.*launched instances would carry 51 tags.*remove 1`},
	} {
		resource.UnitTest(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{{
				Config: `provider "karpenter" {
  region       = "us-east-1"
  default_tags = ` + c.tags + `
}
` + c.resource, PlanOnly: true,
				// Terraform wraps long messages: a space in want matches any white space.
				ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`))}},
		})
	}
	// 30 + 15 + Name (given in both) + 4 = 50: planned.
	p := strings.Replace(many("p", 15), "{ ", `{ Name = "workers", `, 1)
	d := strings.Replace(many("d", 30), "{ ", `{ Name = "default", `, 1)
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: `provider "karpenter" {
  region       = "us-east-1"
  default_tags = ` + d + `
}
` + provisioner(p), PlanOnly: true, ExpectNonEmptyPlan: true}},
	})
}
