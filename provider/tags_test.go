package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
)

// TestAccEmptyTags checks that `tags = {}` and an omitted `tags` both stay as configured on
// the IAM resources: an empty live tag set is read back as {} after {} and as null after null,
// so the plan after each apply is empty (resource.Test fails on a non-empty follow-up plan).
func TestAccEmptyTags(t *testing.T) {
	testAccPreCheck(t)
	startEmulator(t)
	cfg := func(tags string) string {
		return `resource "karpenter_node_role" "node" {
  name = "acc-tags-node"
  ` + tags + `
}
resource "karpenter_instance_profile" "node" {
  name = "acc-tags-node"
  role = karpenter_node_role.node.name
  ` + tags + `
}
resource "karpenter_controller_role" "ctrl" {
  name          = "acc-tags-ctrl"
  cluster_name  = "` + testClusterName + `"
  node_role_arn = karpenter_node_role.node.arn
  ` + tags + `
}
`
	}
	addrs := []string{"karpenter_node_role.node", "karpenter_instance_profile.node", "karpenter_controller_role.ctrl"}
	checks := func(n string) resource.TestCheckFunc {
		var fs []resource.TestCheckFunc
		for _, a := range addrs {
			if n == "" {
				fs = append(fs, resource.TestCheckNoResourceAttr(a, "tags.%"))
			} else {
				fs = append(fs, resource.TestCheckResourceAttr(a, "tags.%", n))
			}
		}
		return resource.ComposeAggregateTestCheckFunc(fs...)
	}
	noop := func() []plancheck.PlanCheck {
		var cs []plancheck.PlanCheck
		for _, a := range addrs {
			cs = append(cs, plancheck.ExpectResourceAction(a, plancheck.ResourceActionNoop))
		}
		return cs
	}
	update := func() []plancheck.PlanCheck {
		var cs []plancheck.PlanCheck
		for _, a := range addrs {
			cs = append(cs, plancheck.ExpectResourceAction(a, plancheck.ResourceActionUpdate))
		}
		return cs
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("tags = {}"), Check: checks("0")},
			{Config: cfg("tags = {}"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: noop()}, Check: checks("0")},
			{Config: cfg(""), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: update()}, Check: checks("")},
			{Config: cfg(""), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: noop()}, Check: checks("")},
			{Config: cfg(`tags = { team = "a" }`), Check: checks("1")},
			{Config: cfg("tags = {}"), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: update()}, Check: checks("0")},
		},
	})
}
