package faults

import (
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	awscloud "github.com/nodeform/terraform-provider-karpenter/controller/cloudprovider/aws"
	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// ltGrace is TestLaunchTemplateGC's --launch-template-gc-grace.
const ltGrace = 10 * time.Second

// TestLaunchTemplateGC (issue 7 §1, "launch templates no longer referenced are deleted by the
// controller"): the template the controller created for a node survives while the node's
// instance runs, well past the grace period, and is deleted once the instance is gone;
// templates it did not create (no karpenter.sh/managed-by tag, another cluster's tag, or a name
// outside its prefix) are never deleted.
func TestLaunchTemplateGC(t *testing.T) {
	e := newEnv(t, "ltgc", 6*time.Minute)
	e.createProvisioner([]string{"spot"}, 0)
	foreign := map[string][]ec2types.Tag{
		"faults-ltgc-not-managed": {{Key: awssdk.String(v1alpha5.TagCluster), Value: awssdk.String(e.sb.ClusterName)}},
		awscloud.LaunchTemplateNamePrefix + "faults-ltgc-other-cluster": {{Key: awssdk.String(v1alpha5.TagCluster), Value: awssdk.String("another-cluster")},
			{Key: awssdk.String(v1alpha5.TagManagedBy), Value: awssdk.String("karpenter")}},
		"faults-ltgc-other-prefix": {{Key: awssdk.String(v1alpha5.TagCluster), Value: awssdk.String(e.sb.ClusterName)},
			{Key: awssdk.String(v1alpha5.TagManagedBy), Value: awssdk.String("karpenter")}},
	}
	for name, tags := range foreign {
		if _, err := e.ec2.CreateLaunchTemplate(e.ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: awssdk.String(name),
			LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: awssdk.String(sandboxaws.SeedAMIs[0].ID)},
			TagSpecifications:  []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: tags}}}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.startController("single", "--leader-elect=false", "--launch-template-gc-grace", ltGrace.String())
	defer c.kill()
	e.createDeployment(1, "1")
	e.waitRunning(1, 2*time.Minute)
	var ltID string
	for _, i := range e.scenarioInstances() {
		if live(i) {
			ltID = i.Tags["aws:ec2launchtemplate:id"]
		}
	}
	if ltID == "" {
		t.Fatal("the node's instance names no launch template")
	}
	exists := func(id string) bool {
		_, err := e.ec2.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateIds: []string{id}})
		return err == nil
	}
	// Past the grace and two collections: the template of a running instance stays.
	time.Sleep(2 * ltGrace)
	if !exists(ltID) {
		t.Fatalf("launch template %s deleted while its instance runs", ltID)
	}
	e.scale(0)
	e.waitConsistent(0, 2*time.Minute)
	gone := time.Now()
	e.waitFor(ltGrace+time.Minute, "the unused launch template deleted", func() (bool, string) {
		return !exists(ltID), ltID + " still exists"
	})
	took := time.Since(gone)
	for name := range foreign {
		if _, err := e.ec2.DescribeLaunchTemplates(e.ctx, &ec2.DescribeLaunchTemplatesInput{LaunchTemplateNames: []string{name}}); err != nil {
			t.Errorf("launch template %s that the controller did not create: %v", name, err)
		}
		_, _ = e.ec2.DeleteLaunchTemplate(e.ctx, &ec2.DeleteLaunchTemplateInput{LaunchTemplateName: awssdk.String(name)})
	}
	t.Logf("FIGURES launch-template-gc: template %s kept %s past its grace while its instance ran, deleted %.0f s after the instance went (grace %s); %d foreign templates kept",
		ltID, (2 * ltGrace).String(), took.Seconds(), ltGrace, len(foreign))
}
