package provider

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var (
	_ resource.ResourceWithConfigure      = (*controllerRoleResource)(nil)
	_ resource.ResourceWithImportState    = (*controllerRoleResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*controllerRoleResource)(nil)
	_ resource.ResourceWithValidateConfig = (*controllerRoleResource)(nil)
)

// NewControllerRoleResource returns karpenter_controller_role: the IAM role of the controller's
// service account (IRSA), its least-privilege policy and the cluster's OIDC provider.
func NewControllerRoleResource() resource.Resource { return &controllerRoleResource{} }

type controllerRoleResource struct{ c *clients }

type controllerRoleModel struct {
	ID                       types.String   `tfsdk:"id"`
	Name                     types.String   `tfsdk:"name"`
	ClusterName              types.String   `tfsdk:"cluster_name"`
	OIDCIssuerURL            types.String   `tfsdk:"oidc_issuer_url"`
	ServiceAccountNamespace  types.String   `tfsdk:"service_account_namespace"`
	ServiceAccountName       types.String   `tfsdk:"service_account_name"`
	NodeRoleARN              types.String   `tfsdk:"node_role_arn"`
	Tags                     types.Map      `tfsdk:"tags"`
	ARN                      types.String   `tfsdk:"arn"`
	PolicyARN                types.String   `tfsdk:"policy_arn"`
	PolicyJSON               types.String   `tfsdk:"policy_json"`
	OIDCProviderARN          types.String   `tfsdk:"oidc_provider_arn"`
	OIDCProviderCreated      types.Bool     `tfsdk:"oidc_provider_created"`
	Identity                 types.String   `tfsdk:"identity"`
	PodIdentityAssociationID types.String   `tfsdk:"pod_identity_association_id"`
	Timeouts                 timeouts.Value `tfsdk:"timeouts"`
}

// Default timeout of each karpenter_controller_role operation.
const defaultControllerRoleTimeout = 5 * time.Minute

// privateOIDCCreated is the private state key that earlier versions set when the resource
// created the OIDC provider; oidc_provider_created replaced it (Terraform drops private state
// of a failed, tainted create). Read still honours it for state written by those versions.
const privateOIDCCreated = "oidc_provider_created"

// Metadata names the resource karpenter_controller_role.
func (r *controllerRoleResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_controller_role"
}

