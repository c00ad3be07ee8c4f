package provider

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// TestAccControllerReplaceKeepsNodes launches a node for a pending pod (the provider's
// default_tags on its instance and launch template, a Name among them replacing the default
// Name, the controller's karpenter.sh/cluster tag kept), then replaces the only
// controller twice: destroy-then-create (-replace, as Terraform plans it for a tainted resource)
// and create_before_destroy (with take_over_installation: the new instance takes over its
// predecessor's running installation). The node, its EC2 instance, the Provisioner and the pod (Running,
// on the same node) survive both, and the controller is Available afterwards (with
// create_before_destroy the old instance's destroy does not remove the new installation); each
// old instance's destroy returns a warning naming the Provisioner. The
// destroy then leaves no node, Provisioner, NodeClaim, CRD or running instance of the cluster.
func TestAccControllerReplaceKeepsNodes(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	ec := ec2.NewFromConfig(sb.AWSConfig())
	const addr = "karpenter_controller.test"
	// default_tags reach what the controller launches, beneath its own karpenter.sh/* tags
	// (which default_tags may not give); their Name replaces the default Name.
	base := `provider "karpenter" {
  default_tags = { team = "platform", Name = "acc-nodes" }
}
` + controllerAndProvisionerConfig(sb.ClusterName, "info", "600") + `
data "karpenter_cluster" "this" {
  name = "` + sb.ClusterName + `"
}
resource "karpenter_discovery_tags" "this" {
  cluster_name = "` + sb.ClusterName + `"
  resource_ids = concat(tolist(data.karpenter_cluster.this.subnet_ids), [data.karpenter_cluster.this.cluster_security_group_id])
}
`
	base = strings.Replace(base, "depends_on = [karpenter_controller.test]", "depends_on = [karpenter_controller.test, karpenter_discovery_tags.this]", 1)
	cbd := strings.Replace(base, "  depends_on = [karpenter_node_access.node]\n}",
		"  take_over_installation = true\n  depends_on = [karpenter_node_access.node]\n  lifecycle {\n    create_before_destroy = true\n  }\n}", 1)
	if cbd == base {
		t.Fatal("create_before_destroy not inserted into the configuration")
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "acc-replace"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: kresource.MustParse("3")}}}}}}
	var nodeName, instanceID string
	launch := func(*terraform.State) error {
		if err := kc.Create(ctx, pod); err != nil {
			return err
		}
		t.Cleanup(func() { _ = kc.Delete(context.Background(), pod) })
		err := wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := kc.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				return false, err
			}
			return pod.Spec.NodeName != "" && pod.Status.Phase == corev1.PodRunning, nil
		})
		if err != nil {
			return fmt.Errorf("pending pod not running on a launched node: %w", err)
		}
		var n corev1.Node
		if err := kc.Get(ctx, client.ObjectKey{Name: pod.Spec.NodeName}, &n); err != nil {
			return err
		}
		nodeName, instanceID = n.Name, n.Spec.ProviderID[strings.LastIndex(n.Spec.ProviderID, "/")+1:]
		if n.Labels[v1alpha5.LabelProvisionerName] != "acc" || !strings.HasPrefix(instanceID, "i-") {
			return fmt.Errorf("pod runs on %s (provider id %q), not on a node of provisioner acc", n.Name, n.Spec.ProviderID)
		}
		return checkLaunchedTags(ec, sb.ClusterName, instanceID)
	}
	survived := func(*terraform.State) error { return checkSurvived(kc, ec, pod, nodeName, instanceID) }
	replace := func(a plancheck.ResourceActionType) resource.ConfigPlanChecks {
		return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, a),
			plancheck.ExpectResourceAction("karpenter_provisioner.test", plancheck.ResourceActionNoop)}}
	}
	// The old instance's destroy warns, naming the Provisioner (Terraform shows the warnings of
	// a destroy: TestAccControllerTakenOver checks its output).
	rec := &diagRecorder{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		Steps: []resource.TestStep{
			{Config: base, Check: launch},
			{PreConfig: rec.reset, Config: base, Taint: []string{addr}, ConfigPlanChecks: replace(plancheck.ResourceActionDestroyBeforeCreate),
				Check: resource.ComposeAggregateTestCheckFunc(survived,
					rec.expectWarning("ApplyResourceChange", "Launched nodes left in place", text("Provisioners remain (acc)")))},
			{Config: cbd, Check: survived},
			{PreConfig: rec.reset, Config: cbd, Taint: []string{addr}, ConfigPlanChecks: replace(plancheck.ResourceActionCreateBeforeDestroy),
				Check: resource.ComposeAggregateTestCheckFunc(survived,
					rec.expectWarning("ApplyResourceChange", "Installation taken over: nothing removed", text("the Provisioners (acc) stay")))},
			{Config: cbd, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
		CheckDestroy: func(*terraform.State) error { return checkNothingLeft(kc, ec, sb.ClusterName, nodeName) },
	})
}

