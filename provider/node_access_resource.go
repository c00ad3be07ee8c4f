package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

var (
	_ resource.ResourceWithConfigure      = (*nodeAccessResource)(nil)
	_ resource.ResourceWithImportState    = (*nodeAccessResource)(nil)
	_ resource.ResourceWithValidateConfig = (*nodeAccessResource)(nil)
)

// Methods of karpenter_node_access.
const (
	nodeAccessAWSAuth     = "aws_auth"
	nodeAccessAccessEntry = "access_entry"
)

// Default timeouts of karpenter_node_access.
const defaultNodeAccessTimeout = 5 * time.Minute

// Defaults of a node role mapping (source: Amazon EKS User Guide, aws-auth ConfigMap for nodes).
const (
	defaultNodeUsername = "system:node:{{EC2PrivateDNSName}}"
	awsAuthNamespace    = "kube-system"
	awsAuthName         = "aws-auth"
)

var defaultNodeGroups = []string{"system:bootstrappers", "system:nodes"}

// NewNodeAccessResource returns karpenter_node_access: the node role's entry in the
// kube-system/aws-auth ConfigMap, or its EKS access entry of type EC2_LINUX.
func NewNodeAccessResource() resource.Resource { return &nodeAccessResource{} }

type nodeAccessResource struct{ c *clients }

type nodeAccessModel struct {
	ID             types.String   `tfsdk:"id"`
	RoleARN        types.String   `tfsdk:"role_arn"`
	Method         types.String   `tfsdk:"method"`
	ClusterName    types.String   `tfsdk:"cluster_name"`
	Username       types.String   `tfsdk:"username"`
	Groups         types.List     `tfsdk:"groups"`
	AccessEntryARN types.String   `tfsdk:"access_entry_arn"`
	Timeouts       timeouts.Value `tfsdk:"timeouts"`
}

// Metadata names the resource karpenter_node_access.
func (r *nodeAccessResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_access"
}

