package provider

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

var (
	_ resource.ResourceWithConfigure      = (*provisionerResource)(nil)
	_ resource.ResourceWithImportState    = (*provisionerResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*provisionerResource)(nil)
	_ resource.ResourceWithValidateConfig = (*provisionerResource)(nil)
)

// NewProvisionerResource returns karpenter_provisioner: a karpenter.sh/v1alpha5 Provisioner.
func NewProvisionerResource() resource.Resource { return &provisionerResource{} }

type provisionerResource struct{ c *clients }

// Metadata names the resource karpenter_provisioner.
func (r *provisionerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_provisioner"
}

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

func taintBlock(desc string) schema.ListNestedBlock {
	return schema.ListNestedBlock{
		MarkdownDescription: desc,
		NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
			"key": schema.StringAttribute{Required: true, MarkdownDescription: "Taint key (a qualified name). A key and effect pair may appear once across `taint` and `startup_taint`.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 317), qualifiedNameValidator("taint key")}},
			"value": schema.StringAttribute{Optional: true, MarkdownDescription: "Taint value (may be omitted; a label value: at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric).",
				Validators: []validator.String{stringvalidator.LengthAtMost(63), labelValueValidator("taint value")}},
			"effect": schema.StringAttribute{Required: true, MarkdownDescription: "`NoSchedule`, `PreferNoSchedule` or `NoExecute`.",
				Validators: []validator.String{stringvalidator.OneOf(taintEffects...)}},
		}},
	}
}

// kubeletBlock is kubelet_configuration: every field of Karpenter v0.31's kubeletConfiguration,
// validated as the CRD validates it (cross-field rules in validateKubelet).
func kubeletBlock() schema.ListNestedBlock {
	single := []validator.List{listvalidator.SizeAtMost(1)}
	return schema.ListNestedBlock{
		MarkdownDescription: "Kubelet settings of launched nodes (at most one block).",
		Validators:          single,
		NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
			"cluster_dns": schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Cluster DNS server IPs (`--cluster-dns`), at most 3: IPv4 or IPv6 addresses.",
				Validators: []validator.List{listvalidator.SizeAtMost(3), listvalidator.ValueStringsAre(stringvalidator.LengthAtMost(45), clusterDNSValidator{})}},
			"container_runtime": schema.StringAttribute{Optional: true, MarkdownDescription: "`containerd` or `dockerd`.",
				Validators: []validator.String{stringvalidator.OneOf("containerd", "dockerd")}},
			"max_pods": schema.Int64Attribute{Optional: true, MarkdownDescription: "Maximum pods per node (>= 1, `--max-pods`). Default: the instance type's ENI limit.",
				Validators: []validator.Int64{int64validator.Between(1, math.MaxInt32)}},
			"pods_per_core": schema.Int64Attribute{Optional: true, MarkdownDescription: "Maximum pods per vCPU (`--pods-per-core`); the smaller of it and `max_pods` wins; 0: no per-core cap. " +
				"Bottlerocket has no such setting: its nodes get `settings.kubernetes.max-pods` per instance type instead (the smaller of the ENI limit or `max_pods` and this times the vCPUs).",
				Validators: []validator.Int64{int64validator.Between(0, math.MaxInt32)}},
			"system_reserved": reservedAttribute("system daemons (`--system-reserved`)"),
			"kube_reserved":   reservedAttribute("Kubernetes daemons (`--kube-reserved`); unset, the EKS AL2 bootstrap's defaults apply"),
			"eviction_hard": evictionAttribute("Hard eviction thresholds (`--eviction-hard`): signal to a quantity or percentage, e.g. " +
				"`{ \"memory.available\" = \"100Mi\", \"nodefs.available\" = \"10%\" }`."),
			"eviction_soft": evictionAttribute("Soft eviction thresholds (`--eviction-soft`), as `eviction_hard`; each needs an `eviction_soft_grace_period`."),
			"eviction_soft_grace_period": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "How long each soft threshold must hold before eviction (`--eviction-soft-grace-period`): signal to a duration such as `1m30s`.",
				Validators: []validator.Map{mapvalidator.SizeAtMost(len(v1alpha5.EvictionSignals)), mapvalidator.KeysAre(stringvalidator.OneOf(v1alpha5.EvictionSignals...)),
					mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(mustRegexp(v1alpha5.DurationPattern), "must be hours, minutes and seconds such as 1m30s"))}},
			"eviction_max_pod_grace_period": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Longest termination grace period (seconds) of pods evicted on a soft threshold (`--eviction-max-pod-grace-period`).",
				Validators:          []validator.Int64{int64validator.Between(0, math.MaxInt32)}},
			"image_gc_high_threshold_percent": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Disk usage (percent, 0-100) above which image garbage collection always runs (`--image-gc-high-threshold`); above the low threshold.",
				Validators:          []validator.Int64{int64validator.Between(0, 100)}},
			"image_gc_low_threshold_percent": schema.Int64Attribute{Optional: true,
				MarkdownDescription: "Disk usage (percent, 0-100) image garbage collection frees down to (`--image-gc-low-threshold`).",
				Validators:          []validator.Int64{int64validator.Between(0, 100)}},
			"cpu_cfs_quota": schema.BoolAttribute{Optional: true, MarkdownDescription: "Enforce CPU limits with CFS quota (`--cpu-cfs-quota`); default true."},
		}},
	}
}

