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
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// diagRegexp matches a Terraform error diagnostic with summary at attribute namespace of
// resource addr (whose configuration sets it), followed by each of details. Terraform wraps
// long lines and prefixes them with a box character, so spaces match any run of blanks and
// box characters.
func diagRegexp(summary, addr string, details ...string) *regexp.Regexp {
	expr := `(?s)Error: ` + diagWords(summary) + `.*with ` + regexp.QuoteMeta(addr) + `,.*namespace\s+=`
	for _, d := range details {
		expr += `.*` + diagWords(d)
	}
	return regexp.MustCompile(expr)
}

// diagWords is s as a regular expression whose spaces match any run of blanks and box
// characters (Terraform wraps a diagnostic's lines and prefixes them with a box character).
func diagWords(s string) string {
	return strings.Join(strings.Fields(regexp.QuoteMeta(s)), `[\s│]+`)
}

// diagLine matches a Terraform diagnostic of severity ("Error", "Warning") with summary,
// followed by each of details.
func diagLine(severity, summary string, details ...string) *regexp.Regexp {
	expr := `(?s)` + severity + `: ` + diagWords(summary)
	for _, d := range details {
		expr += `.*` + diagWords(d)
	}
	return regexp.MustCompile(expr)
}

// takeoverConfig is a controller named name in namespace (an HCL expression), with extra
// lines at the end of its block.
func takeoverConfig(cluster, name, namespace, extra string) string {
	return `resource "karpenter_controller" "` + name + `" {
  cluster_name             = "` + cluster + `"
  default_instance_profile = "acc-takeover"
  namespace                = ` + namespace + `
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
` + extra + `}
`
}

// installation is what a check remembers of the installation in a namespace.
type installation struct {
	kc        client.Client
	ns        string
	installID string
}

// deployment reads the installation's controller Deployment.
func (in *installation) deployment() (*appsv1.Deployment, error) {
	var d appsv1.Deployment
	err := in.kc.Get(ctx, client.ObjectKey{Namespace: in.ns, Name: deploymentName}, &d)
	return &d, err
}

// record checks that the controller is Available in the namespace that this provider created
// (annotated) and remembers its install id; with changed, that the id differs from the one
// remembered before (taken over), else (once one is remembered) that it is the same.
func (in *installation) record(changed bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		d, err := in.deployment()
		if err != nil {
			return err
		}
		id := d.Annotations[installIDAnnotation]
		switch {
		case !rolledOut(d) || d.DeletionTimestamp != nil:
			return fmt.Errorf("deployment %s/%s not Available", in.ns, deploymentName)
		case id == "":
			return fmt.Errorf("deployment %s/%s has no install id", in.ns, deploymentName)
		case changed && id == in.installID:
			return fmt.Errorf("install id %s kept: not taken over", id)
		case !changed && in.installID != "" && id != in.installID:
			return fmt.Errorf("install id changed from %s to %s", in.installID, id)
		}
		in.installID = id
		return in.intact()(nil)
	}
}

// intact checks that the namespace (created by this provider) and every object of the
// installation are present and not being deleted, and that the Deployment still carries the
// remembered install id.
func (in *installation) intact() resource.TestCheckFunc {
	return func(*terraform.State) error {
		var ns corev1.Namespace
		if err := in.kc.Get(ctx, client.ObjectKey{Name: in.ns}, &ns); err != nil || ns.DeletionTimestamp != nil ||
			ns.Annotations[createdByAnnotation] != createdByController {
			return fmt.Errorf("namespace %s removed or no longer marked as created (err %v)", in.ns, err)
		}
		for _, obj := range controllerObjects(controllerSettings{Namespace: in.ns, ServiceAccountName: "karpenter"}) {
			if err := in.kc.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || obj.GetDeletionTimestamp() != nil {
				return fmt.Errorf("%s removed (err %v)", objectName(in.kc, obj), err)
			}
		}
		d, err := in.deployment()
		if err != nil {
			return err
		}
		if got := d.Annotations[installIDAnnotation]; got != in.installID {
			return fmt.Errorf("install id of %s/%s is %q, want %q", in.ns, deploymentName, got, in.installID)
		}
		return nil
	}
}

