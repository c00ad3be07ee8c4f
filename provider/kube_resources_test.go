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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

// startSandbox returns the test binary's shared sandbox (test/sandboxtest) and points the
// process environment (KUBECONFIG, AWS_REGION, AWS_ENDPOINT_URL_*, credentials) at it, so that
// the in-process provider uses it through its default configuration.
func startSandbox(t *testing.T) (*sandbox.Sandbox, client.Client) {
	t.Helper()
	testAccPreCheck(t)
	sb := sandboxtest.Start(t)
	for _, kv := range sb.Env() {
		k, v, _ := cut(kv)
		t.Setenv(k, v)
	}
	kc, err := client.New(sb.RESTConfig(), client.Options{Scheme: scheme})
	must(t, err)
	return sb, kc
}

func cut(kv string) (string, string, bool) {
	for i := range kv {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}

func TestAccNodeAccess(t *testing.T) {
	_, kc := startSandbox(t)
	const addr = "karpenter_node_access.test"
	const arn = "arn:aws:iam::111122223333:role/acc-node-access"
	cfg := func(groups string) string {
		return `resource "karpenter_node_access" "test" {
  role_arn = "` + arn + `"
  groups   = ` + groups + `
}
`
	}
	edit := func(f func([]map[string]any) (string, error)) {
		r := &nodeAccessResource{c: &clients{kubeClient: kc}}
		r.c.kubeOnce.Do(func() {})
		must(t, r.modify(ctx, f))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(`["system:bootstrappers", "system:nodes"]`), Check: resource.TestCheckResourceAttr(addr, "username", defaultNodeUsername)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: arn},
			{PreConfig: func() {
				edit(func(e []map[string]any) (string, error) {
					return upsertMapRole(e, awsAuthRole{RoleARN: arn, Username: "someone", Groups: []string{"system:masters"}})
				})
			}, Config: cfg(`["system:bootstrappers", "system:nodes"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}},
			{PreConfig: func() {
				edit(func(e []map[string]any) (string, error) { return removeMapRole(e, arn) })
			}, Config: cfg(`["system:bootstrappers", "system:nodes"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}}},
			{Config: cfg(`["system:nodes"]`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check:            resource.TestCheckResourceAttr(addr, "groups.#", "1")},
		},
	})
}

func TestAccControllerAndProvisioner(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const ctrl = "karpenter_controller.test"
	const prov = "karpenter_provisioner.test"
	cfg := func(logLevel, ttl string) string {
		return controllerAndProvisionerConfig(sb.ClusterName, logLevel, ttl)
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("info", "30"), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(ctrl, "id", "karpenter"),
				resource.TestCheckResourceAttr(ctrl, "cluster_endpoint", sb.Endpoint), // from EKS DescribeCluster
				resource.TestCheckResourceAttr(prov, "limits.0.cpu", "1000"),
				resource.TestCheckResourceAttr(prov, "termination_grace_period", "1h30m"),
				checkControllerAvailable(kc), // Create waited for Available
			)},
			{ResourceName: ctrl, ImportState: true, ImportStateVerify: true, ImportStateId: "karpenter", ImportStateVerifyIgnore: []string{"timeouts"}},
			{ResourceName: prov, ImportState: true, ImportStateVerify: true, ImportStateId: "acc"},
			{PreConfig: func() { editControllerAndProvisioner(t, kc) }, Config: cfg("info", "30"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectNonEmptyPlan(),
					plancheck.ExpectResourceAction(prov, plancheck.ResourceActionUpdate), plancheck.ExpectResourceAction(ctrl, plancheck.ResourceActionUpdate)}},
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(prov, "ttl_seconds_after_empty", "30"),
					resource.TestCheckResourceAttr(ctrl, "replicas", "2"))},
			{PreConfig: func() { deleteControllerAndProvisioner(t, kc) },
				Config: cfg("info", "30"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(prov, plancheck.ResourceActionCreate), plancheck.ExpectResourceAction(ctrl, plancheck.ResourceActionCreate)}}},
			{Config: cfg("debug", "60"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctrl, plancheck.ResourceActionUpdate), plancheck.ExpectResourceAction(prov, plancheck.ResourceActionUpdate)}},
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(ctrl, "log_level", "debug"),
					resource.TestCheckResourceAttr(prov, "ttl_seconds_after_empty", "60"))},
		},
		CheckDestroy: checkKarpenterNamespaceGone(kc),
	})
}