// Schema describes the resource.
func (r *nodeAccessResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lets instances with the node role join the cluster, by one of two methods (Amazon EKS User Guide, " +
			"\"Grant IAM users access to Kubernetes\"):\n\n" +
			"- `aws_auth` (default): an entry in `mapRoles` of the `kube-system/aws-auth` ConfigMap (created if absent; " +
			"other entries are never changed). Clusters in authentication mode `CONFIG_MAP` or `API_AND_CONFIG_MAP`.\n" +
			"- `access_entry`: an EKS access entry of type `EC2_LINUX` for the role in `cluster_name` (EKS gives it the " +
			"user `system:node:{{EC2PrivateDNSName}}` and the node groups). Clusters in authentication mode `API` or " +
			"`API_AND_CONFIG_MAP`; a cluster in `API` mode ignores aws-auth.\n\n" +
			"**Ownership.** The resource manages only the entry it adds. Create refuses, with an error naming the entry, " +
			"when `mapRoles` already maps `role_arn`, or the cluster already has an access entry for it (an entry someone " +
			"else made, e.g. for a managed node group sharing the role): it is neither taken over nor, on destroy, deleted. " +
			"To manage such an entry, import it. Update and destroy touch only this resource's entry (for aws-auth the first " +
			"for the role; another entry for the same role added later is kept). The ConfigMap itself is never deleted.\n\n" +
			"Import by role ARN for aws-auth (adopts the first entry for the role, which destroy then removes), or by " +
			"`<cluster_name>:<role_arn>` for an access entry.",
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The role ARN (aws_auth), or `<cluster_name>:<role_arn>` (access_entry).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"role_arn": schema.StringAttribute{Required: true, MarkdownDescription: "ARN of the node role (without a path, as aws-auth expects).",
				Validators:    []validator.String{stringvalidator.RegexMatches(mustRegexp(roleARNPattern), "must be an IAM role ARN")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"method": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(nodeAccessAWSAuth),
				MarkdownDescription: "How nodes are let in: `aws_auth` (default) or `access_entry`. Changing it replaces the resource.",
				Validators:          []validator.String{stringvalidator.OneOf(nodeAccessAWSAuth, nodeAccessAccessEntry)},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"cluster_name": schema.StringAttribute{Optional: true,
				MarkdownDescription: "EKS cluster of the access entry; required with `method = \"access_entry\"`, not allowed otherwise.",
				Validators:          []validator.String{stringvalidator.RegexMatches(mustRegexp(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$`), "must be an EKS cluster name")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"access_entry_arn": schema.StringAttribute{Computed: true,
				MarkdownDescription: "ARN of the access entry (access_entry only); a new one when the entry is made again."},
			"username": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultNodeUsername),
				MarkdownDescription: "Kubernetes user name of the nodes (aws_auth only; an EC2_LINUX access entry always has this one). Default `" + defaultNodeUsername + "`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)}},
			"groups": schema.ListAttribute{Optional: true, Computed: true, ElementType: types.StringType,
				Default:             listdefault.StaticValue(listValue(defaultNodeGroups)),
				MarkdownDescription: "Kubernetes groups of the nodes (aws_auth only). Default `[\"system:bootstrappers\", \"system:nodes\"]`.",
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
		},
	}
}

// Configure receives the provider's clients.
func (r *nodeAccessResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the attributes that go with the method: cluster_name with
// access_entry only; username and groups with aws_auth only.
func (r *nodeAccessResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.Method.IsUnknown() {
		return
	}
	if m.Method.ValueString() == nodeAccessAccessEntry {
		if m.ClusterName.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("cluster_name"), "Missing cluster_name", `method = "access_entry" needs the EKS cluster's name`)
		}
		for name, v := range map[string]attr.Value{"username": m.Username, "groups": m.Groups} {
			if !v.IsNull() {
				resp.Diagnostics.AddAttributeError(path.Root(name), "Not used with access_entry",
					"EKS gives an EC2_LINUX access entry the user system:node:{{EC2PrivateDNSName}} and the node groups; remove "+name)
			}
		}
		return
	}
	if !m.ClusterName.IsNull() && !m.ClusterName.IsUnknown() {
		resp.Diagnostics.AddAttributeError(path.Root("cluster_name"), "Not used with aws_auth", `cluster_name is used only with method = "access_entry"`)
	}
}

// Create adds the role's entry; an existing entry for the role is an error (mapRoleExistsError,
// or EKS ResourceInUseException).
func (r *nodeAccessResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, m.Timeouts.Create, defaultNodeAccessTimeout, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()
	if m.Method.ValueString() == nodeAccessAccessEntry {
		r.createAccessEntry(ctx, &m, &resp.Diagnostics)
		if !resp.Diagnostics.HasError() {
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		}
		return
	}
	if err := r.write(ctx, m, addMapRole); err != nil {
		var exists *mapRoleExistsError
		if errors.As(err, &exists) {
			resp.Diagnostics.AddAttributeError(path.Root("role_arn"), "aws-auth already maps this role", err.Error())
			return
		}
		resp.Diagnostics.AddAttributeError(path.Root("role_arn"), "Cannot update kube-system/aws-auth", err.Error())
		return
	}
	m.ID, m.AccessEntryARN = m.RoleARN, types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read finds the role's entry; without it (or without the ConfigMap) the resource is gone.
func (r *nodeAccessResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Method.IsNull() || m.Method.ValueString() == "" { // state of an earlier version
		m.Method = types.StringValue(nodeAccessAWSAuth)
	}
	if m.Method.ValueString() == nodeAccessAccessEntry {
		if found := r.readAccessEntry(ctx, &m, &resp.Diagnostics); !found && !resp.Diagnostics.HasError() {
			resp.State.RemoveResource(ctx)
			return
		}
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		return
	}
	kc, err := r.c.kube()
	if err != nil {
		resp.Diagnostics.AddError("Kubernetes client", err.Error())
		return
	}
	var cm corev1.ConfigMap
	err = kc.Get(ctx, client.ObjectKey{Namespace: awsAuthNamespace, Name: awsAuthName}, &cm)
	if apierrors.IsNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read kube-system/aws-auth", err.Error())
		return
	}
	entries, err := parseMapRoles(cm.Data["mapRoles"])
	if err != nil {
		resp.Diagnostics.AddError("Cannot parse kube-system/aws-auth", err.Error())
		return
	}
	role, ok := findMapRole(entries, m.ID.ValueString())
	if !ok {
		resp.State.RemoveResource(ctx)
		return
	}
	m.RoleARN, m.Username, m.Groups = m.ID, types.StringValue(role.Username), listValue(role.Groups)
	m.AccessEntryARN = types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update rewrites the role's entry (an access entry changed outside Terraform is put back).
func (r *nodeAccessResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, m.Timeouts.Update, defaultNodeAccessTimeout, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()
	if m.Method.ValueString() == nodeAccessAccessEntry {
		r.replaceAccessEntry(ctx, &m, &resp.Diagnostics)
		if !resp.Diagnostics.HasError() {
			resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		}
		return
	}
	if err := r.write(ctx, m, upsertMapRole); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("groups"), "Cannot update kube-system/aws-auth", err.Error())
		return
	}
	m.ID, m.AccessEntryARN = m.RoleARN, types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Delete removes this resource's entry: the role's access entry, or its first aws-auth entry
// (the ConfigMap stays).
func (r *nodeAccessResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, m.Timeouts.Delete, defaultNodeAccessTimeout, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()
	if m.Method.ValueString() == nodeAccessAccessEntry {
		r.deleteAccessEntry(ctx, m, &resp.Diagnostics)
		return
	}
	err := r.modify(ctx, func(entries []map[string]any) (string, error) { return removeMapRole(entries, m.ID.ValueString()) })
	if err != nil && !apierrors.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot update kube-system/aws-auth", err.Error())
	}
}

// ImportState imports by role ARN (aws_auth) or <cluster_name>:<role_arn> (access_entry).
func (r *nodeAccessResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	id := req.ID
	if strings.HasPrefix(id, "arn:") {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("method"), nodeAccessAWSAuth)...)
		return
	}
	cluster, role, ok := strings.Cut(id, ":")
	if !ok || cluster == "" || !strings.HasPrefix(role, "arn:") {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("%q is neither a role ARN (aws-auth entry) nor <cluster_name>:<role_arn> (access entry)", id))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("method"), nodeAccessAccessEntry)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("cluster_name"), cluster)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("role_arn"), role)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("username"), defaultNodeUsername)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("groups"), defaultNodeGroups)...)
}

