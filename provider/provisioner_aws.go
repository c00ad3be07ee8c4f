package provider

import (
	"context"
	"fmt"
	"regexp"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/objectvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

// The aws block's launch template settings (block_device_mappings, metadata_options,
// user_data, detailed_monitoring) and provider_ref, validated as the CRD validates
// spec.provider and spec.providerRef.

type blockDeviceMappingModel struct {
	DeviceName types.String `tfsdk:"device_name"`
	EBS        *ebsModel    `tfsdk:"ebs"`
}

type ebsModel struct {
	DeleteOnTermination types.Bool   `tfsdk:"delete_on_termination"`
	Encrypted           types.Bool   `tfsdk:"encrypted"`
	IOPS                types.Int64  `tfsdk:"iops"`
	KMSKeyID            types.String `tfsdk:"kms_key_id"`
	SnapshotID          types.String `tfsdk:"snapshot_id"`
	Throughput          types.Int64  `tfsdk:"throughput"`
	VolumeSize          types.String `tfsdk:"volume_size"`
	VolumeType          types.String `tfsdk:"volume_type"`
}

type metadataOptionsModel struct {
	HTTPEndpoint            types.String `tfsdk:"http_endpoint"`
	HTTPProtocolIPv6        types.String `tfsdk:"http_protocol_ipv6"`
	HTTPPutResponseHopLimit types.Int64  `tfsdk:"http_put_response_hop_limit"`
	HTTPTokens              types.String `tfsdk:"http_tokens"`
}

type providerRefModel struct {
	Name       types.String `tfsdk:"name"`
	Kind       types.String `tfsdk:"kind"`
	APIVersion types.String `tfsdk:"api_version"`
}

// snapshotIDRE is the CRD's pattern of ebs.snapshotID.
var snapshotIDRE = regexp.MustCompile(`^snap-([0-9a-f]{8}|[0-9a-f]{17})$`)

// awsLaunchAttributes are the aws block's attributes beyond the selectors, profile, tags, AMI
// family and launch template.
func awsLaunchAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"user_data": schema.StringAttribute{Optional: true,
			MarkdownDescription: "User data merged with the generated bootstrap: for `AL2` and `Ubuntu` a shell script or a MIME multi-part document whose parts " +
				"run before the bootstrap part (refused at plan, and by the controller's admission webhook, unless the document's and the parts' headers parse, " +
				"it has a boundary, and each part's `Content-Transfer-Encoding`, if any, is `7bit`, `8bit`, `binary`, `base64` or `quoted-printable` and its body decodes; " +
				"errors never repeat the user data); for `Bottlerocket` TOML settings, over which the controller writes its own (cluster, labels, taints, kubelet). " +
				"At most 16384 characters. Conflicts with `launch_template`. Terraform itself shows the configuration's source lines with each error " +
				"at this attribute, so a literal string here (with any secret in it) is repeated in the output: pass user data through a variable " +
				"declared `sensitive = true` (`user_data = var.user_data`), whose value Terraform then hides in errors and plans.",
			Validators: []validator.String{stringvalidator.UTF8LengthAtMost(v1alpha5.MaxUserDataBytes)}},
		"detailed_monitoring": schema.BoolAttribute{Optional: true,
			MarkdownDescription: "Enable EC2 detailed (1-minute) monitoring of launched instances. Conflicts with `launch_template`."},
	}
}