// Schema describes the resource.
func (r *controllerRoleResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	k8sName := []validator.String{stringvalidator.RegexMatches(mustRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`), "must be a DNS-1123 label"), stringvalidator.LengthAtMost(63)}
	resp.Schema = schema.Schema{
		MarkdownDescription: "IAM role for the controller's Kubernetes service account (IAM roles for service accounts): " +
			"trust on the cluster's IAM OIDC provider limited to `system:serviceaccount:<namespace>:<name>` and audience " +
			"`sts.amazonaws.com`, and a customer managed least-privilege policy of the same name attached. The policy " +
			"lets the controller launch only into subnets and security groups tagged `karpenter.sh/discovery = <cluster_name>` " +
			"(as `karpenter_discovery_tags` writes), from launch templates tagged `karpenter.sh/cluster = <cluster_name>`, " +
			"creating only resources carrying that tag, and pass only the node role, to EC2.\n\n" +
			"**Ownership.** The OIDC provider is created only if the account has none for the issuer " +
			"(`oidc_provider_created = true`); an existing one is adopted and never deleted. Even one this resource " +
			"created is kept on destroy, with a warning, while another role's trust policy names it (other IAM roles " +
			"for service accounts of the cluster depend on it).\n\n" +
			"**EKS Pod Identity.** With `identity = \"pod_identity\"` the role instead trusts the service principal " +
			"`pods.eks.amazonaws.com` (`sts:AssumeRole` and `sts:TagSession`), no OIDC provider is used, and an EKS Pod Identity " +
			"association binds the role to `<service_account_namespace>/<service_account_name>` in `cluster_name` (the EKS Pod " +
			"Identity Agent add-on must run on the cluster). The resource deletes only the association it created; an existing " +
			"association for the service account is refused.\n\n" +
			"**Moving the controller.** Terraform updates this role before `karpenter_controller` moves to a new namespace or " +
			"service account, and a move that fails puts the old installation back. So a change of `service_account_namespace` " +
			"or `service_account_name` while a `karpenter_controller` runs as the previous service account with this role hands the role over " +
			"rather than switching it (without one it switches at once): the role keeps trusting the previous " +
			"service account as well (IRSA: a second trust statement with Sid `PreviousServiceAccount`; Pod Identity: the " +
			"previous association is kept) and carries the tag `terraform-provider-karpenter/previous-service-account = " +
			"<namespace>/<name>` (neither shows in `tags` or the plan). `karpenter_controller` ends the hand-over as soon as it " +
			"runs under the new service account; a hand-over left after that shows in its `missing_objects`. Changing " +
			"`identity` together with the service account is refused at plan while such a controller runs (apply one, then the " +
			"other). Destroy deletes the kept association too.\n\n" +
			"Import by role name (an imported role has `oidc_provider_created = false`: it never deletes the provider; a Pod " +
			"Identity role's association is found by its role ARN).",
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
		Attributes: map[string]schema.Attribute{
			"identity": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString(identityIRSA),
				MarkdownDescription: "How the controller's pods get the role: `irsa` (default; IAM roles for service accounts, " +
					"trust on the cluster's OIDC provider) or `pod_identity` (EKS Pod Identity). Changing it updates the role in " +
					"place (same name and ARN, so there is no moment without a role): the trust policy is rewritten, the Pod " +
					"Identity association is created or deleted, and an OIDC provider this resource created is deleted when " +
					"switching to `pod_identity` unless another role trusts it. Running controller pods keep the credentials " +
					"they started with: `karpenter_controller` rolls them when `controller_role_arn` changes.",
				Validators: []validator.String{stringvalidator.OneOf(identityIRSA, identityPodIdentity)}},
			"pod_identity_association_id": schema.StringAttribute{Computed: true,
				MarkdownDescription: "ID of the EKS Pod Identity association this resource created (`pod_identity` only); a new one when the association is made again."},
			"id": schema.StringAttribute{Computed: true, MarkdownDescription: "The role name.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"name": iamNameAttribute("Role name; the policy gets the same name."),
			"cluster_name": schema.StringAttribute{Required: true, MarkdownDescription: "EKS cluster name: scopes the policy (tag `karpenter.sh/cluster`, `eks:DescribeCluster`).",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 100)}},
			"oidc_issuer_url": schema.StringAttribute{Optional: true, Computed: true,
				MarkdownDescription: "OIDC issuer URL of the cluster (`https://...`). Default: looked up with EKS `DescribeCluster`.",
				Validators:          []validator.String{stringvalidator.RegexMatches(mustRegexp(`^https://[^\s]+$`), "must be an https URL")},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"service_account_namespace": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("karpenter"),
				MarkdownDescription: "Namespace of the controller's service account. Default `karpenter`.", Validators: k8sName},
			"service_account_name": schema.StringAttribute{Optional: true, Computed: true, Default: stringdefault.StaticString("karpenter"),
				MarkdownDescription: "Name of the controller's service account. Default `karpenter`.",
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 253)}},
			"node_role_arn": schema.StringAttribute{Required: true, MarkdownDescription: "ARN of the node role the controller may pass to EC2 (`iam:PassRole`).",
				Validators: []validator.String{stringvalidator.RegexMatches(mustRegexp(roleARNPattern), "must be an IAM role ARN")}},
			"tags": tagsAttribute(),
			"arn": schema.StringAttribute{Computed: true, MarkdownDescription: "Role ARN (for the service account annotation `eks.amazonaws.com/role-arn`).",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"policy_arn": schema.StringAttribute{Computed: true, MarkdownDescription: "ARN of the controller policy.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"policy_json": schema.StringAttribute{Computed: true, MarkdownDescription: "The controller policy document (JSON), computed from the inputs; an edit outside Terraform shows as drift."},
			"oidc_provider_arn": schema.StringAttribute{Computed: true, MarkdownDescription: "ARN of the IAM OIDC provider the role trusts.",
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"oidc_provider_created": schema.BoolAttribute{Computed: true,
				MarkdownDescription: "Whether this resource created the OIDC provider (and so deletes it on destroy unless " +
					"another role trusts it). False when the provider existed before (adopted) and after an import."},
		},
	}
}

