package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// controllerDriftConfig sets every attribute of karpenter_controller that has a cluster-side
// counterpart (%s: the cluster name), with the provider's default_tags (the DEFAULT_TAGS
// variable). One replica keeps each re-apply's rollout short.
const controllerDriftConfig = `
provider "karpenter" {
  default_tags = { team = "platform" }
}
resource "karpenter_controller" "drift" {
  cluster_name                = "%s"
  cluster_endpoint            = "https://drift.example.com"
  controller_role_arn         = "arn:aws:iam::123456789012:role/drift"
  default_instance_profile    = "drift-profile"
  replicas                    = 1
  log_level                   = "info"
  batch_idle_duration_seconds = 2
  batch_max_duration_seconds  = 20
  priority_class_name         = "system-node-critical"
  node_selector               = { "kubernetes.io/os" = "linux" }
  image_pull_secrets          = ["regcred", "mirror"]
  tolerations                 = [{ key = "dedicated", value = "system", effect = "NoExecute", toleration_seconds = 60 }, { key = "CriticalAddonsOnly", operator = "Exists" }]
  topology_spread_constraints = [{ max_skew = 1, topology_key = "topology.kubernetes.io/zone", when_unsatisfiable = "ScheduleAnyway" }]
  pdb_max_unavailable         = 1
  env                         = { "NO_PROXY" = "127.0.0.1" }
  settings                    = { "kube-client-qps" = "100" }
` + controllerDriftResources + `}
`

// controllerDriftResources is the resources block of controllerDriftConfig (the test's last
// steps omit it).
const controllerDriftResources = `  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
    cpu_limit      = "2"
    memory_limit   = "512Mi"
  }
`

// Kinds of object a controllerDriftRow changes, and their names in namespace karpenter.
const (
	driftDeployment  = "Deployment"
	driftPDB         = "PodDisruptionBudget"
	driftSA          = "ServiceAccount"
	driftClusterRole = "ClusterRole"
	driftCRB         = "ClusterRoleBinding"
	driftRole        = "Role"
	driftRoleBinding = "RoleBinding"
	driftNamespace   = "Namespace"
	driftService     = "Service"
	driftWebhook     = "ValidatingWebhookConfiguration"
	driftSecret      = "Secret"
)

// controllerDriftRow is one out-of-band change of an object karpenter_controller manages:
// patch (RFC 6902) applied to the object of kind kind, or its deletion when patch is "delete".
// The next plan must update karpenter_controller.drift in place with a diff exactly under attr
// (a schema path, as driftRow's) and, when also is set, under those attributes too (a change that
// necessarily shows in two places; such a row gets a step of its own), and apply must restore
// the object. entry, when set, is the missing_objects entry the refresh before that plan must
// read (e.g. the Deployment's "(changed: ...)" naming what changed).
type controllerDriftRow struct {
	attr, kind, patch string
	also              []string
	entry             string
}

// deploymentChangedEntry is the missing_objects entry of the drift test's Deployment with
// changes what (deploymentChanges' names, in its order).
func deploymentChangedEntry(what ...string) string {
	return "Deployment karpenter/" + deploymentName + " (changed: " + strings.Join(what, ", ") + ")"
}

const ctrPath = "/spec/template/spec/containers/0"

// envPatch replaces the value of the managed environment variable at index i (controllerObjects'
// order) after testing its name, so that a reordering fails the patch instead of changing
// another variable.
func envPatch(i int, name, value string) string {
	return fmt.Sprintf(`[{"op":"test","path":"%s/env/%d/name","value":%q},{"op":"replace","path":"%s/env/%d/value","value":%q}]`,
		ctrPath, i, name, ctrPath, i, value)
}

