package crds_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/crds"
	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

func validate(t *testing.T, doc string) crds.ValidationResult {
	t.Helper()
	v, err := crds.ProvisionerValidator()
	if err != nil {
		t.Fatalf("building the validator of the embedded CRD: %v", err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
		t.Fatalf("bad test YAML: %v", err)
	}
	return v.Validate(context.Background(), obj)
}

func TestTutorialProvisionerIsValid(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "quickstart", "manifests", "provisioner.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	res := validate(t, strings.ReplaceAll(string(raw), "${CLUSTER_NAME}", "demo"))
	if len(res.Errors) > 0 || len(res.Pruned) > 0 {
		t.Fatalf("the tutorial's Provisioner: errors %v, pruned %v", res.Errors, res.Pruned)
	}
	if _, ok := res.Object["spec"].(map[string]any)["requirements"]; !ok {
		t.Fatalf("validated object lost its spec: %v", res.Object)
	}
}

// The cases of the API server test TestInvalidProvisionersAreRefusedWithFieldPath
// (controller/apis/v1alpha5/crd_test.go), refused offline with the same paths and reasons.
func TestInvalidProvisionersAreRefusedWithFieldPath(t *testing.T) {
	const base = "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata:\n  name: p\nspec:\n"
	cases := []struct {
		name, spec string
		want       []string
	}{
		{"unknown-operator", "  requirements:\n    - {key: karpenter.sh/capacity-type, operator: Maybe, values: [spot]}",
			[]string{"spec.requirements[0].operator", "Unsupported value", "Maybe"}},
		{"negative-ttl", "  ttlSecondsAfterEmpty: -1", []string{"spec.ttlSecondsAfterEmpty", "greater than or equal to 0"}},
		{"negative-expiry", "  ttlSecondsUntilExpired: -5", []string{"spec.ttlSecondsUntilExpired", "greater than or equal to 0"}},
		{"empty-selector", "  provider:\n    subnetSelector: {}\n    securityGroupSelector: {karpenter.sh/discovery: demo}",
			[]string{"spec.provider.subnetSelector", "at least 1"}},
		{"empty-selector-value", "  provider:\n    subnetSelector: {karpenter.sh/discovery: \"\"}\n    securityGroupSelector: {karpenter.sh/discovery: demo}",
			[]string{"spec.provider.subnetSelector", `"karpenter.sh/discovery": subnetSelector keys and values must not be empty`}},
		{"unknown-capacity-type", "  requirements:\n    - {key: karpenter.sh/capacity-type, operator: In, values: [spot, reserved]}",
			[]string{"spec.requirements[0].values", `"reserved": karpenter.sh/capacity-type values must be spot or on-demand`}},
		{"in-without-values", "  requirements:\n    - {key: node.kubernetes.io/instance-type, operator: In}",
			[]string{"spec.requirements[0].values", "Required value", "at least one value"}},
		{"gt-not-integer", "  requirements:\n    - {key: karpenter.k8s.aws/instance-cpu, operator: Gt, values: [four]}",
			[]string{"spec.requirements[0].values", "exactly one integer"}},
		{"bad-taint-effect", "  taints:\n    - {key: dedicated, effect: NoSchedule}\n    - {key: dedicated, value: gpu, effect: Sometimes}",
			[]string{"spec.taints[1].effect", `Unsupported value: "Sometimes"`, `"NoSchedule", "PreferNoSchedule", "NoExecute"`}},
		{"bad-startup-taint-effect", "  startupTaints:\n    - {key: dedicated, effect: Never}",
			[]string{"spec.startupTaints[0].effect", `Unsupported value: "Never"`}},
		{"reserved-label", "  labels:\n    karpenter.sh/provisioner-name: x", []string{"spec.labels", `"karpenter.sh/provisioner-name": restricted label domain`}},
		{"node-role-label", "  labels:\n    node-role.kubernetes.io/worker: \"\"", []string{"spec.labels", `"node-role.kubernetes.io/worker": restricted label domain`}},
		{"hostname-label", "  labels:\n    team: a\n    kubernetes.io/hostname: a", []string{"spec.labels", `"kubernetes.io/hostname": restricted label domain`}},
		{"k8s-io-label", "  labels:\n    kops.k8s.io/instancegroup: a", []string{"spec.labels", `"kops.k8s.io/instancegroup": restricted label domain`}},
		{"bad-label-key", "  labels:\n    -team: a", []string{"spec.labels", `"-team": label keys must be qualified names`}},
		{"node-role-requirement", "  requirements:\n    - {key: node-role.kubernetes.io/worker, operator: Exists}",
			[]string{"spec.requirements[0].key", "restricted label domain"}},
		{"karpenter-requirement", "  requirements:\n    - {key: karpenter.sh/emptiness-timestamp, operator: Exists}",
			[]string{"spec.requirements[0].key", "restricted label domain"}},
		{"bad-requirement-key", "  requirements:\n    - {key: \"a/b/c\", operator: Exists}", []string{"spec.requirements[0].key", "qualified name"}},
		{"ttl-overflow", "  ttlSecondsAfterEmpty: 9223372036", []string{"spec.ttlSecondsAfterEmpty", "less than or equal to"}},
		{"expiry-overflow", "  ttlSecondsUntilExpired: 9223372036854775807", []string{"spec.ttlSecondsUntilExpired", "less than or equal to"}},
		{"grace-too-long", "  terminationGracePeriod: 876001h", []string{"spec.terminationGracePeriod", "at most 876000h"}},
		{"grace-overflow", "  terminationGracePeriod: 9999999999999h", []string{"spec.terminationGracePeriod"}},
		{"grace-not-a-duration", "  terminationGracePeriod: 2d", []string{"spec.terminationGracePeriod", "should match"}},
		{"grace-negative", "  terminationGracePeriod: -1h", []string{"spec.terminationGracePeriod", "should match"}},
		{"weight-too-high", "  weight: 101", []string{"spec.weight", "less than or equal to 100"}},
		{"ttl-not-a-number", "  ttlSecondsAfterEmpty: soon", []string{"spec.ttlSecondsAfterEmpty", "must be of type integer"}},
		{"negative-limit", "  limits:\n    resources: {cpu: \"-1\", memory: 1000Gi}", []string{"spec.limits.resources", `"cpu": limits must be non-negative`}},
		{"negative-integer-limit", "  limits:\n    resources: {cpu: -4}", []string{"spec.limits.resources", `"cpu": limits must be non-negative`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := validate(t, base+tc.spec)
			if len(res.Errors) == 0 {
				t.Fatalf("invalid Provisioner %s was accepted", tc.name)
			}
			msg := res.Errors.ToAggregate().Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("errors %q do not mention %q", msg, w)
				}
			}
		})
	}
}