// setInstallID sets the Deployment's install id annotation to id ("": removes it).
func (in *installation) setInstallID(t *testing.T, id string) {
	t.Helper()
	must(t, in.writeInstallID(id))
}

// writeInstallID is setInstallID returning its error (for goroutines other than the test's).
func (in *installation) writeInstallID(id string) error {
	d, err := in.deployment()
	if err != nil {
		return err
	}
	if id == "" {
		delete(d.Annotations, installIDAnnotation)
	} else {
		d.Annotations[installIDAnnotation] = id
	}
	return in.kc.Update(ctx, d)
}

// secondState runs, in a Terraform state of its own (another workspace), a controller in the
// namespace of the running installation in: the plan refuses it (namespace known), the apply
// refuses it before changing anything (namespace unknown until the apply). in stays intact.
func secondState(t *testing.T, cluster string, in *installation) {
	t.Run("second state", func(t *testing.T) {
		unknownAtPlan := `resource "terraform_data" "ns" {
  input = "` + in.ns + `"
}
` + takeoverConfig(cluster, "second", "terraform_data.ns.output", "")
		summary := "Another installation of the controller runs in namespace " + in.ns
		detail := "Deployment " + in.ns + "/karpenter belongs to another karpenter_controller resource instance (install id " + in.installID + ")"
		resource.Test(t, resource.TestCase{
			ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
			Steps: []resource.TestStep{
				{Config: takeoverConfig(cluster, "second", `"`+in.ns+`"`, ""), PlanOnly: true,
					ExpectError: diagRegexp(summary, "karpenter_controller.second", detail, "take_over_installation = true")},
				// A Deployment without an install id (applied by an earlier version) is refused at
				// plan too, as the create would refuse it.
				{PreConfig: func() { in.setInstallID(t, "") }, Config: takeoverConfig(cluster, "second", `"`+in.ns+`"`, ""), PlanOnly: true,
					ExpectError: diagRegexp(summary, "karpenter_controller.second", "no install id: applied by an earlier version")},
				{PreConfig: func() { in.setInstallID(t, in.installID) }, Config: takeoverConfig(cluster, "second", `"`+in.ns+`"`, ""), PlanOnly: true,
					ExpectError: diagRegexp(summary, "karpenter_controller.second", detail)},
				{Config: unknownAtPlan, ExpectError: diagRegexp(summary, "karpenter_controller.second", detail, "choose another namespace")},
			},
		})
	})
	if err := in.intact()(nil); err != nil {
		t.Errorf("after the second state's refusals: %v", err)
	}
}

// TestAccControllerSecondInstallation runs a controller in a namespace it creates, then a
// second karpenter_controller from another Terraform state in the same namespace: its plan
// and (namespace unknown at plan) its apply refuse at namespace, and the first installation
// keeps its install id, namespace and objects (its next plan is empty, its state still says
// namespace_created). A create_before_destroy replacement of the first is refused without
// take_over_installation (nothing changes) and takes the installation over with it: the
// Deployment carries the new instance's id, the old instance's destroy removed nothing (and
// said so in a warning).
// A plain replacement (-replace) keeps the namespace while a user's ConfigMap is in it.
// Destroy removes the installation and the namespace.
func TestAccControllerSecondInstallation(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	in := &installation{kc: kc, ns: "acc-second"}
	removeNamespaceAtEnd(t, kc, in.ns)
	const addr = "karpenter_controller.test"
	first := takeoverConfig(sb.ClusterName, "test", `"`+in.ns+`"`, "")
	cbd := func(takeOver bool) string {
		return takeoverConfig(sb.ClusterName, "test", `"`+in.ns+`"`, fmt.Sprintf("  take_over_installation = %v\n", takeOver)+
			"  lifecycle {\n    create_before_destroy = true\n  }\n")
	}
	rec := &diagRecorder{}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		Steps: []resource.TestStep{
			{Config: first, Check: resource.ComposeAggregateTestCheckFunc(in.record(false),
				resource.TestCheckResourceAttr(addr, "namespace_created", "true"))},
			{
				PreConfig: func() { secondState(t, sb.ClusterName, in) }, Config: first,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				Check: resource.ComposeAggregateTestCheckFunc(in.record(false),
					resource.TestCheckResourceAttr(addr, "namespace_created", "true")),
			},
			// A replacement (destroy first) keeps the namespace it created when someone else's
			// objects are in it (deleting it would delete them), and the new instance owns it again.
			{PreConfig: func() { userObject(t, kc, in.ns) }, Config: first, Taint: []string{addr},
				Check: resource.ComposeAggregateTestCheckFunc(in.record(true), userObjectKept(kc, in.ns),
					resource.TestCheckResourceAttr(addr, "namespace_created", "true"))},
			{PreConfig: func() { must(t, kc.Delete(ctx, userConfigMap(in.ns))) },
				Config: cbd(false), Taint: []string{addr}, ExpectError: diagRegexp("Another installation of the controller runs in namespace "+in.ns,
					addr, "take_over_installation = true")},
			{
				PreConfig: func() {
					if err := in.intact()(nil); err != nil {
						t.Errorf("after the refused replacement: %v", err)
					}
				},
				// The refused create left its predecessor deposed in state: the plan creates the
				// new instance, then destroys the deposed one (which finds its installation taken over).
				Config: cbd(true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionCreate)}},
				Check: resource.ComposeAggregateTestCheckFunc(in.record(true),
					resource.TestCheckResourceAttr(addr, "namespace_created", "true"),
					rec.expectWarning("ApplyResourceChange", "Installation taken over: nothing removed", text("so this destroy removed nothing"))),
			},
			{Config: cbd(true), ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkAbsent(kc, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.ns}}),
			checkAbsent(kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: in.ns, Name: deploymentName}})),
	})
}

