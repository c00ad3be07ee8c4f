package provider

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
)

// startSandbox starts one sandbox for the package (stopped in TestMain) and points the process
// environment (KUBECONFIG, AWS_*) at it. It skips when the control plane binaries are not built.
func startSandbox(t *testing.T) (*sandbox.Sandbox, client.Client) {
	t.Helper()
	testAccPreCheck(t)
	if _, err := exec.LookPath("kube-apiserver"); err != nil {
		if _, err := os.Stat(filepath.Join("..", "bin", "kube-apiserver")); err != nil {
			t.Skip("kube-apiserver not built: run make tools")
		}
	}
	var sb *sandbox.Sandbox
	var startErr error
	sharedSandbox.once.Do(func() {
		dir, err := os.MkdirTemp("", "provider-sandbox-")
		if err != nil {
			startErr = err
			return
		}
		sb, startErr = sandbox.Start(ctx, sandbox.Config{Dir: dir, NoBootDelay: true})
		if startErr == nil {
			sharedSandbox.sb = sb
			sharedSandbox.stop = func() { sb.Stop(); _ = os.RemoveAll(dir) }
		}
	})
	if startErr != nil {
		t.Fatalf("sandbox: %v", startErr)
	}
	sb = sharedSandbox.sb
	if sb == nil {
		t.Fatal("sandbox failed to start in an earlier test")
	}
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
	sb, kc := startSandbox(t)
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	const ctrl = "karpenter_controller.test"
	const prov = "karpenter_provisioner.test"
	cfg := func(replicas, ttl string) string {
		return `resource "karpenter_controller" "test" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "` + sb.StaticInstanceProfile + `"
  replicas                 = ` + replicas + `
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
}
resource "karpenter_provisioner" "test" {
  name                    = "acc"
  ttl_seconds_after_empty = ` + ttl + `
  requirement {
    key      = "karpenter.sh/capacity-type"
    operator = "In"
    values   = ["spot", "on-demand"]
  }
  limits {
    cpu = "1000"
  }
  aws {
    subnet_selector         = { "karpenter.sh/discovery" = "` + sb.ClusterName + `" }
    security_group_selector = { "karpenter.sh/discovery" = "` + sb.ClusterName + `" }
  }
  depends_on = [karpenter_controller.test]
}
`
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("1", "30"), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(ctrl, "id", "karpenter"),
				resource.TestCheckResourceAttr(prov, "limits.0.cpu", "1000"),
			)},
			{ResourceName: ctrl, ImportState: true, ImportStateVerify: true, ImportStateId: "karpenter", ImportStateVerifyIgnore: []string{"timeouts"}},
			{ResourceName: prov, ImportState: true, ImportStateVerify: true, ImportStateId: "acc"},
			{PreConfig: func() { // out-of-band edits of both
				var p v1alpha5.Provisioner
				must(t, kc.Get(ctx, types.NamespacedName{Name: "acc"}, &p))
				ttl := int64(300)
				p.Spec.TTLSecondsAfterEmpty = &ttl
				must(t, kc.Update(ctx, &p))
			}, Config: cfg("1", "30"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectNonEmptyPlan(), plancheck.ExpectResourceAction(prov, plancheck.ResourceActionUpdate)}}},
			{PreConfig: func() { must(t, kc.Delete(ctx, &v1alpha5.Provisioner{ObjectMeta: objectMeta("acc")})) },
				Config:           cfg("1", "30"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(prov, plancheck.ResourceActionCreate)}}},
			{Config: cfg("2", "60"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(ctrl, plancheck.ResourceActionUpdate), plancheck.ExpectResourceAction(prov, plancheck.ResourceActionUpdate)}},
				Check: resource.TestCheckResourceAttr(ctrl, "replicas", "2")},
		},
		CheckDestroy: func(*terraform.State) error {
			var ns corev1.Namespace
			if err := kc.Get(ctx, types.NamespacedName{Name: "karpenter"}, &ns); err == nil {
				return fmt.Errorf("namespace karpenter still exists after destroy")
			}
			return nil
		},
	})
}

func objectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
