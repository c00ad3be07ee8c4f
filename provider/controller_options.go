package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	kresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// Install options of karpenter_controller, after the Karpenter Helm chart's values
// (charts/karpenter/values.yaml): tolerations, nodeSelector, affinity, topologySpreadConstraints,
// priorityClassName, podDisruptionBudget, controller.env and settings.

// defaultPriorityClass is the chart's priorityClassName: the controller is what brings
// capacity back, so it must not be preempted by the workloads it makes room for.
const defaultPriorityClass = "system-cluster-critical"

// defaultMemoryLimit is the memory limit when none is configured: the default request, as the
// chart recommends (a controller over its request is killed rather than starving its node).
const defaultMemoryLimit = defaultMemoryRequest

// Ports of the controller container (the controller's --metrics-port and --health-probe-port
// defaults); the probes use healthPortName.
const (
	metricsPort     = 8080
	healthPort      = 8081
	metricsPortName = "http-metrics"
	healthPortName  = "http-health"
	webhookPortName = "https-webhook"
)

// controllerUID is the user and group the controller runs as: the image's non-root user
// (README "The controller image").
const controllerUID = 65532

type tolerationModel struct {
	Key               types.String `tfsdk:"key"`
	Operator          types.String `tfsdk:"operator"`
	Value             types.String `tfsdk:"value"`
	Effect            types.String `tfsdk:"effect"`
	TolerationSeconds types.Int64  `tfsdk:"toleration_seconds"`
}

type topologySpreadModel struct {
	MaxSkew           types.Int64  `tfsdk:"max_skew"`
	TopologyKey       types.String `tfsdk:"topology_key"`
	WhenUnsatisfiable types.String `tfsdk:"when_unsatisfiable"`
}

var (
	tolerationAttrTypes = map[string]attr.Type{"key": types.StringType, "operator": types.StringType, "value": types.StringType,
		"effect": types.StringType, "toleration_seconds": types.Int64Type}
	topologyAttrTypes = map[string]attr.Type{"max_skew": types.Int64Type, "topology_key": types.StringType, "when_unsatisfiable": types.StringType}
)

// defaultTolerations is the chart's: the controller may run on nodes reserved for critical
// add-ons (taint CriticalAddonsOnly).
func defaultTolerations() []corev1.Toleration {
	return []corev1.Toleration{{Key: "CriticalAddonsOnly", Operator: corev1.TolerationOpExists}}
}

// defaultTopologySpread is the chart's: replicas in different zones while zones with room exist.
func defaultTopologySpread() []corev1.TopologySpreadConstraint {
	return []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: corev1.LabelTopologyZone, WhenUnsatisfiable: corev1.DoNotSchedule}}
}

// defaultAffinity is the chart's: never on nodes the controller launched (it would remove the
// node it runs on), and no two replicas on one node.
func defaultAffinity() *corev1.Affinity {
	return &corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{
				{Key: v1alpha5.LabelProvisionerName, Operator: corev1.NodeSelectorOpDoesNotExist}}}}}},
		PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{
			{TopologyKey: corev1.LabelHostname}}},
	}
}

// defaultAffinityJSON is defaultAffinity as written in HCL (compact JSON).
func defaultAffinityJSON() string {
	b, err := json.Marshal(defaultAffinity())
	if err != nil {
		panic(err) // static value of known types
	}
	return string(b)
}

// ControllerFlags returns a flag set with every flag of the controller and its default; Set on
// it parses a value as the controller does. main.go sets it to operator.SettingFlags (the
// provider cannot import the operator, whose tests use the provider's policy). When nil,
// `settings` cannot be checked and is refused.
var ControllerFlags func() *pflag.FlagSet

// managedEnv are the container's environment variables that attributes set; `env` may not
// name them.
var managedEnv = []string{envClusterName, envClusterEndpoint, envDefaultInstanceProfile, envRegion, envLogLevel, envBatchIdle, envBatchMax, envPodNamespace, envDefaultTags,
	envWebhookService, envWebhookConfiguration}

