package provider

import (
	"fmt"
	"os"
	"testing"

	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// controllerDerivedConfig is a karpenter_controller that leaves cluster_endpoint unset (%[1]s:
// the cluster name), under a provider block holding %[2]s (e.g. default_tags).
const controllerDerivedConfig = `
provider "karpenter" {
  %[2]s
}
resource "karpenter_controller" "derived" {
  cluster_name             = "%[1]s"
  controller_role_arn      = "arn:aws:iam::123456789012:role/derived"
  default_instance_profile = "derived-profile"
  replicas                 = 1
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
}
`

// checkControllerEnv checks that the controller container of the Deployment in namespace
// karpenter has environment variable name set to want ("" : absent).
func checkControllerEnv(kc client.Client, name, want string) tfresource.TestCheckFunc {
	return func(*terraform.State) error {
		var d appsv1.Deployment
		if err := kc.Get(ctx, types.NamespacedName{Namespace: "karpenter", Name: deploymentName}, &d); err != nil {
			return err
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name != containerName {
				continue
			}
			got, found := "", false
			for _, e := range c.Env {
				if e.Name == name {
					got, found = e.Value, true
				}
			}
			if got != want || found != (want != "") {
				return fmt.Errorf("controller env %s = %q (present %v), want %q", name, got, found, want)
			}
			return nil
		}
		return fmt.Errorf("deployment has no container %s", containerName)
	}
}

// With cluster_endpoint unset, a CLUSTER_ENDPOINT changed outside Terraform plans an update of
// cluster_endpoint back to the endpoint EKS DescribeCluster reports, and apply restores it.
func TestAccControllerEndpointDefault(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const addr = "karpenter_controller.derived"
	config := fmt.Sprintf(controllerDerivedConfig, sb.ClusterName, "")
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: []tfresource.TestStep{
		{
			Config: config,
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				plancheck.ExpectKnownValue(addr, tfjsonpath.New("cluster_endpoint"), knownvalue.StringExact(sb.Endpoint))}},
			Check: tfresource.ComposeAggregateTestCheckFunc(tfresource.TestCheckResourceAttr(addr, "cluster_endpoint", sb.Endpoint),
				checkControllerEnv(kc, envClusterEndpoint, sb.Endpoint)),
		},
		{
			PreConfig: func() {
				d := &appsv1.Deployment{}
				d.SetName(deploymentName)
				d.SetNamespace("karpenter")
				must(t, kc.Patch(ctx, d, client.RawPatch(types.JSONPatchType, []byte(envPatch(1, envClusterEndpoint, "https://other.example.com")))))
			},
			Config: config,
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
				driftPlanCheck{want: map[string][]string{addr: {"cluster_endpoint"}}},
				plancheck.ExpectKnownValue(addr, tfjsonpath.New("cluster_endpoint"), knownvalue.StringExact(sb.Endpoint))}},
			Check: checkControllerEnv(kc, envClusterEndpoint, sb.Endpoint),
		},
	}})
}

// Changing only the provider's default_tags plans an update of karpenter_controller whose diff
// is under default_tags (the tags, readable in the plan); apply rewrites DEFAULT_TAGS in the
// Deployment, and the plan after it is empty (resource.Test checks that after every step).
func TestAccControllerDefaultTags(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	const addr = "karpenter_controller.derived"
	tags := tfjsonpath.New("default_tags")
	update := func(want knownvalue.Check) []plancheck.PlanCheck {
		return []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
			driftPlanCheck{want: map[string][]string{addr: {"default_tags"}}}, plancheck.ExpectKnownValue(addr, tags, want)}
	}
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: []tfresource.TestStep{
		{
			Config: fmt.Sprintf(controllerDerivedConfig, sb.ClusterName, `default_tags = { team = "a" }`),
			Check: tfresource.ComposeAggregateTestCheckFunc(tfresource.TestCheckResourceAttr(addr, "default_tags.team", "a"),
				checkControllerEnv(kc, envDefaultTags, `{"team":"a"}`)),
		},
		{
			Config: fmt.Sprintf(controllerDerivedConfig, sb.ClusterName, `default_tags = { team = "b", env = "x" }`),
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: update(knownvalue.MapExact(map[string]knownvalue.Check{
				"team": knownvalue.StringExact("b"), "env": knownvalue.StringExact("x")}))},
			Check: checkControllerEnv(kc, envDefaultTags, `{"env":"x","team":"b"}`),
		},
		{
			Config:           fmt.Sprintf(controllerDerivedConfig, sb.ClusterName, ""),
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: update(knownvalue.Null())},
			Check:            checkControllerEnv(kc, envDefaultTags, ""),
		},
	}})
}

// defaultTagsValue reads DEFAULT_TAGS as written by controllerObjects, null when absent, and
// reports any other value as unreadable (deploymentChanges then lists the Deployment).
func TestDefaultTagsValue(t *testing.T) {
	for _, c := range []struct {
		env    []corev1.EnvVar
		want   string // the map's String(), "<null>" for null
		wantOK bool
	}{
		{nil, "<null>", true},
		{[]corev1.EnvVar{{Name: envDefaultTags, Value: `{"b":"2","a":"1"}`}}, `{"a":"1","b":"2"}`, true},
		{[]corev1.EnvVar{{Name: envDefaultTags, Value: `{}`}}, `{}`, true},
		{[]corev1.EnvVar{{Name: envDefaultTags, Value: `not json`}}, "<null>", false},
		{[]corev1.EnvVar{{Name: envDefaultTags, Value: `null`}}, "<null>", false},
		{[]corev1.EnvVar{{Name: envDefaultTags, Value: `{"a":1}`}}, "<null>", false},
		{[]corev1.EnvVar{{Name: envDefaultTags, ValueFrom: &corev1.EnvVarSource{}}}, "<null>", false},
	} {
		got, ok := defaultTagsValue(corev1.Container{Env: c.env})
		if got.String() != c.want || ok != c.wantOK {
			t.Errorf("DEFAULT_TAGS %v: got %s, %v; want %s, %v", c.env, got, ok, c.want, c.wantOK)
		}
	}
}

// metadataChanged compares only the labels and annotations the provider sets, skipping the
// one an attribute reads back.
func TestMetadataChanged(t *testing.T) {
	desired := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"l": "1"},
		Annotations: map[string]string{"a": "1", roleARNAnnotation: "arn"}}}
	for _, c := range []struct {
		labels, annotations map[string]string
		want                bool
	}{
		{map[string]string{"l": "1"}, map[string]string{"a": "1", roleARNAnnotation: "arn"}, false},
		{map[string]string{"l": "1", "extra": "x"}, map[string]string{"a": "1", "other": "y"}, false}, // others' additions
		{map[string]string{"l": "1"}, map[string]string{"a": "1"}, false},                             // skipped annotation
		{nil, map[string]string{"a": "1"}, true},
		{map[string]string{"l": "2"}, map[string]string{"a": "1"}, true},
		{map[string]string{"l": "1"}, nil, true},
	} {
		live := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Labels: c.labels, Annotations: c.annotations}}
		if got := metadataChanged(desired, live, roleARNAnnotation); got != c.want {
			t.Errorf("labels %v annotations %v: changed = %v, want %v", c.labels, c.annotations, got, c.want)
		}
	}
	if !namespaceChanged(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "k", Labels: commonLabels()}}) {
		t.Error("a namespace without the created-by annotation is not reported")
	}
	if namespaceChanged(namespaceObject("k")) {
		t.Error("namespaceObject itself is reported")
	}
}