// checkSurvived checks that pod still runs on the launched node nodeName, the node is not
// being deleted, its instance instanceID runs, Provisioner acc is there and the controller is
// Available.
func checkSurvived(kc client.Client, ec *ec2.Client, pod *corev1.Pod, nodeName, instanceID string) error {
	if err := kc.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
		return fmt.Errorf("pod: %w", err)
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodRunning || pod.Spec.NodeName != nodeName {
		return fmt.Errorf("pod %s on %q phase %s deleting=%v, want Running on %s", pod.Name, pod.Spec.NodeName,
			pod.Status.Phase, pod.DeletionTimestamp != nil, nodeName)
	}
	var n corev1.Node
	if err := kc.Get(ctx, client.ObjectKey{Name: nodeName}, &n); err != nil || n.DeletionTimestamp != nil {
		return fmt.Errorf("launched node %s removed (err %v)", nodeName, err)
	}
	out, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return err
	}
	if len(out.Reservations) != 1 || out.Reservations[0].Instances[0].State.Name != ec2types.InstanceStateNameRunning {
		return fmt.Errorf("instance %s not running: %+v", instanceID, out.Reservations)
	}
	var p v1alpha5.Provisioner
	if err := kc.Get(ctx, client.ObjectKey{Name: "acc"}, &p); err != nil || p.DeletionTimestamp != nil {
		return fmt.Errorf("provisioner acc removed (err %v)", err)
	}
	var d appsv1.Deployment
	if err := kc.Get(ctx, controllerDeployment, &d); err != nil || !rolledOut(&d) {
		return fmt.Errorf("controller Deployment not Available after the replacement (err %v)", err)
	}
	return nil
}

// checkNothingLeft checks, after the destroy, that node nodeName and the Provisioner CRD are
// gone and that every instance of cluster was launched and is terminated or shutting down.
func checkNothingLeft(kc client.Client, ec *ec2.Client, cluster, nodeName string) error {
	if err := checkAbsent(kc, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName}})(nil); err != nil {
		return err
	}
	crd, err := provisionerCRD()
	if err != nil {
		return err
	}
	if err := checkAbsent(kc, crd)(nil); err != nil {
		return err
	}
	out, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + v1alpha5.TagCluster), Values: []string{cluster}}}})
	if err != nil {
		return err
	}
	seen := 0
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			seen++
			if s := i.State.Name; s != ec2types.InstanceStateNameTerminated && s != ec2types.InstanceStateNameShuttingDown {
				return fmt.Errorf("instance %s of the cluster is %s after destroy", aws.ToString(i.InstanceId), s)
			}
		}
	}
	if seen == 0 {
		return fmt.Errorf("no instance of cluster %s listed: the check would pass without a launch", cluster)
	}
	return nil
}

// checkLaunchedTags checks that instance instanceID and the cluster's launch templates carry
// the provider's default tags team=platform and Name=acc-nodes (over the default Name) and the
// controller's karpenter.sh/cluster=cluster.
func checkLaunchedTags(ec *ec2.Client, cluster, instanceID string) error {
	want := func(what string, tags []ec2types.Tag) error {
		got := map[string]string{}
		for _, tg := range tags {
			got[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		if got["team"] != "platform" || got[v1alpha5.TagName] != "acc-nodes" || got[v1alpha5.TagCluster] != cluster {
			return fmt.Errorf("%s tags %v: want team=platform, Name=acc-nodes and %s=%s", what, got, v1alpha5.TagCluster, cluster)
		}
		return nil
	}
	out, err := ec.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{instanceID}})
	if err != nil {
		return err
	}
	if err := want("instance "+instanceID, out.Reservations[0].Instances[0].Tags); err != nil {
		return err
	}
	lts, err := ec.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: []ec2types.Filter{
		{Name: aws.String("tag:" + v1alpha5.TagCluster), Values: []string{cluster}}}})
	if err != nil {
		return err
	}
	if len(lts.LaunchTemplates) == 0 {
		return fmt.Errorf("no launch template tagged %s=%s", v1alpha5.TagCluster, cluster)
	}
	for _, lt := range lts.LaunchTemplates {
		if err := want("launch template "+aws.ToString(lt.LaunchTemplateName), lt.Tags); err != nil {
			return err
		}
	}
	return nil
}