// userConfigMap is a ConfigMap a user keeps in namespace ns (not this provider's).
func userConfigMap(ns string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "user-owned"}, Data: map[string]string{"a": "b"}}
}

// userObject creates userConfigMap(ns).
func userObject(t *testing.T, kc client.Client, ns string) {
	t.Helper()
	must(t, kc.Create(ctx, userConfigMap(ns)))
}

// userObjectKept checks that userConfigMap(ns) is still there, unchanged.
func userObjectKept(kc client.Client, ns string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		cm := userConfigMap(ns)
		if err := kc.Get(ctx, client.ObjectKeyFromObject(cm), cm); err != nil || cm.DeletionTimestamp != nil || cm.Data["a"] != "b" {
			return fmt.Errorf("ConfigMap %s/user-owned removed or changed (err %v)", ns, err)
		}
		return nil
	}
}

// holdLease creates (or updates) the leader-election Lease of namespace ns held by holder,
// renewed at renew for duration seconds.
func holdLease(t *testing.T, kc client.Client, ns, holder string, renew time.Time, duration int32) {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: leaderLeaseName}}
	spec := coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To(duration),
		AcquireTime: &metav1.MicroTime{Time: renew}, RenewTime: &metav1.MicroTime{Time: renew}}
	if err := kc.Get(ctx, client.ObjectKeyFromObject(l), l); err == nil {
		l.Spec = spec
		must(t, kc.Update(ctx, l))
		return
	}
	l.Spec = spec
	must(t, kc.Create(ctx, l))
}

