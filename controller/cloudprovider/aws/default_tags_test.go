package aws_test

import (
	"context"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
)

// TestDefaultTags launches with Options.DefaultTags through the AWS emulator: the launch
// template and the instance carry them (as the emulator stored them from the
// CreateLaunchTemplate and CreateFleet tag specifications), beneath the
// Provisioner's provider.tags and the controller's karpenter.sh/* and Name tags, which win on a
// shared key.
func TestDefaultTags(t *testing.T) {
	e := newEnvWith(t, func(o *awscloud.Options) {
		o.DefaultTags = map[string]string{"team": "platform", "cost-center": "default",
			v1alpha5.TagCluster: "someone-else", v1alpha5.TagManagedBy: "terraform", "Name": "default-name"}
	})
	ctx := context.Background()
	prov := provisioner("default") // provider.tags: cost-center=42
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
	if err != nil {
		t.Fatal(err)
	}
	id, err := awscloud.ParseProviderID(n.ProviderID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "platform", "cost-center": "42", v1alpha5.TagCluster: testCluster,
		v1alpha5.TagManagedBy: "karpenter", v1alpha5.TagProvisionerName: "default"}
	check := func(what string, tags []ec2types.Tag, extra map[string]string) {
		t.Helper()
		got := map[string]string{}
		for _, tg := range tags {
			got[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
		}
		w := map[string]string{}
		for k, v := range want {
			w[k] = v
		}
		for k, v := range extra {
			w[k] = v
		}
		for k, v := range w {
			if got[k] != v {
				t.Errorf("%s tag %s = %q, want %q (tags %v)", what, k, got[k], v, got)
			}
		}
	}
	out, err := e.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	inst := out.Reservations[0].Instances[0]
	own := map[string]string{"Name": v1alpha5.LabelProvisionerName + "/default", "karpenter.sh/nodeclaim": "default-tags"}
	check("instance", inst.Tags, own)
	lts, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lts.LaunchTemplates) == 0 {
		t.Fatal("no launch template")
	}
	for _, lt := range lts.LaunchTemplates {
		check("launch template "+awssdk.ToString(lt.LaunchTemplateName), lt.Tags, map[string]string{"Name": "default-name"})
	}
}
