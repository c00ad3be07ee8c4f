package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/operator"
)

// foreignFixture is an adopted namespace ns (and, with target, a namespace target holding
// someone else's ServiceAccount "karpenter") holding a team's service account team-sa and the
// default one, with helpers to check them and the controller in ns.
type foreignFixture struct {
	t          *testing.T
	kc         client.Client
	ns, target string
	cluster    string
}

func newForeignFixture(t *testing.T, ns, target string) *foreignFixture {
	t.Helper()
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	f := &foreignFixture{t: t, kc: kc, ns: ns, target: target, cluster: sb.ClusterName}
	objs := []client.Object{&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, f.sa(ns, "team-sa")}
	if target != "" {
		objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}}, f.sa(target, "karpenter"))
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
	if err := kc.Create(ctx, f.sa(ns, "default")); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return f
}

const foreignAddr = "karpenter_controller.test"

// cfg is the controller in namespace (an HCL expression).
func (f *foreignFixture) cfg(namespace string) string {
	return `resource "karpenter_controller" "test" {
  cluster_name             = "` + f.cluster + `"
  default_instance_profile = "acc-foreign"
  namespace                = ` + namespace + `
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
}
`
}

func (f *foreignFixture) sa(ns, name string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// present checks that each of objs exists and is not being deleted.
func (f *foreignFixture) present(objs ...client.Object) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, obj := range objs {
			if err := f.kc.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || obj.GetDeletionTimestamp() != nil {
				return fmt.Errorf("%T %s/%s removed (err %v)", obj, obj.GetNamespace(), obj.GetName(), err)
			}
		}
		return nil
	}
}

// intact checks the namespace, team-sa, default and (with a target) the foreign karpenter.
func (f *foreignFixture) intact() resource.TestCheckFunc {
	objs := []client.Object{f.sa(f.ns, "team-sa"), f.sa(f.ns, "default"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: f.ns}}}
	if f.target != "" {
		objs = append(objs, f.sa(f.target, "karpenter"))
	}
	return f.present(objs...)
}

// installed checks the controller in f.ns: Available, running as its own service account
// karpenter, and state describing it.
func (f *foreignFixture) installed() resource.TestCheckFunc {
	return resource.ComposeAggregateTestCheckFunc(f.intact(),
		func(*terraform.State) error {
			var d appsv1.Deployment
			if err := f.kc.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: deploymentName}, &d); err != nil {
				return err
			}
			if d.DeletionTimestamp != nil || !rolledOut(&d) || d.Spec.Template.Spec.ServiceAccountName != "karpenter" {
				return fmt.Errorf("deployment %s/%s: available=%v serviceAccount=%s, want karpenter", f.ns, deploymentName,
					rolledOut(&d), d.Spec.Template.Spec.ServiceAccountName)
			}
			return nil
		},
		resource.TestCheckResourceAttr(foreignAddr, "namespace", f.ns), resource.TestCheckResourceAttr(foreignAddr, "service_account_name", "karpenter"),
		resource.TestCheckResourceAttr(foreignAddr, "namespace_created", "false"), resource.TestCheckResourceAttr(foreignAddr, "install_complete", "true"))
}

// useSA switches the controller Deployment to service account name outside Terraform.
func (f *foreignFixture) useSA(name string) func() {
	return func() {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: deploymentName}}
		patch := `[{"op":"replace","path":"/spec/template/spec/serviceAccountName","value":"` + name + `"}]`
		must(f.t, f.kc.Patch(ctx, d, client.RawPatch(k8stypes.JSONPatchType, []byte(patch))))
	}
}

