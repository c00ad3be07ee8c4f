package provider

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/sandbox/pods"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
	"github.com/nodeform/terraform-provider-karpenter/version"
)

// otherControllerWarning is the summary of the warning about a controller in another namespace.
const otherControllerWarning = "Another Karpenter controller runs in the cluster"

// TestAccControllerOtherNamespace: beside three Karpenter controller Deployments in other
// namespaces (labelled app.kubernetes.io/name=karpenter): acc-coexist-other's, of another
// installation (app.kubernetes.io/instance=karpenter, an install id), and acc-coexist-helm's,
// like the Helm chart's (app.kubernetes.io/instance=karpenter-helm), both running (one replica of
// an image the sandbox cannot pull), and acc-coexist-idle's, scaled to zero: the plan of a create
// in acc-coexist warns at namespace naming the two running ones (the first with its install id),
// not the one scaled to zero, and the create succeeds without warning again (Terraform planned it
// again during the apply, which warned); so do the plan and apply of a move to acc-coexist-moved,
// whose warning does not count the installation it leaves. Its destroy (Terraform's plan
// -destroy, which refreshes and plans the configuration first, then the apply) leaves the CRDs
// and warns, naming all three (the idle one as scaled to zero). With only the one scaled to
// zero left, neither plan nor apply of a create warns, and its destroy still leaves the CRDs,
// naming it.
func TestAccControllerOtherNamespace(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const other, helm, idle, ns, moved = "acc-coexist-other", "acc-coexist-helm", "acc-coexist-idle", "acc-coexist", "acc-coexist-moved"
	const unpullable = "public.ecr.aws/karpenter/controller:v0.31.0"
	helmLabels := map[string]string{nameLabel: "karpenter", "app.kubernetes.io/instance": "karpenter-helm"}
	deployment := func(namespace string, labels, annotations map[string]string, replicas int32) *appsv1.Deployment {
		removeNamespaceAtEnd(t, kc, namespace)
		must(t, kc.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}))
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: deploymentName, Labels: labels, Annotations: annotations},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas), Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "controller", Image: unpullable}}}}}}
		must(t, kc.Create(ctx, d))
		return d
	}
	otherDeployment := deployment(other, selectorLabels(), map[string]string{installIDAnnotation: "helmlike0000id"}, 1)
	helmDeployment := deployment(helm, helmLabels, nil, 1)
	deployment(idle, helmLabels, nil, 0)
	rec := &diagRecorder{}
	named := text(other + "/" + deploymentName + " (install id helmlike0000id)")
	helmNamed := text(helm + "/" + deploymentName)
	both := text("both controllers act on every Provisioner")
	// warnedAtPlan: the plan warned about the running ones; the apply did not repeat it.
	warnedAtPlan := resource.ComposeAggregateTestCheckFunc(rec.expectWarning("PlanResourceChange", otherControllerWarning, named, both),
		rec.expectWarning("PlanResourceChange", otherControllerWarning, helmNamed),
		func(*terraform.State) error {
			if rec.warned("ApplyResourceChange", otherControllerWarning) == nil {
				return fmt.Errorf("the apply repeated the plan's warning %q", otherControllerWarning)
			}
			return nil
		})
	notWarned := func(details ...string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			for _, rpc := range []string{"PlanResourceChange", "ApplyResourceChange"} {
				if rec.warned(rpc, otherControllerWarning, details...) == nil {
					return fmt.Errorf("%s warned %q with %q", rpc, otherControllerWarning, details)
				}
			}
			return nil
		}
	}
	crdsKept := func(*terraform.State) error {
		all, err := controllerCRDs()
		if err != nil {
			return err
		}
		for _, crd := range all {
			if err := kc.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil || crd.DeletionTimestamp != nil {
				return fmt.Errorf("CRD %s removed by the destroy while another controller is left (err %v)", crd.Name, err)
			}
		}
		return nil
	}
	const sharedLeft = "Shared objects left to another Karpenter controller"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: rec.factories(),
		Steps: []resource.TestStep{
			{Config: takeoverConfig(sb.ClusterName, "test", `"`+ns+`"`, ""), Check: resource.ComposeAggregateTestCheckFunc(warnedAtPlan, notWarned(idle))},
			{
				PreConfig: rec.reset, Config: takeoverConfig(sb.ClusterName, "test", `"`+moved+`"`, ""),
				Check: resource.ComposeAggregateTestCheckFunc(warnedAtPlan, notWarned(ns+"/"+deploymentName), notWarned(idle),
					resource.TestCheckResourceAttr("karpenter_controller.test", "namespace", moved)),
			},
			{
				PreConfig: rec.reset, Config: takeoverConfig(sb.ClusterName, "test", `"`+moved+`"`, ""), Destroy: true,
				Check: resource.ComposeAggregateTestCheckFunc(crdsKept,
					rec.expectWarning("ApplyResourceChange", sharedLeft, text("Deployment "+helm+"/"+deploymentName+", Deployment "+
						idle+"/"+deploymentName+" (scaled to zero), Deployment "+other+"/"+deploymentName+", labelled app.kubernetes.io/name=karpenter"),
						text("this destroy removed only this installation's own objects"))),
			},
			{
				PreConfig: func() {
					for _, d := range []*appsv1.Deployment{otherDeployment, helmDeployment} {
						must(t, kc.Delete(ctx, d))
						must(t, waitGone(ctx, kc, d))
					}
					rec.reset()
				},
				Config: takeoverConfig(sb.ClusterName, "test", `"`+ns+`"`, ""), Check: notWarned(),
			},
			{
				PreConfig: rec.reset, Config: takeoverConfig(sb.ClusterName, "test", `"`+ns+`"`, ""), Destroy: true,
				Check: resource.ComposeAggregateTestCheckFunc(crdsKept,
					rec.expectWarning("ApplyResourceChange", sharedLeft, text("Deployment "+idle+"/"+deploymentName+" (scaled to zero), labelled"))),
			},
		},
	})
}