// awsLaunchBlocks are the aws block's nested blocks block_device_mappings and metadata_options.
func awsLaunchBlocks() map[string]schema.Block {
	onOff := []validator.String{stringvalidator.OneOf("enabled", "disabled")}
	return map[string]schema.Block{
		"block_device_mappings": schema.ListNestedBlock{
			MarkdownDescription: "Volumes of launched instances, one block per device name (at most 50). Unset: the AMI family's root volume " +
				"(`AL2` `/dev/xvda`, `Ubuntu` `/dev/sda1`, 20Gi gp3; `Bottlerocket` `/dev/xvda` 4Gi and `/dev/xvdb` 20Gi; encrypted). Conflicts with `launch_template`.",
			Validators: []validator.List{listvalidator.SizeAtMost(50)},
			NestedObject: schema.NestedBlockObject{
				Attributes: map[string]schema.Attribute{
					"device_name": schema.StringAttribute{Required: true, MarkdownDescription: "Device name, e.g. `/dev/xvda`; unique among the blocks.",
						Validators: []validator.String{stringvalidator.LengthBetween(1, 64)}},
				},
				Blocks: map[string]schema.Block{
					"ebs": schema.SingleNestedBlock{
						MarkdownDescription: "The device's EBS volume (required).",
						Validators:          []validator.Object{objectvalidator.IsRequired()}, // cross-field rules: validateEBS
						Attributes: map[string]schema.Attribute{
							"delete_on_termination": schema.BoolAttribute{Optional: true, MarkdownDescription: "Delete the volume with the instance (EC2's default: true)."},
							"encrypted":             schema.BoolAttribute{Optional: true, MarkdownDescription: "Encrypt the volume."},
							"iops": schema.Int64Attribute{Optional: true, MarkdownDescription: "Provisioned IOPS, 100-256000; only for `io1`, `io2` (required there) and `gp3`.",
								Validators: []validator.Int64{int64validator.Between(v1alpha5.MinVolumeIOPS, v1alpha5.MaxVolumeIOPS)}},
							"kms_key_id": schema.StringAttribute{Optional: true, MarkdownDescription: "KMS key (id, alias or ARN) encrypting the volume.",
								Validators: []validator.String{stringvalidator.UTF8LengthBetween(1, 2048)}},
							"snapshot_id": schema.StringAttribute{Optional: true, MarkdownDescription: "Snapshot to create the volume from (`snap-` and 8 or 17 hex digits).",
								Validators: []validator.String{stringvalidator.RegexMatches(snapshotIDRE, "must be snap- followed by 8 or 17 lowercase hex digits")}},
							"throughput": schema.Int64Attribute{Optional: true, MarkdownDescription: "Provisioned throughput of a `gp3` volume, MiB/s, 125-1000.",
								Validators: []validator.Int64{int64validator.Between(v1alpha5.MinVolumeThroughput, v1alpha5.MaxVolumeThroughput)}},
							"volume_size": schema.StringAttribute{Optional: true, MarkdownDescription: "Size, a quantity of 1Gi to 64Ti such as `100Gi` (rounded up to whole GiB); required unless `snapshot_id` is set.",
								Validators: []validator.String{stringvalidator.UTF8LengthAtMost(32), volumeSizeValidator{}}},
							"volume_type": schema.StringAttribute{Optional: true, MarkdownDescription: "`standard`, `io1`, `io2`, `gp2`, `sc1`, `st1` or `gp3` (EC2's default: gp2).",
								Validators: []validator.String{stringvalidator.OneOf(v1alpha5.VolumeTypes...)}},
						},
					},
				},
			},
		},
		"metadata_options": schema.SingleNestedBlock{
			MarkdownDescription: "Instance metadata service of launched instances. Unset attributes default to `http_endpoint = \"enabled\"`, " +
				"`http_protocol_ipv6 = \"disabled\"`, `http_put_response_hop_limit = 2`, `http_tokens = \"required\"`. Conflicts with `launch_template`.",
			Attributes: map[string]schema.Attribute{
				"http_endpoint":      schema.StringAttribute{Optional: true, MarkdownDescription: "`enabled` or `disabled`.", Validators: onOff},
				"http_protocol_ipv6": schema.StringAttribute{Optional: true, MarkdownDescription: "IPv6 endpoint: `enabled` or `disabled`.", Validators: onOff},
				"http_put_response_hop_limit": schema.Int64Attribute{Optional: true, MarkdownDescription: "Hop limit of the token response, 1-64.",
					Validators: []validator.Int64{int64validator.Between(1, 64)}},
				"http_tokens": schema.StringAttribute{Optional: true, MarkdownDescription: "`required` (IMDSv2 only) or `optional`.",
					Validators: []validator.String{stringvalidator.OneOf("required", "optional")}},
			},
		},
	}
}

