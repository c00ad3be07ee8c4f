package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// TestAccControllerTakenOver: this test case's Terraform state (A) installs a controller in a
// namespace it creates; another Terraform state (B: another folder, run with the terraform CLI)
// creates one there with take_over_installation = true, which takes the installation over (the
// Deployment carries B's install id). A's refresh shows it (missing_objects names B's id, and
// nothing else) and the plan after it plans nothing, with a warning at namespace naming both ids
// and how to proceed; the plan of a change (log_level) refuses, naming both. When B takes it over
// right before A's update (after Terraform's last plan of it), the update refuses before
// changing anything. A's destroy (Terraform's plan -destroy, which refreshes and plans the
// configuration first, then the apply: what terraform destroy does) succeeds and removes
// nothing, with a warning naming B's id: B's installation and the namespace stay. Then B is
// replaced twice with a Provisioner in the cluster (replaceOtherState): Terraform shows the
// warnings of the old instances' destroys.
func TestAccControllerTakenOver(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	in := &installation{kc: kc, ns: "acc-takeback"}
	removeNamespaceAtEnd(t, kc, in.ns)
	const addr = "karpenter_controller.test"
	rec := &diagRecorder{}
	b := newCLIState(t)
	bCfg := takeoverConfig(sb.ClusterName, "other", `"`+in.ns+`"`, "  take_over_installation = true\n")
	t.Cleanup(func() { _, _ = b.run(bCfg, "destroy", "-auto-approve") }) // after a failure; nothing once B is destroyed
	a := takeoverConfig(sb.ClusterName, "test", `"`+in.ns+`"`, "")
	aDebug := takeoverConfig(sb.ClusterName, "test", `"`+in.ns+`"`, "  log_level = \"debug\"\n")
	var ownA string
	// The refusal names both install ids: set once B has taken over (in.installID is then B's).
	var refusal regexp.Regexp
	unchanged := func(*terraform.State) error { // B's installation as B applied it
		if err := in.intact()(nil); err != nil {
			return err
		}
		if lvl, err := in.logLevel(); err != nil || lvl != "info" {
			return fmt.Errorf("LOG_LEVEL %q (err %v): changed by the refused update", lvl, err)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		Steps: []resource.TestStep{
			{Config: a, Check: resource.ComposeAggregateTestCheckFunc(in.record(false),
				func(*terraform.State) error { ownA = in.installID; return nil })},
			{
				PreConfig: func() {
					b.mustRun(bCfg, "apply", "-auto-approve")
					must(t, in.record(true)(nil)) // B's install id now
					refusal = *diagRegexp(takenOverSummary, addr, "Deployment "+in.ns+"/karpenter carries install id "+in.installID+
						", not this resource instance's ("+ownA+")", "terraform state rm <address>", "terraform import <address> "+in.ns)
				},
				RefreshState: true, // and a plan after it, which must plan nothing
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(addr, "missing_objects.#", "1"),
					resource.TestCheckResourceAttrWith(addr, "missing_objects.0", func(v string) error {
						if want := "Deployment " + in.ns + "/karpenter (changed: taken over by install id " + in.installID + ")"; v != want {
							return fmt.Errorf("missing_objects.0 = %q, want %q", v, want)
						}
						return nil
					})),
			},
			{
				PreConfig: func() {
					if err := rec.warned("PlanResourceChange", "Installation taken over: nothing planned", "Deployment "+in.ns+
						"/karpenter carries install id "+in.installID+", not this resource instance's ("+ownA+")",
						"nothing is planned for it", "terraform import <address> "+in.ns); err != nil {
						t.Error(err)
					}
				},
				Config: aDebug, ExpectError: &refusal,
			},
			{
				// A holds the installation when it plans (also during the apply); B takes it over
				// right before A's update: the update itself refuses.
				PreConfig: func() {
					must(t, unchanged(nil))
					in.setInstallID(t, ownA)
					rec.beforeNextApply(func() {
						if err := in.writeInstallID(in.installID); err != nil {
							t.Errorf("taking the installation over before the update: %v", err)
						}
					})
				},
				Config: aDebug,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				ExpectError: &refusal,
			},
			{
				// With a refresh, as terraform destroy: the plan of the configuration Terraform
				// runs first plans nothing, and the destroy removes nothing.
				PreConfig: rec.reset, Config: a, Destroy: true,
				Check: resource.ComposeAggregateTestCheckFunc(unchanged, // the namespace included
					rec.expectWarning("ApplyResourceChange", "Installation taken over: nothing removed",
						func() string {
							return "carries install id " + in.installID + ", not this resource instance's (" + ownA + ")"
						},
						text("so this destroy removed nothing"))),
			},
		},
	})
	if !t.Failed() {
		replaceOtherState(t, b, in, sb.ClusterName)
	}
}

