package provider

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.ResourceWithConfigure   = (*nodeRoleResource)(nil)
	_ resource.ResourceWithImportState = (*nodeRoleResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*nodeRoleResource)(nil)
)

// DefaultNodePolicyNames are the AWS managed policies an EKS worker node needs (source: Amazon
// EKS User Guide, "Amazon EKS node IAM role"; the SSM policy as in the Karpenter getting-started
// CloudFormation template).
// The ARNs are in the caller's partition (defaultNodePolicyARNs).
var DefaultNodePolicyNames = []string{
	"AmazonEKSWorkerNodePolicy",
	"AmazonEKS_CNI_Policy",
	"AmazonEC2ContainerRegistryReadOnly",
	"AmazonSSMManagedInstanceCore",
}

// defaultNodePolicyARNs are DefaultNodePolicyNames as ARNs of partition p.
func defaultNodePolicyARNs(p partitionInfo) []string {
	out := make([]string, 0, len(DefaultNodePolicyNames))
	for _, n := range DefaultNodePolicyNames {
		out = append(out, p.managedPolicyARN(n))
	}
	return out
}

// ModifyPlan plans managed_policy_arns, when the configuration omits it, as the default
// policies in the partition of the provider's credentials (STS GetCallerIdentity), so that
// GovCloud and China get arn:aws-us-gov: and arn:aws-cn: ARNs.
func (r *nodeRoleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.c == nil {
		return
	}
	var configured types.Set
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("managed_policy_arns"), &configured)...)
	if resp.Diagnostics.HasError() || !configured.IsNull() {
		return
	}
	p, err := r.c.partition(ctx)
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("managed_policy_arns"), "Cannot determine the default policies", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("managed_policy_arns"), setValue(defaultNodePolicyARNs(p)))...)
}

// ec2TrustPolicy lets EC2 instances assume the node role.
const ec2TrustPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// NewNodeRoleResource returns karpenter_node_role: the IAM role of launched nodes.
func NewNodeRoleResource() resource.Resource { return &nodeRoleResource{} }

type nodeRoleResource struct{ c *clients }

type nodeRoleModel struct {
	ID                types.String   `tfsdk:"id"`
	Name              types.String   `tfsdk:"name"`
	Path              types.String   `tfsdk:"path"`
	Tags              types.Map      `tfsdk:"tags"`
	ManagedPolicyARNs types.Set      `tfsdk:"managed_policy_arns"`
	ARN               types.String   `tfsdk:"arn"`
	UniqueID          types.String   `tfsdk:"unique_id"`
	Timeouts          timeouts.Value `tfsdk:"timeouts"`
}

// Metadata names the resource karpenter_node_role.
func (r *nodeRoleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_role"
}

// Schema describes the resource.
func (r *nodeRoleResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "IAM role assumed by the EC2 instances Karpenter launches (trust: `ec2.amazonaws.com`, `ec2.amazonaws.com.cn` in China: the " +
			"partition comes from STS `GetCallerIdentity`), " +
			"with AWS managed policies attached. Import by role name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The role name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": iamNameAttribute("Role name (1-64 characters of `[\\w+=,.@-]`)."),
			"path": iamPathAttribute(),
			"tags": tagsAttribute(),
			"managed_policy_arns": schema.SetAttribute{Optional: true, Computed: true, ElementType: types.StringType,
				MarkdownDescription: "ARNs of managed policies to attach. Default: `AmazonEKSWorkerNodePolicy`, " +
					"`AmazonEKS_CNI_Policy`, `AmazonEC2ContainerRegistryReadOnly`, `AmazonSSMManagedInstanceCore`.",
				PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
				Validators:    []validator.Set{setvalidator.ValueStringsAre(stringvalidator.RegexMatches(mustRegexp(policyARNPattern), "must be an IAM policy ARN"))}},
			"arn": schema.StringAttribute{Computed: true, MarkdownDescription: "Role ARN.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"unique_id": schema.StringAttribute{Computed: true, MarkdownDescription: "Stable unique id of the role (`AROA...`).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		},
		Blocks: map[string]schema.Block{"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})},
	}
}