// write puts m's entry into mapRoles with put (addMapRole or upsertMapRole), creating the
// ConfigMap if needed.
func (r *nodeAccessResource) write(ctx context.Context, m nodeAccessModel, put func([]map[string]any, awsAuthRole) (string, error)) error {
	var groups []string
	if d := m.Groups.ElementsAs(ctx, &groups, false); d.HasError() {
		return fmt.Errorf("groups: %v", d)
	}
	role := awsAuthRole{RoleARN: m.RoleARN.ValueString(), Username: m.Username.ValueString(), Groups: groups}
	err := r.modify(ctx, func(entries []map[string]any) (string, error) { return put(entries, role) })
	if !apierrors.IsNotFound(err) {
		return err
	}
	kc, err := r.c.kube()
	if err != nil {
		return err
	}
	data, err := put(nil, role)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: awsAuthNamespace, Name: awsAuthName}, Data: map[string]string{"mapRoles": data}}
	if err := kc.Create(ctx, cm, client.FieldOwner(fieldOwner)); apierrors.IsAlreadyExists(err) {
		return r.write(ctx, m, put) // created concurrently: merge into it
	} else if err != nil {
		return err
	}
	return nil
}

// modify rewrites mapRoles with edit under optimistic concurrency (retried on conflict). It
// returns the NotFound error if the ConfigMap does not exist.
func (r *nodeAccessResource) modify(ctx context.Context, edit func([]map[string]any) (string, error)) error {
	kc, err := r.c.kube()
	if err != nil {
		return err
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cm corev1.ConfigMap
		if err := kc.Get(ctx, client.ObjectKey{Namespace: awsAuthNamespace, Name: awsAuthName}, &cm); err != nil {
			return err
		}
		entries, err := parseMapRoles(cm.Data["mapRoles"])
		if err != nil {
			return err
		}
		data, err := edit(entries)
		if err != nil {
			return err
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		if data == "" {
			delete(cm.Data, "mapRoles")
		} else {
			cm.Data["mapRoles"] = data
		}
		return kc.Update(ctx, &cm, client.FieldOwner(fieldOwner))
	})
}
