package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// provisionerModel is the HCL shape of a karpenter.sh/v1alpha5 Provisioner. Nested blocks are
// lists (at most one element for limits, provider, kubelet_configuration and consolidation).
type provisionerModel struct {
	ID                     types.String         `tfsdk:"id"`
	Name                   types.String         `tfsdk:"name"`
	Labels                 types.Map            `tfsdk:"labels"`
	Annotations            types.Map            `tfsdk:"annotations"`
	Weight                 types.Int64          `tfsdk:"weight"`
	TTLSecondsAfterEmpty   types.Int64          `tfsdk:"ttl_seconds_after_empty"`
	TTLSecondsUntilExpired types.Int64          `tfsdk:"ttl_seconds_until_expired"`
	TerminationGracePeriod types.String         `tfsdk:"termination_grace_period"`
	Requirements           []requirementModel   `tfsdk:"requirement"`
	Taints                 []taintModel         `tfsdk:"taint"`
	StartupTaints          []taintModel         `tfsdk:"startup_taint"`
	Limits                 []limitsModel        `tfsdk:"limits"`
	Provider               []awsModel           `tfsdk:"aws"`
	KubeletConfiguration   []kubeletModel       `tfsdk:"kubelet_configuration"`
	Consolidation          []consolidationModel `tfsdk:"consolidation"`
	ProviderRef            *providerRefModel    `tfsdk:"provider_ref"`
}

type requirementModel struct {
	Key      types.String `tfsdk:"key"`
	Operator types.String `tfsdk:"operator"`
	Values   types.List   `tfsdk:"values"`
}

type taintModel struct {
	Key    types.String `tfsdk:"key"`
	Value  types.String `tfsdk:"value"`
	Effect types.String `tfsdk:"effect"`
}

type limitsModel struct {
	CPU       types.String `tfsdk:"cpu"`
	Memory    types.String `tfsdk:"memory"`
	Resources types.Map    `tfsdk:"resources"` // every other resource
}

type awsModel struct {
	SubnetSelector        types.Map                 `tfsdk:"subnet_selector"`
	SecurityGroupSelector types.Map                 `tfsdk:"security_group_selector"`
	InstanceProfile       types.String              `tfsdk:"instance_profile"`
	Tags                  types.Map                 `tfsdk:"tags"`
	AMIFamily             types.String              `tfsdk:"ami_family"`
	LaunchTemplate        types.String              `tfsdk:"launch_template"`
	BlockDeviceMappings   []blockDeviceMappingModel `tfsdk:"block_device_mappings"`
	MetadataOptions       *metadataOptionsModel     `tfsdk:"metadata_options"`
	UserData              types.String              `tfsdk:"user_data"`
	DetailedMonitoring    types.Bool                `tfsdk:"detailed_monitoring"`
}

type kubeletModel struct {
	ClusterDNS                types.List   `tfsdk:"cluster_dns"`
	MaxPods                   types.Int64  `tfsdk:"max_pods"`
	ContainerRuntime          types.String `tfsdk:"container_runtime"`
	PodsPerCore               types.Int64  `tfsdk:"pods_per_core"`
	SystemReserved            types.Map    `tfsdk:"system_reserved"`
	KubeReserved              types.Map    `tfsdk:"kube_reserved"`
	EvictionHard              types.Map    `tfsdk:"eviction_hard"`
	EvictionSoft              types.Map    `tfsdk:"eviction_soft"`
	EvictionSoftGracePeriod   types.Map    `tfsdk:"eviction_soft_grace_period"`
	EvictionMaxPodGracePeriod types.Int64  `tfsdk:"eviction_max_pod_grace_period"`
	ImageGCHigh               types.Int64  `tfsdk:"image_gc_high_threshold_percent"`
	ImageGCLow                types.Int64  `tfsdk:"image_gc_low_threshold_percent"`
	CPUCFSQuota               types.Bool   `tfsdk:"cpu_cfs_quota"`
}

type consolidationModel struct {
	Enabled types.Bool `tfsdk:"enabled"`
}