// managedFlags are controller flags that attributes or the pod's layout set; `settings` may
// not name them (a flag on the command line wins over the environment the attributes write).
var managedFlags = map[string]string{
	"cluster-name": "cluster_name", "cluster-endpoint": "cluster_endpoint", "default-instance-profile": "default_instance_profile",
	"aws-region": "the provider's region", "log-level": "log_level", "batch-idle-duration": "batch_idle_duration_seconds",
	"batch-max-duration": "batch_max_duration_seconds", "metrics-port": "the container port " + metricsPortName,
	"health-probe-port": "the probes' port " + healthPortName, "bind-address": "the pod network", "kubeconfig": "the pod's service account",
	"leader-elect": "replicas (more than one replica needs leader election)", "default-tags": "the provider's default_tags",
	"webhook-port": "the container port " + webhookPortName, "webhook-service": "the webhook Service this resource installs",
	"webhook-configuration": "the ValidatingWebhookConfiguration this resource installs",
}

var envNamePattern = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// installOptionAttributes are the schema attributes of the install options.
func installOptionAttributes() map[string]schema.Attribute {
	tolerationDefault, topologyDefault := tolerationsValue(defaultTolerations()), topologyValue(defaultTopologySpread())
	return map[string]schema.Attribute{
		"priority_class_name": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultPriorityClass),
			MarkdownDescription: "PriorityClass of the controller pods. Default `" + defaultPriorityClass + "` (as the Helm chart); `\"\"` for none.",
			Validators:          []validator.String{stringvalidator.LengthAtMost(253)}},
		"node_selector": schema.MapAttribute{Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Node labels the controller pods require (`nodeSelector`), e.g. `{ \"karpenter.sh/controller\" = \"true\" }`.",
			Validators:          []validator.Map{labelMapValidator{}}},
		"image_pull_secrets": schema.ListAttribute{Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Names of Secrets (of type `kubernetes.io/dockerconfigjson`) in the controller's namespace that the " +
				"kubelet uses to pull `image` from a private registry: the pods' `imagePullSecrets`, in this order (as the Helm " +
				"chart's `imagePullSecrets`). Default: none. The Secrets are not created or read by this resource; a missing one " +
				"shows as pods failing to pull. Each name is a DNS subdomain (at most 253 lowercase alphanumerics, '-' or '.'), " +
				"given once. Read back from the Deployment, so that a list changed outside Terraform plans an update.",
			Validators: []validator.List{listvalidator.UniqueValues(), listvalidator.SizeAtMost(50),
				listvalidator.ValueStringsAre(dnsSubdomainValidator("Secret name"))}},
		"tolerations": schema.ListNestedAttribute{Optional: true, Computed: true, Default: listdefault.StaticValue(tolerationDefault),
			MarkdownDescription: "Tolerations of the controller pods. Default: `CriticalAddonsOnly` with operator `Exists` (as the Helm chart); `[]` for none.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"key": schema.StringAttribute{Optional: true, MarkdownDescription: "Taint key; omitted with `Exists` matches every taint.",
					Validators: []validator.String{qualifiedNameValidator("taint key")}},
				"operator": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(string(corev1.TolerationOpEqual)),
					MarkdownDescription: "`Equal` (default) or `Exists`.", Validators: []validator.String{stringvalidator.OneOf("Equal", "Exists")}},
				"value": schema.StringAttribute{Optional: true, MarkdownDescription: "Taint value (with `Equal`)."},
				"effect": schema.StringAttribute{Optional: true, MarkdownDescription: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`; omitted matches every effect.",
					Validators: []validator.String{stringvalidator.OneOf("NoSchedule", "PreferNoSchedule", "NoExecute")}},
				"toleration_seconds": schema.Int64Attribute{Optional: true, MarkdownDescription: "Seconds a `NoExecute` taint is tolerated; omitted: forever."},
			}}},
		"topology_spread_constraints": schema.ListNestedAttribute{Optional: true, Computed: true, Default: listdefault.StaticValue(topologyDefault),
			MarkdownDescription: "Topology spread of the controller pods (their label selector is the pods' own labels). Default: " +
				"`max_skew = 1` over `topology.kubernetes.io/zone`, `DoNotSchedule` (as the Helm chart); `[]` for none.",
			NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
				"max_skew": schema.Int64Attribute{Required: true, MarkdownDescription: "Largest allowed difference of replica counts between domains (at least 1).",
					Validators: []validator.Int64{int64validator.AtLeast(1)}},
				"topology_key": schema.StringAttribute{Required: true, MarkdownDescription: "Node label that defines a domain, e.g. `topology.kubernetes.io/zone`.",
					Validators: []validator.String{qualifiedNameValidator("label key")}},
				"when_unsatisfiable": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(string(corev1.DoNotSchedule)),
					MarkdownDescription: "`DoNotSchedule` (default) or `ScheduleAnyway`.", Validators: []validator.String{stringvalidator.OneOf("DoNotSchedule", "ScheduleAnyway")}},
			}}},
		"affinity": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultAffinityJSON()),
			MarkdownDescription: "Affinity of the controller pods as JSON (`jsonencode({ nodeAffinity = ..., podAntiAffinity = ... })`, " +
				"Kubernetes `Affinity` field names). Default (as the Helm chart): never on nodes Karpenter launched (`" +
				v1alpha5.LabelProvisionerName + "` does not exist) and at most one replica per node (`kubernetes.io/hostname` " +
				"anti-affinity). A pod (anti-)affinity term without `labelSelector` selects the controller pods. Replaces the default " +
				"entirely: keep the node affinity unless the controller runs elsewhere anyway.",
			Validators: []validator.String{affinityValidator{}}},
		"pdb_max_unavailable": schema.Int64Attribute{Optional: true, Computed: true, Default: int64default.StaticInt64(1),
			MarkdownDescription: "`maxUnavailable` of the controller's PodDisruptionBudget (named `karpenter`), which limits how " +
				"many replicas a node drain may evict at once. Default 1 (as the Helm chart).",
			Validators: []validator.Int64{int64validator.Between(1, 10)}},
		"env": schema.MapAttribute{Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Extra environment variables of the controller container (e.g. `HTTPS_PROXY`). May not name the " +
				"variables the other attributes set (`" + strings.Join(managedEnv, "`, `") + "`).",
			Validators: []validator.Map{envMapValidator{}}},
		"settings": schema.MapAttribute{Optional: true, ElementType: types.StringType,
			MarkdownDescription: "Further controller settings by flag name without `--` (written as `--<name>=<value>` arguments), e.g. " +
				"`{ \"registration-timeout\" = \"10m\", \"kube-client-qps\" = \"100\" }`; `terraform-provider-karpenter controller --help` " +
				"lists them. Names and values are checked at plan time as the controller parses them. Settings that attributes own " +
				"(cluster name, endpoint, log level, batch durations, ports, leader election) are refused.",
			Validators: []validator.Map{settingsMapValidator{}}},
	}
}