// Configure receives the provider's clients.
func (r *controllerRoleResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan plans policy_json as the policy the inputs call for, so that a policy edited
// outside Terraform (seen by Read) is planned back.
func (r *controllerRoleResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.c == nil {
		return
	}
	var m controllerRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() || m.ClusterName.IsUnknown() || m.NodeRoleARN.IsUnknown() {
		return
	}
	if !req.State.Raw.IsNull() { // an identity change updates in place: the OIDC attributes follow it
		var state, config controllerRoleModel
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
		if resp.Diagnostics.HasError() {
			return
		}
		had := serviceAccountRef(state.ServiceAccountNamespace.ValueString(), state.ServiceAccountName.ValueString())
		if !m.Identity.IsUnknown() && !m.Identity.Equal(state.Identity) && !m.ServiceAccountNamespace.IsUnknown() && !m.ServiceAccountName.IsUnknown() &&
			serviceAccountRef(m.ServiceAccountNamespace.ValueString(), m.ServiceAccountName.ValueString()) != had &&
			r.c.controllerRunsAs(ctx, state.ClusterName.ValueString(), had, state.ARN.ValueString(), state.Identity.ValueString()) {
			// No hand-over across identities (controller_handover.go): a move that failed would
			// leave the restored controller with credentials the role no longer accepts.
			resp.Diagnostics.AddAttributeError(path.Root("identity"), "Change identity and the service account in separate applies",
				fmt.Sprintf("A karpenter_controller runs as service account %s with this role (%s). Changing identity (%s to %s) and the "+
					"service account (to %s/%s) in one apply would leave it without AWS credentials if its move failed. Apply the identity "+
					"change first, then the new namespace or service account name (or the other way round).", had, state.Identity.ValueString(),
					state.Identity.ValueString(), m.Identity.ValueString(), m.ServiceAccountNamespace.ValueString(), m.ServiceAccountName.ValueString()))
			return
		}
		if !m.Identity.IsUnknown() && !m.Identity.Equal(state.Identity) {
			issuer, provider := types.StringUnknown(), types.StringUnknown()
			if m.podIdentity() {
				issuer, provider = types.StringNull(), types.StringNull()
			} else if !config.OIDCIssuerURL.IsNull() {
				issuer = config.OIDCIssuerURL
			}
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("oidc_issuer_url"), issuer)...)
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("oidc_provider_arn"), provider)...)
		} else if m.Identity.Equal(state.Identity) {
			// Same identity: an update keeps an OIDC provider it created (Update: created before
			// and still the one trusted; the issuer decides the provider's ARN), and keeps the
			// Pod Identity association while it binds the same service account (IRSA: none).
			// Values Update could still change (an adopted provider gone, an association
			// deleted out of band) stay unknown.
			if m.OIDCIssuerURL.Equal(state.OIDCIssuerURL) && state.OIDCProviderCreated.ValueBool() {
				resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("oidc_provider_created"), state.OIDCProviderCreated)...)
			}
			switch {
			case !m.podIdentity():
				resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("pod_identity_association_id"), types.StringNull())...)
			case !state.PodIdentityAssociationID.IsNull() && m.ServiceAccountNamespace.Equal(state.ServiceAccountNamespace) &&
				m.ServiceAccountName.Equal(state.ServiceAccountName):
				resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("pod_identity_association_id"), state.PodIdentityAssociationID)...)
			}
		}
	}
	doc, err := r.policy(ctx, m)
	if err != nil {
		return // decided at apply time (e.g. credentials not available during plan)
	}
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("policy_json"), doc.JSON())...)
}