// TestAccControllerImageNotPulled: a misspelt image is what a real cluster cannot pull, and so
// the sandbox: the controller pods stay Pending with their container Waiting in ErrImagePull
// (a message naming the image), no process starts (no log), the Deployment never becomes
// Available, and the create fails within its timeout with an error naming ErrImagePull and the
// image. The tainted installation is then replaced by one whose image a loopback registry has,
// which runs.
func TestAccControllerImageNotPulled(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const ns = "acc-image"
	typo := "ghcr.io/nodeform/karpenter-controler:" + version.Version
	pushed := sandboxtest.LoopbackImage(t, "nodeform/karpenter-controller:acc-image")
	cfg := func(image, extra string) string {
		return takeoverConfig(sb.ClusterName, "test", `"`+ns+`"`, `  image = "`+image+`"`+"\n"+extra)
	}
	notPulled := func() {
		var pl corev1.PodList
		err := wait.PollUntilContextTimeout(ctx, time.Second, time.Minute, true, func(ctx context.Context) (bool, error) {
			if err := kc.List(ctx, &pl, client.InNamespace(ns), client.MatchingLabels(selectorLabels())); err != nil {
				return false, err
			}
			return len(pl.Items) > 0, nil
		})
		must(t, err)
		time.Sleep(3 * time.Second) // kwok would have marked them Running by now
		must(t, kc.List(ctx, &pl, client.InNamespace(ns), client.MatchingLabels(selectorLabels())))
		for _, p := range pl.Items {
			w := waitingState(p)
			if p.Status.Phase != corev1.PodPending || w == nil || w.Reason != pods.ReasonErrImagePull || !strings.Contains(w.Message, typo) {
				t.Errorf("pod %s: phase %s, waiting %+v; want Pending, ErrImagePull naming %s", p.Name, p.Status.Phase, w, typo)
			}
			if _, err := os.Stat(pods.LogPath(sb.Dir, ns, p.Name)); !os.IsNotExist(err) {
				t.Errorf("pod %s: a process was started (log %s: %v)", p.Name, pods.LogPath(sb.Dir, ns, p.Name), err)
			}
		}
		var d appsv1.Deployment
		must(t, kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: deploymentName}, &d))
		if rolledOut(&d) {
			t.Errorf("Deployment %s/%s Available with image %s", ns, deploymentName, typo)
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg(typo, "  timeouts {\n    create = \"20s\"\n  }\n"),
				ExpectError: regexp.MustCompile(`(?s)rollout did not complete.*` + words("0 of 2 updated replicas available") + `.*ErrImagePull.*` +
					regexp.QuoteMeta(typo)),
			},
			{
				PreConfig: notPulled, Config: cfg(pushed, ""),
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr("karpenter_controller.test", "image", pushed),
					resource.TestCheckResourceAttr("karpenter_controller.test", "install_complete", "true"),
					// The sandbox pulled the image and runs the binary its entrypoint names, extracted
					// from its layer (sandbox/pods/pull.go), not its own controller executable.
					func(*terraform.State) error {
						exes, _ := filepath.Glob(filepath.Join(sb.Dir, "images", "sha256-*", "*-terraform-provider-karpenter"))
						if len(exes) != 1 {
							return fmt.Errorf("extracted entrypoints %v; want the image's binary, once", exes)
						}
						return nil
					}),
			},
		},
	})
}

