package provider

import (
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Names of TestAccControllerOwnership.
const (
	sharedNS     = "acc-shared"
	ownNS        = "acc-own"
	launchedNode = "acc-launched"
)

// TestAccControllerOwnership installs karpenter_controller into a pre-existing shared namespace
// holding a ConfigMap and a Deployment of someone else, beside a node labelled as launched by
// Karpenter: a create that fails (an image that never runs) is tainted and replaced, the
// installation moves to kube-system and then to a namespace of its own, and is destroyed.
// The shared namespace (labels, annotations, ConfigMap, Deployment) and kube-system stay
// intact throughout; the launched node survives the replacement and both moves, and only the
// destroy of the last controller removes it (no Provisioner is left); the namespace the
// resource created is removed.
func TestAccControllerOwnership(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const addr = "karpenter_controller.test"
	cfg := func(namespace, sa, cpu, timeout string) string {
		c := `resource "karpenter_controller" "test" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "acc-ownership"
  namespace                = "` + namespace + `"
  service_account_name     = "` + sa + `"
  resources {
    cpu_request    = "` + cpu + `"
    memory_request = "128Mi"
  }
`
		if timeout != "" {
			c += `  timeouts {
    create = "` + timeout + `"
  }
`
		}
		return c + "}\n"
	}
	createSharedObjects(t, kc)
	intact := checkSharedIntact(kc)
	action := func(a plancheck.ResourceActionType) resource.ConfigPlanChecks {
		return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, a)}}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{ // never Available (no node has 1000 CPUs): the create fails and the resource is tainted
				Config: cfg(sharedNS, "karpenter", "1000", "15s"), ExpectError: regexp.MustCompile(`(?s)rollout did not complete.*not scheduled: Unschedulable`),
			},
			{ // the tainted installation is replaced: its own objects go, nothing else
				Config: cfg(sharedNS, "karpenter", "100m", ""), ConfigPlanChecks: action(plancheck.ResourceActionDestroyBeforeCreate),
				Check: resource.ComposeAggregateTestCheckFunc(intact, resource.TestCheckResourceAttr(addr, "namespace_created", "false"),
					checkControllerIn(kc, sharedNS, "karpenter")),
			},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: sharedNS, ImportStateVerifyIgnore: []string{"timeouts"}},
			{ // moves in place to kube-system (adopted)
				Config: cfg("kube-system", "karpenter", "100m", ""), ConfigPlanChecks: action(plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(intact, resource.TestCheckResourceAttr(addr, "namespace_created", "false"),
					resource.TestCheckResourceAttr(addr, "id", "kube-system"), checkControllerIn(kc, "kube-system", "karpenter"),
					checkAbsent(kc, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sharedNS, Name: "karpenter"}}),
					checkAbsent(kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: sharedNS, Name: deploymentName}})),
			},
			{ // moves in place to a namespace it creates, with another service account
				Config: cfg(ownNS, "karpenter-own", "100m", ""), ConfigPlanChecks: action(plancheck.ResourceActionUpdate),
				Check: resource.ComposeAggregateTestCheckFunc(intact, resource.TestCheckResourceAttr(addr, "namespace_created", "true"),
					checkControllerIn(kc, ownNS, "karpenter-own"),
					checkAbsent(kc, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "karpenter"}}),
					checkAbsent(kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: deploymentName}})),
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(intact,
			checkAbsent(kc, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: launchedNode}}),
			checkAbsent(kc, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ownNS}}),
			func(*terraform.State) error {
				var ns corev1.Namespace
				return kc.Get(ctx, types.NamespacedName{Name: "kube-system"}, &ns)
			}),
	})
}

// createSharedObjects makes what TestAccControllerOwnership must leave alone: namespace
// sharedNS (label team=platform) with ConfigMap keep and Deployment other, and a node labelled
// as launched by Karpenter (no provider ID, so the controller's garbage collection ignores it).
func createSharedObjects(t *testing.T, kc client.Client) {
	t.Helper()
	zero := int32(0)
	sel := map[string]string{"app": "other"}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sharedNS, Labels: map[string]string{"team": "platform"}}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: sharedNS, Name: "keep"}, Data: map[string]string{"k": "v"}},
		&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: sharedNS, Name: "other"}, Spec: appsv1.DeploymentSpec{
			Replicas: &zero, Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/other:1"}}}}}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: launchedNode, Labels: map[string]string{v1alpha5.LabelProvisionerName: "acc-owner"}}},
	}
	for _, o := range objs {
		must(t, kc.Create(ctx, o))
	}
	t.Cleanup(func() {
		for _, o := range objs {
			_ = kc.Delete(ctx, o)
		}
	})
}