// toSpec converts the HCL model to a ProvisionerSpec. Quantities that do not parse are
// reported with their attribute path.
func (m provisionerModel) toSpec(ctx context.Context) (v1alpha5.ProvisionerSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := v1alpha5.ProvisionerSpec{
		Labels:                 stringMap(ctx, m.Labels, &diags),
		Annotations:            stringMap(ctx, m.Annotations, &diags),
		Weight:                 int32Ptr(m.Weight),
		TTLSecondsAfterEmpty:   int64Ptr(m.TTLSecondsAfterEmpty),
		TTLSecondsUntilExpired: int64Ptr(m.TTLSecondsUntilExpired),
		TerminationGracePeriod: durationPtr(m.TerminationGracePeriod, path.Root("termination_grace_period"), &diags),
		Taints:                 taintsToSpec(m.Taints),
		StartupTaints:          taintsToSpec(m.StartupTaints),
	}
	for _, r := range m.Requirements {
		spec.Requirements = append(spec.Requirements, v1alpha5.NodeSelectorRequirement{
			Key: r.Key.ValueString(), Operator: corev1.NodeSelectorOperator(r.Operator.ValueString()),
			Values: stringList(ctx, r.Values, &diags),
		})
	}
	if len(m.Limits) > 0 {
		spec.Limits = &v1alpha5.Limits{Resources: limitsToSpec(ctx, m.Limits[0], &diags)}
	}
	if len(m.Provider) > 0 {
		p := m.Provider[0]
		spec.Provider = &v1alpha5.AWS{
			SubnetSelector:        stringMap(ctx, p.SubnetSelector, &diags),
			SecurityGroupSelector: stringMap(ctx, p.SecurityGroupSelector, &diags),
			InstanceProfile:       strPtr(p.InstanceProfile),
			Tags:                  stringMap(ctx, p.Tags, &diags),
			AMIFamily:             strPtr(p.AMIFamily),
			LaunchTemplate:        strPtr(p.LaunchTemplate),
		}
		awsLaunchToSpec(p, spec.Provider)
	}
	spec.ProviderRef = providerRefToSpec(m.ProviderRef)
	if len(m.KubeletConfiguration) > 0 {
		spec.KubeletConfiguration = kubeletToSpec(ctx, m.KubeletConfiguration[0], &diags)
	}
	if len(m.Consolidation) > 0 {
		c := m.Consolidation[0]
		spec.Consolidation = &v1alpha5.Consolidation{}
		if !c.Enabled.IsNull() && !c.Enabled.IsUnknown() {
			b := c.Enabled.ValueBool()
			spec.Consolidation.Enabled = &b
		}
	}
	return spec, diags
}

