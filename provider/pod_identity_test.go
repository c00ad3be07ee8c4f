package provider

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// TestAccPodIdentityAndAccessEntry runs both EKS paths end to end: the controller role uses
// EKS Pod Identity (no IRSA annotation; the sandbox's Pod Identity agent hands the controller
// pod its credentials), the node role joins through an EC2_LINUX access entry (no aws-auth
// entry). A pending pod makes the controller launch an instance, which registers as a Node.
// Then the role is imported, an association deleted outside Terraform is planned back, and
// destroy removes the association and the entry.
func TestAccPodIdentityAndAccessEntry(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const role = "karpenter_controller_role.ctrl"
	ekc := eks.NewFromConfig(sb.AWSConfig())
	cfg := moduleWiringConfig(sb.ClusterName, identityPodIdentity, "acc-pi", "karpenter")
	var associationID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg, Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(role, "identity", "pod_identity"),
				resource.TestCheckNoResourceAttr(role, "oidc_provider_arn"),
				resource.TestMatchResourceAttr(role, "pod_identity_association_id", mustRegexp(`^a-`)),
				func(s *terraform.State) error {
					associationID = s.RootModule().Resources[role].Primary.Attributes["pod_identity_association_id"]
					var sa corev1.ServiceAccount
					if err := kc.Get(ctx, types.NamespacedName{Namespace: "karpenter", Name: "karpenter"}, &sa); err != nil {
						return err
					}
					if v, ok := sa.Annotations[roleARNAnnotation]; ok {
						return fmt.Errorf("service account has the IRSA annotation %s", v)
					}
					if r, ok := sb.Emulator.PodIdentityRole("karpenter", "karpenter"); !ok || r != s.RootModule().Resources[role].Primary.Attributes["arn"] {
						return fmt.Errorf("pod identity association: %q %v", r, ok)
					}
					return nil
				},
				checkLaunchesNode(t, kc, "acc-pi"),
			)},
			{ResourceName: role, ImportState: true, ImportStateVerify: true, ImportStateId: "acc-pi-ctrl",
				ImportStateVerifyIgnore: []string{"oidc_provider_created", "timeouts"}},
			{ // the association deleted outside Terraform is planned back
				PreConfig: func() {
					_, err := ekc.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: &sb.ClusterName, AssociationId: &associationID})
					must(t, err)
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(role, plancheck.ResourceActionUpdate)}},
				Check: func(*terraform.State) error {
					if _, ok := sb.Emulator.PodIdentityRole("karpenter", "karpenter"); !ok {
						return fmt.Errorf("association not made again")
					}
					return nil
				},
			},
			{Config: cfg, PlanOnly: true},
		},
		CheckDestroy: func(*terraform.State) error {
			if _, ok := sb.Emulator.PodIdentityRole("karpenter", "karpenter"); ok {
				return fmt.Errorf("pod identity association left after destroy")
			}
			if _, ok := sb.Emulator.AccessEntryType("arn:aws:iam::111122223333:role/acc-pi-node"); ok {
				return fmt.Errorf("access entry left after destroy")
			}
			return nil
		},
	})
}

// checkLaunchesNode creates a pod that only a node of provisioner fits and waits (up to three
// minutes) until such a Node is registered; the pod is deleted afterwards.
func checkLaunchesNode(t *testing.T, kc client.Client, provisioner string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "acc-pi-pending"},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{v1alpha5.LabelProvisionerName: provisioner},
				Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: k8sresource.MustParse("1")}}}},
			},
		}
		if err := kc.Create(ctx, pod); err != nil {
			return err
		}
		t.Cleanup(func() { _ = kc.Delete(ctx, pod) })
		for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
			var nodes corev1.NodeList
			if err := kc.List(ctx, &nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: provisioner}); err != nil {
				return err
			}
			if len(nodes.Items) > 0 {
				return kc.Delete(ctx, pod)
			}
		}
		return fmt.Errorf("no node of provisioner %s registered within 3 minutes", provisioner)
	}
}

// onDemandProvisionerHCL is a karpenter_provisioner "test" named name, on-demand only, empty nodes
// removed after 30 s, discovering the subnets and security groups tagged for cluster; it
// depends on karpenter_controller.test.
func onDemandProvisionerHCL(name, cluster string) string {
	return `resource "karpenter_provisioner" "test" {
  name                    = "` + name + `"
  ttl_seconds_after_empty = 30
  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["on-demand"]
  }
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "` + cluster + `" }
    security_group_selector = { "karpenter.sh/discovery" = "` + cluster + `" }
  }
  depends_on = [karpenter_controller.test]
}
`
}
