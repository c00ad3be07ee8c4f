package v1alpha5_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/test/sandboxtest"
)

func TestMain(m *testing.M) { sandboxtest.Main(m) }

var provisionersGVR = schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1alpha5", Resource: "provisioners"}

// installCRD creates the generated CRD on the sandbox's API server exactly as generated (the API
// server rejects rules over its CEL cost budget, so this also checks the budget) and waits until
// it is Established.
func installCRD(t *testing.T) dynamic.Interface {
	t.Helper()
	sb := sandboxtest.Start(t)
	cfg := sb.RESTConfig()
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crds.Provisioner, &crd); err != nil {
		t.Fatalf("generated CRD does not parse: %v", err)
	}
	ext := apiextensionsclient.NewForConfigOrDie(cfg)
	ctx := context.Background()
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("API server refused the generated CRD: %v", err)
	}
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD not established: %v", err)
	}
	return dynamic.NewForConfigOrDie(cfg)
}

func provisionerFromYAML(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return u
}

// quickstartManifest is the path of one of the tutorial's manifests in the repository
// (examples/quickstart/manifests), relative to this package's directory.
func quickstartManifest(name string) string {
	return filepath.Join("..", "..", "..", "examples", "quickstart", "manifests", name)
}

func TestSeedProvisionerIsAccepted(t *testing.T) {
	dyn := installCRD(t)
	raw, err := os.ReadFile(quickstartManifest("provisioner.yaml"))
	if err != nil {
		t.Fatalf("reading the tutorial's provisioner.yaml: %v", err)
	}
	doc := strings.ReplaceAll(string(raw), "${CLUSTER_NAME}", "karpenter-demo")
	u := provisionerFromYAML(t, doc)
	u.SetName("seed-default")
	if _, err := dyn.Resource(provisionersGVR).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the tutorial's Provisioner was refused: %v", err)
	}
}