// provisionerFromSpec converts a live spec to the HCL model. prior (the state or plan) keeps
// the user's spelling of quantities that are equal to the live ones ("1000" vs "1k") and null
// versus empty for optional maps.
func provisionerFromSpec(name string, spec v1alpha5.ProvisionerSpec, prior provisionerModel) provisionerModel {
	m := provisionerModel{
		ID: types.StringValue(name), Name: types.StringValue(name),
		Labels:                 mapValue(spec.Labels, prior.Labels.IsNull()),
		Annotations:            mapValue(spec.Annotations, prior.Annotations.IsNull()),
		Weight:                 int64Value(spec.Weight),
		TTLSecondsAfterEmpty:   int64Value(spec.TTLSecondsAfterEmpty),
		TTLSecondsUntilExpired: int64Value(spec.TTLSecondsUntilExpired),
		TerminationGracePeriod: durationValue(spec.TerminationGracePeriod, prior.TerminationGracePeriod),
		Requirements:           []requirementModel{},
		Taints:                 taintsFromSpec(spec.Taints, prior.Taints),
		StartupTaints:          taintsFromSpec(spec.StartupTaints, prior.StartupTaints),
		Limits:                 []limitsModel{},
		Provider:               []awsModel{},
		KubeletConfiguration:   []kubeletModel{},
		Consolidation:          []consolidationModel{},
	}
	for i, r := range spec.Requirements {
		values := types.ListNull(types.StringType)
		if len(r.Values) > 0 || (i < len(prior.Requirements) && !prior.Requirements[i].Values.IsNull()) {
			values = listValue(r.Values)
		}
		m.Requirements = append(m.Requirements, requirementModel{Key: types.StringValue(r.Key), Operator: types.StringValue(string(r.Operator)), Values: values})
	}
	if spec.Limits != nil {
		var p limitsModel
		if len(prior.Limits) > 0 {
			p = prior.Limits[0]
		}
		m.Limits = []limitsModel{limitsFromSpec(spec.Limits.Resources, p)}
	}
	if a := spec.Provider; a != nil {
		priorTagsNull := len(prior.Provider) == 0 || prior.Provider[0].Tags.IsNull()
		m.Provider = []awsModel{{
			SubnetSelector:        mapValue(a.SubnetSelector, false),
			SecurityGroupSelector: mapValue(a.SecurityGroupSelector, false),
			InstanceProfile:       ptrString(a.InstanceProfile),
			Tags:                  mapValue(a.Tags, priorTagsNull),
			AMIFamily:             ptrString(a.AMIFamily),
			LaunchTemplate:        ptrString(a.LaunchTemplate),
		}}
		awsLaunchFromSpec(a, &m.Provider[0])
	}
	m.ProviderRef = providerRefFromSpec(spec.ProviderRef, prior.ProviderRef)
	if k := spec.KubeletConfiguration; k != nil {
		var p kubeletModel
		if len(prior.KubeletConfiguration) > 0 {
			p = prior.KubeletConfiguration[0]
		}
		m.KubeletConfiguration = []kubeletModel{kubeletFromSpec(k, p)}
	}
	if c := spec.Consolidation; c != nil {
		enabled := types.BoolNull()
		if c.Enabled != nil {
			enabled = types.BoolValue(*c.Enabled)
		}
		m.Consolidation = []consolidationModel{{Enabled: enabled}}
	}
	return m
}

// limitsToSpec converts the limits block: cpu, memory and every key of resources. Quantities
// that do not parse are reported at their attribute (the validators normally catch them first).
func limitsToSpec(ctx context.Context, l limitsModel, diags *diag.Diagnostics) corev1.ResourceList {
	base := path.Root("limits").AtListIndex(0)
	res := corev1.ResourceList{}
	add := func(name string, v string, p path.Path) {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			diags.AddAttributeError(p, "Invalid quantity", fmt.Sprintf("%s: %q: %v", p, v, err))
			return
		}
		res[corev1.ResourceName(name)] = q
	}
	for name, v := range map[string]types.String{string(corev1.ResourceCPU): l.CPU, string(corev1.ResourceMemory): l.Memory} {
		if !v.IsNull() && !v.IsUnknown() {
			add(name, v.ValueString(), base.AtName(name))
		}
	}
	for name, v := range stringMap(ctx, l.Resources, diags) {
		add(name, v, base.AtName("resources").AtMapKey(name))
	}
	return res
}

// limitsFromSpec converts live limits: cpu and memory to their attributes, every other resource
// to resources (null when there are none and the prior had none), each spelled as in prior when
// equal.
func limitsFromSpec(rl corev1.ResourceList, prior limitsModel) limitsModel {
	out := limitsModel{
		CPU:       quantityValue(rl, corev1.ResourceCPU, prior.CPU),
		Memory:    quantityValue(rl, corev1.ResourceMemory, prior.Memory),
		Resources: types.MapNull(types.StringType),
	}
	priorRes := map[string]attr.Value{}
	if !prior.Resources.IsNull() && !prior.Resources.IsUnknown() {
		priorRes = prior.Resources.Elements()
	}
	elems := map[string]attr.Value{}
	for name := range rl {
		if limitsAttributes[string(name)] {
			continue
		}
		p, _ := priorRes[string(name)].(types.String)
		if priorRes[string(name)] == nil {
			p = types.StringNull()
		}
		elems[string(name)] = quantityValue(rl, name, p)
	}
	if len(elems) > 0 || (!prior.Resources.IsNull() && !prior.Resources.IsUnknown()) {
		out.Resources = types.MapValueMust(types.StringType, elems)
	}
	return out
}