// As the API server (hasBlockingErr): a pattern error (terminationGracePeriod) leaves the CEL
// rules to run, so a negative volumeSize is also called negative, once (its rule checks the
// syntax itself: no pattern error besides); a value of the wrong type keeps them from running.
func TestCELRulesRunBesidePatternErrorsOnly(t *testing.T) {
	const base = "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata:\n  name: p\nspec:\n"
	bdm := "  provider:\n    subnetSelector: {a: b}\n    securityGroupSelector: {a: b}\n" +
		"    blockDeviceMappings:\n      - {deviceName: /dev/xvda, ebs: {volumeSize: -4Gi}}\n"
	errs := validate(t, base+bdm+"  terminationGracePeriod: 2d\n").Errors
	msg := errs.ToAggregate().Error()
	for _, want := range []string{"spec.terminationGracePeriod: Invalid value: \"2d\": spec.terminationGracePeriod in body should match",
		`volumeSize must be positive (between 1Gi and 64Ti): -4Gi is negative`} {
		if !strings.Contains(msg, want) {
			t.Errorf("errors %q do not mention %q", msg, want)
		}
	}
	if len(errs) != 2 {
		t.Errorf("want one error for each field, got %q", msg)
	}
	msg = validate(t, base+bdm+"  ttlSecondsAfterEmpty: soon\n").Errors.ToAggregate().Error()
	if !strings.Contains(msg, "must be of type integer") || strings.Contains(msg, "is negative") {
		t.Errorf("with a type error, CEL rules ran: %q", msg)
	}
}

