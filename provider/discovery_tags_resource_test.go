package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// TestAccDiscoveryTagsOwnership starts with one subnet tagged for the cluster by someone else
// and one tagged for another cluster: karpenter_discovery_tags adds the tag only where it is
// absent (owned_resource_ids), never adopts the subnet tagged for another cluster (and refuses
// to overwrite it when named), keeps the other party's tag when the subnet leaves its
// configuration and on destroy, puts back a tag removed outside Terraform, and imports only
// the named resources.
func TestAccDiscoveryTagsOwnership(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	const addr = "karpenter_discovery_tags.test"
	const (
		theirs = "subnet-0a1b2c3d4e5f60001" // tagged for the cluster by someone else
		mine   = "subnet-0a1b2c3d4e5f60002"
		other  = "subnet-0a1b2c3d4e5f60003" // tagged for another cluster
		sg     = "sg-0a1b2c3d4e5f60001"
	)
	setTag := func(id, value string) {
		_, err := env.ec2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{id},
			Tags: []ec2types.Tag{{Key: awssdk.String(v1alpha5.DiscoveryTagKey), Value: awssdk.String(value)}}})
		must(t, err)
	}
	setTag(theirs, testClusterName)
	setTag(other, "another-cluster")
	cfg := func(ids ...string) string {
		return fmt.Sprintf(`resource "karpenter_discovery_tags" "test" {
  cluster_name = %q
  resource_ids = ["%s"]
}
`, testClusterName, strings.Join(ids, `", "`))
	}
	tagIs := func(id, want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			out, err := env.ec2.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
				{Name: awssdk.String("resource-id"), Values: []string{id}}, {Name: awssdk.String("key"), Values: []string{v1alpha5.DiscoveryTagKey}}}})
			if err != nil {
				return err
			}
			got := ""
			for _, tg := range out.Tags {
				got = awssdk.ToString(tg.Value)
			}
			if got != want {
				return fmt.Errorf("%s: %s=%q, want %q", id, v1alpha5.DiscoveryTagKey, got, want)
			}
			return nil
		}
	}
	owned := func(ids ...string) resource.TestCheckFunc {
		fs := []resource.TestCheckFunc{resource.TestCheckResourceAttr(addr, "owned_resource_ids.#", fmt.Sprint(len(ids)))}
		for _, id := range ids {
			fs = append(fs, resource.TestCheckTypeSetElemAttr(addr, "owned_resource_ids.*", id))
		}
		return resource.ComposeAggregateTestCheckFunc(fs...)
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(theirs, mine, sg), Check: resource.ComposeAggregateTestCheckFunc(owned(mine, sg),
				resource.TestCheckResourceAttr(addr, "resource_ids.#", "3"), tagIs(mine, testClusterName), tagIs(sg, testClusterName),
				tagIs(other, "another-cluster"))},
			{Config: cfg(theirs, mine, sg, other), ExpectError: regexp.MustCompile(`already tagged for another cluster`)},
			{Config: cfg(mine, sg), ConfigPlanChecks: update,
				Check: resource.ComposeAggregateTestCheckFunc(owned(mine, sg), tagIs(theirs, testClusterName))},
			{ // the tag removed outside Terraform is planned back
				PreConfig: func() {
					_, err := env.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{mine},
						Tags: []ec2types.Tag{{Key: awssdk.String(v1alpha5.DiscoveryTagKey)}}})
					must(t, err)
				},
				Config: cfg(mine, sg), ConfigPlanChecks: update, Check: resource.ComposeAggregateTestCheckFunc(owned(mine, sg), tagIs(mine, testClusterName)),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: testClusterName + ":" + mine + "," + sg},
			{ResourceName: addr, ImportState: true, ImportStateId: testClusterName, ExpectError: regexp.MustCompile(`Invalid import id`)},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(tagIs(theirs, testClusterName), tagIs(other, "another-cluster"),
			tagIs(mine, ""), tagIs(sg, "")),
	})
}