// checkSharedIntact checks that namespace sharedNS has exactly its own labels (team and the
// automatic kubernetes.io/metadata.name), no createdByAnnotation, and still holds ConfigMap keep
// and Deployment other.
func checkSharedIntact(kc client.Client) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var ns corev1.Namespace
		if err := kc.Get(ctx, types.NamespacedName{Name: sharedNS}, &ns); err != nil {
			return err
		}
		if ns.DeletionTimestamp != nil {
			return fmt.Errorf("namespace %s is being deleted", sharedNS)
		}
		if len(ns.Labels) != 2 || ns.Labels["team"] != "platform" {
			return fmt.Errorf("namespace %s labels changed: %v", sharedNS, ns.Labels)
		}
		if _, ok := ns.Annotations[createdByAnnotation]; ok {
			return fmt.Errorf("namespace %s got annotation %s", sharedNS, createdByAnnotation)
		}
		if err := kc.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: "keep"}, &corev1.ConfigMap{}); err != nil {
			return fmt.Errorf("ConfigMap keep: %w", err)
		}
		if err := kc.Get(ctx, types.NamespacedName{Namespace: sharedNS, Name: "other"}, &appsv1.Deployment{}); err != nil {
			return fmt.Errorf("Deployment other: %w", err)
		}
		return nil
	}
}

// checkControllerIn checks that the controller Deployment of namespace is Available and runs
// as service account sa, and that the launched node is still there.
func checkControllerIn(kc client.Client, namespace, sa string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, types.NamespacedName{Namespace: namespace, Name: deploymentName}, &d); err != nil {
			return err
		}
		if !rolledOut(&d) || d.Spec.Template.Spec.ServiceAccountName != sa {
			return fmt.Errorf("deployment %s/%s: available=%v serviceAccount=%s, want %s", namespace, deploymentName,
				rolledOut(&d), d.Spec.Template.Spec.ServiceAccountName, sa)
		}
		var n corev1.Node
		if err := kc.Get(ctx, types.NamespacedName{Name: launchedNode}, &n); err != nil || n.DeletionTimestamp != nil {
			return fmt.Errorf("launched node %s removed (err %v)", launchedNode, err)
		}
		return nil
	}
}

// checkAbsent checks that obj does not exist (or is being deleted).
func checkAbsent(kc client.Client, obj client.Object) resource.TestCheckFunc {
	return func(*terraform.State) error {
		err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if obj.GetDeletionTimestamp() != nil {
			return nil
		}
		return fmt.Errorf("%T %s/%s still exists", obj, obj.GetNamespace(), obj.GetName())
	}
}

// TestAccControllerLastOfTwo runs two controllers beside a node labelled as launched by
// Karpenter: destroying one of them leaves the node, the Provisioners and the CRD to the
// other; destroying the last while a Provisioner made outside Terraform remains leaves that
// Provisioner, the node and the CRD (and warns); once the Provisioner is deleted, destroying the
// last controller removes the node and the CRD.
func TestAccControllerLastOfTwo(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const node, prov = "acc-launched-two", "acc-two"
	ctrl := func(name string) string {
		return `resource "karpenter_controller" "` + name + `" {
  cluster_name             = "` + sb.ClusterName + `"
  default_instance_profile = "acc-two"
  namespace                = "acc-` + name + `"
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
}
`
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{v1alpha5.LabelProvisionerName: prov}}}
	must(t, kc.Create(ctx, n))
	t.Cleanup(func() { _ = kc.Delete(ctx, n) })
	present := func(obj client.Object) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if err := kc.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || obj.GetDeletionTimestamp() != nil {
				return fmt.Errorf("%T %s removed (err %v)", obj, obj.GetName(), err)
			}
			return nil
		}
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: ctrl("one") + ctrl("two"), Check: present(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}})},
			{
				PreConfig: func() { must(t, kc.Create(ctx, &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: prov}})) },
				Config:    ctrl("one"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("karpenter_controller.two", plancheck.ResourceActionDestroy)}},
				Check: resource.ComposeAggregateTestCheckFunc(
					present(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}),
					present(&v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: prov}}),
					checkAbsent(kc, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acc-two"}}),
					func(*terraform.State) error {
						crd, err := provisionerCRD()
						if err != nil {
							return err
						}
						return present(crd)(nil)
					}),
			},
			{ // the last controller goes while the outside Provisioner remains: nothing of it is touched
				Config: "locals {}\n",
				Check: resource.ComposeAggregateTestCheckFunc(
					present(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}),
					present(&v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: prov}}),
					checkAbsent(kc, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "acc-one", Name: deploymentName}}),
					func(*terraform.State) error {
						crd, err := provisionerCRD()
						if err != nil {
							return err
						}
						return present(crd)(nil)
					}),
			},
			{ // with the Provisioner deleted, the last controller's destroy removes the node and the CRD
				PreConfig: func() { must(t, kc.Delete(ctx, &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: prov}})) },
				Config:    ctrl("one"),
			},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(
			checkAbsent(kc, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}),
			func(*terraform.State) error {
				crd, err := provisionerCRD()
				if err != nil {
					return err
				}
				return checkAbsent(kc, crd)(nil)
			}),
	})
}