// tolerationsValue converts tolerations to the Terraform list (never null).
func tolerationsValue(ts []corev1.Toleration) types.List {
	objType := types.ObjectType{AttrTypes: tolerationAttrTypes}
	elems := make([]attr.Value, 0, len(ts))
	for _, t := range ts {
		secs := types.Int64Null()
		if t.TolerationSeconds != nil {
			secs = types.Int64Value(*t.TolerationSeconds)
		}
		op := t.Operator
		if op == "" {
			op = corev1.TolerationOpEqual
		}
		elems = append(elems, types.ObjectValueMust(tolerationAttrTypes, map[string]attr.Value{
			"key": optString(t.Key), "operator": types.StringValue(string(op)), "value": optString(t.Value),
			"effect": optString(string(t.Effect)), "toleration_seconds": secs}))
	}
	return types.ListValueMust(objType, elems)
}

// topologyValue converts spread constraints to the Terraform list (never null).
func topologyValue(cs []corev1.TopologySpreadConstraint) types.List {
	objType := types.ObjectType{AttrTypes: topologyAttrTypes}
	elems := make([]attr.Value, 0, len(cs))
	for _, c := range cs {
		elems = append(elems, types.ObjectValueMust(topologyAttrTypes, map[string]attr.Value{
			"max_skew": types.Int64Value(int64(c.MaxSkew)), "topology_key": types.StringValue(c.TopologyKey),
			"when_unsatisfiable": types.StringValue(string(c.WhenUnsatisfiable))}))
	}
	return types.ListValueMust(objType, elems)
}