func TestMetadataAndTypeAreChecked(t *testing.T) {
	cases := map[string]struct{ doc, want string }{
		"no name":     {"apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nspec: {}", "metadata.name: Required value"},
		"bad name":    {"apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: Not_A_Name}\nspec: {}", "metadata.name: Invalid value"},
		"other kind":  {"apiVersion: karpenter.sh/v1alpha5\nkind: NodePool\nmetadata: {name: a}", "kind: Invalid value"},
		"other group": {"apiVersion: karpenter.sh/v1beta1\nkind: Provisioner\nmetadata: {name: a}", "apiVersion: Invalid value"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := validate(t, tc.doc)
			if msg := res.Errors.ToAggregate(); msg == nil || !strings.Contains(msg.Error(), tc.want) {
				t.Fatalf("errors %v, want %q", msg, tc.want)
			}
		})
	}
}

func TestUnknownFieldsArePrunedNotRefused(t *testing.T) {
	res := validate(t, "apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: a}\nspec:\n  ttlSecondsAfterEmty: 30\n  ttlSecondsAfterEmpty: 30\n")
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	if len(res.Pruned) != 1 || res.Pruned[0] != "spec.ttlSecondsAfterEmty" {
		t.Fatalf("pruned %v, want [spec.ttlSecondsAfterEmty]", res.Pruned)
	}
	spec := res.Object["spec"].(map[string]any)
	if _, ok := spec["ttlSecondsAfterEmty"]; ok || fmt.Sprint(spec["ttlSecondsAfterEmpty"]) != "30" {
		t.Fatalf("spec after pruning: %v", spec)
	}
}

// The CRD's CEL rules and the Go validation (v1alpha5.ValidateLabelKey, used by the provider at
// plan time and by simulate) agree on every key: kubelet-allowed, restricted and syntax cases.
func TestLabelKeyRulesAgreeWithGo(t *testing.T) {
	keys := []string{
		"team", "example.com/team", "node.kubernetes.io/instance-type", "node.kubernetes.io/custom",
		"foo.node.kubernetes.io/x", "kubelet.kubernetes.io/x", "topology.kubernetes.io/zone", "topology.kubernetes.io/rack",
		"kubernetes.io/arch", "kubernetes.io/os", "kubernetes.io/hostname", "kubernetes.io/custom", "beta.kubernetes.io/arch",
		"failure-domain.beta.kubernetes.io/zone", "node-role.kubernetes.io/worker", "node-restriction.kubernetes.io/x",
		"k8s.io/x", "kops.k8s.io/instancegroup", "notkubernetes.io/x", "karpenter.sh/capacity-type",
		"karpenter.sh/provisioner-name", "karpenter.sh/emptiness-timestamp", "sub.karpenter.sh/x", "karpenter.k8s.aws/instance-cpu",
		"-bad", "a/b/c", "UPPER.example.com/x", "example.com/" + strings.Repeat("x", 64),
	}
	for _, requirement := range []bool{false, true} {
		for _, k := range keys {
			var doc string
			if requirement {
				doc = fmt.Sprintf("apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: p}\nspec:\n  requirements:\n    - {key: %q, operator: Exists}\n", k)
			} else {
				doc = fmt.Sprintf("apiVersion: karpenter.sh/v1alpha5\nkind: Provisioner\nmetadata: {name: p}\nspec:\n  labels:\n    %q: v\n", k)
			}
			crdRefuses := len(validate(t, doc).Errors) > 0
			goRefuses := len(v1alpha5.ValidateLabelKey(k, requirement)) > 0
			if crdRefuses != goRefuses {
				t.Errorf("key %q (requirement %v): CRD refuses %v, Go refuses %v", k, requirement, crdRefuses, goRefuses)
			}
		}
	}
}
