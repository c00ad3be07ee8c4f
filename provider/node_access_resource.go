package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
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
	_ resource.ResourceWithConfigure   = (*nodeAccessResource)(nil)
	_ resource.ResourceWithImportState = (*nodeAccessResource)(nil)
)

// Defaults of a node role mapping (source: Amazon EKS User Guide, aws-auth ConfigMap for nodes).
const (
	defaultNodeUsername = "system:node:{{EC2PrivateDNSName}}"
	awsAuthNamespace    = "kube-system"
	awsAuthName         = "aws-auth"
)

var defaultNodeGroups = []string{"system:bootstrappers", "system:nodes"}

// NewNodeAccessResource returns karpenter_node_access: the node role's entry in the
// kube-system/aws-auth ConfigMap.
func NewNodeAccessResource() resource.Resource { return &nodeAccessResource{} }

type nodeAccessResource struct{ c *clients }

type nodeAccessModel struct {
	ID       types.String `tfsdk:"id"`
	RoleARN  types.String `tfsdk:"role_arn"`
	Username types.String `tfsdk:"username"`
	Groups   types.List   `tfsdk:"groups"`
}

// Metadata names the resource karpenter_node_access.
func (r *nodeAccessResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_node_access"
}

// Schema describes the resource.
func (r *nodeAccessResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Lets instances with the node role join the cluster: an entry in `mapRoles` of the " +
			"`kube-system/aws-auth` ConfigMap (created if absent; other entries are never changed).\n\n" +
			"**Ownership.** The resource manages only the entry it adds. Create refuses, with an error naming the entry, " +
			"when `mapRoles` already maps `role_arn` (an entry someone else made, e.g. for a managed node group sharing " +
			"the role): it is neither taken over nor, on destroy, deleted. To manage such an entry, import it. Update and " +
			"destroy touch only this resource's entry (the first for the role); another entry for the same role added " +
			"later is kept. The ConfigMap itself is never deleted.\n\n" +
			"Import by role ARN (adopts the first entry for the role, which destroy then removes).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The role ARN.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"role_arn": schema.StringAttribute{Required: true, MarkdownDescription: "ARN of the node role (without a path, as aws-auth expects).",
				Validators:    []validator.String{stringvalidator.RegexMatches(mustRegexp(roleARNPattern), "must be an IAM role ARN")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
			"username": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(defaultNodeUsername),
				MarkdownDescription: "Kubernetes user name of the nodes. Default `" + defaultNodeUsername + "`.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)}},
			"groups": schema.ListAttribute{Optional: true, Computed: true, ElementType: types.StringType,
				Default:             listdefault.StaticValue(listValue(defaultNodeGroups)),
				MarkdownDescription: "Kubernetes groups of the nodes. Default `[\"system:bootstrappers\", \"system:nodes\"]`.",
				Validators:          []validator.List{listvalidator.ValueStringsAre(stringvalidator.LengthAtLeast(1))}},
		},
	}
}

// Configure receives the provider's clients.
func (r *nodeAccessResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Create adds the role's entry; an existing entry for the role is an error (mapRoleExistsError).
func (r *nodeAccessResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
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
	m.ID = m.RoleARN
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read finds the role's entry; without it (or without the ConfigMap) the resource is gone.
func (r *nodeAccessResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
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
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Update rewrites the role's entry.
func (r *nodeAccessResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := r.write(ctx, m, upsertMapRole); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("groups"), "Cannot update kube-system/aws-auth", err.Error())
		return
	}
	m.ID = m.RoleARN
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Delete removes the role's first entry, this resource's (the ConfigMap stays).
func (r *nodeAccessResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m nodeAccessModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	err := r.modify(ctx, func(entries []map[string]any) (string, error) { return removeMapRole(entries, m.ID.ValueString()) })
	if err != nil && !apierrors.IsNotFound(err) {
		resp.Diagnostics.AddError("Cannot update kube-system/aws-auth", err.Error())
	}
}

// ImportState imports by role ARN.
func (r *nodeAccessResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
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