// TestAccControllerRolloutIncomplete: create and update wait until the rollout is complete as
// `kubectl rollout status` judges it, not for the Available condition (True with maxUnavailable
// 1 while a replica is missing). A create of one replica whose image cannot be pulled fails,
// naming the pod in ErrImagePull and the image. An update of a working two-replica
// installation to such an image fails within its timeout (one old pod still runs, the new ones
// wait), naming what is left and ErrImagePull; state keeps the new image with install_complete
// false, so that the next plan is not empty; going back to the good image completes.
func TestAccControllerRolloutIncomplete(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const ns, addr = "acc-rollout", "karpenter_controller.test"
	typo := "ghcr.io/nodeform/karpenter-controler:" + version.Version
	good := version.ControllerImage()
	cfg := func(image, extra string) string {
		return takeoverConfig(sb.ClusterName, "test", `"`+ns+`"`, `  image = "`+image+`"`+"\n"+extra)
	}
	updateTimeout := "  timeouts {\n    update = \"30s\"\n  }\n"
	stuck := func(*terraform.State) error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: deploymentName}, &d); err != nil {
			return err
		}
		if rolledOut(&d) {
			return fmt.Errorf("deployment %s/%s rolled out with image %s: %+v", ns, deploymentName, typo, d.Status)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg(typo, "  replicas = 1\n  timeouts {\n    create = \"20s\"\n  }\n"),
				ExpectError: regexp.MustCompile(`(?s)rollout did not complete.*` + words("0 of 1 updated replicas available") + `.*ErrImagePull.*` +
					regexp.QuoteMeta(typo)),
			},
			{
				Config: cfg(good, updateTimeout), // replaces the tainted one
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(addr, "install_complete", "true"),
					resource.TestCheckResourceAttr(addr, "replicas", "2")),
			},
			{
				Config: cfg(typo, updateTimeout),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				ExpectError: regexp.MustCompile(`(?s)rollout did not complete.*` + words("0 of 2 updated replicas available, 1 old replica still running") +
					`.*ErrImagePull.*` + regexp.QuoteMeta(typo)),
			},
			{ // state: the new image, install_complete false: the plan is an update, not empty
				Config: cfg(typo, updateTimeout), PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
			},
			{
				PreConfig: func() { must(t, stuck(nil)) },
				Config:    cfg(good, updateTimeout),
				Check: resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(addr, "install_complete", "true"),
					resource.TestCheckResourceAttr(addr, "image", good), checkRolledOut(kc, ns)),
			},
		},
	})
}

// words is a pattern matching the words of s separated by any white space (Terraform wraps
// long error messages).
func words(s string) string {
	ws := strings.Fields(s)
	for i, w := range ws {
		ws[i] = regexp.QuoteMeta(w)
	}
	return strings.Join(ws, `\s+`)
}

// checkRolledOut checks that the controller Deployment of namespace is rolled out.
func checkRolledOut(kc client.Client, namespace string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, client.ObjectKey{Namespace: namespace, Name: deploymentName}, &d); err != nil {
			return err
		}
		if !rolledOut(&d) {
			return fmt.Errorf("deployment %s/%s not rolled out: %+v", namespace, deploymentName, d.Status)
		}
		return nil
	}
}

// waitingState is the waiting state of the pod's first container, nil if none.
func waitingState(p corev1.Pod) *corev1.ContainerStateWaiting {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return p.Status.ContainerStatuses[0].State.Waiting
}