// Create ensures the OIDC provider, creates the role, the policy, and attaches it.
func (r *controllerRoleResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m controllerRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, m.Timeouts.Create, defaultControllerRoleTimeout, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()
	trust, providerARN, created := r.trustFor(ctx, &m, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	m.OIDCProviderCreated = types.BoolValue(created)
	m.PodIdentityAssociationID = types.StringNull()
	name := m.Name.ValueString()
	out, err := r.c.iam.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust.JSON()),
		Description: aws.String("Karpenter controller role (managed by Terraform)"),
		Tags:        iamTags(r.c.withDefaultTags(stringMap(ctx, m.Tags, &resp.Diagnostics))),
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Cannot create IAM role", err.Error())
		if created { // nothing in state will remember it: remove what this create made
			_, _ = r.c.iam.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN)})
		}
		return
	}
	m.ID, m.ARN, m.OIDCProviderARN = m.Name, types.StringValue(aws.ToString(out.Role.Arn)), optString(providerARN)
	m.PolicyARN, m.PolicyJSON = types.StringNull(), types.StringNull()
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
	doc, err := r.policy(ctx, m)
	if err != nil {
		resp.Diagnostics.AddError("Cannot compute the controller policy", err.Error())
		return
	}
	pol, err := r.c.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{
		PolicyName: aws.String(name), PolicyDocument: aws.String(doc.JSON()),
		Description: aws.String("Karpenter controller policy for cluster " + m.ClusterName.ValueString()),
		Tags:        iamTags(r.c.withDefaultTags(stringMap(ctx, m.Tags, &resp.Diagnostics))),
	})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("policy_json"), "Cannot create the controller policy", err.Error())
		return
	}
	m.PolicyARN = types.StringValue(aws.ToString(pol.Policy.Arn))
	if _, err := r.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: pol.Policy.Arn}); err != nil {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		resp.Diagnostics.AddAttributeError(path.Root("policy_arn"), "Cannot attach the controller policy", err.Error())
		return
	}
	m.PolicyJSON = types.StringValue(doc.JSON())
	if m.podIdentity() {
		resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
		r.createPodIdentityAssociation(ctx, &m, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// trustFor returns the trust policy m calls for: EKS Pod Identity's, or IRSA's on the
// cluster's OIDC provider (created if the account has none: created is then true).
func (r *controllerRoleResource) trustFor(ctx context.Context, m *controllerRoleModel, diags *diag.Diagnostics) (trust PolicyDocument, providerARN string, created bool) {
	if m.podIdentity() {
		m.OIDCIssuerURL = types.StringNull()
		return PodIdentityTrustPolicy(), "", false
	}
	issuer, d := r.issuer(ctx, *m)
	if diags.Append(d...); diags.HasError() {
		return trust, "", false
	}
	m.OIDCIssuerURL = types.StringValue(issuer)
	providerARN, created, err := r.ensureOIDCProvider(ctx, issuer)
	if err != nil {
		diags.AddAttributeError(path.Root("oidc_issuer_url"), "Cannot create the IAM OIDC provider", err.Error())
		return trust, "", false
	}
	return OIDCTrustPolicy(providerARN, issuer, m.ServiceAccountNamespace.ValueString(), m.ServiceAccountName.ValueString()), providerARN, created
}

// ValidateConfig refuses oidc_issuer_url with identity = "pod_identity" (Pod Identity uses no
// OIDC provider).
func (r *controllerRoleResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m controllerRoleModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if !resp.Diagnostics.HasError() && m.podIdentity() && !m.OIDCIssuerURL.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("oidc_issuer_url"), "Not used with pod_identity",
			`EKS Pod Identity needs no OIDC provider: remove oidc_issuer_url, or use identity = "irsa"`)
	}
}