// kubeletToSpec converts the kubelet_configuration block.
func kubeletToSpec(ctx context.Context, k kubeletModel, diags *diag.Diagnostics) *v1alpha5.KubeletConfiguration {
	return &v1alpha5.KubeletConfiguration{
		ClusterDNS: stringList(ctx, k.ClusterDNS, diags), MaxPods: int32Ptr(k.MaxPods), ContainerRuntime: strPtr(k.ContainerRuntime),
		PodsPerCore: int32Ptr(k.PodsPerCore), SystemReserved: kubeletMap(stringMap(ctx, k.SystemReserved, diags)), KubeReserved: kubeletMap(stringMap(ctx, k.KubeReserved, diags)),
		EvictionHard: kubeletMap(stringMap(ctx, k.EvictionHard, diags)), EvictionSoft: kubeletMap(stringMap(ctx, k.EvictionSoft, diags)),
		EvictionSoftGracePeriod: kubeletMap(stringMap(ctx, k.EvictionSoftGracePeriod, diags)), EvictionMaxPodGracePeriod: int32Ptr(k.EvictionMaxPodGracePeriod),
		ImageGCHighThresholdPercent: int32Ptr(k.ImageGCHigh), ImageGCLowThresholdPercent: int32Ptr(k.ImageGCLow), CPUCFSQuota: boolPtr(k.CPUCFSQuota),
	}
}

// kubeletFromSpec converts a live kubelet configuration; prior keeps null versus empty for the
// list and maps.
func kubeletFromSpec(k *v1alpha5.KubeletConfiguration, prior kubeletModel) kubeletModel {
	dns := types.ListNull(types.StringType)
	if len(k.ClusterDNS) > 0 || !prior.ClusterDNS.IsNull() {
		dns = listValue(k.ClusterDNS)
	}
	cfs := types.BoolNull()
	if k.CPUCFSQuota != nil {
		cfs = types.BoolValue(*k.CPUCFSQuota)
	}
	return kubeletModel{
		ClusterDNS: dns, MaxPods: int64Value(k.MaxPods), ContainerRuntime: ptrString(k.ContainerRuntime),
		PodsPerCore: int64Value(k.PodsPerCore), SystemReserved: mapValue(stringsOf(k.SystemReserved), prior.SystemReserved.IsNull()),
		KubeReserved: mapValue(stringsOf(k.KubeReserved), prior.KubeReserved.IsNull()), EvictionHard: mapValue(stringsOf(k.EvictionHard), prior.EvictionHard.IsNull()),
		EvictionSoft: mapValue(stringsOf(k.EvictionSoft), prior.EvictionSoft.IsNull()), EvictionSoftGracePeriod: mapValue(stringsOf(k.EvictionSoftGracePeriod), prior.EvictionSoftGracePeriod.IsNull()),
		EvictionMaxPodGracePeriod: int64Value(k.EvictionMaxPodGracePeriod), ImageGCHigh: int64Value(k.ImageGCHighThresholdPercent),
		ImageGCLow: int64Value(k.ImageGCLowThresholdPercent), CPUCFSQuota: cfs,
	}
}

// kubeletMap and stringsOf convert between plain string maps and the CRD's KubeletValue maps.
func kubeletMap(m map[string]string) map[string]v1alpha5.KubeletValue {
	if m == nil {
		return nil
	}
	out := make(map[string]v1alpha5.KubeletValue, len(m))
	for k, v := range m {
		out[k] = v1alpha5.KubeletValue(v)
	}
	return out
}

func stringsOf(m map[string]v1alpha5.KubeletValue) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func boolPtr(v types.Bool) *bool {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	b := v.ValueBool()
	return &b
}

