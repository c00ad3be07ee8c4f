package provider

import (
	"context"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
)

var (
	_ resource.ResourceWithConfigure   = (*discoveryTagsResource)(nil)
	_ resource.ResourceWithImportState = (*discoveryTagsResource)(nil)
)

// NewDiscoveryTagsResource returns karpenter_discovery_tags: the tag
// karpenter.sh/discovery=<cluster_name> on a set of subnets and security groups.
func NewDiscoveryTagsResource() resource.Resource { return &discoveryTagsResource{} }

type discoveryTagsResource struct{ c *clients }

type discoveryTagsModel struct {
	ID          types.String `tfsdk:"id"`
	ClusterName types.String `tfsdk:"cluster_name"`
	ResourceIDs types.Set    `tfsdk:"resource_ids"`
}

// Metadata names the resource karpenter_discovery_tags.
func (r *discoveryTagsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_discovery_tags"
}

// Schema describes the resource.
func (r *discoveryTagsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Tags subnets and security groups with `karpenter.sh/discovery = <cluster_name>` so that " +
			"Provisioners can select them (`subnet_selector`/`security_group_selector`). Reads list every live " +
			"subnet and security group carrying the tag, so tagging or untagging outside Terraform shows as drift. " +
			"Import by cluster name.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The cluster name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"cluster_name": schema.StringAttribute{Required: true, MarkdownDescription: "Cluster name: the tag value.",
				Validators:    []validator.String{stringvalidator.LengthBetween(1, 100)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"resource_ids": schema.SetAttribute{Required: true, ElementType: types.StringType,
				MarkdownDescription: "Ids of the subnets (`subnet-...`) and security groups (`sg-...`) to tag.",
				Validators: []validator.Set{setvalidator.SizeAtLeast(1), setvalidator.ValueStringsAre(
					stringvalidator.RegexMatches(mustRegexp(ec2IDPattern), "must be a subnet (subnet-...) or security group (sg-...) id"))}},
		},
	}
}

// Configure receives the provider's clients.
func (r *discoveryTagsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create tags every resource (EC2 CreateTags).
func (r *discoveryTagsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m discoveryTagsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ids := stringList(ctx, m.ResourceIDs, &resp.Diagnostics)
	if err := r.tag(ctx, m.ClusterName.ValueString(), ids); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("resource_ids"), "Cannot tag resources", err.Error())
		return
	}
	m.ID = m.ClusterName
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read lists the subnets and security groups tagged for the cluster (EC2 DescribeTags). None
// tagged means the resource is gone.
func (r *discoveryTagsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m discoveryTagsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cluster := m.ID.ValueString()
	ids, err := r.tagged(ctx, cluster)
	if err != nil {
		resp.Diagnostics.AddError("Cannot list discovery tags", err.Error())
		return
	}
	if len(ids) == 0 {
		resp.State.RemoveResource(ctx)
		return
	}
	m.ClusterName = types.StringValue(cluster)
	m.ResourceIDs = setValue(ids)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update tags added resources and untags removed ones.
func (r *discoveryTagsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state discoveryTagsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	want := stringList(ctx, plan.ResourceIDs, &resp.Diagnostics)
	had := stringList(ctx, state.ResourceIDs, &resp.Diagnostics)
	cluster := plan.ClusterName.ValueString()
	if err := r.untag(ctx, cluster, minus(had, want)); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("resource_ids"), "Cannot untag resources", err.Error())
		return
	}
	if err := r.tag(ctx, cluster, want); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("resource_ids"), "Cannot tag resources", err.Error())
		return
	}
	plan.ID = plan.ClusterName
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete removes the tag (only where its value is still the cluster name).
func (r *discoveryTagsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m discoveryTagsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.untag(ctx, m.ClusterName.ValueString(), stringList(ctx, m.ResourceIDs, &resp.Diagnostics)); err != nil {
		resp.Diagnostics.AddError("Cannot untag resources", err.Error())
	}
}

// ImportState imports by cluster name.
func (r *discoveryTagsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// ec2IDPattern matches subnet and security group ids.
const ec2IDPattern = `^(subnet|sg)-[0-9a-f]+$`

func (r *discoveryTagsResource) tag(ctx context.Context, cluster string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := r.c.ec2.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: ids,
		Tags:      []ec2types.Tag{{Key: aws.String(v1alpha5.DiscoveryTagKey), Value: aws.String(cluster)}},
	})
	return err
}

func (r *discoveryTagsResource) untag(ctx context.Context, cluster string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := r.c.ec2.DeleteTags(ctx, &ec2.DeleteTagsInput{
		Resources: ids,
		Tags:      []ec2types.Tag{{Key: aws.String(v1alpha5.DiscoveryTagKey), Value: aws.String(cluster)}},
	})
	return err
}

// tagged returns the sorted ids of subnets and security groups tagged for cluster.
func (r *discoveryTagsResource) tagged(ctx context.Context, cluster string) ([]string, error) {
	p := ec2.NewDescribeTagsPaginator(r.c.ec2, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("key"), Values: []string{v1alpha5.DiscoveryTagKey}},
		{Name: aws.String("value"), Values: []string{cluster}},
		{Name: aws.String("resource-type"), Values: []string{"subnet", "security-group"}},
	}})
	var ids []string
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range out.Tags {
			ids = append(ids, aws.ToString(t.ResourceId))
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// minus returns the elements of a that are not in b.
func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, v := range b {
		in[v] = true
	}
	var out []string
	for _, v := range a {
		if !in[v] {
			out = append(out, v)
		}
	}
	return out
}