func TestInvalidProvisionersAreRefusedWithFieldPath(t *testing.T) {
	dyn := installCRD(t)
	const base = `
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: %s
spec:
`
	cases := []struct {
		name, spec string
		want       []string // substrings of the error: field path and reason
	}{
		{"unknown-operator", `
  requirements:
    - key: karpenter.sh/capacity-type
      operator: Maybe
      values: ["spot"]`, []string{"spec.requirements[0].operator", "Unsupported value", "Maybe"}},
		{"negative-ttl", `
  ttlSecondsAfterEmpty: -1`, []string{"spec.ttlSecondsAfterEmpty", "greater than or equal to 0"}},
		{"negative-expiry", `
  ttlSecondsUntilExpired: -5`, []string{"spec.ttlSecondsUntilExpired", "greater than or equal to 0"}},
		{"empty-selector", `
  provider:
    subnetSelector: {}
    securityGroupSelector:
      karpenter.sh/discovery: demo`, []string{"spec.provider.subnetSelector", "at least 1"}},
		{"empty-selector-value", `
  provider:
    subnetSelector:
      karpenter.sh/discovery: ""
    securityGroupSelector:
      karpenter.sh/discovery: demo`, []string{"spec.provider.subnetSelector", `"karpenter.sh/discovery": subnetSelector keys and values must not be empty`}},
		{"unknown-capacity-type", `
  requirements:
    - key: karpenter.sh/capacity-type
      operator: In
      values: ["spot", "reserved"]`, []string{"spec.requirements[0].values", `"reserved": karpenter.sh/capacity-type values must be spot or on-demand`}},
		{"in-without-values", `
  requirements:
    - key: node.kubernetes.io/instance-type
      operator: In`, []string{"spec.requirements[0].values", "Required value", "at least one value"}},
		{"gt-not-integer", `
  requirements:
    - key: karpenter.k8s.aws/instance-cpu
      operator: Gt
      values: ["four"]`, []string{"spec.requirements[0].values", "exactly one integer"}},
		{"bad-taint-effect", `
  taints:
    - {key: dedicated, effect: NoSchedule}
    - {key: dedicated, value: gpu, effect: Sometimes}`, []string{"spec.taints[1].effect", `Unsupported value: "Sometimes"`, `"NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{"reserved-label", `
  labels:
    karpenter.sh/provisioner-name: x`, []string{"spec.labels", `"karpenter.sh/provisioner-name": restricted label domain`}},
		{"node-role-label", `
  labels:
    node-role.kubernetes.io/worker: ""`, []string{"spec.labels", `"node-role.kubernetes.io/worker": restricted label domain`}},
		{"k8s-io-label", `
  labels:
    kops.k8s.io/instancegroup: a`, []string{"spec.labels", `"kops.k8s.io/instancegroup": restricted label domain`}},
		{"bad-label-key", `
  labels:
    -team: a`, []string{"spec.labels", `"-team": label keys must be qualified names`}},
		{"node-role-requirement", `
  requirements:
    - key: node-role.kubernetes.io/worker
      operator: Exists`, []string{"spec.requirements[0].key", "restricted label domain"}},
		{"ttl-overflow", `
  ttlSecondsAfterEmpty: 9223372036`, []string{"spec.ttlSecondsAfterEmpty", "less than or equal to"}},
		{"expiry-overflow", `
  ttlSecondsUntilExpired: 9223372036854775807`, []string{"spec.ttlSecondsUntilExpired", "less than or equal to"}},
		{"grace-too-long", `
  terminationGracePeriod: 876001h`, []string{"spec.terminationGracePeriod", "at most 876000h"}},
		{"grace-overflow", `
  terminationGracePeriod: 9999999999999h`, []string{"spec.terminationGracePeriod"}},
		{"grace-not-a-duration", `
  terminationGracePeriod: 2d`, []string{"spec.terminationGracePeriod", "should match"}},
		{"negative-limit", `
  limits:
    resources: {cpu: "-1", memory: 1000Gi}`, []string{"spec.limits.resources", `"cpu": limits must be non-negative`}},
		{"negative-integer-limit", `
  limits:
    resources: {cpu: -4}`, []string{"spec.limits.resources", `"cpu": limits must be non-negative`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := provisionerFromYAML(t, strings.Replace(base, "%s", tc.name, 1)+tc.spec)
			// A server-side dry run, as kubectl apply --dry-run=server: every validation, nothing stored.
			_, err := dyn.Resource(provisionersGVR).Create(context.Background(), u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err == nil {
				t.Fatalf("invalid Provisioner %s was accepted", tc.name)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid error, got %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err.Error(), w)
				}
			}
		})
	}
}

// The largest TTLs, a grace period and the label keys a kubelet may set are accepted.
func TestBoundaryProvisionerIsAccepted(t *testing.T) {
	dyn := installCRD(t)
	u := provisionerFromYAML(t, `
apiVersion: karpenter.sh/v1alpha5
kind: Provisioner
metadata:
  name: boundary
spec:
  ttlSecondsAfterEmpty: 3153600000
  ttlSecondsUntilExpired: 0
  terminationGracePeriod: 876000h
  labels:
    team: a
    example.com/team: b
    node.kubernetes.io/lifecycle: c
    kubelet.kubernetes.io/x: d
    karpenter.sh/capacity-type: spot
  requirements:
    - {key: karpenter.sh/provisioner-name, operator: Exists}
    - {key: topology.kubernetes.io/zone, operator: In, values: [us-east-1a]}
  taints:
    - {key: example.com/dedicated, value: gpu, effect: NoSchedule}
    - {key: example.com/dedicated, value: gpu, effect: NoExecute}
`)
	if _, err := dyn.Resource(provisionersGVR).Create(context.Background(), u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Fatalf("a Provisioner at the bounds was refused: %v", err)
	}
}

// A bad volumeSize gets one error that says why (the CRD's CEL rule), not the OpenAPI pattern's
// text besides; a Gt beyond int64 is refused at its values.
func TestCRDOneErrorPerBadValue(t *testing.T) {
	v, err := crds.ProvisionerValidator()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, spec, field, want string }{
		{"negative", `
  provider:
    subnetSelector: {a: b}
    securityGroupSelector: {a: b}
    blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeSize: -4Gi}}]`, "spec.provider.blockDeviceMappings[0].ebs.volumeSize", "-4Gi is negative"},
		{"not-a-quantity", `
  provider:
    subnetSelector: {a: b}
    securityGroupSelector: {a: b}
    blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeSize: big}}]`, "spec.provider.blockDeviceMappings[0].ebs.volumeSize", `"big" is not a quantity`},
		{"too-large", `
  provider:
    subnetSelector: {a: b}
    securityGroupSelector: {a: b}
    blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeSize: 65Ti}}]`, "spec.provider.blockDeviceMappings[0].ebs.volumeSize", "between 1Gi and 64Ti"},
		{"gt-beyond-int64", `
  requirements:
    - {key: karpenter.k8s.aws/instance-cpu, operator: Gt, values: ["99999999999999999999"]}`, "spec.requirements[0].values", "64 bits"},
	} {
		u := provisionerFromYAML(t, "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata:\n  name: x\nspec:"+c.spec)
		errs := v.Validate(context.Background(), u.Object).Errors
		if len(errs) != 1 || errs[0].Field != c.field || !strings.Contains(errs[0].Error(), c.want) {
			t.Errorf("%s: want one error at %s saying %q, got %v", c.name, c.field, c.want, errs)
		}
	}
}

// The CRD's rules use the same text as the patterns the Go validation and the Terraform
// provider use.
func TestCRDHoldsTheSharedPatterns(t *testing.T) {
	crd := string(crds.Provisioner)
	for name, p := range map[string]string{
		"Int64Pattern": v1alpha5.Int64Pattern, "VolumeSizePattern": v1alpha5.VolumeSizePattern,
		"EvictionThresholdPattern": v1alpha5.EvictionThresholdPattern, "ReservedQuantityPattern": v1alpha5.ReservedQuantityPattern,
		"DurationPattern": v1alpha5.DurationPattern, "TerminationGracePeriodPattern": v1alpha5.TerminationGracePeriodPattern,
	} {
		if !strings.Contains(crd, p) {
			t.Errorf("the generated CRD does not hold %s %s", name, p)
		}
	}
}