func taintsToSpec(ts []taintModel) []corev1.Taint {
	var out []corev1.Taint
	for _, t := range ts {
		out = append(out, corev1.Taint{Key: t.Key.ValueString(), Value: t.Value.ValueString(), Effect: corev1.TaintEffect(t.Effect.ValueString())})
	}
	return out
}

// taintsFromSpec converts live taints. An empty value (the API drops it) reads back as "" where
// the prior taint at the same position had "" (set explicitly), and as null otherwise, so
// neither spelling shows as a permanent diff.
func taintsFromSpec(ts []corev1.Taint, prior []taintModel) []taintModel {
	out := []taintModel{}
	for i, t := range ts {
		value := optString(t.Value)
		if t.Value == "" && i < len(prior) && prior[i].Value.Equal(types.StringValue("")) {
			value = prior[i].Value
		}
		out = append(out, taintModel{Key: types.StringValue(t.Key), Value: value, Effect: types.StringValue(string(t.Effect))})
	}
	return out
}

// quantityValue returns the live quantity, spelled as prior when prior parses to an equal value.
func quantityValue(rl corev1.ResourceList, name corev1.ResourceName, prior types.String) types.String {
	q, ok := rl[name]
	if !ok {
		return types.StringNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() {
		if p, err := resource.ParseQuantity(prior.ValueString()); err == nil && p.Cmp(q) == 0 {
			return prior
		}
	}
	return types.StringValue(quantityString(q))
}

// quantityString spells whole decimal quantities as plain integers ("1000", not the canonical
// "1k", the way users write CPU counts) and everything else canonically ("500m", "1000Gi").
func quantityString(q resource.Quantity) string {
	if q.Format == resource.DecimalSI && q.MilliValue()%1000 == 0 {
		return strconv.FormatInt(q.Value(), 10)
	}
	return q.String()
}

func int32Ptr(v types.Int64) *int32 {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	i := int32(v.ValueInt64())
	return &i
}

func int64Ptr(v types.Int64) *int64 {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	i := v.ValueInt64()
	return &i
}

func strPtr(v types.String) *string {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	s := v.ValueString()
	return &s
}

func ptrString(s *string) types.String {
	if s == nil {
		return types.StringNull()
	}
	return types.StringValue(*s)
}

func int64Value[T int32 | int64](p *T) types.Int64 {
	if p == nil {
		return types.Int64Null()
	}
	return types.Int64Value(int64(*p))
}

// durationPtr parses a Go duration attribute (null or unknown: nil); a value that does not
// parse is reported at p (the validator normally catches it first).
func durationPtr(v types.String, p path.Path, diags *diag.Diagnostics) *metav1.Duration {
	if v.IsNull() || v.IsUnknown() {
		return nil
	}
	d, err := time.ParseDuration(v.ValueString())
	if err != nil {
		diags.AddAttributeError(p, "Invalid duration", err.Error())
		return nil
	}
	return &metav1.Duration{Duration: d}
}

// durationValue converts a live duration to the attribute, keeping the prior spelling when it
// denotes the same duration ("90m" stays "90m" although the API returns "1h30m0s"), else in
// shortDuration's spelling.
func durationValue(d *metav1.Duration, prior types.String) types.String {
	if d == nil {
		return types.StringNull()
	}
	if !prior.IsNull() && !prior.IsUnknown() {
		if p, err := time.ParseDuration(prior.ValueString()); err == nil && p == d.Duration {
			return prior
		}
	}
	return types.StringValue(shortDuration(d.Duration))
}

// shortDuration spells d as the CRD's pattern allows, without zero trailing units: 48h, 1h30m,
// 1m30s (time.Duration.String gives 48h0m0s).
func shortDuration(d time.Duration) string {
	s := d.String()
	if t, ok := strings.CutSuffix(s, "m0s"); ok {
		s = t + "m"
	}
	if t, ok := strings.CutSuffix(s, "h0m"); ok {
		s = t + "h"
	}
	return s
}
