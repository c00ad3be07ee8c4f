package provider

import (
	"fmt"
	"os"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestAccControllerDefaultsAndMissingObjects installs karpenter_controller without a
// resources block (the block stays absent; the next plan is empty), then deletes the
// Provisioner CRD and the RBAC objects outside Terraform (planned as an update that re-applies
// them), and changes the requests outside Terraform (drift back to the defaults).
func TestAccControllerDefaultsAndMissingObjects(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const addr = "karpenter_controller.test"
	cfg := func(resources string) string {
		return `resource "karpenter_controller" "test" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "acc-defaults"
  ` + resources + `
}
`
	}
	deployment := types.NamespacedName{Namespace: "karpenter", Name: deploymentName}
	requests := func(cpu, mem string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			var d appsv1.Deployment
			if err := kc.Get(ctx, deployment, &d); err != nil {
				return err
			}
			rl := d.Spec.Template.Spec.Containers[0].Resources.Requests
			if c, m := rl[corev1.ResourceCPU], rl[corev1.ResourceMemory]; c.Cmp(kresource.MustParse(cpu)) != 0 || m.Cmp(kresource.MustParse(mem)) != 0 {
				return fmt.Errorf("requests cpu=%s memory=%s, want %s %s", c.String(), m.String(), cpu, mem)
			}
			return nil
		}
	}
	crName := clusterRoleName("karpenter")
	rbac := []client.Object{
		&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: crName}},
		&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: crName}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: "karpenter"}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: "karpenter"}},
	}
	allPresent := func(*terraform.State) error {
		crd, err := provisionerCRD()
		if err != nil {
			return err
		}
		for _, obj := range append([]client.Object{crd}, rbac...) {
			if err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj.DeepCopyObject().(client.Object)); err != nil {
				return fmt.Errorf("%T %s: %w", obj, obj.GetName(), err)
			}
		}
		return nil
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(""), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckNoResourceAttr(addr, "resources.cpu_request"),
				resource.TestCheckResourceAttr(addr, "missing_objects.#", "0"),
				requests("1", "1Gi"))},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "karpenter", ImportStateVerifyIgnore: []string{"timeouts"}},
			{ // the CRD and every RBAC object deleted out of band: an update re-applies them
				PreConfig: func() {
					crd, err := provisionerCRD()
					must(t, err)
					must(t, kc.Delete(ctx, crd))
					must(t, waitGone(ctx, kc, crd))
					for _, obj := range rbac {
						must(t, kc.Delete(ctx, obj.DeepCopyObject().(client.Object)))
					}
				},
				Config: cfg(""), ConfigPlanChecks: update,
				Check: resource.ComposeAggregateTestCheckFunc(allPresent, resource.TestCheckResourceAttr(addr, "missing_objects.#", "0")),
			},
			{ // one binding deleted is enough
				PreConfig: func() { must(t, kc.Delete(ctx, rbac[3].DeepCopyObject().(client.Object))) },
				Config:    cfg(""), ConfigPlanChecks: update, Check: allPresent,
			},
			{Config: cfg("resources {\n    cpu_request    = \"100m\"\n    memory_request = \"128Mi\"\n  }"), ConfigPlanChecks: update,
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(addr, "resources.cpu_request", "100m"), requests("100m", "128Mi"))},
			{Config: cfg(""), ConfigPlanChecks: update,
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckNoResourceAttr(addr, "resources.cpu_request"), requests("1", "1Gi"))},
			{ // requests changed out of band while the block is omitted: planned back to the defaults
				PreConfig: func() {
					var d appsv1.Deployment
					must(t, kc.Get(ctx, deployment, &d))
					d.Spec.Template.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = kresource.MustParse("200m")
					must(t, kc.Update(ctx, &d))
				},
				Config: cfg(""), ConfigPlanChecks: update, Check: requests("1", "1Gi"),
			},
		},
	})
}