// replaceOtherState replaces the controller of Terraform state b (resource other, which runs
// installation in, taking it over) while a Provisioner made outside Terraform is in the
// cluster: with -replace, destroying first, then with create_before_destroy. Terraform's output
// shows each old instance's destroy warning naming the Provisioner ("Launched nodes left in
// place"; "Installation taken over: nothing removed", naming the new install id), and the
// installation runs intact under a new install id after each. With the Provisioner deleted,
// b's destroy removes the installation and its namespace.
func replaceOtherState(t *testing.T, b *cliState, in *installation, cluster string) {
	t.Helper()
	prov := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: "acc-takeback"}}
	must(t, in.kc.Create(ctx, prov))
	t.Cleanup(func() { _ = in.kc.Delete(context.Background(), prov.DeepCopy()) })
	out := b.mustRun(takeoverConfig(cluster, "other", `"`+in.ns+`"`, "  take_over_installation = true\n"),
		"apply", "-auto-approve", "-replace=karpenter_controller.other")
	if err := shows(out, "Launched nodes left in place", "Provisioners remain (acc-takeback)"); err != nil {
		t.Error(err)
	}
	must(t, in.record(true)(nil))
	cbd := takeoverConfig(cluster, "other", `"`+in.ns+`"`, "  take_over_installation = true\n  lifecycle {\n    create_before_destroy = true\n  }\n")
	prev := in.installID
	out = b.mustRun(cbd, "apply", "-auto-approve", "-replace=karpenter_controller.other")
	must(t, in.record(true)(nil))
	if err := shows(out, "Installation taken over: nothing removed", "carries install id "+in.installID+", not this resource instance's ("+prev+")",
		"the Provisioners (acc-takeback) stay"); err != nil {
		t.Error(err)
	}
	must(t, in.kc.Delete(ctx, prov.DeepCopy()))
	must(t, waitGone(ctx, in.kc, prov.DeepCopy()))
	b.mustRun(cbd, "destroy", "-auto-approve")
	must(t, checkAbsent(in.kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: in.ns, Name: deploymentName}})(nil))
	must(t, checkAbsent(in.kc, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.ns}})(nil))
}

// logLevel is LOG_LEVEL of the installation's controller container.
func (in *installation) logLevel() (string, error) {
	d, err := in.deployment()
	if err != nil {
		return "", err
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == containerName {
			return envValue(c, envLogLevel), nil
		}
	}
	return "", fmt.Errorf("no container %s in Deployment %s/%s", containerName, in.ns, deploymentName)
}

// TestAccControllerPlanUnreachable plans a controller with a provider whose Kubernetes API
// server cannot be reached: the plan succeeds (the create is planned) with a warning at
// namespace that the ownership checks were skipped (naming the namespace and the error) and
// that the apply runs them first.
func TestAccControllerPlanUnreachable(t *testing.T) {
	sb, _ := startSandbox(t) // the AWS emulator: the provider's AWS configuration and cluster endpoint
	rec := &diagRecorder{}
	cfg := "provider \"karpenter\" {\n  kubernetes {\n    host = \"https://127.0.0.1:1\"\n  }\n}\n" +
		takeoverConfig(sb.ClusterName, "test", `"acc-unreachable"`, "")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		Steps:                    []resource.TestStep{{Config: cfg, PlanOnly: true, ExpectNonEmptyPlan: true}},
	})
	if err := rec.warned("PlanResourceChange", "Ownership checks skipped: the cluster cannot be read", "127.0.0.1:1",
		"did not check namespace acc-unreachable", "The apply runs these checks first"); err != nil {
		t.Error(err)
	}
}
