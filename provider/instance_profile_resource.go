package provider

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.ResourceWithConfigure   = (*instanceProfileResource)(nil)
	_ resource.ResourceWithImportState = (*instanceProfileResource)(nil)
)

// NewInstanceProfileResource returns karpenter_instance_profile: the IAM instance profile that
// carries the node role onto launched instances.
func NewInstanceProfileResource() resource.Resource { return &instanceProfileResource{} }

type instanceProfileResource struct{ c *clients }

type instanceProfileModel struct {
	ID       types.String   `tfsdk:"id"`
	Name     types.String   `tfsdk:"name"`
	Role     types.String   `tfsdk:"role"`
	Path     types.String   `tfsdk:"path"`
	Tags     types.Map      `tfsdk:"tags"`
	ARN      types.String   `tfsdk:"arn"`
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// Metadata names the resource karpenter_instance_profile.
func (r *instanceProfileResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_instance_profile"
}

// Schema describes the resource.
func (r *instanceProfileResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "IAM instance profile holding the node role; Provisioners and the controller's " +
			"`default_instance_profile` name it. Import by instance profile name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The instance profile name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": iamNameAttribute("Instance profile name."),
			"role": schema.StringAttribute{Required: true, MarkdownDescription: "Name (not ARN) of the role to put in the profile, e.g. `karpenter_node_role.this.name`.",
				Validators: []validator.String{stringvalidator.RegexMatches(mustRegexp(iamNamePattern), "must be a role name (not an ARN)")}},
			"path": iamPathAttribute(),
			"tags": tagsAttribute(),
			"arn": schema.StringAttribute{Computed: true, MarkdownDescription: "Instance profile ARN.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		},
		Blocks: map[string]schema.Block{"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})},
	}
}

// Configure receives the provider's clients.
func (r *instanceProfileResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create creates the profile and adds the role.
func (r *instanceProfileResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m instanceProfileModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, m.Timeouts, "create", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	out, err := r.c.iam.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
		InstanceProfileName: aws.String(m.Name.ValueString()),
		Path:                aws.String(m.Path.ValueString()),
		Tags:                iamTags(r.c.withDefaultTags(stringMap(ctx, m.Tags, &resp.Diagnostics))),
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Cannot create instance profile", err.Error())
		return
	}
	m.ID, m.ARN = m.Name, types.StringValue(aws.ToString(out.InstanceProfile.Arn))
	role := m.Role.ValueString()
	m.Role = types.StringNull() // recorded only once added
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	// A role created moments ago may not be visible to AddRoleToInstanceProfile yet.
	if err := retryPropagation(ctx, func(ctx context.Context) error {
		_, err := r.c.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{
			InstanceProfileName: aws.String(m.Name.ValueString()), RoleName: aws.String(role)})
		return err
	}); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("role"), "Cannot add role to instance profile", err.Error())
		return
	}
	m.Role = types.StringValue(role)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read refreshes the profile, its role and tags; a missing profile leaves state.
func (r *instanceProfileResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m instanceProfileModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, err := r.c.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(m.ID.ValueString())})
	if isIAMNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read instance profile", err.Error())
		return
	}
	p := out.InstanceProfile
	m.Name = types.StringValue(aws.ToString(p.InstanceProfileName))
	m.Path = types.StringValue(aws.ToString(p.Path))
	m.ARN = types.StringValue(aws.ToString(p.Arn))
	m.Tags = tagsValue(r.c.withoutDefaultTags(tagMap(p.Tags), stringMap(ctx, m.Tags, &resp.Diagnostics)), m.Tags)
	m.Role = types.StringNull()
	if len(p.Roles) > 0 {
		m.Role = types.StringValue(aws.ToString(p.Roles[0].RoleName))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update swaps the role and updates tags in place.
func (r *instanceProfileResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state instanceProfileModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, plan.Timeouts, "update", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	name := state.ID.ValueString()
	if old, nw := state.Role.ValueString(), plan.Role.ValueString(); old != nw {
		if old != "" {
			if _, err := r.c.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
				InstanceProfileName: aws.String(name), RoleName: aws.String(old)}); err != nil && !isIAMNotFound(err) {
				resp.Diagnostics.AddAttributeError(path.Root("role"), "Cannot remove role from instance profile", err.Error())
				return
			}
		}
		if err := retryPropagation(ctx, func(ctx context.Context) error {
			_, err := r.c.iam.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{
				InstanceProfileName: aws.String(name), RoleName: aws.String(nw)})
			return err
		}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("role"), "Cannot add role to instance profile", err.Error())
			return
		}
	}
	set, remove := tagDiff(r.c.withDefaultTags(stringMap(ctx, state.Tags, &resp.Diagnostics)), r.c.withDefaultTags(stringMap(ctx, plan.Tags, &resp.Diagnostics)))
	if len(remove) > 0 {
		if _, err := r.c.iam.UntagInstanceProfile(ctx, &iam.UntagInstanceProfileInput{InstanceProfileName: aws.String(name), TagKeys: remove}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("tags"), "Cannot untag instance profile", err.Error())
			return
		}
	}
	if len(set) > 0 {
		if _, err := r.c.iam.TagInstanceProfile(ctx, &iam.TagInstanceProfileInput{InstanceProfileName: aws.String(name), Tags: iamTags(set)}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("tags"), "Cannot tag instance profile", err.Error())
			return
		}
	}
	plan.ID, plan.ARN = state.ID, state.ARN
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete removes the role from the profile and deletes the profile.
func (r *instanceProfileResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m instanceProfileModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, m.Timeouts, "delete", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	name := aws.String(m.ID.ValueString())
	out, err := r.c.iam.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: name})
	if isIAMNotFound(err) {
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read instance profile", err.Error())
		return
	}
	for _, role := range out.InstanceProfile.Roles {
		if _, err := r.c.iam.RemoveRoleFromInstanceProfile(ctx, &iam.RemoveRoleFromInstanceProfileInput{
			InstanceProfileName: name, RoleName: role.RoleName}); err != nil && !isIAMNotFound(err) {
			resp.Diagnostics.AddError("Cannot remove role from instance profile", err.Error())
			return
		}
	}
	if _, err := r.c.iam.DeleteInstanceProfile(ctx, &iam.DeleteInstanceProfileInput{InstanceProfileName: name}); err != nil && !isIAMNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete instance profile", err.Error())
	}
}

// ImportState imports by instance profile name.
func (r *instanceProfileResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