// installOptions fills the install options of s from m. Unknown or null lists take the
// defaults; bad values are attribute errors.
func installOptions(ctx context.Context, m controllerModel, s *controllerSettings, diags *diag.Diagnostics) {
	s.PriorityClassName = m.PriorityClassName.ValueString()
	if m.PriorityClassName.IsNull() || m.PriorityClassName.IsUnknown() {
		s.PriorityClassName = defaultPriorityClass
	}
	s.NodeSelector = stringMap(ctx, m.NodeSelector, diags)
	s.ImagePullSecrets = stringList(ctx, m.ImagePullSecrets, diags)
	s.ExtraEnv = stringMap(ctx, m.Env, diags)
	s.Settings = stringMap(ctx, m.Settings, diags)
	s.PDBMaxUnavailable = int32(m.PDBMaxUnavailable.ValueInt64())
	if m.PDBMaxUnavailable.IsNull() || m.PDBMaxUnavailable.IsUnknown() {
		s.PDBMaxUnavailable = 1
	}
	s.Tolerations = defaultTolerations()
	if !m.Tolerations.IsNull() && !m.Tolerations.IsUnknown() {
		var ts []tolerationModel
		diags.Append(m.Tolerations.ElementsAs(ctx, &ts, false)...)
		s.Tolerations = []corev1.Toleration{}
		for _, t := range ts {
			tol := corev1.Toleration{Key: t.Key.ValueString(), Operator: corev1.TolerationOperator(t.Operator.ValueString()),
				Value: t.Value.ValueString(), Effect: corev1.TaintEffect(t.Effect.ValueString())}
			if tol.Operator == "" {
				tol.Operator = corev1.TolerationOpEqual
			}
			if !t.TolerationSeconds.IsNull() && !t.TolerationSeconds.IsUnknown() {
				secs := t.TolerationSeconds.ValueInt64()
				tol.TolerationSeconds = &secs
			}
			s.Tolerations = append(s.Tolerations, tol)
		}
	}
	s.TopologySpread = defaultTopologySpread()
	if !m.TopologySpread.IsNull() && !m.TopologySpread.IsUnknown() {
		var cs []topologySpreadModel
		diags.Append(m.TopologySpread.ElementsAs(ctx, &cs, false)...)
		s.TopologySpread = []corev1.TopologySpreadConstraint{}
		for _, c := range cs {
			when := corev1.UnsatisfiableConstraintAction(c.WhenUnsatisfiable.ValueString())
			if when == "" {
				when = corev1.DoNotSchedule
			}
			s.TopologySpread = append(s.TopologySpread, corev1.TopologySpreadConstraint{MaxSkew: int32(c.MaxSkew.ValueInt64()),
				TopologyKey: c.TopologyKey.ValueString(), WhenUnsatisfiable: when})
		}
	}
	s.Affinity = defaultAffinity()
	if !m.Affinity.IsNull() && !m.Affinity.IsUnknown() {
		a, err := parseAffinity(m.Affinity.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("affinity"), "Invalid affinity", err.Error())
		}
		s.Affinity = a
	}
}

// parseAffinity decodes an affinity written as JSON (Kubernetes field names; unknown fields
// are errors). "" and "null" mean none.
func parseAffinity(s string) (*corev1.Affinity, error) {
	if strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "null" {
		return nil, nil
	}
	var a corev1.Affinity
	if err := yaml.UnmarshalStrict([]byte(s), &a); err != nil {
		return nil, fmt.Errorf("not a Kubernetes Affinity (nodeAffinity, podAffinity, podAntiAffinity): %w", err)
	}
	return &a, nil
}

// podAffinity returns a copy of a in which pod (anti-)affinity terms without a label selector
// select the controller pods (selectorLabels), as the Helm chart does.
func podAffinity(a *corev1.Affinity) *corev1.Affinity {
	if a == nil {
		return nil
	}
	a = a.DeepCopy()
	fill := func(t *corev1.PodAffinityTerm) {
		if t.LabelSelector == nil {
			t.LabelSelector = &metav1.LabelSelector{MatchLabels: selectorLabels()}
		}
	}
	for _, pa := range []*corev1.PodAffinity{a.PodAffinity, (*corev1.PodAffinity)(a.PodAntiAffinity)} {
		if pa == nil {
			continue
		}
		for i := range pa.RequiredDuringSchedulingIgnoredDuringExecution {
			fill(&pa.RequiredDuringSchedulingIgnoredDuringExecution[i])
		}
		for i := range pa.PreferredDuringSchedulingIgnoredDuringExecution {
			fill(&pa.PreferredDuringSchedulingIgnoredDuringExecution[i].PodAffinityTerm)
		}
	}
	return a
}

// spreadConstraints returns cs with the controller pods' label selector.
func spreadConstraints(cs []corev1.TopologySpreadConstraint) []corev1.TopologySpreadConstraint {
	out := make([]corev1.TopologySpreadConstraint, 0, len(cs))
	for _, c := range cs {
		c.LabelSelector = &metav1.LabelSelector{MatchLabels: selectorLabels()}
		out = append(out, c)
	}
	return out
}

// settingsArgs renders settings as sorted `--name=value` arguments.
func settingsArgs(settings map[string]string) []string {
	names := slices.Sorted(maps.Keys(settings))
	args := make([]string, 0, len(names))
	for _, n := range names {
		args = append(args, "--"+n+"="+settings[n])
	}
	return args
}