// Read refreshes the role (trust -> issuer and service account), its tags and the default
// version of the policy (-> cluster name, node role and policy_json).
func (r *controllerRoleResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m controllerRoleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	name := m.ID.ValueString()
	out, err := r.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if isIAMNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read IAM role", err.Error())
		return
	}
	role := out.Role
	if m.OIDCProviderCreated.IsNull() || m.OIDCProviderCreated.IsUnknown() { // import, or state of an earlier version
		created, diags := req.Private.GetKey(ctx, privateOIDCCreated)
		resp.Diagnostics.Append(diags...)
		m.OIDCProviderCreated = types.BoolValue(string(created) == "true")
	}
	m.Name, m.ARN = types.StringValue(aws.ToString(role.RoleName)), types.StringValue(aws.ToString(role.Arn))
	liveTags := tagMap(role.Tags)
	delete(liveTags, previousServiceAccountTag) // a hand-over's mark, not one of the role's tags
	m.Tags = tagsValue(r.c.withoutDefaultTags(liveTags, stringMap(ctx, m.Tags, &resp.Diagnostics)), m.Tags)
	if m.Identity.IsNull() || m.Identity.ValueString() == "" { // import, or state of an earlier version
		m.Identity = types.StringValue(identityIRSA)
	}
	foreignTrust := false
	if trust, err := ParsePolicyDocument(aws.ToString(role.AssumeRolePolicyDocument)); err == nil && isPodIdentityTrust(trust) {
		m.Identity, m.OIDCProviderARN, m.OIDCIssuerURL = types.StringValue(identityPodIdentity), types.StringNull(), types.StringNull()
	} else if err == nil && m.podIdentity() {
		foreignTrust = true
		m.ServiceAccountNamespace, m.ServiceAccountName = types.StringValue(""), types.StringValue("") // trust changed: plan puts ours back
	} else if err == nil {
		trust, _ = withoutPreviousServiceAccount(trust) // a pending hand-over (controller_handover.go)
		if prov, issuer, ns, sa, ok := trustPolicyFacts(trust); ok {
			m.OIDCProviderARN, m.OIDCIssuerURL = types.StringValue(prov), types.StringValue(issuer)
			m.ServiceAccountNamespace, m.ServiceAccountName = types.StringValue(ns), types.StringValue(sa)
		} else {
			m.ServiceAccountNamespace, m.ServiceAccountName = types.StringValue(""), types.StringValue("") // foreign trust: plan puts ours back
		}
	}
	policyARN := m.PolicyARN.ValueString()
	if policyARN == "" {
		policyARN = r.policyARNFor(ctx, m)
	}
	m.PolicyJSON = types.StringNull()
	if err := r.readPolicyInto(ctx, &m, policyARN); err != nil {
		resp.Diagnostics.AddError("Cannot read the controller policy", err.Error())
		return
	}
	if m.podIdentity() && m.ClusterName.ValueString() != "" {
		r.readPodIdentityAssociation(ctx, &m, &resp.Diagnostics)
		if foreignTrust {
			m.ServiceAccountNamespace, m.ServiceAccountName = types.StringValue(""), types.StringValue("")
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// readPolicyInto reads the controller policy policyARN ("" = none known) into m: policy_arn,
// policy_json, and the cluster name and node role the policy names.
func (r *controllerRoleResource) readPolicyInto(ctx context.Context, m *controllerRoleModel, policyARN string) error {
	if policyARN != "" {
		doc, found, err := r.readPolicy(ctx, policyARN)
		if err != nil {
			return err
		}
		if found {
			m.PolicyARN, m.PolicyJSON = types.StringValue(policyARN), types.StringValue(doc.JSON())
			cluster, nodeRole := controllerPolicyFacts(doc)
			m.ClusterName, m.NodeRoleARN = optString(cluster), optString(nodeRole)
		} else {
			m.PolicyARN = types.StringNull()
		}
	}
	return nil
}

// Update rewrites the trust, adds a new default policy version, and updates tags.
func (r *controllerRoleResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state controllerRoleModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, plan.Timeouts.Update, defaultControllerRoleTimeout, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()
	name := state.ID.ValueString()
	live, err := r.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(name)})
	if err != nil {
		resp.Diagnostics.AddError("Cannot read IAM role", err.Error())
		return
	}
	// A changed service account is handed over (controller_handover.go): the previous one
	// stays trusted until the controller has moved.
	tagged := previousServiceAccount(live.Role.Tags)
	want := serviceAccountRef(plan.ServiceAccountNamespace.ValueString(), plan.ServiceAccountName.ValueString())
	keep := handoverFrom(tagged, serviceAccountRef(state.ServiceAccountNamespace.ValueString(), state.ServiceAccountName.ValueString()),
		want, plan.Identity.Equal(state.Identity))
	if keep != "" && !r.c.controllerRunsAs(ctx, state.ClusterName.ValueString(), keep, state.ARN.ValueString(), state.Identity.ValueString()) {
		keep = "" // no installation to keep working, none to end the hand-over: switch now
	}
	trust, providerARN, created := r.trustFor(ctx, &plan, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	if !plan.podIdentity() {
		trust = withPreviousServiceAccount(trust, keep)
	}
	// Ours if created now, or created before and still the one trusted.
	plan.OIDCProviderCreated = types.BoolValue(created || (state.OIDCProviderCreated.ValueBool() && providerARN != "" && providerARN == state.OIDCProviderARN.ValueString()))
	plan.ID, plan.ARN = state.ID, state.ARN
	plan.PodIdentityAssociationID = types.StringNull()
	if keep != "" && keep != tagged {
		// The mark first: when a later step fails, the role already says whose trust or
		// association it kept, so that refresh reports the hand-over and the next apply ends it.
		if _, err := r.c.iam.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String(name),
			Tags: iamTags(map[string]string{previousServiceAccountTag: keep})}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("service_account_name"), "Cannot hand the role over to the new service account", err.Error())
			return
		}
	}
	if plan.podIdentity() {
		// The association first: when EKS refuses it (the service account is associated with
		// another role), the trust is still the one the running controller's credentials need.
		r.updatePodIdentityAssociation(ctx, &plan, state, keep, tagged == want, &resp.Diagnostics)
		if resp.Diagnostics.HasError() {
			return
		}
	}
	if _, err := r.c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name), PolicyDocument: aws.String(trust.JSON())}); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("service_account_name"), "Cannot update the role's trust policy", err.Error())
		return
	}
	if err := updateRoleTags(ctx, r.c.iam, name, r.c.withDefaultTags(stringMap(ctx, state.Tags, &resp.Diagnostics)),
		r.c.withDefaultTags(stringMap(ctx, plan.Tags, &resp.Diagnostics))); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("tags"), "Cannot update role tags", err.Error())
		return
	}
	doc, err := r.policy(ctx, plan)
	if err != nil {
		resp.Diagnostics.AddError("Cannot compute the controller policy", err.Error())
		return
	}
	policyARN := state.PolicyARN.ValueString()
	if policyARN == "" {
		pol, err := r.c.iam.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name), PolicyDocument: aws.String(doc.JSON()),
			Tags: iamTags(r.c.withDefaultTags(stringMap(ctx, plan.Tags, &resp.Diagnostics)))})
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("policy_json"), "Cannot create the controller policy", err.Error())
			return
		}
		policyARN = aws.ToString(pol.Policy.Arn)
	} else if err := r.setPolicyVersion(ctx, policyARN, doc.JSON()); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("policy_json"), "Cannot update the controller policy", err.Error())
		return
	}
	if _, err := r.c.iam.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name), PolicyArn: aws.String(policyARN)}); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("policy_arn"), "Cannot attach the controller policy", err.Error())
		return
	}
	plan.OIDCProviderARN = optString(providerARN)
	plan.PolicyARN, plan.PolicyJSON = types.StringValue(policyARN), types.StringValue(doc.JSON())
	if !plan.podIdentity() {
		if r.deletePodIdentityAssociation(ctx, state, &resp.Diagnostics); resp.Diagnostics.HasError() { // switched to irsa
			return
		}
	}
	if err := r.setHandover(ctx, plan, tagged, keep, want); err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("service_account_name"), "Cannot hand the role over to the new service account", err.Error())
		return
	}
	// Switched away from an OIDC provider this resource created: delete it like Delete does.
	if old := state.OIDCProviderARN.ValueString(); state.OIDCProviderCreated.ValueBool() && old != "" && old != providerARN {
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
		r.deleteCreatedOIDCProvider(ctx, old, &resp.Diagnostics)
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// setHandover ends, after an update, a hand-over (controller_handover.go) the update no longer
// keeps: tagged is the service account the role kept trusting before the update, keep the one
// it keeps trusting now besides want, the planned one ("" for none). A hand-over that ends here
// (keep "") loses its tag and the Pod Identity associations it kept, unless they bind want
// (then the update adopted them). A hand-over that starts was tagged before the trust changed.
// Errors: an IAM or EKS call failed.
func (r *controllerRoleResource) setHandover(ctx context.Context, plan controllerRoleModel, tagged, keep, want string) error {
	name := plan.ID.ValueString()
	switch {
	case keep == "" && tagged != "":
		if tagged != want {
			if err := r.c.deletePreviousAssociations(ctx, plan.ClusterName.ValueString(), plan.ARN.ValueString(), tagged); err != nil {
				return err
			}
		}
		_, err := r.c.iam.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(name), TagKeys: []string{previousServiceAccountTag}})
		return err
	}
	return nil
}