// TestAccControllerForeignServiceAccount switches the Deployment of a controller in an adopted
// namespace (outside Terraform) to a team's service account, then to the namespace's default
// one: each is drift of the Deployment, so the apply restores the controller's own account,
// service_account_name stays "karpenter", and neither account is deleted (nor listed in
// missing_objects); destroy deletes only the controller's own account.
func TestAccControllerForeignServiceAccount(t *testing.T) {
	f := newForeignFixture(t, "acc-foreign-sa", "")
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction(foreignAddr, plancheck.ResourceActionUpdate),
		driftPlanCheck{want: map[string][]string{foreignAddr: {"missing_objects"}}}}}
	inNS := f.cfg(`"` + f.ns + `"`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: inNS, Check: f.installed()},
			{PreConfig: f.useSA("team-sa"), Config: inNS, ConfigPlanChecks: update, Check: f.installed()},
			{PreConfig: f.useSA("default"), Config: inNS, ConfigPlanChecks: update, Check: f.installed()},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(f.intact(), checkAbsent(f.kc, f.sa(f.ns, "karpenter"))),
	})
}

// TestAccControllerMoveConflict moves a controller from an adopted namespace to one holding
// someone else's ServiceAccount "karpenter": known at plan time, the plan fails; unknown until
// the apply (the namespace comes from a terraform_data created in the same apply), the apply
// fails before the old installation is touched. Either way the old controller keeps running,
// state keeps describing it (the next plan is a no-op), and the foreign account stays.
func TestAccControllerMoveConflict(t *testing.T) {
	f := newForeignFixture(t, "acc-conflict", "acc-conflict-target")
	unknownAtPlan := `resource "terraform_data" "ns" {
  input = "` + f.target + `"
}
` + f.cfg("terraform_data.ns.output")
	inNS := f.cfg(`"` + f.ns + `"`)
	conflict := regexp.MustCompile(`(?s)Cannot move the installation.*ServiceAccount acc-conflict-target/karpenter`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: inNS, Check: f.installed()},
			{Config: f.cfg(`"` + f.target + `"`), PlanOnly: true, ExpectError: conflict},
			{Config: unknownAtPlan, ExpectError: conflict},
			{
				Config: inNS, Check: f.installed(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(foreignAddr, plancheck.ResourceActionNoop)}},
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(f.intact(),
			checkAbsent(f.kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: f.target, Name: deploymentName}})),
	})
}

// TestAccControllerDestroyLease destroys a controller in an adopted namespace: the Lease its
// replicas elect a leader through (operator.LeaderElectionID) goes with it; the namespace and
// the other service accounts stay.
func TestAccControllerDestroyLease(t *testing.T) {
	if leaderLeaseName != operator.LeaderElectionID {
		t.Fatalf("leaderLeaseName %q, controller's lease %q", leaderLeaseName, operator.LeaderElectionID)
	}
	f := newForeignFixture(t, "acc-lease", "")
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: leaderLeaseName}}
	leaseHeld := func(*terraform.State) error {
		return wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := f.kc.Get(ctx, client.ObjectKeyFromObject(lease), &coordinationv1.Lease{})
			return err == nil, client.IgnoreNotFound(err)
		})
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps:                    []resource.TestStep{{Config: f.cfg(`"` + f.ns + `"`), Check: resource.ComposeAggregateTestCheckFunc(f.installed(), leaseHeld)}},
		CheckDestroy:             resource.ComposeAggregateTestCheckFunc(f.intact(), checkAbsent(f.kc, lease)),
	})
}