// readInstallOptions sets the install options of m from the live pod spec, container and
// PodDisruptionBudget maxUnavailable (nil: the PDB is missing). Values equal to what the prior
// state renders keep their prior spelling; null prior maps stay null when the live ones are
// empty.
func readInstallOptions(m *controllerModel, spec corev1.PodSpec, ctr corev1.Container, pdbMaxUnavailable *int32) {
	m.PriorityClassName = types.StringValue(spec.PriorityClassName)
	m.NodeSelector = mapValue(spec.NodeSelector, m.NodeSelector.IsNull() || m.NodeSelector.IsUnknown())
	var pullSecrets []string
	for _, r := range spec.ImagePullSecrets {
		pullSecrets = append(pullSecrets, r.Name)
	}
	if len(pullSecrets) > 0 || (!m.ImagePullSecrets.IsNull() && !m.ImagePullSecrets.IsUnknown()) {
		m.ImagePullSecrets = listValue(pullSecrets) // [] as configured stays []
	} else {
		m.ImagePullSecrets = types.ListNull(types.StringType)
	}
	m.Tolerations = tolerationsValue(spec.Tolerations)
	m.TopologySpread = topologyValue(spec.TopologySpreadConstraints)
	prior, err := parseAffinity(m.Affinity.ValueString())
	switch {
	case !m.Affinity.IsNull() && !m.Affinity.IsUnknown() && err == nil && equality.Semantic.DeepEqual(podAffinity(prior), spec.Affinity):
		// as written
	case equality.Semantic.DeepEqual(podAffinity(defaultAffinity()), spec.Affinity):
		m.Affinity = types.StringValue(defaultAffinityJSON()) // the default (also on import)
	default:
		m.Affinity = types.StringValue("")
		if spec.Affinity != nil {
			b, err := json.Marshal(spec.Affinity)
			if err == nil {
				m.Affinity = types.StringValue(string(b))
			}
		}
	}
	if pdbMaxUnavailable != nil {
		m.PDBMaxUnavailable = types.Int64Value(int64(*pdbMaxUnavailable))
	}
	extra := map[string]string{}
	for _, e := range ctr.Env {
		if !slices.Contains(managedEnv, e.Name) && e.ValueFrom == nil {
			extra[e.Name] = e.Value
		}
	}
	m.Env = mapValue(extra, m.Env.IsNull() || m.Env.IsUnknown())
	settings := map[string]string{}
	for _, a := range ctr.Args {
		if name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "="); ok && strings.HasPrefix(a, "--") {
			settings[name] = value
		}
	}
	m.Settings = mapValue(settings, m.Settings.IsNull() || m.Settings.IsUnknown())
}

// validateResources checks that each limit is at least its request (the API server refuses
// the Deployment otherwise, long after the plan).
func validateResources(r *resourcesModel, diags *diag.Diagnostics) {
	if r == nil {
		return
	}
	for _, p := range []struct {
		at       string
		req, lim types.String
	}{{"cpu_limit", r.CPURequest, r.CPULimit}, {"memory_limit", r.MemoryRequest, r.MemoryLimit}} {
		if p.req.IsNull() || p.req.IsUnknown() || p.lim.IsNull() || p.lim.IsUnknown() {
			continue
		}
		req, err1 := kresource.ParseQuantity(p.req.ValueString())
		lim, err2 := kresource.ParseQuantity(p.lim.ValueString())
		if err1 == nil && err2 == nil && lim.Cmp(req) < 0 {
			diags.AddAttributeError(path.Root("resources").AtName(p.at), "Limit below request",
				fmt.Sprintf("resources.%s %s is less than the request %s", p.at, lim.String(), req.String()))
		}
	}
}

// ValidateConfig checks what single attribute validators cannot: limits against requests.
func (r *controllerResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var res *resourcesModel
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("resources"), &res)...)
	if res != nil && (res.MemoryLimit.IsNull() && !res.MemoryRequest.IsNull() && !res.MemoryRequest.IsUnknown()) {
		// the default memory limit applies
		res.MemoryLimit = types.StringValue(defaultMemoryLimit)
		if q, err := kresource.ParseQuantity(res.MemoryRequest.ValueString()); err == nil && q.Cmp(kresource.MustParse(defaultMemoryLimit)) > 0 {
			resp.Diagnostics.AddAttributeError(path.Root("resources").AtName("memory_limit"), "Limit below request",
				fmt.Sprintf("resources.memory_request %s exceeds the default memory_limit %s: set memory_limit too", q.String(), defaultMemoryLimit))
			return
		}
	}
	validateResources(res, &resp.Diagnostics)
}

