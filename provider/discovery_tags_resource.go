package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
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
	ID               types.String   `tfsdk:"id"`
	ClusterName      types.String   `tfsdk:"cluster_name"`
	ResourceIDs      types.Set      `tfsdk:"resource_ids"`
	OwnedResourceIDs types.Set      `tfsdk:"owned_resource_ids"`
	Timeouts         timeouts.Value `tfsdk:"timeouts"`
}

// Metadata names the resource karpenter_discovery_tags.
func (r *discoveryTagsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_discovery_tags"
}

// Schema describes the resource.
func (r *discoveryTagsResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Tags subnets and security groups with `karpenter.sh/discovery = <cluster_name>` so that " +
			"Provisioners can select them (`subnet_selector`/`security_group_selector`).\n\n" +
			"**Ownership.** Only the resources named in `resource_ids` are looked at, never every resource carrying " +
			"the tag. A resource that already carries the tag with this value (tagged by someone else) is used as it is " +
			"and keeps its tag when removed from `resource_ids` or on destroy; only the tags this resource added " +
			"(`owned_resource_ids`) are removed. A resource whose tag has another value (another cluster's) is an " +
			"error, never overwritten. Reads check the named resources only, so a tag removed outside Terraform shows " +
			"as drift and is put back.\n\n" +
			"Import by `<cluster_name>:<id>,<id>...`; the imported ids count as added by this resource (destroy " +
			"removes their tags).",
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
			"owned_resource_ids": schema.SetAttribute{Computed: true, ElementType: types.StringType,
				MarkdownDescription: "The ids of `resource_ids` on which this resource added the tag (and so removes it); " +
					"the others were tagged by someone else before.",
				PlanModifiers: []planmodifier.Set{ownedIDsPlan{}}},
		},
		Blocks: map[string]schema.Block{"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true})},
	}
}

// Configure receives the provider's clients.
func (r *discoveryTagsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create tags the resources that do not carry the tag yet (EC2 CreateTags) and records them in
// owned_resource_ids.
func (r *discoveryTagsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m discoveryTagsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, m.Timeouts, "create", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	cluster := m.ClusterName.ValueString()
	added, err := r.tagAbsent(ctx, cluster, stringList(ctx, m.ResourceIDs, &resp.Diagnostics))
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("resource_ids"), "Cannot tag resources", err.Error())
		return
	}
	m.ID = m.ClusterName
	m.OwnedResourceIDs = setValue(added)
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read checks the tag on the resources in state (EC2 DescribeTags): those no longer tagged
// with the cluster name leave resource_ids (and owned_resource_ids), so the plan puts the tag
// back; with none left the resource is gone. State from before owned_resource_ids counts every
// resource as owned.
func (r *discoveryTagsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m discoveryTagsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cluster := m.ID.ValueString()
	ids := stringList(ctx, m.ResourceIDs, &resp.Diagnostics)
	owned := ids
	if !m.OwnedResourceIDs.IsNull() && !m.OwnedResourceIDs.IsUnknown() {
		owned = stringList(ctx, m.OwnedResourceIDs, &resp.Diagnostics)
	}
	values, err := r.tagValues(ctx, ids)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read discovery tags", err.Error())
		return
	}
	var tagged []string
	for _, id := range ids {
		if v, ok := values[id]; ok && v == cluster {
			tagged = append(tagged, id)
		}
	}
	if len(tagged) == 0 { // none tagged any more: the resource is gone
		resp.State.RemoveResource(ctx)
		return
	}
	m.ClusterName = types.StringValue(cluster)
	m.ResourceIDs = setValue(tagged)
	m.OwnedResourceIDs = setValue(intersect(owned, tagged))
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update removes the tag from removed resources this resource tagged, and tags added ones that
// do not carry it yet.
func (r *discoveryTagsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state discoveryTagsModel
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
	want := stringList(ctx, plan.ResourceIDs, &resp.Diagnostics)
	had := stringList(ctx, state.ResourceIDs, &resp.Diagnostics)
	owned := stringList(ctx, state.OwnedResourceIDs, &resp.Diagnostics)
	cluster := plan.ClusterName.ValueString()
	if err := r.untag(ctx, cluster, intersect(minus(had, want), owned)); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("resource_ids"), "Cannot untag resources", err.Error())
		return
	}
	added, err := r.tagAbsent(ctx, cluster, minus(want, had))
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("resource_ids"), "Cannot tag resources", err.Error())
		return
	}
	plan.ID = plan.ClusterName
	plan.OwnedResourceIDs = setValue(append(intersect(owned, want), added...))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// Delete removes the tag from the resources this resource tagged (only where its value is
