package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/operator"
)

// Names of TestAccControllerForeignObjects.
const (
	foreignNS     = "acc-foreign"        // adopted: exists before the controller
	foreignTarget = "acc-foreign-target" // holds someone else's service account "karpenter"
)

// TestAccControllerForeignObjects installs karpenter_controller into an adopted namespace and
// checks that it never changes or deletes what it did not create:
//   - the Deployment switched (outside Terraform) to a team's service account, then to the
//     namespace's default one, is drift of the Deployment: the apply restores the controller's
//     own account, keeps service_account_name, and deletes neither account;
//   - a move to a namespace holding someone else's ServiceAccount "karpenter" fails before the
//     old installation is touched, both when the namespace is known at plan time (the plan
//     fails) and when it is not (the apply fails): the old controller keeps running and state
//     keeps describing it;
//   - destroy deletes the controller's leader-election Lease in the adopted namespace, and
//     leaves the namespace, the team's and default service accounts and the foreign one.
func TestAccControllerForeignObjects(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	if leaderLeaseName != operator.LeaderElectionID {
		t.Fatalf("leaderLeaseName %q, controller's lease %q", leaderLeaseName, operator.LeaderElectionID)
	}
	sb, kc := startSandbox(t)
	const addr = "karpenter_controller.test"
	cfg := func(namespace string) string {
		return `resource "karpenter_controller" "test" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "acc-foreign"
  namespace                = ` + namespace + `
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
}
`
	}
	// The target namespace comes from a terraform_data created in the same apply: unknown at
	// plan time, so only the apply can find the conflict.
	unknownAtPlan := `resource "terraform_data" "ns" {
  input = "` + foreignTarget + `"
}
` + cfg("terraform_data.ns.output")
	sa := func(ns, name string) *corev1.ServiceAccount {
		return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: foreignNS}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: foreignTarget}},
		sa(foreignNS, "team-sa"), sa(foreignTarget, "karpenter"),
	}
	for _, o := range objs {
		must(t, kc.Create(ctx, o))
	}
	t.Cleanup(func() {
		for _, o := range objs {
			_ = kc.Delete(context.Background(), o)
		}
	})
	// The namespace's default service account (made by kube-controller-manager, if it runs).
	if err := kc.Create(ctx, sa(foreignNS, "default")); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	useSA := func(name string) func() {
		return func() {
			d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: foreignNS, Name: deploymentName}}
			patch := `[{"op":"replace","path":"/spec/template/spec/serviceAccountName","value":"` + name + `"}]`
			must(t, kc.Patch(ctx, d, client.RawPatch(k8stypes.JSONPatchType, []byte(patch))))
		}
	}
	present := func(objs ...client.Object) resource.TestCheckFunc {
		return func(*terraform.State) error {
			for _, obj := range objs {
				if err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || obj.GetDeletionTimestamp() != nil {
					return fmt.Errorf("%T %s/%s removed (err %v)", obj, obj.GetNamespace(), obj.GetName(), err)
				}
			}
			return nil
		}
	}
	foreignIntact := present(sa(foreignNS, "team-sa"), sa(foreignNS, "default"), sa(foreignTarget, "karpenter"),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: foreignNS}})
	running := func(sa string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			var d appsv1.Deployment
			if err := kc.Get(ctx, client.ObjectKey{Namespace: foreignNS, Name: deploymentName}, &d); err != nil {
				return err
			}
			if d.DeletionTimestamp != nil || !deploymentAvailable(&d) || d.Spec.Template.Spec.ServiceAccountName != sa {
				return fmt.Errorf("deployment %s/%s: available=%v serviceAccount=%s, want %s", foreignNS, deploymentName,
					deploymentAvailable(&d), d.Spec.Template.Spec.ServiceAccountName, sa)
			}
			return nil
		}
	}
	leaseHeld := func(*terraform.State) error {
		return wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := kc.Get(ctx, client.ObjectKey{Namespace: foreignNS, Name: leaderLeaseName}, &coordinationv1.Lease{})
			return err == nil, client.IgnoreNotFound(err)
		})
	}
	state := resource.ComposeAggregateTestCheckFunc(foreignIntact, running("karpenter"),
		resource.TestCheckResourceAttr(addr, "namespace", foreignNS), resource.TestCheckResourceAttr(addr, "service_account_name", "karpenter"),
		resource.TestCheckResourceAttr(addr, "namespace_created", "false"), resource.TestCheckResourceAttr(addr, "install_complete", "true"))
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg(`"` + foreignNS + `"`), Check: resource.ComposeAggregateTestCheckFunc(state, leaseHeld)},
			{ // the Deployment switched to a team's service account: restored, the team's kept
				PreConfig: useSA("team-sa"), Config: cfg(`"` + foreignNS + `"`), ConfigPlanChecks: update, Check: state,
			},
			{ // ... and to the namespace's default one
				PreConfig: useSA("default"), Config: cfg(`"` + foreignNS + `"`), ConfigPlanChecks: update, Check: state,
			},
			{ // a move into a conflict known at plan time: the plan fails
				Config: cfg(`"` + foreignTarget + `"`), ExpectError: regexp.MustCompile(`ServiceAccount acc-foreign-target/karpenter`),
			},
			{ // a move into a conflict found by the apply: nothing of the old installation changes
				Config: unknownAtPlan, ExpectError: regexp.MustCompile(`(?s)Cannot move the installation.*ServiceAccount acc-foreign-target/karpenter`),
			},
			{ // state still describes the running installation
				Config: cfg(`"` + foreignNS + `"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionNoop)}},
				Check: state,
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(foreignIntact,
			checkAbsent(kc, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: foreignNS, Name: leaderLeaseName}}),
			checkAbsent(kc, sa(foreignNS, "karpenter")),
			checkAbsent(kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: foreignTarget, Name: deploymentName}})),
	})
}