// affinityValidator accepts JSON that decodes strictly into a Kubernetes Affinity.
type affinityValidator struct{}

func (affinityValidator) Description(context.Context) string {
	return "JSON of a Kubernetes Affinity (nodeAffinity, podAffinity, podAntiAffinity)"
}
func (v affinityValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (affinityValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := parseAffinity(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid affinity", fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// labelMapValidator checks node selector keys and values as the API server checks labels.
type labelMapValidator struct{}

func (labelMapValidator) Description(context.Context) string {
	return "label keys (qualified names) and values (at most 63 alphanumerics, '-', '_' or '.')"
}
func (v labelMapValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (labelMapValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	for k, v := range mapElements(ctx, req.ConfigValue, &resp.Diagnostics) {
		at := req.Path.AtMapKey(k)
		if errs := validation.IsQualifiedName(k); len(errs) > 0 {
			resp.Diagnostics.AddAttributeError(at, "Invalid label key", fmt.Sprintf("%s: %q: %s", at, k, strings.Join(errs, "; ")))
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			resp.Diagnostics.AddAttributeError(at, "Invalid label value", fmt.Sprintf("%s: %q: %s", at, v, strings.Join(errs, "; ")))
		}
	}
}

// envMapValidator checks environment variable names and refuses the managed ones.
type envMapValidator struct{}

func (envMapValidator) Description(context.Context) string {
	return "environment variable names other than those the resource sets"
}
func (v envMapValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }
func (envMapValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	for k := range mapElements(ctx, req.ConfigValue, &resp.Diagnostics) {
		at := req.Path.AtMapKey(k)
		switch {
		case !envNamePattern.MatchString(k):
			resp.Diagnostics.AddAttributeError(at, "Invalid environment variable name", fmt.Sprintf("%s: %q must match %s", at, k, envNamePattern))
		case slices.Contains(managedEnv, k):
			resp.Diagnostics.AddAttributeError(at, "Environment variable set by the resource",
				fmt.Sprintf("%s: %s is set from the resource's attributes; set those instead", at, k))
		}
	}
}

// settingsMapValidator checks that each setting is a controller flag not owned by an
// attribute, and that its value parses as the controller parses it.
type settingsMapValidator struct{}

func (settingsMapValidator) Description(context.Context) string {
	return "controller flag names (without --) and values the controller accepts"
}
func (v settingsMapValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (settingsMapValidator) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	elems := mapElements(ctx, req.ConfigValue, &resp.Diagnostics)
	if len(elems) == 0 {
		return
	}
	if ControllerFlags == nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Settings cannot be checked", "this build of the provider does not know the controller's flags")
		return
	}
	fs := ControllerFlags()
	var known []string
	fs.VisitAll(func(f *pflag.Flag) {
		if _, managed := managedFlags[f.Name]; !managed {
			known = append(known, f.Name)
		}
	})
	sort.Strings(known)
	for k, v := range elems {
		at := req.Path.AtMapKey(k)
		if owner, managed := managedFlags[k]; managed {
			resp.Diagnostics.AddAttributeError(at, "Setting owned by the resource", fmt.Sprintf("%s: %s is set by %s", at, k, owner))
			continue
		}
		if fs.Lookup(k) == nil {
			resp.Diagnostics.AddAttributeError(at, "Unknown controller setting",
				fmt.Sprintf("%s: %q is not a controller flag; known: %s", at, k, strings.Join(known, ", ")))
			continue
		}
		if err := fs.Set(k, v); err != nil {
			resp.Diagnostics.AddAttributeError(at, "Invalid controller setting", fmt.Sprintf("%s: --%s=%q: %v", at, k, v, err))
		}
	}
}

// mapElements returns the known string elements of a map value (none when it is null or
// unknown; unknown elements are left out).
func mapElements(_ context.Context, m types.Map, _ *diag.Diagnostics) map[string]string {
	out := map[string]string{}
	if m.IsNull() || m.IsUnknown() {
		return out
	}
	for k, v := range m.Elements() {
		if s, ok := v.(types.String); ok && !s.IsNull() && !s.IsUnknown() {
			out[k] = s.ValueString()
		}
	}
	return out
}