// reservedAttribute is systemReserved or kubeReserved: cpu, memory, ephemeral-storage or pid to a
// non-negative quantity.
func reservedAttribute(what string) schema.MapAttribute {
	return schema.MapAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Resources reserved for " + what + ": `cpu`, `memory`, `ephemeral-storage` or `pid` to a non-negative quantity, e.g. `{ cpu = \"100m\", memory = \"100Mi\" }`.",
		Validators: []validator.Map{mapvalidator.SizeAtMost(len(v1alpha5.ReservedResources)), mapvalidator.KeysAre(stringvalidator.OneOf(v1alpha5.ReservedResources...)),
			mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(mustRegexp(v1alpha5.ReservedQuantityPattern), "must be a non-negative quantity such as 100m or 1Gi"))}}
}

// evictionAttribute is evictionHard or evictionSoft: an eviction signal to a threshold.
func evictionAttribute(desc string) schema.MapAttribute {
	return schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: desc + " Signals: `" + strings.Join(v1alpha5.EvictionSignals, "`, `") + "`.",
		Validators: []validator.Map{mapvalidator.SizeAtMost(len(v1alpha5.EvictionSignals)), mapvalidator.KeysAre(stringvalidator.OneOf(v1alpha5.EvictionSignals...)),
			mapvalidator.ValueStringsAre(stringvalidator.RegexMatches(mustRegexp(v1alpha5.EvictionThresholdPattern), "must be a percentage (0-100%) or a non-negative quantity"))}}
}

func selectorAttribute(what string) schema.MapAttribute {
	return schema.MapAttribute{Required: true, ElementType: types.StringType,
		MarkdownDescription: "Selects " + what + " by tag (`key = value`; value `*` matches any value), or by id with key `aws-ids` and comma separated ids. 1 to 20 entries.",
		Validators: []validator.Map{mapvalidator.SizeBetween(1, 20), mapvalidator.KeysAre(stringvalidator.LengthAtLeast(1)),
			mapvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}}
}