// TestAccControllerServiceAccountRecreated deletes the controller's service account outside
// Terraform: the plan lists it in missing_objects, and the apply re-creates it and rolls the
// Deployment (the pod template carries the new account's UID), so the controller's pods run with
// tokens of the account that exists; the old pods' tokens name the deleted one and the API
// server refuses them. The next plan is empty.
func TestAccControllerServiceAccountRecreated(t *testing.T) {
	f := newForeignFixture(t, "acc-sa-recreated", "")
	inNS := f.cfg(`"` + f.ns + `"`)
	var oldUID string
	templateUID := func() (string, error) {
		var d appsv1.Deployment
		if err := f.kc.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: deploymentName}, &d); err != nil {
			return "", err
		}
		return d.Spec.Template.Annotations[serviceAccountUIDAnnotation], nil
	}
	recorded := func(*terraform.State) error {
		var sa corev1.ServiceAccount
		if err := f.kc.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "karpenter"}, &sa); err != nil {
			return err
		}
		got, err := templateUID()
		if err != nil {
			return err
		}
		if got != string(sa.UID) || got == "" {
			return fmt.Errorf("pod template %s = %q, service account UID %q", serviceAccountUIDAnnotation, got, sa.UID)
		}
		if oldUID != "" && got == oldUID {
			return fmt.Errorf("pod template still names the deleted service account %s", oldUID)
		}
		oldUID = got
		return nil
	}
	deleteSA := func() {
		must(t, f.kc.Delete(ctx, f.sa(f.ns, "karpenter")))
		must(t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			err := f.kc.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: "karpenter"}, &corev1.ServiceAccount{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		}))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: inNS, Check: resource.ComposeAggregateTestCheckFunc(f.installed(), recorded)},
			{
				PreConfig: deleteSA, Config: inNS, Check: resource.ComposeAggregateTestCheckFunc(f.installed(), recorded),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(foreignAddr, plancheck.ResourceActionUpdate),
					driftPlanCheck{want: map[string][]string{foreignAddr: {"missing_objects"}}}}},
			},
			{
				Config: inNS, ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(foreignAddr, plancheck.ResourceActionNoop)}},
			},
		},
	})
}

// quota creates ResourceQuota "obstacle" with hard in namespace ns and waits until the quota
// controller has recorded its usage (the admission plugin refuses everything it covers until
// then); the returned func deletes it.
func (f *foreignFixture) quota(ns string, hard corev1.ResourceList) (create, remove func()) {
	q := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "obstacle"}, Spec: corev1.ResourceQuotaSpec{Hard: hard}}
	create = func() {
		must(f.t, f.kc.Create(ctx, q.DeepCopy()))
		must(f.t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			var live corev1.ResourceQuota
			if err := f.kc.Get(ctx, client.ObjectKeyFromObject(q), &live); err != nil {
				return false, err
			}
			for r := range hard {
				if _, ok := live.Status.Used[r]; !ok {
					return false, nil
				}
			}
			return true, nil
		}))
	}
	remove = func() {
		must(f.t, client.IgnoreNotFound(f.kc.Delete(ctx, q.DeepCopy())))
		must(f.t, wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			err := f.kc.Get(ctx, client.ObjectKeyFromObject(q), &corev1.ResourceQuota{})
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		}))
	}
	f.t.Cleanup(func() { _ = f.kc.Delete(context.Background(), q.DeepCopy()) })
	return create, remove
}