// Delete deletes the role, the policy (all versions) and the OIDC provider if this resource
// created it.
func (r *controllerRoleResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m controllerRoleModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel, ok := withTimeout(ctx, m.Timeouts.Delete, defaultControllerRoleTimeout, &resp.Diagnostics)
	if !ok {
		return
	}
	defer cancel()
	if r.deletePodIdentityAssociation(ctx, m, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	// The associations a pending hand-over kept (controller_handover.go).
	if live, err := r.c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(m.ID.ValueString())}); err == nil {
		if prev := previousServiceAccount(live.Role.Tags); prev != "" {
			if err := r.c.deletePreviousAssociations(ctx, m.ClusterName.ValueString(), aws.ToString(live.Role.Arn), prev); err != nil {
				resp.Diagnostics.AddError("Cannot delete the Pod Identity association of the previous service account", err.Error())
				return
			}
		}
	} else if !isIAMNotFound(err) {
		resp.Diagnostics.AddError("Cannot read IAM role", err.Error())
		return
	}
	if err := deleteRole(ctx, r.c.iam, m.ID.ValueString()); err != nil {
		resp.Diagnostics.AddError("Cannot delete IAM role", err.Error())
		return
	}
	if arn := m.PolicyARN.ValueString(); arn != "" {
		if err := deletePolicy(ctx, r.c.iam, arn); err != nil {
			resp.Diagnostics.AddError("Cannot delete the controller policy", err.Error())
			return
		}
	}
	providerARN := m.OIDCProviderARN.ValueString()
	if !m.OIDCProviderCreated.ValueBool() || providerARN == "" {
		return // adopted: never deleted
	}
	r.deleteCreatedOIDCProvider(ctx, providerARN, &resp.Diagnostics)
}