// Schema describes the resource; validation mirrors the CRD's OpenAPI and CEL rules.
func (r *provisionerResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	ttl := func(desc string) schema.Int64Attribute {
		return schema.Int64Attribute{Optional: true, MarkdownDescription: desc, Validators: []validator.Int64{int64validator.Between(0, v1alpha5.MaxTTLSeconds)}}
	}
	single := []validator.List{listvalidator.SizeAtMost(1)}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A Karpenter `Provisioner` (`karpenter.sh/v1alpha5`, cluster scoped): which nodes the controller may " +
			"launch for pending pods, and when it removes them. Requires the CRD (`karpenter_controller`). Import by name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The Provisioner name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Provisioner name (DNS-1123 subdomain). Changing it replaces the resource.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 253),
					stringvalidator.RegexMatches(mustRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`), "must be a lowercase DNS-1123 subdomain")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"labels": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Labels of every launched node, passed to its kubelet. Keys are qualified names. In the `kubernetes.io` and `k8s.io` " +
					"domains (and subdomains) only the labels a kubelet may set itself are allowed (`node.kubernetes.io/*`, `kubelet.kubernetes.io/*`, " +
					"topology, instance type, os and arch; not `node-role.kubernetes.io/*` nor `kubernetes.io/hostname`); in `karpenter.sh` only `karpenter.sh/capacity-type`; " +
					"none in `karpenter.k8s.aws` (the controller sets those from the instance type; a requirement on them chooses instance types).",
				Validators: []validator.Map{mapvalidator.SizeAtMost(100), mapvalidator.KeysAre(labelKeyValidator{}, stringvalidator.LengthBetween(1, 316)),
					mapvalidator.ValueStringsAre(labelValueValidator("label value"))}},
			"annotations": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Annotations of every launched node (at most 100; keys are qualified names).",
				Validators:          []validator.Map{mapvalidator.SizeAtMost(100), mapvalidator.KeysAre(stringvalidator.LengthBetween(1, 316), qualifiedNameValidator("annotation key"))}},
			"weight": schema.Int64Attribute{Optional: true, MarkdownDescription: "Priority among provisioners, 0-100; higher is tried first.",
				Validators: []validator.Int64{int64validator.Between(0, 100)}},
			"ttl_seconds_after_empty":   ttl("Seconds a node may stay empty (no non-daemonset pods) before it is deleted; 0 to 3153600000 (100 years). Unset: never."),
			"ttl_seconds_until_expired": ttl("Seconds after launch at which a node is replaced; 0 to 3153600000 (100 years). Unset: never."),
			"termination_grace_period": schema.StringAttribute{Optional: true,
				MarkdownDescription: "How long a deleted node may take to drain (`spec.terminationGracePeriod`, as Karpenter v1's NodePool): once it has passed, " +
					"pods still on the node (held by a PodDisruptionBudget, `karpenter.sh/do-not-evict` or a dead kubelet) are deleted and the instance is terminated. " +
					"Hours, minutes and seconds in that order, e.g. `48h`, `1h30m`, `90s` (at most 6, 7 and 9 digits); at most `876000h` (100 years). Unset: drain waits for evictions for ever.",
				Validators: []validator.String{gracePeriodValidator{}}},
			"provider_ref": providerRefAttribute(),
		},
		Blocks: map[string]schema.Block{
			"requirement": schema.ListNestedBlock{
				MarkdownDescription: requirementDescription,
				Validators:          []validator.List{listvalidator.SizeAtMost(50)},
				NestedObject: schema.NestedBlockObject{
					Validators: []validator.Object{requirementValidator{}},
					Attributes: map[string]schema.Attribute{
						"key": schema.StringAttribute{Required: true, MarkdownDescription: "Label key, e.g. `karpenter.sh/capacity-type`; the same domain rules as `labels`, " +
							"and `karpenter.sh/provisioner-name` is allowed too.",
							Validators: []validator.String{stringvalidator.LengthBetween(1, 316), labelKeyValidator{requirement: true}}},
						"operator": schema.StringAttribute{Required: true, MarkdownDescription: "`In`, `NotIn`, `Exists`, `DoesNotExist`, `Gt` or `Lt`.",
							Validators: []validator.String{stringvalidator.OneOf("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")}},
						"values": schema.ListAttribute{Optional: true, ElementType: types.StringType,
							MarkdownDescription: "Values: one or more for `In`/`NotIn`, exactly one integer for `Gt`/`Lt` (a 64-bit one, " +
								"-9223372036854775808 to 9223372036854775807, as Kubernetes reads it), none otherwise. " +
								"For `karpenter.sh/capacity-type`: `spot`, `on-demand`.",
							Validators: []validator.List{listvalidator.SizeAtMost(100),
								listvalidator.ValueStringsAre(stringvalidator.LengthAtMost(63))}}, // a label value's limit
					},
				},
			},
			"taint":         taintBlock("Taints of every launched node; pods must tolerate them."),
			"startup_taint": taintBlock("Taints applied at launch and removed by another agent; pods need not tolerate them."),
			"limits": schema.ListNestedBlock{
				MarkdownDescription: "Caps on the total capacity of the nodes this provisioner launched (at most one block).",
				Validators:          single,
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"cpu":    schema.StringAttribute{Optional: true, MarkdownDescription: "CPU quantity, e.g. `1000` (cores) or `500m`.", Validators: []validator.String{quantityValidator{}}},
					"memory": schema.StringAttribute{Optional: true, MarkdownDescription: "Memory quantity, e.g. `1000Gi`.", Validators: []validator.String{quantityValidator{}}},
					"resources": schema.MapAttribute{Optional: true, ElementType: types.StringType,
						MarkdownDescription: "Caps on any other resource of node capacity, by resource name: e.g. `nvidia.com/gpu = \"8\"`, `pods = \"500\"`, " +
							"`ephemeral-storage = \"2Ti\"`. `cpu` and `memory` are given by their own attributes. At most 62 (64 with them).",
						Validators: []validator.Map{mapvalidator.SizeAtMost(v1alpha5.MaxLimitResources - 2), mapvalidator.KeysAre(stringvalidator.LengthBetween(1, 316), qualifiedNameValidator("resource name"),
							stringvalidator.NoneOf("cpu", "memory")), mapvalidator.ValueStringsAre(quantityValidator{})}},
				}},
			},
			// Named aws, not provider: "provider" is a meta-argument of every Terraform resource block.
			"aws": schema.ListNestedBlock{
				MarkdownDescription: "Inline AWS settings, the Provisioner's `spec.provider` (at most one block). The block is named " +
					"`aws` because `provider` is a Terraform meta-argument.",
				Validators: single,
				NestedObject: schema.NestedBlockObject{Blocks: awsLaunchBlocks(), Attributes: withAttributes(awsLaunchAttributes(), map[string]schema.Attribute{
					"subnet_selector":         selectorAttribute("subnets"),
					"security_group_selector": selectorAttribute("security groups"),
					"instance_profile": schema.StringAttribute{Optional: true, MarkdownDescription: "Instance profile name of launched nodes. Default: the controller's `default_instance_profile`.",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
					"tags": provisionerTagsAttribute(),
					"ami_family": schema.StringAttribute{Optional: true,
						MarkdownDescription: "`AL2` (default), `Bottlerocket` or `Ubuntu`: selects the AMI (the family's public SSM parameter for the cluster's " +
							"Kubernetes version, by architecture and GPU) and the bootstrap format of the user data (AL2 and Ubuntu: MIME multi-part with " +
							"`/etc/eks/bootstrap.sh`; Bottlerocket: TOML settings).",
						Validators: []validator.String{stringvalidator.OneOf(v1alpha5.AMIFamilies...)}},
					"launch_template": schema.StringAttribute{Optional: true, MarkdownDescription: "Name of an existing launch template to use instead of a generated one; " +
						"it carries its own AMI, user data, volumes and metadata options.",
						Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
				})},
			},
			"kubelet_configuration": kubeletBlock(),
			"consolidation": schema.ListNestedBlock{
				MarkdownDescription: "Consolidation settings (at most one block).",
				Validators:          single,
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"enabled": schema.BoolAttribute{Optional: true, MarkdownDescription: "Turn consolidation on."},
				}},
			},
		},
	}
}

// requirementDescription documents the requirement block, and the requirements plan refuses
// because they leave a key no value (v1alpha5.RequirementsConflict, v1alpha5.ClosedLabelValues).
const requirementDescription = "Constraints on node labels (instance type, zone, capacity type, architecture, ...). " +
	"The blocks on one key are ANDed with each other and with `labels` of that key (a label is `In [value]`); " +
	"plan (and the controller's webhook) refuses blocks after which a key allows no value, at the first such block: " +
	"disjoint `In`s, `NotIn` of every `In` value, `DoesNotExist` with a value asked for, `Gt`/`Lt` with no integer " +
	"between them or beyond the 64-bit range (`Gt 9223372036854775807`, `Lt -9223372036854775808`), and what " +
	"every node the controller launches rules out: `karpenter.sh/capacity-type` is `spot` or `on-demand`, " +
	"`kubernetes.io/arch` `amd64` or `arm64` and `kubernetes.io/os` `linux`, and these labels, " +
	"`karpenter.sh/provisioner-name`, `node.kubernetes.io/instance-type` and `topology.kubernetes.io/zone` " +
	"are on every node (`DoesNotExist` on them allows nothing)."

// ValidateConfig refuses a taint key and effect pair given twice across taint and startup_taint
// blocks: they are registered together and the API server refuses a Node with duplicate taints.
//
// It refuses labels and requirements that leave a label key no value a node could carry
// (v1alpha5.RequirementsConflict, as the controller's webhook does), at the requirement's key.
//
// It also checks the CRD's cross-field rules: consolidation.enabled excludes
// ttl_seconds_after_empty, image GC's high threshold is above its low one, and every soft
// eviction signal has a grace period and the other way round.
func (r *provisionerResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	validateConsolidation(ctx, req, resp)
	validateRequirementsSatisfiable(ctx, req, resp)
	validateKubelet(ctx, req, resp)
	validateAWS(ctx, req, resp)
	seen := map[string]bool{}
	for _, block := range []string{"taint", "startup_taint"} {
		var taints []taintModel
		if diags := req.Config.GetAttribute(ctx, path.Root(block), &taints); diags.HasError() {
			continue // unknown (dynamic blocks): checked at apply time by the API server
		}
		for i, t := range taints {
			if t.Key.IsUnknown() || t.Effect.IsUnknown() {
				continue
			}
			pair := t.Key.ValueString() + ":" + t.Effect.ValueString()
			if seen[pair] {
				// At the block's key: Terraform shows an attribute's source line, not a block element's.
				p := path.Root(block).AtListIndex(i)
				resp.Diagnostics.AddAttributeError(p.AtName("key"), "Duplicate taint",
					fmt.Sprintf("%s: taint %s is given twice: each taint key and effect may be given once across taint and startup_taint blocks", p, pair))
			}
			seen[pair] = true
		}
	}
}

// validateRequirementsSatisfiable refuses, at the requirement's key, the first requirement block
// after which its key admits no value together with the blocks before it and labels
// (v1alpha5.RequirementsConflict). Unknown values (computed at apply) skip the check.
func validateRequirementsSatisfiable(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var labels map[string]types.String
	var reqs []requirementModel
	if req.Config.GetAttribute(ctx, path.Root("labels"), &labels).HasError() ||
		req.Config.GetAttribute(ctx, path.Root("requirement"), &reqs).HasError() {
		return
	}
	known := map[string]string{}
	for k, v := range labels {
		if v.IsUnknown() {
			return
		}
		known[k] = v.ValueString()
	}
	spec := make([]v1alpha5.NodeSelectorRequirement, len(reqs))
	for i, r := range reqs {
		if r.Key.IsUnknown() || r.Operator.IsUnknown() || r.Values.IsUnknown() {
			return
		}
		var values []string
		if req.Config.GetAttribute(ctx, path.Root("requirement").AtListIndex(i).AtName("values"), &values).HasError() {
			return
		}
		spec[i] = v1alpha5.NodeSelectorRequirement{Key: r.Key.ValueString(), Operator: corev1.NodeSelectorOperator(r.Operator.ValueString()), Values: values}
	}
	if i, why := v1alpha5.RequirementsConflict(known, spec); i >= 0 {
		p := path.Root("requirement").AtListIndex(i).AtName("key")
		resp.Diagnostics.AddAttributeError(p, "Requirements admit no value", fmt.Sprintf("%s: %s", p, why))
	}
}

// validateConsolidation refuses consolidation.enabled = true together with
// ttl_seconds_after_empty, as the CRD does (consolidation removes empty nodes itself).
func validateConsolidation(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var ttl types.Int64
	var cons []consolidationModel
	if req.Config.GetAttribute(ctx, path.Root("ttl_seconds_after_empty"), &ttl).HasError() ||
		req.Config.GetAttribute(ctx, path.Root("consolidation"), &cons).HasError() {
		return
	}
	if ttl.IsNull() || len(cons) == 0 || cons[0].Enabled.IsNull() || cons[0].Enabled.IsUnknown() || !cons[0].Enabled.ValueBool() {
		return
	}
	p := path.Root("ttl_seconds_after_empty")
	resp.Diagnostics.AddAttributeError(p, "Conflicting attributes",
		p.String()+": consolidation.enabled and ttl_seconds_after_empty are mutually exclusive: consolidation removes empty nodes itself")
}

// validateKubelet checks kubelet_configuration's cross-field rules as the CRD does.
func validateKubelet(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var ks []kubeletModel
	if req.Config.GetAttribute(ctx, path.Root("kubelet_configuration"), &ks).HasError() || len(ks) == 0 {
		return
	}
	k, base := ks[0], path.Root("kubelet_configuration").AtListIndex(0)
	if hi, lo := k.ImageGCHigh, k.ImageGCLow; !hi.IsNull() && !hi.IsUnknown() && !lo.IsNull() && !lo.IsUnknown() && hi.ValueInt64() <= lo.ValueInt64() {
		p := base.AtName("image_gc_high_threshold_percent")
		resp.Diagnostics.AddAttributeError(p, "Invalid image GC thresholds",
			fmt.Sprintf("%s: %d must be greater than image_gc_low_threshold_percent (%d)", p, hi.ValueInt64(), lo.ValueInt64()))
	}
	if k.EvictionSoft.IsUnknown() || k.EvictionSoftGracePeriod.IsUnknown() {
		return
	}
	soft, grace := k.EvictionSoft.Elements(), k.EvictionSoftGracePeriod.Elements()
	for _, pair := range []struct {
		have, other map[string]attr.Value
		at, want    string
	}{{soft, grace, "eviction_soft", "eviction_soft_grace_period"}, {grace, soft, "eviction_soft_grace_period", "eviction_soft"}} {
		for _, sig := range slices.Sorted(maps.Keys(pair.have)) {
			if _, ok := pair.other[sig]; !ok {
				p := base.AtName(pair.at).AtMapKey(sig)
				resp.Diagnostics.AddAttributeError(p, "Incomplete soft eviction",
					fmt.Sprintf("%s: signal %q has no entry in %s (every soft threshold needs a grace period and the other way round)", p, sig, pair.want))
			}
		}
	}
}

// Configure receives the provider's clients.
func (r *provisionerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create creates the Provisioner.
func (r *provisionerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m provisionerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := m.toSpec(ctx)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	p := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: m.Name.ValueString()}, Spec: spec}
	if err := kc.Create(ctx, p, client.FieldOwner(fieldOwner)); err != nil {
		resp.Diagnostics.Append(apiErrorDiagnostics("Cannot create Provisioner", err)...)
		return
	}
	m.ID = m.Name
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read refreshes the spec from the cluster; a missing Provisioner (or CRD) leaves state.
func (r *provisionerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m provisionerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	var p v1alpha5.Provisioner
	err = kc.Get(ctx, client.ObjectKey{Name: m.ID.ValueString()}, &p)
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read Provisioner", err.Error())
		return
	}
	out := provisionerFromSpec(p.Name, p.Spec, m)
	resp.Diagnostics.Append(resp.State.Set(ctx, &out)...)
}

// Update replaces the spec.
func (r *provisionerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m provisionerModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := m.toSpec(ctx)
	if resp.Diagnostics.Append(diags...); resp.Diagnostics.HasError() {
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	var p v1alpha5.Provisioner
	if err := kc.Get(ctx, client.ObjectKey{Name: m.Name.ValueString()}, &p); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Cannot read Provisioner", err.Error())
		return
	}
	p.Spec = spec
	if err := kc.Update(ctx, &p, client.FieldOwner(fieldOwner)); err != nil {
		resp.Diagnostics.Append(apiErrorDiagnostics("Cannot update Provisioner", err)...)
		return
	}
	m.ID = m.Name
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Delete deletes the Provisioner (nodes it launched stay until their TTLs or the controller's
// destroy).
func (r *provisionerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m provisionerModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	p := &v1alpha5.Provisioner{ObjectMeta: metav1.ObjectMeta{Name: m.ID.ValueString()}}
	if err := kc.Delete(ctx, p); err != nil && !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
		resp.Diagnostics.AddError("Cannot delete Provisioner", err.Error())
	}
}

// ImportState imports by Provisioner name.
func (r *provisionerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// provisionerTagsAttribute is aws.tags: bounded and checked as the CRD's spec.provider.tags
// (awsTagsValidators).
func provisionerTagsAttribute() schema.MapAttribute {
	return schema.MapAttribute{Optional: true, ElementType: types.StringType,
		MarkdownDescription: "Tags of launched instances, volumes, network interfaces and launch templates: at most 50, keys of 1 to 128 and " +
			"values of at most 256 characters (EC2's limits). Keys may not start with `aws:` nor be one the controller sets itself " +
			"(`karpenter.sh/cluster`, `karpenter.sh/managed-by`, `karpenter.sh/nodeclaim`, `karpenter.sh/provisioner-name`) or start " +
			"with `kubernetes.io/cluster/`. They are applied over the provider's `default_tags` (a key in both takes the value " +
			"given here). `Name` is allowed and wins over the default `Name`, `karpenter.sh/provisioner-name/<provisioner name>` (as in " +
			"Karpenter v0.31), and over a `Name` in `default_tags`. Together with `default_tags`, `Name` and the four tags the controller " +
			"sets, an instance may carry at most 50 tags: the plan refuses more (the controller would refuse to launch).",
		Validators: awsTagsValidators()}
}

// awsTagsValidators check tags of the EC2 resources the controller launches as the CRD checks
// spec.provider.tags: at most v1alpha5.MaxTags, keys v1alpha5.ValidateTagKey accepts
// (provisionerTagKeyValidator), values of at most v1alpha5.MaxTagValueLength characters. They
// apply to a Provisioner's aws.tags and to the provider's default_tags, which the controller
// merges into those tags. Errors name the attribute path and the key.
func awsTagsValidators() []validator.Map {
	return []validator.Map{mapvalidator.SizeAtMost(v1alpha5.MaxTags), mapvalidator.KeysAre(provisionerTagKeyValidator{}),
		mapvalidator.ValueStringsAre(stringvalidator.LengthAtMost(v1alpha5.MaxTagValueLength))}
}

// ModifyPlan refuses, with an error at aws[0].tags, tags that together with the provider's
// default_tags, Name and the tags the controller sets itself exceed EC2's 50 tags per
// instance (v1alpha5.ValidateLaunchTagCount): the controller would refuse every launch of the
// Provisioner. Unknown tags are not checked.
func (r *provisionerResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.c == nil {
		return
	}
	var tags types.Map
	at := path.Root("aws").AtListIndex(0).AtName("tags")
	if req.Plan.GetAttribute(ctx, at, &tags).HasError() || tags.IsUnknown() {
		return // no aws block, or tags known only at apply
	}
	m := mapElements(ctx, tags, &resp.Diagnostics)
	if len(m) != len(tags.Elements()) {
		return // unknown values
	}
	if why := v1alpha5.ValidateLaunchTagCount(r.c.defaultTags, m); why != "" {
		resp.Diagnostics.AddAttributeError(at, "Too many tags", at.String()+": "+why)
	}
}
