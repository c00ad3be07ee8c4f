package provider

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sandboxaws "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// TestAccControllerIdentitySwitch switches a running installation from IRSA to EKS Pod
// Identity and back, as modules/karpenter does when controller_identity changes: the
// controller role is updated in place (same ARN, never absent), the service account loses or
// gets its role annotation, and the controller's pods are rolled (their pod template names the
// credential source), so the new pods start with credentials the role now accepts: after the
// switch to Pod Identity they launch a node. Each switch is followed by an empty plan.
func TestAccControllerIdentitySwitch(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const role, ctrl = "karpenter_controller_role.ctrl", "karpenter_controller.test"
	var before map[types.UID]bool
	var roleARN string
	record := func(*terraform.State) error {
		uids, err := controllerPodUIDs(kc)
		before = uids
		return err
	}
	rolled := func(*terraform.State) error {
		now, err := controllerPodUIDs(kc)
		if err != nil {
			return err
		}
		for uid := range now {
			if before[uid] {
				return fmt.Errorf("controller pod %s was not replaced", uid)
			}
		}
		before = now
		return nil
	}
	saAnnotation := func(want string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			var sa corev1.ServiceAccount
			if err := kc.Get(ctx, types.NamespacedName{Namespace: "karpenter", Name: "karpenter"}, &sa); err != nil {
				return err
			}
			if got := sa.Annotations[roleARNAnnotation]; got != want {
				return fmt.Errorf("service account role annotation %q, want %q", got, want)
			}
			var d appsv1.Deployment
			if err := kc.Get(ctx, types.NamespacedName{Namespace: "karpenter", Name: deploymentName}, &d); err != nil {
				return err
			}
			if got := d.Spec.Template.Annotations[credentialsAnnotation]; got != credentialsValue(want) {
				return fmt.Errorf("pod template %s = %q, want %q", credentialsAnnotation, got, credentialsValue(want))
			}
			return nil
		}
	}
	sameRole := func(s *terraform.State) error {
		arn := s.RootModule().Resources[role].Primary.Attributes["arn"]
		if roleARN != "" && arn != roleARN {
			return fmt.Errorf("role ARN %s, was %s", arn, roleARN)
		}
		roleARN = arn
		return nil
	}
	updates := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(role, plancheck.ResourceActionUpdate),
		plancheck.ExpectResourceAction(ctrl, plancheck.ResourceActionUpdate)}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: moduleWiringConfig(sb.ClusterName, "irsa", "acc-switch", "karpenter"), Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr(role, "identity", "irsa"), sameRole, record,
				func(s *terraform.State) error { return saAnnotation(roleARN)(s) })},
			{Config: moduleWiringConfig(sb.ClusterName, "pod_identity", "acc-switch", "karpenter"), ConfigPlanChecks: updates,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(role, "identity", "pod_identity"),
					resource.TestCheckNoResourceAttr(role, "oidc_provider_arn"),
					resource.TestMatchResourceAttr(role, "pod_identity_association_id", mustRegexp(`^a-`)),
					sameRole, saAnnotation(""), rolled,
					func(*terraform.State) error {
						if r, ok := sb.Emulator.PodIdentityRole("karpenter", "karpenter"); !ok || r != roleARN {
							return fmt.Errorf("pod identity association: %q %v", r, ok)
						}
						return nil
					},
					checkLaunchesNode(t, kc, "acc-switch"))},
			{Config: moduleWiringConfig(sb.ClusterName, "pod_identity", "acc-switch", "karpenter"), PlanOnly: true},
			{Config: moduleWiringConfig(sb.ClusterName, "irsa", "acc-switch", "karpenter"), ConfigPlanChecks: updates,
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttr(role, "identity", "irsa"),
					resource.TestCheckResourceAttrSet(role, "oidc_provider_arn"),
					resource.TestCheckNoResourceAttr(role, "pod_identity_association_id"),
					sameRole, func(s *terraform.State) error { return saAnnotation(roleARN)(s) }, rolled,
					func(*terraform.State) error {
						if r, ok := sb.Emulator.PodIdentityRole("karpenter", "karpenter"); ok {
							return fmt.Errorf("pod identity association to %s left after the switch to irsa", r)
						}
						return nil
					})},
			{Config: moduleWiringConfig(sb.ClusterName, "irsa", "acc-switch", "karpenter"), PlanOnly: true},
		},
	})
}

// controllerPodUIDs returns the UIDs of the controller's pods that are not being deleted.
func controllerPodUIDs(kc client.Client) (map[types.UID]bool, error) {
	var pods corev1.PodList
	if err := kc.List(ctx, &pods, client.InNamespace("karpenter"), client.MatchingLabels(selectorLabels())); err != nil {
		return nil, err
	}
	out := map[types.UID]bool{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.UID] = true
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no controller pods")
	}
	return out, nil
}

// moduleWiringConfig is modules/karpenter's wiring of the controller role and the controller
// in namespace for identity: discovery tags on the seed subnets and security group, node role
// and instance profile "<name>-node", controller role "<name>-ctrl" (its
// service_account_namespace the controller's namespace), access-entry node access, the
// controller (controller_role_arn only with IRSA) and on-demand provisioner "<name>".
func moduleWiringConfig(clusterName, identity, name, namespace string) string {
	var ids []string
	for _, sn := range sandboxaws.SeedSubnets {
		ids = append(ids, sn.ID)
	}
	ids = append(ids, sandboxaws.SeedClusterSecurityGroupID)
	return `locals {
  identity  = "` + identity + `"
  namespace = "` + namespace + `"
}
resource "karpenter_discovery_tags" "net" {
  cluster_name = "` + clusterName + `"
  resource_ids = ["` + strings.Join(ids, `", "`) + `"]
}
resource "karpenter_node_role" "node" {
  name = "` + name + `-node"
}
resource "karpenter_instance_profile" "node" {
  name = "` + name + `-node"
  role = karpenter_node_role.node.name
}
resource "karpenter_controller_role" "ctrl" {
  name                      = "` + name + `-ctrl"
  cluster_name              = "` + clusterName + `"
  node_role_arn             = karpenter_node_role.node.arn
  identity                  = local.identity
  service_account_namespace = local.namespace
}
resource "karpenter_node_access" "node" {
  role_arn     = karpenter_node_role.node.arn
  method       = "access_entry"
  cluster_name = "` + clusterName + `"
}
resource "karpenter_controller" "test" {
  cluster_name             = "` + clusterName + `"
  namespace                = local.namespace
  default_instance_profile = karpenter_instance_profile.node.name
  controller_role_arn      = local.identity == "irsa" ? karpenter_controller_role.ctrl.arn : null
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
  depends_on = [karpenter_node_access.node, karpenter_controller_role.ctrl, karpenter_discovery_tags.net]
}
` + onDemandProvisionerHCL(name, clusterName)
}
