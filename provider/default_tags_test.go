package provider

import (
	"fmt"
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
	const cfg = `provider "karpenter" {
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
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: resource.ComposeAggregateTestCheckFunc(liveTags,
				resource.TestCheckResourceAttr("karpenter_node_role.test", "tags.%", "2"),
				resource.TestCheckNoResourceAttr("karpenter_instance_profile.test", "tags.%"))},
			{Config: cfg, ResourceName: "karpenter_node_role.test", ImportState: true, ImportStateVerify: true, ImportStateId: "acc-default-tags"},
		},
	})
}