// deleteCreatedOIDCProvider deletes providerARN, an IAM OIDC provider this resource created,
// unless another role's trust policy names it (then it is kept, with a warning).
func (r *controllerRoleResource) deleteCreatedOIDCProvider(ctx context.Context, providerARN string, diags *diag.Diagnostics) {
	users, err := rolesTrusting(ctx, r.c.iam, providerARN)
	if err != nil {
		diags.AddError("Cannot list the roles that trust the IAM OIDC provider", err.Error())
		return
	}
	if len(users) > 0 {
		diags.AddWarning("IAM OIDC provider kept", fmt.Sprintf("%s was created by this resource but is kept: "+
			"the trust policies of %s name it.", providerARN, strings.Join(users, ", ")))
		return
	}
	if _, err := r.c.iam.DeleteOpenIDConnectProvider(ctx, &iam.DeleteOpenIDConnectProviderInput{
		OpenIDConnectProviderArn: aws.String(providerARN)}); err != nil && !isIAMNotFound(err) {
		diags.AddError("Cannot delete the IAM OIDC provider", err.Error())
	}
}

// rolesTrusting returns the names of the IAM roles whose trust policy names providerARN (IAM
// ListRoles; the documents come URL-encoded).
func rolesTrusting(ctx context.Context, c *iam.Client, providerARN string) ([]string, error) {
	var names []string
	p := iam.NewListRolesPaginator(c, &iam.ListRolesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, role := range page.Roles {
			doc := aws.ToString(role.AssumeRolePolicyDocument)
			if dec, err := url.QueryUnescape(doc); err == nil {
				doc = dec
			}
			if strings.Contains(doc, `"`+providerARN+`"`) {
				names = append(names, aws.ToString(role.RoleName))
			}
		}
	}
	return names, nil
}

// ImportState imports by role name.
func (r *controllerRoleResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}

// issuer returns oidc_issuer_url, or the cluster's issuer from EKS DescribeCluster.
func (r *controllerRoleResource) issuer(ctx context.Context, m controllerRoleModel) (string, diag.Diagnostics) {
	var diags diag.Diagnostics
	if v := m.OIDCIssuerURL.ValueString(); v != "" && !m.OIDCIssuerURL.IsUnknown() {
		return v, diags
	}
	out, err := r.c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(m.ClusterName.ValueString())})
	if err != nil {
		diags.AddAttributeError(path.Root("cluster_name"), "Cannot look up the cluster's OIDC issuer", err.Error())
		return "", diags
	}
	if out.Cluster == nil || out.Cluster.Identity == nil || out.Cluster.Identity.Oidc == nil || aws.ToString(out.Cluster.Identity.Oidc.Issuer) == "" {
		diags.AddAttributeError(path.Root("oidc_issuer_url"), "Cluster has no OIDC issuer", "set oidc_issuer_url")
		return "", diags
	}
	return aws.ToString(out.Cluster.Identity.Oidc.Issuer), diags
}

// account returns the partition (with its DNS suffix) and account id of the caller (STS
// GetCallerIdentity). Errors: STS's, or a caller ARN of an unknown partition.
func (r *controllerRoleResource) account(ctx context.Context) (partitionInfo, string, error) {
	out, err := r.c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return partitionInfo{}, "", fmt.Errorf("sts:GetCallerIdentity: %w", err)
	}
	p, err := partitionFromARN(aws.ToString(out.Arn))
	if err != nil {
		return partitionInfo{}, "", err
	}
	return p, aws.ToString(out.Account), nil
}