// Configure receives the provider's clients.
func (r *nodeRoleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create creates the role and attaches the policies.
func (r *nodeRoleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m nodeRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, m.Timeouts, "create", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	part, err := r.c.partition(ctx)
	if err != nil {
		resp.Diagnostics.AddError("Cannot determine the AWS partition", err.Error())
		return
	}
	out, err := r.c.iam.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(m.Name.ValueString()),
		Path:                     aws.String(m.Path.ValueString()),
		AssumeRolePolicyDocument: aws.String(trustPolicyFor(part, "ec2")),
		Description:              aws.String("Karpenter node role (managed by Terraform)"),
		Tags:                     iamTags(r.c.withDefaultTags(stringMap(ctx, m.Tags, &resp.Diagnostics))),
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Cannot create IAM role", err.Error())
		return
	}
	m.ID, m.ARN, m.UniqueID = m.Name, types.StringValue(aws.ToString(out.Role.Arn)), types.StringValue(aws.ToString(out.Role.RoleId))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...) // the role exists now: keep it in state even if attaching fails
	for _, arn := range stringList(ctx, m.ManagedPolicyARNs, &resp.Diagnostics) {
		// The role just created (or a policy created moments ago) may not be visible yet.
		if err := retryPropagation(ctx, func(ctx context.Context) error {
			_, err := r.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(m.Name.ValueString()), PolicyArn: aws.String(arn)})
			return err
		}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("managed_policy_arns"), "Cannot attach policy "+arn, err.Error())
			return
		}
	}
}

// Read refreshes the role, its tags and attached policies; a missing role leaves state.
func (r *nodeRoleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m nodeRoleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, err := r.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(m.ID.ValueString())})
	if isIAMNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read IAM role", err.Error())
		return
	}
	attached, err := attachedPolicies(ctx, r.c.iam, m.ID.ValueString())
	if err != nil {
		resp.Diagnostics.AddError("Cannot list attached policies", err.Error())
		return
	}
	role := out.Role
	m.Name = types.StringValue(aws.ToString(role.RoleName))
	m.Path = types.StringValue(aws.ToString(role.Path))
	m.ARN = types.StringValue(aws.ToString(role.Arn))
	m.UniqueID = types.StringValue(aws.ToString(role.RoleId))
	m.Tags = tagsValue(r.c.withoutDefaultTags(tagMap(role.Tags), stringMap(ctx, m.Tags, &resp.Diagnostics)), m.Tags)
	m.ManagedPolicyARNs = setValue(attached)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update changes tags and attached policies in place.
func (r *nodeRoleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state nodeRoleModel
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
	if err := updateRoleTags(ctx, r.c.iam, name, r.c.withDefaultTags(stringMap(ctx, state.Tags, &resp.Diagnostics)), r.c.withDefaultTags(stringMap(ctx, plan.Tags, &resp.Diagnostics))); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("tags"), "Cannot update role tags", err.Error())
		return
	}
	want := stringList(ctx, plan.ManagedPolicyARNs, &resp.Diagnostics)
	had := stringList(ctx, state.ManagedPolicyARNs, &resp.Diagnostics)
	for _, arn := range minus(had, want) {
		if _, err := r.c.iam.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil && !isIAMNotFound(err) {
			resp.Diagnostics.AddAttributeError(path.Root("managed_policy_arns"), "Cannot detach policy "+arn, err.Error())
			return
		}
	}
	for _, arn := range minus(want, had) {
		if err := retryPropagation(ctx, func(ctx context.Context) error {
			_, err := r.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(arn)})
			return err
		}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("managed_policy_arns"), "Cannot attach policy "+arn, err.Error())
			return
		}
	}
	plan.ID, plan.ARN, plan.UniqueID = state.ID, state.ARN, state.UniqueID
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete detaches every managed policy, deletes inline policies and then the role.
func (r *nodeRoleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m nodeRoleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, m.Timeouts, "delete", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	if err := deleteRole(ctx, r.c.iam, m.ID.ValueString()); err != nil {
		resp.Diagnostics.AddError("Cannot delete IAM role", err.Error())
	}
}

// ImportState imports by role name.
func (r *nodeRoleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// attachedPolicies returns the sorted ARNs of the managed policies attached to role.
func attachedPolicies(ctx context.Context, c *iam.Client, role string) ([]string, error) {
	p := iam.NewListAttachedRolePoliciesPaginator(c, &iam.ListAttachedRolePoliciesInput{RoleName: aws.String(role)})
	var arns []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, a := range out.AttachedPolicies {
			arns = append(arns, aws.ToString(a.PolicyArn))
		}
	}
	sort.Strings(arns)
	return arns, nil
}

// deleteRole detaches managed policies, deletes inline policies and deletes the role; a role
// that is already gone is not an error.
func deleteRole(ctx context.Context, c *iam.Client, role string) error {
	attached, err := attachedPolicies(ctx, c, role)
	if isIAMNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, arn := range attached {
		if _, err := c.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: aws.String(role), PolicyArn: aws.String(arn)}); err != nil && !isIAMNotFound(err) {
			return err
		}
	}
	p := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: aws.String(role)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, name := range out.PolicyNames {
			if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)}); err != nil && !isIAMNotFound(err) {
				return err
			}
		}
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(role)}); err != nil && !isIAMNotFound(err) {
		return err
	}
	return nil
}
