package aws_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
)

// launchWithTags launches one m5.large on demand for a Provisioner "default" whose provider.tags
// are provTags, with the controller's default tags defaultTags, through the AWS emulator, and
// returns the tags of the instance and of every launch template (as the emulator stored them
// from the CreateFleet and CreateLaunchTemplate tag specifications), or Create's error.
func launchWithTags(t *testing.T, defaultTags, provTags map[string]string) (inst map[string]string, lts []map[string]string, err error) {
	t.Helper()
	e := newEnvWith(t, func(o *awscloud.Options) { o.DefaultTags = defaultTags })
	ctx := context.Background()
	prov := provisioner("default")
	prov.Spec.Provider.Tags = provTags
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.cp.Create(ctx, &cloudprovider.NodeRequest{
		ClaimName: "default-tags", ClaimUID: "8d3f5b8e-0000-4000-8000-0000000000aa", Provisioner: prov,
		InstanceTypeOptions: byName(types, "m5.large"),
		Requirements:        []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"on-demand"}}},
		Labels:              map[string]string{"team": "blue", v1alpha5.LabelProvisionerName: "default"},
	})
	out, derr := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if derr != nil {
		t.Fatal(derr)
	}
	for _, lt := range out.LaunchTemplates {
		lts = append(lts, tagMap(lt.Tags))
	}
	if err != nil {
		return nil, lts, err
	}
	id, err := awscloud.ParseProviderID(n.ProviderID)
	if err != nil {
		t.Fatal(err)
	}
	is, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts) == 0 {
		t.Fatal("no launch template")
	}
	return tagMap(is.Reservations[0].Instances[0].Tags), lts, nil
}

func tagMap(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, tg := range tags {
		m[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
	}
	return m
}

// checkTags reports each tag of want that got lacks or holds another value for.
func checkTags(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s tag %s = %q, want %q (tags %v)", what, k, got[k], v, got)
		}
	}
}

// TestDefaultTags launches with Options.DefaultTags: the launch template and the instance carry
// them beneath the Provisioner's provider.tags and the controller's karpenter.sh/* tags, which
// win on a shared key; a Name among the default tags replaces the default Name (Karpenter
// v0.31: Name is an overridable default).
func TestDefaultTags(t *testing.T) {
	inst, lts, err := launchWithTags(t, map[string]string{"team": "platform", "cost-center": "default",
		v1alpha5.TagCluster: "someone-else", v1alpha5.TagManagedBy: "terraform", "Name": "default-name"},
		map[string]string{"cost-center": "42"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "platform", "cost-center": "42", v1alpha5.TagCluster: testCluster,
		v1alpha5.TagManagedBy: "karpenter", v1alpha5.TagProvisionerName: "default", "Name": "default-name"}
	checkTags(t, "instance", inst, want)
	checkTags(t, "instance", inst, map[string]string{v1alpha5.TagNodeClaim: "default-tags"})
	for _, lt := range lts {
		checkTags(t, "launch template", lt, want)
	}
}

// TestNameTag: without a Name tag, instances and launch templates are named
// karpenter.sh/provisioner-name/<provisioner>; a Name in a Provisioner's provider.tags wins
// over that default and over a Name among the default tags, as in Karpenter v0.31.
func TestNameTag(t *testing.T) {
	for _, c := range []struct {
		name              string
		defaults, provTag map[string]string
		want              string
	}{
		{"default", nil, nil, v1alpha5.LabelProvisionerName + "/default"},
		{"provider.tags", nil, map[string]string{"Name": "batch-workers"}, "batch-workers"},
		{"provider.tags over default tags", map[string]string{"Name": "from-defaults"}, map[string]string{"Name": "batch-workers"}, "batch-workers"},
		{"default tags", map[string]string{"Name": "from-defaults"}, nil, "from-defaults"},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst, lts, err := launchWithTags(t, c.defaults, c.provTag)
			if err != nil {
				t.Fatal(err)
			}
			static := map[string]string{"Name": c.want, v1alpha5.TagCluster: testCluster, v1alpha5.TagManagedBy: "karpenter",
				v1alpha5.TagProvisionerName: "default"}
			checkTags(t, "instance", inst, static)
			for _, lt := range lts {
				checkTags(t, "launch template", lt, static)
			}
		})
	}
}

// TestLaunchTagLimit: default tags and provider.tags that, with Name and the controller's own
// tags, come to more than EC2's 50 tags per resource fail Create with an error naming
// spec.provider.tags and the count, before any launch template or instance is made; 50 in all
// launch.
func TestLaunchTagLimit(t *testing.T) {
	tags := func(prefix string, n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("%s%d", prefix, i)] = "v"
		}
		return m
	}
	// 30 + 16 + Name + 4 controller tags = 51.
	_, lts, err := launchWithTags(t, tags("d", 30), tags("p", 16))
	if err == nil || !strings.Contains(err.Error(), "spec.provider.tags: launched instances would carry 51 tags") ||
		!strings.Contains(err.Error(), "remove 1") {
		t.Fatalf("Create: %v, want the tag count error", err)
	}
	if len(lts) != 0 {
		t.Errorf("launch templates made despite the error: %v", lts)
	}
	// A Name among the tags replaces the default one: 30 + 15 + Name + 4 = 50.
	p := tags("p", 15)
	p["Name"] = "x"
	inst, _, err := launchWithTags(t, tags("d", 30), p)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for k := range inst {
		if !strings.HasPrefix(k, "aws:") { // EC2's own (aws:ec2:fleet-id, ...) do not count towards the limit
			n++
		}
	}
	if n != v1alpha5.MaxTags {
		t.Errorf("instance has %d tags, want %d: %v", n, v1alpha5.MaxTags, inst)
	}
}