// providerRefAttribute is provider_ref, spec.providerRef.
func providerRefAttribute() schema.SingleNestedAttribute {
	return schema.SingleNestedAttribute{Optional: true,
		MarkdownDescription: "Reference to a node template object (`spec.providerRef`), instead of an `aws` block. Kept and read back; this controller has " +
			"no `AWSNodeTemplate`, so nodes launch with its defaults (subnets and security groups tagged for discovery).",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "Name of the referenced object.",
				Validators: []validator.String{stringvalidator.UTF8LengthBetween(1, 253)}},
			"kind": schema.StringAttribute{Optional: true, MarkdownDescription: "Kind, e.g. `AWSNodeTemplate`.",
				Validators: []validator.String{stringvalidator.UTF8LengthAtMost(63)}},
			"api_version": schema.StringAttribute{Optional: true, MarkdownDescription: "API version, e.g. `karpenter.k8s.aws/v1alpha1`.",
				Validators: []validator.String{stringvalidator.UTF8LengthAtMost(316)}},
		},
	}
}

// volumeSizeValidator accepts what v1alpha5.VolumeSizeGiB accepts.
type volumeSizeValidator struct{}

func (volumeSizeValidator) Description(context.Context) string {
	return "a quantity of " + v1alpha5.MinVolumeSize + " to " + v1alpha5.MaxVolumeSize + " such as 100Gi"
}
func (v volumeSizeValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}
func (volumeSizeValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if _, err := v1alpha5.VolumeSizeGiB(v1alpha5.VolumeSize(req.ConfigValue.ValueString())); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid volume size", fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// validateEBS checks an ebs block's cross-field rules as the CRD does, adding every error at
// its attribute (p is the block's path): a size or a snapshot (at volume_size); iops only for io1, io2 (which
// need it) and gp3; throughput only for gp3. It runs from the resource's ValidateConfig, not as
// a validator of the block: the framework skips a block's attribute validators (iops and
// throughput ranges, volume_size, ...) once a validator of the block itself reports an error,
// which would hide those errors behind these.
func validateEBS(e *ebsModel, p path.Path, diags *diag.Diagnostics) {
	if e.VolumeSize.IsNull() && e.SnapshotID.IsNull() {
		vp := p.AtName("volume_size")
		diags.AddAttributeError(vp, "Missing volume size", fmt.Sprintf("%s: volume_size is required unless snapshot_id is set", vp))
	}
	if e.VolumeType.IsUnknown() || e.IOPS.IsUnknown() || e.Throughput.IsUnknown() {
		return
	}
	vt := e.VolumeType.ValueString()
	if !e.IOPS.IsNull() && vt != "io1" && vt != "io2" && vt != "gp3" {
		ip := p.AtName("iops")
		diags.AddAttributeError(ip, "Invalid attribute combination", fmt.Sprintf("%s: iops applies only to volume_type io1, io2 or gp3", ip))
	}
	if e.IOPS.IsNull() && (vt == "io1" || vt == "io2") {
		ip := p.AtName("iops")
		diags.AddAttributeError(ip, "Missing iops", fmt.Sprintf("%s: volume_type %s needs iops", ip, vt))
	}
	if !e.Throughput.IsNull() && vt != "gp3" {
		tp := p.AtName("throughput")
		diags.AddAttributeError(tp, "Invalid attribute combination", fmt.Sprintf("%s: throughput applies only to volume_type gp3", tp))
	}
}

// validateAWS checks the aws block's cross-field rules as the CRD does: launch_template
// excludes the settings of a generated launch template, device names are unique, each ebs
// block's rules (validateEBS), and aws excludes provider_ref; and, beyond the CRD, user_data's format for ami_family
// (v1alpha5.ValidateUserData: TOML for Bottlerocket, a well-formed MIME document if MIME).
func validateAWS(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var ref types.Object
	var as []awsModel
	if req.Config.GetAttribute(ctx, path.Root("provider_ref"), &ref).HasError() || req.Config.GetAttribute(ctx, path.Root("aws"), &as).HasError() {
		return
	}
	if !ref.IsNull() && len(as) > 0 {
		p := path.Root("provider_ref")
		resp.Diagnostics.AddAttributeError(p, "Conflicting attributes", p.String()+": provider_ref and the aws block are mutually exclusive")
	}
	if len(as) == 0 {
		return
	}
	a, base := as[0], path.Root("aws").AtListIndex(0)
	if !a.UserData.IsNull() && !a.UserData.IsUnknown() && !a.AMIFamily.IsUnknown() {
		family := a.AMIFamily.ValueString()
		if family == "" {
			family = v1alpha5.AMIFamilyAL2
		}
		if err := v1alpha5.ValidateUserData(family, a.UserData.ValueString()); err != nil {
			p := base.AtName("user_data")
			resp.Diagnostics.AddAttributeError(p, "Invalid user data", fmt.Sprintf("%s: for AMI family %s: %v", p, family, err))
		}
	}
	if !a.LaunchTemplate.IsNull() {
		for _, c := range []struct {
			name, why string
			set       bool
		}{
			{"block_device_mappings", "carries its own block device mappings", len(a.BlockDeviceMappings) > 0},
			{"metadata_options", "carries its own metadata options", a.MetadataOptions != nil},
			{"user_data", "carries its own user data", !a.UserData.IsNull()},
			{"detailed_monitoring", "sets monitoring itself", !a.DetailedMonitoring.IsNull()},
		} {
			if c.set {
				p := base.AtName(c.name)
				resp.Diagnostics.AddAttributeError(p, "Conflicting attributes",
					fmt.Sprintf("%s: launch_template and %s are mutually exclusive: the named launch template %s", p, c.name, c.why))
			}
		}
	}
	seen := map[string]bool{}
	for i, b := range a.BlockDeviceMappings {
		if b.EBS != nil {
			validateEBS(b.EBS, base.AtName("block_device_mappings").AtListIndex(i).AtName("ebs"), &resp.Diagnostics)
		}
		if b.DeviceName.IsNull() || b.DeviceName.IsUnknown() {
			continue
		}
		if n := b.DeviceName.ValueString(); seen[n] {
			p := base.AtName("block_device_mappings").AtListIndex(i)
			resp.Diagnostics.AddAttributeError(p, "Duplicate device name", fmt.Sprintf("%s: device_name %s is given twice", p, n))
		} else {
			seen[n] = true
		}
	}
}

// awsLaunchToSpec fills the launch template settings of spec.provider from the aws block.
func awsLaunchToSpec(a awsModel, out *v1alpha5.AWS) {
	out.UserData = strPtr(a.UserData)
	out.DetailedMonitoring = boolPtr(a.DetailedMonitoring)
	for _, b := range a.BlockDeviceMappings {
		m := v1alpha5.BlockDeviceMapping{DeviceName: b.DeviceName.ValueString()}
		if e := b.EBS; e != nil {
			m.EBS = v1alpha5.BlockDevice{
				DeleteOnTermination: boolPtr(e.DeleteOnTermination), Encrypted: boolPtr(e.Encrypted), IOPS: int64Ptr(e.IOPS),
				KMSKeyID: strPtr(e.KMSKeyID), SnapshotID: strPtr(e.SnapshotID), Throughput: int64Ptr(e.Throughput), VolumeType: strPtr(e.VolumeType),
			}
			if s := strPtr(e.VolumeSize); s != nil {
				vs := v1alpha5.VolumeSize(*s)
				m.EBS.VolumeSize = &vs
			}
		}
		out.BlockDeviceMappings = append(out.BlockDeviceMappings, m)
	}
	if o := a.MetadataOptions; o != nil {
		out.MetadataOptions = &v1alpha5.MetadataOptions{HTTPEndpoint: strPtr(o.HTTPEndpoint), HTTPProtocolIPv6: strPtr(o.HTTPProtocolIPv6),
			HTTPPutResponseHopLimit: int64Ptr(o.HTTPPutResponseHopLimit), HTTPTokens: strPtr(o.HTTPTokens)}
	}
}

// awsLaunchFromSpec fills the aws block's launch template settings from a live spec.provider.
func awsLaunchFromSpec(a *v1alpha5.AWS, out *awsModel) {
	out.UserData = ptrString(a.UserData)
	out.DetailedMonitoring = types.BoolPointerValue(a.DetailedMonitoring)
	out.BlockDeviceMappings = []blockDeviceMappingModel{}
	for _, b := range a.BlockDeviceMappings {
		e := b.EBS
		em := &ebsModel{
			DeleteOnTermination: types.BoolPointerValue(e.DeleteOnTermination), Encrypted: types.BoolPointerValue(e.Encrypted),
			IOPS: types.Int64PointerValue(e.IOPS), KMSKeyID: ptrString(e.KMSKeyID), SnapshotID: ptrString(e.SnapshotID),
			Throughput: types.Int64PointerValue(e.Throughput), VolumeType: ptrString(e.VolumeType), VolumeSize: types.StringNull(),
		}
		if e.VolumeSize != nil {
			em.VolumeSize = types.StringValue(string(*e.VolumeSize))
		}
		out.BlockDeviceMappings = append(out.BlockDeviceMappings, blockDeviceMappingModel{DeviceName: types.StringValue(b.DeviceName), EBS: em})
	}
	if o := a.MetadataOptions; o != nil {
		out.MetadataOptions = &metadataOptionsModel{HTTPEndpoint: ptrString(o.HTTPEndpoint), HTTPProtocolIPv6: ptrString(o.HTTPProtocolIPv6),
			HTTPPutResponseHopLimit: types.Int64PointerValue(o.HTTPPutResponseHopLimit), HTTPTokens: ptrString(o.HTTPTokens)}
	}
}

// providerRefToSpec converts provider_ref.
func providerRefToSpec(r *providerRefModel) *v1alpha5.ProviderRef {
	if r == nil {
		return nil
	}
	return &v1alpha5.ProviderRef{Name: r.Name.ValueString(), Kind: r.Kind.ValueString(), APIVersion: r.APIVersion.ValueString()}
}

// providerRefFromSpec reads an empty kind or apiVersion (the API drops them) as "" where prior
// (the state before the refresh) has "" (set explicitly) and as null otherwise, so that neither
// spelling is a permanent diff.
func providerRefFromSpec(r *v1alpha5.ProviderRef, prior *providerRefModel) *providerRefModel {
	if r == nil {
		return nil
	}
	empty := types.StringValue("")
	out := &providerRefModel{Name: types.StringValue(r.Name), Kind: optString(r.Kind), APIVersion: optString(r.APIVersion)}
	if prior != nil && r.Kind == "" && prior.Kind.Equal(empty) {
		out.Kind = empty
	}
	if prior != nil && r.APIVersion == "" && prior.APIVersion.Equal(empty) {
		out.APIVersion = empty
	}
	return out
}

// withAttributes returns a with the attributes of b added.
func withAttributes(a, b map[string]schema.Attribute) map[string]schema.Attribute {
	for k, v := range b {
		a[k] = v
	}
	return a
}