// TestAccControllerMoveFailure moves a controller when the API server refuses an object of
// the target (a ResourceQuota there allows no Deployment; for a rename, no further service
// account) after the move has begun (the old Deployment scaled to zero, the target's service
// account, RBAC and PodDisruptionBudget applied): the apply fails, the move is undone (the
// old Deployment is scaled back and Available, what the move created in the target is gone)
// and state still describes the old installation, so the next plan of the old configuration is
// empty; the same when the target admits the Deployment but refuses its pods (the wait gives up
// on the ReplicaFailure condition). Once the quota is gone, the same apply completes the move.
func TestAccControllerMoveFailure(t *testing.T) {
	f := newForeignFixture(t, "acc-move-fail", "")
	target := "acc-move-fail-target"
	inNS, toTarget := f.cfg(`"`+f.ns+`"`), f.cfg(`"`+target+`"`)
	renamed := strings.Replace(inNS, "  namespace ", "  service_account_name = \"karpenter-renamed\"\n  namespace ", 1)
	targetNS := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: target}}
	t.Cleanup(func() { _ = f.kc.Delete(context.Background(), targetNS.DeepCopy()) })
	// The fixture's namespace holds team-sa, default and karpenter: a fourth is refused.
	noSA, allowSA := f.quota(f.ns, corev1.ResourceList{"count/serviceaccounts": kresource.MustParse("3")})
	noDeployment, allowDeployment := f.quota(target, corev1.ResourceList{"count/deployments.apps": kresource.MustParse("0")})
	noPods, allowPods := f.quota(target, corev1.ResourceList{corev1.ResourcePods: kresource.MustParse("0")})
	refused := regexp.MustCompile(`(?s)exceeded quota`)
	noop := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(foreignAddr, plancheck.ResourceActionNoop)}}
	var restored time.Time
	scaledBack := func(*terraform.State) error {
		var d appsv1.Deployment
		if err := f.kc.Get(ctx, client.ObjectKey{Namespace: f.ns, Name: deploymentName}, &d); err != nil {
			return err
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 || d.Status.ReadyReplicas != 2 {
			return fmt.Errorf("deployment %s/%s: replicas %v, ready %d, want 2", f.ns, deploymentName, d.Spec.Replicas, d.Status.ReadyReplicas)
		}
		// The same Deployment, scaled back rather than re-created.
		if !restored.IsZero() && !d.CreationTimestamp.Time.Equal(restored) {
			return fmt.Errorf("deployment %s/%s re-created at %v (first created %v)", f.ns, deploymentName, d.CreationTimestamp.Time, restored)
		}
		restored = d.CreationTimestamp.Time
		return nil
	}
	// Nothing the failed moves created is left.
	leftovers := resource.ComposeAggregateTestCheckFunc(
		checkAbsent(f.kc, f.sa(f.ns, "karpenter-renamed")),
		checkAbsent(f.kc, f.sa(target, "karpenter")),
		checkAbsent(f.kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: deploymentName}}),
		checkAbsent(f.kc, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: "karpenter"}}),
		checkAbsent(f.kc, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: "karpenter"}}),
		checkAbsent(f.kc, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: deploymentName}}),
		checkAbsent(f.kc, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: clusterRoleName(target)}}),
		checkAbsent(f.kc, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: clusterRoleName(target)}}),
	)
	moved := resource.ComposeAggregateTestCheckFunc(
		resource.TestCheckResourceAttr(foreignAddr, "namespace", target), resource.TestCheckResourceAttr(foreignAddr, "id", target),
		checkAbsent(f.kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: deploymentName}}),
		func(*terraform.State) error {
			var d appsv1.Deployment
			if err := f.kc.Get(ctx, client.ObjectKey{Namespace: target, Name: deploymentName}, &d); err != nil {
				return err
			}
			if !rolledOut(&d) {
				return fmt.Errorf("deployment %s/%s not Available", target, deploymentName)
			}
			return nil
		})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: inNS, Check: resource.ComposeAggregateTestCheckFunc(f.installed(), scaledBack)},
			// A rename whose service account the API server refuses.
			{PreConfig: noSA, Config: renamed, ExpectError: refused},
			{Config: inNS, ConfigPlanChecks: noop, Check: resource.ComposeAggregateTestCheckFunc(f.installed(), scaledBack, leftovers)},
			// A move whose Deployment the API server refuses, after the old one was scaled to zero.
			{PreConfig: func() { allowSA(); must(t, f.kc.Create(ctx, targetNS.DeepCopy())); noDeployment() }, Config: toTarget, ExpectError: refused},
			{Config: inNS, ConfigPlanChecks: noop, Check: resource.ComposeAggregateTestCheckFunc(f.installed(), scaledBack, leftovers,
				f.present(targetNS.DeepCopy()))}, // adopted: never deleted
			// A move whose Deployment is admitted but whose pods are refused: the wait gives up
			// once the Deployment's ReplicaFailure has held replicaFailureGrace, not at the
			// timeout, and the move is undone.
			{PreConfig: func() { allowDeployment(); noPods() }, Config: toTarget, ExpectError: refused},
			{Config: inNS, ConfigPlanChecks: noop, Check: resource.ComposeAggregateTestCheckFunc(f.installed(), scaledBack, leftovers)},
			// The obstacle gone, the same apply moves the installation.
			{PreConfig: allowPods, Config: toTarget, Check: moved},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(f.intact(),
			checkAbsent(f.kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: target, Name: deploymentName}})),
	})
}