// controllerDriftRows covers every attribute of karpenter_controller with a cluster-side
// counterpart (TestControllerDriftRowsCoverSchema); a new attribute needs a row here.
var controllerDriftRows = []controllerDriftRow{
	{"replicas", driftDeployment, `[{"op":"replace","path":"/spec/replicas","value":2}]`, nil, ""},
	{"image", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/image","value":"example.com/other:1"}]`, nil, ""},
	{"cluster_name", driftDeployment, envPatch(0, envClusterName, "other"), nil, ""},
	{"cluster_endpoint", driftDeployment, envPatch(1, envClusterEndpoint, "https://other.example.com"), nil, ""},
	{"default_instance_profile", driftDeployment, envPatch(2, envDefaultInstanceProfile, "other-profile"), nil, ""},
	{"log_level", driftDeployment, envPatch(4, envLogLevel, "debug"), nil, ""},
	{"batch_idle_duration_seconds", driftDeployment, envPatch(5, envBatchIdle, "5s"), nil, ""},
	{"batch_max_duration_seconds", driftDeployment, envPatch(6, envBatchMax, "30s"), nil, ""},
	{"resources", driftDeployment, `[{"op":"remove","path":"` + ctrPath + `/resources/limits"}]`, nil, ""},
	{"resources.cpu_request", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/resources/requests/cpu","value":"200m"}]`, nil, ""},
	{"resources.memory_request", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/resources/requests/memory","value":"256Mi"}]`, nil, ""},
	{"resources.cpu_limit", driftDeployment, `[{"op":"remove","path":"` + ctrPath + `/resources/limits/cpu"}]`, nil, ""},
	{"resources.memory_limit", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/resources/limits/memory","value":"1Gi"}]`, nil, ""},
	{"priority_class_name", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/priorityClassName"}]`, nil, ""},
	{"node_selector", driftDeployment, `[{"op":"add","path":"/spec/template/spec/nodeSelector/example.com~1pool","value":"x"}]`, nil, ""},
	{"node_selector", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/nodeSelector"}]`, nil, ""},
	{"image_pull_secrets", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/imagePullSecrets/1"}]`, nil, ""},
	{"image_pull_secrets", driftDeployment, `[{"op":"add","path":"/spec/template/spec/imagePullSecrets/0","value":{"name":"other"}}]`, nil, ""},
	{"image_pull_secrets", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/imagePullSecrets"}]`, nil, ""},
	{"tolerations", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/tolerations/1"}]`, nil, ""},
	{"tolerations.key", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/tolerations/0/key","value":"other"}]`, nil, ""},
	{"tolerations.operator", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/tolerations/1/operator","value":"Equal"}]`, nil, ""},
	{"tolerations.value", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/tolerations/0/value","value":"other"}]`, nil, ""},
	{"tolerations.effect", driftDeployment, `[{"op":"add","path":"/spec/template/spec/tolerations/1/effect","value":"NoSchedule"}]`, nil, ""},
	{"tolerations.toleration_seconds", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/tolerations/0/tolerationSeconds","value":300}]`, nil, ""},
	{"topology_spread_constraints", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/topologySpreadConstraints"}]`, nil, ""},
	{"topology_spread_constraints.max_skew", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/topologySpreadConstraints/0/maxSkew","value":2}]`, nil, ""},
	{"topology_spread_constraints.topology_key", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/topologySpreadConstraints/0/topologyKey","value":"kubernetes.io/hostname"}]`, nil, ""},
	{"topology_spread_constraints.when_unsatisfiable", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/topologySpreadConstraints/0/whenUnsatisfiable","value":"DoNotSchedule"}]`, nil, ""},
	{"affinity", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/affinity/podAntiAffinity"}]`, nil, ""},
	{"env", driftDeployment, `[{"op":"add","path":"` + ctrPath + `/env/-","value":{"name":"EXTRA","value":"1"}}]`, nil, ""},
	{"settings", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/args","value":["controller","--kube-client-qps=5"]}]`, nil, ""},
	{"pdb_max_unavailable", driftPDB, `[{"op":"replace","path":"/spec/maxUnavailable","value":2}]`, nil, ""},
	{"controller_role_arn", driftSA, `[{"op":"replace","path":"/metadata/annotations/eks.amazonaws.com~1role-arn","value":"arn:aws:iam::123456789012:role/other"}]`, nil, ""},
	{"controller_role_arn", driftSA, `[{"op":"remove","path":"/metadata/annotations/eks.amazonaws.com~1role-arn"}]`, nil, ""},
	// What no other attribute reads back shows in missing_objects (deleted, or " (changed: <what>)").
	{"missing_objects", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/livenessProbe/httpGet/path","value":"/other"}]`, nil, deploymentChangedEntry("livenessProbe")},
	{"missing_objects", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/readinessProbe/periodSeconds","value":60}]`, nil, deploymentChangedEntry("readinessProbe")},
	{"missing_objects", driftDeployment, `[{"op":"replace","path":"` + ctrPath + `/securityContext/readOnlyRootFilesystem","value":false}]`, nil, deploymentChangedEntry("securityContext")},
	{"missing_objects", driftDeployment, `[{"op":"remove","path":"/spec/template/spec/securityContext/runAsNonRoot"}]`, nil, deploymentChangedEntry("pod securityContext")},
	{"missing_objects", driftDeployment, envPatch(3, envRegion, "eu-west-3"), nil, deploymentChangedEntry("env AWS_REGION")},
	{"default_tags", driftDeployment, envPatch(10, envDefaultTags, `{"team":"other"}`), nil, ""},
	// Unreadable tags read as null default_tags, and list the Deployment (needed when there are none).
	{"missing_objects", driftDeployment, envPatch(10, envDefaultTags, `not json`), []string{"default_tags"}, deploymentChangedEntry("env DEFAULT_TAGS")},
	{"missing_objects", driftDeployment, envPatch(9, envWebhookConfiguration, `other`), nil, deploymentChangedEntry("env WEBHOOK_CONFIGURATION")},
	{"missing_objects", driftDeployment, `[{"op":"test","path":"` + ctrPath + `/env/7/name","value":"POD_NAMESPACE"},{"op":"replace","path":"` + ctrPath + `/env/7/valueFrom/fieldRef/fieldPath","value":"metadata.name"}]`, nil, deploymentChangedEntry("env POD_NAMESPACE")},
	{"missing_objects", driftDeployment, `[{"op":"replace","path":"/spec/strategy/rollingUpdate/maxUnavailable","value":0},{"op":"replace","path":"/spec/strategy/rollingUpdate/maxSurge","value":1}]`, nil, deploymentChangedEntry("strategy")},
	{"missing_objects", driftDeployment, `[{"op":"add","path":"/spec/template/metadata/labels/example.com~1extra","value":"x"}]`, nil, deploymentChangedEntry("pod labels")},
	{"missing_objects", driftPDB, `[{"op":"replace","path":"/spec/selector/matchLabels/app.kubernetes.io~1instance","value":"other"}]`, nil, ""},
	{"missing_objects", driftPDB, `[{"op":"add","path":"/spec/selector/matchLabels/example.com~1extra","value":"x"}]`, nil, ""},
	{"missing_objects", driftClusterRole, `[{"op":"add","path":"/rules/-","value":{"apiGroups":[""],"resources":["secrets"],"verbs":["get"]}}]`, nil, "ClusterRole karpenter-karpenter (changed: rules)"},
	{"missing_objects", driftCRB, `[{"op":"add","path":"/subjects/-","value":{"kind":"ServiceAccount","name":"intruder","namespace":"default"}}]`, nil, ""},
	{"missing_objects", driftRole, `[{"op":"replace","path":"/rules/0/verbs","value":["get"]}]`, nil, ""},
	{"missing_objects", driftRoleBinding, `[{"op":"replace","path":"/subjects/0/name","value":"other"}]`, nil, ""},
	{"missing_objects", driftRoleBinding, "delete", nil, ""},
	{"missing_objects", driftService, `[{"op":"replace","path":"/spec/ports/0/targetPort","value":9443}]`, nil, "Service karpenter/karpenter (changed: ports)"},
	{"missing_objects", driftService, "delete", nil, "Service karpenter/karpenter"},
	{"missing_objects", driftSecret, "delete", nil, "Secret karpenter/" + webhookCertSecret},
	{"missing_objects", driftWebhook, `[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Fail"}]`, nil, "ValidatingWebhookConfiguration karpenter-karpenter (changed: webhooks[0].failurePolicy)"},
	{"missing_objects", driftWebhook, "delete", nil, "ValidatingWebhookConfiguration karpenter-karpenter"},
	// Labels and annotations the provider sets, removed.
	{"missing_objects", driftDeployment, `[{"op":"remove","path":"/metadata/labels/app.kubernetes.io~1managed-by"}]`, nil, deploymentChangedEntry("labels")},
	{"missing_objects", driftDeployment, `[{"op":"remove","path":"/metadata/annotations/terraform-provider-karpenter~1install-id"}]`, nil, deploymentChangedEntry("install id")},
	{"missing_objects", driftSA, `[{"op":"remove","path":"/metadata/labels/app.kubernetes.io~1name"}]`, nil, ""},
	{"missing_objects", driftClusterRole, `[{"op":"remove","path":"/metadata/labels/app.kubernetes.io~1managed-by"}]`, nil, ""},
	{"missing_objects", driftCRB, `[{"op":"replace","path":"/metadata/labels/app.kubernetes.io~1instance","value":"other"}]`, nil, ""},
	{"missing_objects", driftRole, `[{"op":"remove","path":"/metadata/labels"}]`, nil, ""},
	{"missing_objects", driftRoleBinding, `[{"op":"remove","path":"/metadata/labels/app.kubernetes.io~1managed-by"}]`, nil, ""},
	{"missing_objects", driftPDB, `[{"op":"remove","path":"/metadata/labels/app.kubernetes.io~1managed-by"}]`, nil, ""},
	{"missing_objects", driftNamespace, `[{"op":"remove","path":"/metadata/annotations/terraform-provider-karpenter~1created-by"}]`, nil, ""},
	{"missing_objects", driftNamespace, `[{"op":"remove","path":"/metadata/labels/app.kubernetes.io~1managed-by"}]`, nil, ""},
	// The Deployment switched to another service account: drift of the Deployment (state keeps
	// the account this resource applied, and the apply switches back).
	{"missing_objects", driftDeployment, `[{"op":"replace","path":"/spec/template/spec/serviceAccountName","value":"other"}]`, nil, deploymentChangedEntry("serviceAccountName")},
	// Without its service account the role annotation is gone too.
	{"missing_objects", driftSA, "delete", []string{"controller_role_arn"}, ""},
}

// controllerDriftExempt are the schema paths without a drift row, and why.
var controllerDriftExempt = map[string]string{
	"id":                "computed: the namespace",
	"namespace":         "the installation's identity: Read finds the Deployment by it (a missing one plans a create)",
	"namespace_created": "computed once from the namespace's annotation; nothing in the cluster is planned from it",
	"install_complete":  "computed outcome of the last apply, always planned true",
	"take_over_installation": "a permission of create (TestAccControllerSecondInstallation), nothing in the cluster " +
		"is planned from it",
	"service_account_name": "the account this resource applied, kept in state: the Deployment switched to another " +
		"is a missing_objects row (TestAccControllerForeignServiceAccount)",
	"crd_digests":     "drift of the CRDs: TestAccControllerCRDUpgrade",
	"timeouts":        "input of the provider's own waits, no cluster-side counterpart",
	"timeouts.create": "see timeouts",
	"timeouts.update": "see timeouts",
	"timeouts.delete": "see timeouts",
}

// controllerDriftBatchSize: rows per step. Every step rolls the Deployment out once, so
// bigger batches than the provisioner's keep the test short; rows of a batch change distinct
// top-level attributes (driftBatches).
const controllerDriftBatchSize = 6

// controllerDriftBatches packs the rows (driftBatches; the object kind stands for driftRow's
// resource, so that rows of one top-level attribute go to different steps).
func controllerDriftBatches() [][]controllerDriftRow {
	var rows []driftRow
	var out [][]controllerDriftRow
	for i, r := range controllerDriftRows {
		if len(r.also) > 0 {
			out = append(out, []controllerDriftRow{r})
			continue
		}
		rows = append(rows, driftRow{attr: r.attr, res: "drift", patch: strconv.Itoa(i)})
	}
	for _, b := range driftBatches(rows, controllerDriftBatchSize) {
		var cb []controllerDriftRow
		for _, r := range b {
			i, _ := strconv.Atoi(r.patch) // written by strconv.Itoa above
			cb = append(cb, controllerDriftRows[i])
		}
		out = append(out, cb)
	}
	return out
}

// controllerSchemaPaths is schemaPaths over s, with the attributes of list-nested attributes
// (tolerations, topology_spread_constraints) as well.
func controllerSchemaPaths(t *testing.T, s schema.Schema) []string {
	plain := map[string]schema.Attribute{}
	var out []string
	for name, a := range s.Attributes {
		if l, ok := a.(schema.ListNestedAttribute); ok {
			out = append(out, name)
			out = append(out, schemaPaths(t, l.NestedObject.Attributes, nil, name+".")...)
			continue
		}
		plain[name] = a
	}
	out = append(out, schemaPaths(t, plain, s.Blocks, "")...)
	slices.Sort(out)
	return out
}

// Every attribute of karpenter_controller has a drift row or a reasoned exemption, every row
// names one, and the batches hold every row once with distinct top-level attributes.
func TestControllerDriftRowsCoverSchema(t *testing.T) {
	var resp resource.SchemaResponse
	(&controllerResource{}).Schema(context.Background(), resource.SchemaRequest{}, &resp)
	paths := controllerSchemaPaths(t, resp.Schema)
	covered := map[string]bool{}
	kinds := []string{driftDeployment, driftPDB, driftSA, driftClusterRole, driftCRB, driftRole, driftRoleBinding, driftNamespace, driftService, driftWebhook, driftSecret}
	for _, r := range controllerDriftRows {
		covered[r.attr] = true
		for _, a := range append([]string{r.attr}, r.also...) {
			if !slices.Contains(paths, a) {
				t.Errorf("drift row %s %s: no such attribute %s in the schema", r.attr, r.patch, a)
			}
		}
		if !slices.Contains(kinds, r.kind) {
			t.Errorf("drift row %s: unknown kind %q", r.attr, r.kind)
		}
		if r.patch != "delete" && !json.Valid([]byte(r.patch)) {
			t.Errorf("drift row %s: patch is not JSON: %s", r.attr, r.patch)
		}
	}
	var missing []string
	for _, p := range paths {
		if !covered[p] && controllerDriftExempt[p] == "" {
			missing = append(missing, p)
		}
		if covered[p] && controllerDriftExempt[p] != "" {
			t.Errorf("%s has both a drift row and an exemption", p)
		}
	}
	for p := range controllerDriftExempt {
		if !slices.Contains(paths, p) {
			t.Errorf("exemption %s: no such attribute in the schema", p)
		}
	}
	if len(missing) > 0 {
		t.Errorf("schema attributes without a drift row in controllerDriftRows: %s", strings.Join(missing, ", "))
	}
	n := 0
	for _, b := range controllerDriftBatches() {
		n += len(b)
		seen := map[string]bool{}
		if len(b) > 1 && slices.ContainsFunc(b, func(r controllerDriftRow) bool { return len(r.also) > 0 }) {
			t.Errorf("drift batch %v: a row with further attributes shares its step", b)
		}
		for _, r := range b {
			k := strings.SplitN(r.attr, ".", 2)[0]
			if seen[k] || len(b) > controllerDriftBatchSize {
				t.Errorf("drift batch %v: two rows change %s, or too many rows", b, k)
			}
			seen[k] = true
		}
	}
	if n != len(controllerDriftRows) {
		t.Errorf("drift batches hold %d rows, the table %d", n, len(controllerDriftRows))
	}
	if len(paths) < 30 {
		t.Errorf("schema walk found only %d paths: %v", len(paths), paths)
	}
}

// controllerDriftObjects are the objects TestAccControllerDrift changes, by kind: a new empty
// object and its key in namespace karpenter.
var controllerDriftObjects = map[string]struct {
	obj func() client.Object
	key types.NamespacedName
}{
	driftDeployment:  {func() client.Object { return &appsv1.Deployment{} }, types.NamespacedName{Namespace: "karpenter", Name: deploymentName}},
	driftPDB:         {func() client.Object { return &policyv1.PodDisruptionBudget{} }, types.NamespacedName{Namespace: "karpenter", Name: deploymentName}},
	driftSA:          {func() client.Object { return &corev1.ServiceAccount{} }, types.NamespacedName{Namespace: "karpenter", Name: "karpenter"}},
	driftClusterRole: {func() client.Object { return &rbacv1.ClusterRole{} }, types.NamespacedName{Name: clusterRoleName("karpenter")}},
	driftCRB:         {func() client.Object { return &rbacv1.ClusterRoleBinding{} }, types.NamespacedName{Name: clusterRoleName("karpenter")}},
	driftRole:        {func() client.Object { return &rbacv1.Role{} }, types.NamespacedName{Namespace: "karpenter", Name: "karpenter"}},
	driftRoleBinding: {func() client.Object { return &rbacv1.RoleBinding{} }, types.NamespacedName{Namespace: "karpenter", Name: "karpenter"}},
	driftNamespace:   {func() client.Object { return &corev1.Namespace{} }, types.NamespacedName{Name: "karpenter"}},
	driftSecret:      {func() client.Object { return &corev1.Secret{} }, types.NamespacedName{Namespace: "karpenter", Name: webhookCertSecret}},
	driftService:     {func() client.Object { return &corev1.Service{} }, types.NamespacedName{Namespace: "karpenter", Name: webhookServiceName}},
	driftWebhook: {func() client.Object { return &admissionregistrationv1.ValidatingWebhookConfiguration{} },
		types.NamespacedName{Name: webhookConfigurationName("karpenter")}},
}

// controllerManagedJSON reads the live object of kind and returns, as JSON, the part of it the
// provider sets: the labels of every object, the Deployment's install id annotation, replicas
// and pod spec, the PodDisruptionBudget's spec, the service account's annotations, the rules of
// the roles, the subjects and role of the bindings, the namespace's created-by annotation, the
// webhook Service's type, selector and ports, the webhook configuration's webhooks but their
// caBundle.
func controllerManagedJSON(kc client.Client, kind string) (string, error) {
	o := controllerDriftObjects[kind]
	obj := o.obj()
	if err := kc.Get(ctx, o.key, obj); err != nil {
		return "", err
	}
	var v any
	switch o := obj.(type) {
	case *appsv1.Deployment:
		v = []any{o.Annotations[installIDAnnotation], o.Spec.Replicas, o.Spec.Template.Spec}
	case *corev1.Namespace:
		v = o.Annotations[createdByAnnotation]
	case *policyv1.PodDisruptionBudget:
		v = o.Spec
	case *corev1.ServiceAccount:
		v = o.Annotations
	case *rbacv1.ClusterRole:
		v = o.Rules
	case *rbacv1.Role:
		v = o.Rules
	case *rbacv1.ClusterRoleBinding:
		v = []any{o.Subjects, o.RoleRef}
	case *rbacv1.RoleBinding:
		v = []any{o.Subjects, o.RoleRef}
	case *corev1.Service:
		v = []any{o.Spec.Type, o.Spec.Selector, o.Spec.Ports}
	case *admissionregistrationv1.ValidatingWebhookConfiguration:
		for i := range o.Webhooks {
			o.Webhooks[i].ClientConfig.CABundle = nil // the controller's (it writes its CA)
		}
		v = o.Webhooks
	}
	b, err := json.Marshal([]any{obj.GetLabels(), v})
	return string(b), err
}

// Drift of every field of the objects karpenter_controller manages: each row's out-of-band
// change plans an in-place update whose diff is exactly under the row's attribute
// (driftPlanCheck); applying restores every object to what it was after the first apply, and
// the plan after it is empty (resource.Test fails a step whose post-apply plan is not).
func TestAccControllerDrift(t *testing.T) {
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	sb, kc := startSandbox(t)
	config := fmt.Sprintf(controllerDriftConfig, sb.ClusterName)
	baseline := map[string]string{}
	const addr = "karpenter_controller.drift"
	steps := []tfresource.TestStep{{
		Config: config,
		Check: func(*terraform.State) error {
			for kind := range controllerDriftObjects {
				s, err := controllerManagedJSON(kc, kind)
				if err != nil {
					return fmt.Errorf("%s: %w", kind, err)
				}
				baseline[kind] = s
			}
			return nil
		},
	}}
	for _, batch := range controllerDriftBatches() {
		var attrs, what, entries []string
		for _, row := range batch {
			attrs = append(attrs, row.attr)
			attrs = append(attrs, row.also...)
			what = append(what, row.attr+" ("+row.kind+")")
			if row.entry != "" {
				entries = append(entries, row.entry)
			}
		}
		steps = append(steps, tfresource.TestStep{
			PreConfig: func() {
				for _, row := range batch {
					t.Logf("drift of %s on the %s: %s", row.attr, row.kind, row.patch)
					o := controllerDriftObjects[row.kind]
					obj := o.obj()
					obj.SetName(o.key.Name)
					obj.SetNamespace(o.key.Namespace)
					var err error
					if row.patch == "delete" {
						err = kc.Delete(ctx, obj)
					} else {
						err = kc.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, []byte(row.patch)))
					}
					if err != nil {
						t.Fatalf("drift row %s (%s %s): refused: %v", row.attr, row.kind, row.patch, err)
					}
				}
			},
			Config: config,
			ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{driftPlanCheck{want: map[string][]string{addr: attrs}},
				missingObjectsCheck{addr: addr, want: entries}}},
			Check: func(*terraform.State) error {
				for kind := range controllerDriftObjects {
					s, err := controllerManagedJSON(kc, kind)
					if err != nil {
						return fmt.Errorf("after drift of %s, %s: %w", strings.Join(what, ", "), kind, err)
					}
					if s != baseline[kind] {
						return fmt.Errorf("after drift of %s, apply left the %s as\n%s\nwant\n%s", strings.Join(what, ", "), kind, s, baseline[kind])
					}
				}
				return nil
			},
		})
	}
	steps = append(steps, controllerDefaultedResourcesSteps(t, kc, config, addr)...)
	tfresource.Test(t, tfresource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// controllerDefaultedResourcesSteps are TestAccControllerDrift's last steps: config (the drift
// configuration of addr) without its resources block, applied, then AWS_REGION and the CPU
// request changed on the Deployment. Without the block the provider applies its defaults (1
// CPU and 1Gi requested, 1Gi memory limit), which no attribute of the configuration holds:
// changed resources show as the block read back (planned away) and name themselves in the
// Deployment's missing_objects entry, after a changed AWS_REGION (deploymentChanges' order).
// Applying restores the Deployment of the first step.
func controllerDefaultedResourcesSteps(t *testing.T, kc client.Client, config, addr string) []tfresource.TestStep {
	defaulted := strings.Replace(config, controllerDriftResources, "", 1)
	if defaulted == config {
		t.Fatal("the drift configuration has no resources block to omit")
	}
	var defaultedDeployment string
	return []tfresource.TestStep{{
		Config: defaulted,
		Check: func(*terraform.State) (err error) {
			defaultedDeployment, err = controllerManagedJSON(kc, driftDeployment)
			return err
		},
	}, {
		PreConfig: func() {
			patch := envPatch(3, envRegion, "eu-west-3")
			patch = patch[:len(patch)-1] + `,{"op":"replace","path":"` + ctrPath + `/resources/requests/cpu","value":"200m"}]`
			t.Logf("drift of AWS_REGION and the defaulted resources: %s", patch)
			d := &appsv1.Deployment{}
			d.Name, d.Namespace = deploymentName, "karpenter"
			if err := kc.Patch(ctx, d, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil {
				t.Fatalf("drift of AWS_REGION and the defaulted resources: refused: %v", err)
			}
		},
		Config: defaulted,
		ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
			driftPlanCheck{want: map[string][]string{addr: {"missing_objects", "resources"}}},
			missingObjectsCheck{addr: addr, want: []string{deploymentChangedEntry("env AWS_REGION", "resources")}}}},
		Check: func(*terraform.State) error {
			s, err := controllerManagedJSON(kc, driftDeployment)
			if err != nil {
				return err
			}
			if s != defaultedDeployment {
				return fmt.Errorf("after drift of AWS_REGION and the defaulted resources, apply left the Deployment as\n%s\nwant\n%s", s, defaultedDeployment)
			}
			return nil
		},
	}}
}

// missingObjectsCheck: the refreshed missing_objects of addr (the plan's prior value) holds
// every entry of want, exactly.
type missingObjectsCheck struct {
	addr string
	want []string
}

func (c missingObjectsCheck) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	if len(c.want) == 0 {
		return
	}
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != c.addr {
			continue
		}
		before, _ := rc.Change.Before.(map[string]any)
		var got []string
		if l, ok := before["missing_objects"].([]any); ok {
			for _, e := range l {
				s, _ := e.(string)
				got = append(got, s)
			}
		}
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				resp.Error = fmt.Errorf("missing_objects of %s is %q, want it to hold %q", c.addr, got, w)
				return
			}
		}
		return
	}
	resp.Error = fmt.Errorf("no change of %s planned", c.addr)
}