// controllerAndProvisionerConfig is the configuration of TestAccControllerAndProvisioner: the
// node and controller IAM resources, aws-auth access, karpenter_controller.test with log
// level logLevel and karpenter_provisioner.test ("acc") with ttl_seconds_after_empty ttl, both
// for cluster clusterName.
func controllerAndProvisionerConfig(clusterName, logLevel, ttl string) string {
	return `resource "karpenter_node_role" "node" {
  name = "acc-ctrl-node"
}
resource "karpenter_instance_profile" "node" {
  name = "acc-ctrl-node"
  role = karpenter_node_role.node.name
}
resource "karpenter_controller_role" "ctrl" {
  name          = "acc-ctrl"
  cluster_name  = "` + clusterName + `"
  node_role_arn = karpenter_node_role.node.arn
}
resource "karpenter_node_access" "node" {
  role_arn = karpenter_node_role.node.arn
}
resource "karpenter_controller" "test" {
  cluster_name             = "` + clusterName + `"
  controller_role_arn      = karpenter_controller_role.ctrl.arn
  default_instance_profile = karpenter_instance_profile.node.name
  log_level                = "` + logLevel + `"
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
  depends_on = [karpenter_node_access.node]
}
resource "karpenter_provisioner" "test" {
  name                     = "acc"
  ttl_seconds_after_empty  = ` + ttl + `
  termination_grace_period = "1h30m"
  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["spot", "on-demand"]
  }
  limits {
    cpu = "1000"
  }
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "` + clusterName + `" }
    security_group_selector = { "karpenter.sh/discovery" = "` + clusterName + `" }
  }
  depends_on = [karpenter_controller.test]
}
`
}

// controllerDeployment is the controller's Deployment.
var controllerDeployment = types.NamespacedName{Namespace: "karpenter", Name: deploymentName}

// checkControllerAvailable checks that the controller's Deployment is Available and that its
// ServiceAccount karpenter/karpenter carries the IAM role annotation.
func checkControllerAvailable(kc client.Client) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, controllerDeployment, &d); err != nil {
			return err
		}
		if !rolledOut(&d) {
			return fmt.Errorf("deployment not Available: %+v", d.Status)
		}
		var sa corev1.ServiceAccount
		if err := kc.Get(ctx, types.NamespacedName{Namespace: "karpenter", Name: "karpenter"}, &sa); err != nil {
			return err
		}
		if sa.Annotations[roleARNAnnotation] == "" {
			return fmt.Errorf("service account lacks %s", roleARNAnnotation)
		}
		return nil
	}
}

// editControllerAndProvisioner edits both out of band: provisioner "acc" gets
// ttlSecondsAfterEmpty 300, the controller's Deployment 3 replicas.
func editControllerAndProvisioner(t *testing.T, kc client.Client) {
	t.Helper()
	var p v1alpha5.Provisioner
	must(t, kc.Get(ctx, types.NamespacedName{Name: "acc"}, &p))
	ttl := int64(300)
	p.Spec.TTLSecondsAfterEmpty = &ttl
	must(t, kc.Update(ctx, &p))
	var d appsv1.Deployment
	must(t, kc.Get(ctx, controllerDeployment, &d))
	three := int32(3)
	d.Spec.Replicas = &three
	must(t, kc.Update(ctx, &d))
}

// deleteControllerAndProvisioner deletes provisioner "acc" and the controller's Deployment out
// of band.
func deleteControllerAndProvisioner(t *testing.T, kc client.Client) {
	t.Helper()
	must(t, kc.Delete(ctx, &v1alpha5.Provisioner{ObjectMeta: objectMeta("acc")}))
	must(t, kc.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "karpenter", Name: deploymentName}}))
}

// checkKarpenterNamespaceGone fails if namespace karpenter can still be read after destroy.
func checkKarpenterNamespaceGone(kc client.Client) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var ns corev1.Namespace
		if err := kc.Get(ctx, types.NamespacedName{Name: "karpenter"}, &ns); err == nil {
			return fmt.Errorf("namespace karpenter still exists after destroy")
		}
		return nil
	}
}

func objectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