// policy computes the controller policy for m in the provider's region and caller's account.
func (r *controllerRoleResource) policy(ctx context.Context, m controllerRoleModel) (PolicyDocument, error) {
	if r.c.region == "" {
		return PolicyDocument{}, fmt.Errorf("no AWS region configured (set the provider's region or AWS_REGION)")
	}
	part, account, err := r.account(ctx)
	if err != nil {
		return PolicyDocument{}, err
	}
	return ControllerPolicy(ControllerPolicyInput{Partition: part.Partition, DNSSuffix: part.DNSSuffix, Region: r.c.region, AccountID: account,
		ClusterName: m.ClusterName.ValueString(), NodeRoleARN: m.NodeRoleARN.ValueString()}), nil
}

// policyARNFor is the ARN the policy of role m has (same name, path /), or "" if unknown.
func (r *controllerRoleResource) policyARNFor(ctx context.Context, m controllerRoleModel) string {
	a, err := arn.Parse(m.ARN.ValueString())
	if err != nil {
		return ""
	}
	return fmt.Sprintf("arn:%s:iam::%s:policy/%s", a.Partition, a.AccountID, m.ID.ValueString())
}

// ensureOIDCProvider returns the ARN of the IAM OIDC provider of issuer, creating it (client
// id irsaAudience, tagged with the provider's default_tags) when missing; created reports whether it did.
func (r *controllerRoleResource) ensureOIDCProvider(ctx context.Context, issuer string) (providerARN string, created bool, err error) {
	part, account, err := r.account(ctx)
	if err != nil {
		return "", false, err
	}
	providerARN = fmt.Sprintf("arn:%s:iam::%s:oidc-provider/%s", part.Partition, account, issuerHostPath(issuer))
	_, err = r.c.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: aws.String(providerARN)})
	if err == nil {
		return providerARN, false, nil
	}
	if !isIAMNotFound(err) {
		return "", false, err
	}
	out, err := r.c.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: aws.String(issuer), ClientIDList: []string{irsaAudience}, Tags: iamTags(r.c.withDefaultTags(nil)),
	})
	if err != nil {
		return "", false, err
	}
	return aws.ToString(out.OpenIDConnectProviderArn), true, nil
}

// readPolicy returns the default version of a managed policy; found is false if it is gone.
func (r *controllerRoleResource) readPolicy(ctx context.Context, policyARN string) (PolicyDocument, bool, error) {
	pol, err := r.c.iam.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: aws.String(policyARN)})
	if isIAMNotFound(err) {
		return PolicyDocument{}, false, nil
	}
	if err != nil {
		return PolicyDocument{}, false, err
	}
	ver, err := r.c.iam.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: aws.String(policyARN), VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return PolicyDocument{}, false, err
	}
	doc, err := ParsePolicyDocument(aws.ToString(ver.PolicyVersion.Document))
	return doc, err == nil, err
}

// setPolicyVersion makes doc the default version of the policy, deleting non-default versions
// first (IAM keeps at most five).
func (r *controllerRoleResource) setPolicyVersion(ctx context.Context, policyARN, doc string) error {
	if err := deletePolicyVersions(ctx, r.c.iam, policyARN); err != nil {
		return err
	}
	_, err := r.c.iam.CreatePolicyVersion(ctx, &iam.CreatePolicyVersionInput{PolicyArn: aws.String(policyARN), PolicyDocument: aws.String(doc), SetAsDefault: true})
	return err
}

// deletePolicyVersions deletes every non-default version of a policy.
func deletePolicyVersions(ctx context.Context, c *iam.Client, policyARN string) error {
	out, err := c.ListPolicyVersions(ctx, &iam.ListPolicyVersionsInput{PolicyArn: aws.String(policyARN)})
	if err != nil {
		return err
	}
	for _, v := range out.Versions {
		if v.IsDefaultVersion {
			continue
		}
		if _, err := c.DeletePolicyVersion(ctx, &iam.DeletePolicyVersionInput{PolicyArn: aws.String(policyARN), VersionId: v.VersionId}); err != nil && !isIAMNotFound(err) {
			return err
		}
	}
	return nil
}

// deletePolicy deletes a managed policy and its versions; a policy that is gone is not an error.
func deletePolicy(ctx context.Context, c *iam.Client, policyARN string) error {
	if err := deletePolicyVersions(ctx, c, policyARN); err != nil {
		if isIAMNotFound(err) {
			return nil
		}
		return err
	}
	if _, err := c.DeletePolicy(ctx, &iam.DeletePolicyInput{PolicyArn: aws.String(policyARN)}); err != nil && !isIAMNotFound(err) {
		return err
	}
	return nil
}