// TestAccControllerLeaseHeld creates a controller in an adopted namespace whose
// leader-election Lease someone else holds (renewed now for an hour): the plan refuses at
// namespace, so does the apply when the namespace is unknown at plan, and nothing is created
// (no Deployment; the Lease unchanged). Once the Lease has expired the create goes ahead, but
// fails (a ResourceQuota admits no pod): state keeps it tainted (install_complete false), and
// the next apply, the quota gone, replaces it (its objects destroyed first) and completes.
// Destroy leaves the Lease, which someone else created.
func TestAccControllerLeaseHeld(t *testing.T) {
	f := newForeignFixture(t, "acc-lease-held", "")
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: leaderLeaseName}}
	t.Cleanup(func() { _ = f.kc.Delete(context.Background(), lease.DeepCopy()) })
	holdLease(t, f.kc, f.ns, "other-karpenter-pod", time.Now(), 3600)
	inNS := f.cfg(`"` + f.ns + `"`)
	unknownAtPlan := `resource "terraform_data" "ns" {
  input = "` + f.ns + `"
}
` + f.cfg("terraform_data.ns.output")
	summary := "The controller's leader-election Lease in namespace " + f.ns + " is held by someone else"
	detail := `Lease ` + f.ns + `/karpenter-leader-election is held by "other-karpenter-pod"`
	noPods, allowPods := f.quota(f.ns, corev1.ResourceList{corev1.ResourcePods: kresource.MustParse("0")})
	unchanged := func() {
		var l coordinationv1.Lease
		must(t, f.kc.Get(ctx, client.ObjectKeyFromObject(lease), &l))
		if ptr.Deref(l.Spec.HolderIdentity, "") != "other-karpenter-pod" {
			t.Errorf("lease holder changed to %q", ptr.Deref(l.Spec.HolderIdentity, ""))
		}
		if err := checkAbsent(f.kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: deploymentName}})(nil); err != nil {
			t.Error(err)
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: inNS, PlanOnly: true, ExpectError: diagRegexp(summary, foreignAddr, detail, "never act")},
			{Config: unknownAtPlan, ExpectError: diagRegexp(summary, foreignAddr, detail, "never act")},
			{
				// Expired, but of an hour: client-go's leader election would still wait an hour
				// from first seeing it (it does not trust renewTime).
				PreConfig: func() {
					unchanged()
					holdLease(t, f.kc, f.ns, "other-karpenter-pod", time.Now().Add(-2*time.Hour), 3600)
				},
				Config: inNS, PlanOnly: true, ExpectError: diagRegexp("The controller's leader-election Lease in namespace "+f.ns+" names another holder",
					foreignAddr, `names holder "other-karpenter-pod" with a duration of 1h0m0s`, "Delete the Lease"),
			},
			{
				PreConfig: func() {
					unchanged()
					holdLease(t, f.kc, f.ns, "other-karpenter-pod", time.Now().Add(-2*time.Hour), 15) // expired, short
					noPods()
				},
				Config: inNS, ExpectError: regexp.MustCompile(`exceeded quota`),
			},
			{
				PreConfig: allowPods, Config: inNS, Check: f.installed(),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(foreignAddr, plancheck.ResourceActionDestroyBeforeCreate)}},
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(f.intact(), f.present(lease.DeepCopy())),
	})
}

// TestAccControllerForeignAtPlan: a Secret karpenter-cert that this provider did not apply is
// refused by the plan of the create, naming it (as the apply would), and, after the install,
// by the plan of the update once the installation's own Secret was replaced by someone
// else's; the foreign Secret is never written. Without it, the apply installs, and re-creates
// the installation's own Secret.
func TestAccControllerForeignAtPlan(t *testing.T) {
	f := newForeignFixture(t, "acc-foreign-plan", "")
	inNS := f.cfg(`"` + f.ns + `"`)
	key := client.ObjectKey{Namespace: f.ns, Name: webhookCertSecret}
	refused := diagRegexp(foreignObjectsSummary, foreignAddr, "Secret "+f.ns+"/"+webhookCertSecret+": not created by terraform-provider-karpenter")
	foreign := func(marker string, replace bool) func() {
		return func() {
			if replace {
				must(t, f.kc.Delete(ctx, &corev1.Secret{ObjectMeta: keyMeta(key)}))
				must(t, waitGone(ctx, f.kc, &corev1.Secret{ObjectMeta: keyMeta(key)}))
			}
			must(t, f.kc.Create(ctx, &corev1.Secret{ObjectMeta: keyMeta(key), Data: map[string][]byte{"tls.crt": []byte(marker)}}))
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{PreConfig: foreign("theirs", false), Config: inNS, PlanOnly: true, ExpectError: refused},
			{PreConfig: func() { deleteForeignSecret(t, f.kc, key, "theirs") }, Config: inNS, Check: f.installed()},
			{PreConfig: foreign("theirs-later", true), Config: inNS, PlanOnly: true, ExpectError: refused},
			{
				PreConfig: func() { deleteForeignSecret(t, f.kc, key, "theirs-later") }, Config: inNS,
				Check: resource.ComposeAggregateTestCheckFunc(f.installed(), f.present(&corev1.Secret{ObjectMeta: keyMeta(key)})),
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(f.intact(), checkAbsent(f.kc, &corev1.Secret{ObjectMeta: keyMeta(key)})),
	})
}
