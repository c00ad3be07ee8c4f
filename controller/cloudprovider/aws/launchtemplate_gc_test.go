package aws_test

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// TestCollectLaunchTemplates: the template of a launch is kept while it is new, recently used
// or the template of a running instance, and deleted once none holds; templates the controller
// did not create are never deleted; a failed listing deletes nothing.
func TestCollectLaunchTemplates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tag := func(k, v string) ec2types.Tag { return ec2types.Tag{Key: awssdk.String(k), Value: awssdk.String(v)} }
	foreign := map[string][]ec2types.Tag{
		"someone-elses": {tag(v1alpha5.TagCluster, testCluster)},
		awscloud.LaunchTemplateNamePrefix + "other": {tag(v1alpha5.TagCluster, "other-cluster"), tag(v1alpha5.TagManagedBy, "karpenter")},
		"not-our-prefix": {tag(v1alpha5.TagCluster, testCluster), tag(v1alpha5.TagManagedBy, "karpenter")},
		awscloud.LaunchTemplateNamePrefix + "untagged": nil,
	}
	for name, tags := range foreign {
		in := &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String(name),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: awssdk.String(sandboxaws.SeedAMIs[0].ID)}}
		if tags != nil {
			in.TagSpecifications = []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}}
		}
		if _, err := e.ec2.CreateLaunchTemplate(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	prov := provisioner("default")
	types, err := e.cp.GetInstanceTypes(ctx, prov)
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.cp.Create(ctx, &cloudprovider.NodeRequest{ClaimName: "default-1", ClaimUID: "8d3f5b8e-0000-4000-8000-0000000000a1",
		Provisioner: prov, InstanceTypeOptions: byName(types, "m5.large"),
		Requirements: []corev1.NodeSelectorRequirement{{Key: v1alpha5.LabelCapacityType, Operator: corev1.NodeSelectorOpIn, Values: []string{"on-demand"}}},
		Labels:       map[string]string{v1alpha5.LabelProvisionerName: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	ours := func() []string {
		out, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, lt := range out.LaunchTemplates {
			if _, ok := foreign[*lt.LaunchTemplateName]; !ok {
				names = append(names, *lt.LaunchTemplateName)
			}
		}
		return names
	}
	if got := ours(); len(got) != 1 {
		t.Fatalf("templates of the launch: %v, want 1", got)
	}
	collect := func(what string, want int) {
		t.Helper()
		deleted, err := e.cp.CollectLaunchTemplatesOnce(ctx)
		if err != nil || len(deleted) != want {
			t.Fatalf("%s: deleted %v (err %v), want %d", what, deleted, err, want)
		}
	}
	collect("new and just used", 0)
	e.clk.Step(awscloud.DefaultLaunchTemplateGCGrace + time.Minute)
	collect("its instance running", 0)
	if err := e.emu.AddServerError(sandboxaws.ServerErrorFault{Action: "DescribeLaunchTemplates", Next: 10}); err != nil {
		t.Fatal(err)
	}
	if err := e.cp.Delete(ctx, n.ProviderID); err != nil {
		t.Fatal(err)
	}
	if deleted, err := e.cp.CollectLaunchTemplatesOnce(ctx); err == nil || len(deleted) != 0 {
		t.Fatalf("listing failed: deleted %v, err %v; want an error and nothing deleted", deleted, err)
	}
	e.emu.ClearServerErrors()
	collect("instance gone, unused past the grace", 1)
	if got := ours(); len(got) != 0 {
		t.Errorf("templates left: %v", got)
	}
	collect("nothing left to collect", 0)
	for name := range foreign {
		if _, err := e.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}}); err != nil {
			t.Errorf("template %s the controller did not create: %v", name, err)
		}
	}
}