// still the cluster name).
func (r *discoveryTagsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m discoveryTagsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := opContext(ctx, m.Timeouts, "delete", &resp.Diagnostics)
	defer cancel()
	if resp.Diagnostics.HasError() {
		return
	}
	owned := stringList(ctx, m.ResourceIDs, &resp.Diagnostics)
	if !m.OwnedResourceIDs.IsNull() {
		owned = stringList(ctx, m.OwnedResourceIDs, &resp.Diagnostics)
	}
	if err := r.untag(ctx, m.ClusterName.ValueString(), owned); err != nil {
		resp.Diagnostics.AddError("Cannot untag resources", err.Error())
	}
}

// ImportState imports `<cluster_name>:<id>,<id>...`; the ids count as owned.
func (r *discoveryTagsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	cluster, list, ok := strings.Cut(req.ID, ":")
	ids := strings.Split(list, ",")
	valid := ok && cluster != "" && list != ""
	for _, id := range ids {
		valid = valid && ec2IDRegexp.MatchString(id)
	}
	if !valid {
		resp.Diagnostics.AddError("Invalid import id", fmt.Sprintf("%q: want <cluster_name>:<id>,<id>... with subnet-... "+
			"or sg-... ids, e.g. demo:subnet-0abc,sg-0def (only the named resources are managed)", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), cluster)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("resource_ids"), setValue(ids))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("owned_resource_ids"), setValue(ids))...)
}

// ownedIDsPlan plans owned_resource_ids: the prior value while resource_ids and cluster_name
// are unchanged, unknown otherwise.
type ownedIDsPlan struct{}

func (ownedIDsPlan) Description(context.Context) string {
	return "Unchanged unless resource_ids or cluster_name change."
}

func (p ownedIDsPlan) MarkdownDescription(ctx context.Context) string { return p.Description(ctx) }

func (ownedIDsPlan) PlanModifySet(ctx context.Context, req planmodifier.SetRequest, resp *planmodifier.SetResponse) {
	if req.State.Raw.IsNull() || req.Plan.Raw.IsNull() || req.StateValue.IsNull() {
		return
	}
	var plan, state discoveryTagsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if !resp.Diagnostics.HasError() && plan.ResourceIDs.Equal(state.ResourceIDs) && plan.ClusterName.Equal(state.ClusterName) {
		resp.PlanValue = req.StateValue
	}
}

// ec2IDPattern matches subnet and security group ids.
const ec2IDPattern = `^(subnet|sg)-[0-9a-f]+$`

// ec2IDRegexp is ec2IDPattern compiled.
var ec2IDRegexp = mustRegexp(ec2IDPattern)

// tagAbsent tags those of ids that do not carry the discovery tag and returns them; ids tagged
// with cluster already are left alone, and ids tagged for another cluster are an error.
func (r *discoveryTagsResource) tagAbsent(ctx context.Context, cluster string, ids []string) ([]string, error) {
	values, err := r.tagValues(ctx, ids)
	if err != nil {
		return nil, err
	}
	var absent, foreign []string
	for _, id := range ids {
		v, ok := values[id]
		switch {
		case !ok:
			absent = append(absent, id)
		case v != cluster:
			foreign = append(foreign, fmt.Sprintf("%s (%s=%s)", id, v1alpha5.DiscoveryTagKey, v))
		}
	}
	if len(foreign) > 0 {
		return nil, fmt.Errorf("already tagged for another cluster, not overwritten: %s", strings.Join(foreign, ", "))
	}
	if len(absent) == 0 {
		return nil, nil
	}
	_, err = r.c.ec2.CreateTags(ctx, &ec2.CreateTagsInput{
		Resources: absent,
		Tags:      []ec2types.Tag{{Key: aws.String(v1alpha5.DiscoveryTagKey), Value: aws.String(cluster)}},
	})
	return absent, err
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

// tagValues returns the value of the discovery tag of each of ids that has it (EC2
// DescribeTags filtered by resource id and key).
func (r *discoveryTagsResource) tagValues(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	p := ec2.NewDescribeTagsPaginator(r.c.ec2, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("resource-id"), Values: ids},
		{Name: aws.String("key"), Values: []string{v1alpha5.DiscoveryTagKey}},
	}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range page.Tags {
			out[aws.ToString(t.ResourceId)] = aws.ToString(t.Value)
		}
	}
	return out, nil
}

// intersect returns the elements of a that are in b.
func intersect(a, b []string) []string {
	return minus(a, minus(a, b))
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
