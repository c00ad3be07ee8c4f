// Package provider is the Terraform provider `karpenter` (terraform-plugin-framework, plugin
// protocol 6): AWS IAM/EC2 resources that Karpenter needs, the controller installation on a
// Kubernetes cluster, and Provisioner objects written as typed HCL.
package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ provider.Provider = (*karpenterProvider)(nil)

// karpenterProvider is the provider; version is reported to Terraform.
type karpenterProvider struct{ version string }

// New returns a constructor of the provider, as providerserver.NewProtocol6 expects.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &karpenterProvider{version: version} }
}

// providerModel is the provider block.
type providerModel struct {
	Region      types.String      `tfsdk:"region"`
	Profile     types.String      `tfsdk:"profile"`
	AccessKey   types.String      `tfsdk:"access_key"`
	SecretKey   types.String      `tfsdk:"secret_key"`
	Token       types.String      `tfsdk:"token"`
	DefaultTags types.Map         `tfsdk:"default_tags"`
	Endpoints   []endpointsModel  `tfsdk:"endpoints"`
	Kubernetes  []kubernetesModel `tfsdk:"kubernetes"`
}

type endpointsModel struct {
	EC2 types.String `tfsdk:"ec2"`
	IAM types.String `tfsdk:"iam"`
	STS types.String `tfsdk:"sts"`
	EKS types.String `tfsdk:"eks"`
	SSM types.String `tfsdk:"ssm"`
}

type kubernetesModel struct {
	Host                 types.String `tfsdk:"host"`
	ClusterCACertificate types.String `tfsdk:"cluster_ca_certificate"`
	Token                types.String `tfsdk:"token"`
	ClientCertificate    types.String `tfsdk:"client_certificate"`
	ClientKey            types.String `tfsdk:"client_key"`
	ConfigPath           types.String `tfsdk:"config_path"`
	ConfigContext        types.String `tfsdk:"config_context"`
	Insecure             types.Bool   `tfsdk:"insecure"`
	Exec                 []execModel  `tfsdk:"exec"`
}

// execModel is the kubernetes block's exec credential plugin (client-go's ExecConfig).
type execModel struct {
	APIVersion types.String `tfsdk:"api_version"`
	Command    types.String `tfsdk:"command"`
	Args       types.List   `tfsdk:"args"`
	Env        types.Map    `tfsdk:"env"`
}

// Metadata sets the type name prefix "karpenter".
func (p *karpenterProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "karpenter"
	resp.Version = p.version
}

// Schema describes the provider block.
func (p *karpenterProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	endpoint := func(svc, env string) schema.StringAttribute {
		return schema.StringAttribute{Optional: true, MarkdownDescription: "Base URL of the " + svc +
			" API (e.g. `http://127.0.0.1:4566`). Default: the SDK's `AWS_ENDPOINT_URL_" + env +
			"` / `AWS_ENDPOINT_URL` environment variables, else the public AWS endpoint."}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Installs and configures the Karpenter node autoscaler: AWS IAM roles, " +
			"discovery tags, the controller Deployment and Provisioners. AWS settings follow the " +
			"aws-sdk-go-v2 default chain; Kubernetes settings follow kubeconfig unless `kubernetes` is set.",
		Attributes: map[string]schema.Attribute{
			"region":     schema.StringAttribute{Optional: true, MarkdownDescription: "AWS region, e.g. `us-east-1`. Default: `AWS_REGION` / `AWS_DEFAULT_REGION` / the shared config profile."},
			"profile":    schema.StringAttribute{Optional: true, MarkdownDescription: "Shared config/credentials profile name. Default: `AWS_PROFILE`, else `default`."},
			"access_key": schema.StringAttribute{Optional: true, MarkdownDescription: "Static AWS access key id; with `secret_key`. Default: the standard credential chain."},
			"secret_key": schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Static AWS secret access key; with `access_key`."},
			"token":      schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "AWS session token for temporary static credentials."},
			"default_tags": schema.MapAttribute{Optional: true, ElementType: types.StringType,
				MarkdownDescription: "Tags added to every AWS resource this provider creates (`karpenter_node_role`, " +
					"`karpenter_instance_profile`, `karpenter_controller_role` with its policy, the OIDC provider it creates and " +
					"its Pod Identity association), merged with the resource's own `tags`, which win on a shared key, and to " +
					"everything the controller launches: `karpenter_controller` passes them to it (environment `DEFAULT_TAGS`), and it " +
					"tags launch templates, instances, volumes, network interfaces and fleets with them beneath a Provisioner's " +
					"`tags` and its own `karpenter.sh/*` tags, which always win; a `Name` here replaces the default `Name` " +
					"(`karpenter.sh/provisioner-name/<provisioner name>`) unless the Provisioner's `tags` give one. " +
					"They are kept out of each resource's `tags` in state, so they never plan a difference; a change of " +
					"`default_tags` reaches a resource when it is next created or updated (the controller: its next update; " +
					"launch templates already made keep their tags, new ones get the new tags). Checked at plan time as a " +
					"Provisioner's `tags` (errors name the key, e.g. `default_tags[\"aws:x\"]`): at most 50; keys of 1 to 128 characters, " +
					"not starting with `aws:` and not a tag the controller sets itself (`karpenter.sh/cluster`, `karpenter.sh/managed-by`, " +
					"`karpenter.sh/nodeclaim`, `karpenter.sh/provisioner-name`, `kubernetes.io/cluster/*`); values of at most 256 " +
					"characters. A Provisioner whose `tags`, with these, `Name` and the controller's own tags, come to more than 50 is " +
					"refused at plan time.",
				Validators: awsTagsValidators()},
		},
		Blocks: map[string]schema.Block{
			"endpoints": schema.ListNestedBlock{
				MarkdownDescription: "Per-service endpoint overrides (at most one block).",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"ec2": endpoint("EC2", "EC2"), "iam": endpoint("IAM", "IAM"), "sts": endpoint("STS", "STS"),
					"eks": endpoint("EKS", "EKS"), "ssm": endpoint("SSM", "SSM"),
				}},
				Validators: []validator.List{listvalidator.SizeAtMost(1)},
			},
			"kubernetes": schema.ListNestedBlock{
				MarkdownDescription: "How to reach the Kubernetes API server (at most one block). Without it, or without " +
					"`host`, the kubeconfig is used (`config_path`, else `KUBECONFIG`, else `~/.kube/config`).",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"host":                   schema.StringAttribute{Optional: true, MarkdownDescription: "API server URL, e.g. `https://ABC.gr7.us-east-1.eks.amazonaws.com`."},
					"cluster_ca_certificate": schema.StringAttribute{Optional: true, MarkdownDescription: "PEM-encoded CA bundle of the API server (not base64 wrapped; use `base64decode()` on EKS data)."},
					"token":                  schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "Bearer token."},
					"client_certificate":     schema.StringAttribute{Optional: true, MarkdownDescription: "PEM-encoded client certificate for TLS client authentication."},
					"client_key":             schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "PEM-encoded private key of `client_certificate`."},
					"config_path":            schema.StringAttribute{Optional: true, MarkdownDescription: "Path of a kubeconfig file. Ignored when `host` is set."},
					"config_context":         schema.StringAttribute{Optional: true, MarkdownDescription: "kubeconfig context to use instead of the current one."},
					"insecure":               schema.BoolAttribute{Optional: true, MarkdownDescription: "Skip verification of the API server's certificate (tests only)."},
				}, Blocks: map[string]schema.Block{
					"exec": schema.ListNestedBlock{
						MarkdownDescription: "Credentials from an exec plugin (at most one block), as client-go runs them " +
							"(https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins): " +
							"e.g. `aws eks get-token --cluster-name NAME` with `api_version = \"client.authentication.k8s.io/v1beta1\"`. " +
							"The plugin runs whenever a token is needed and its output (an `ExecCredential`) is cached until it expires. " +
							"Used with `host`, or on top of the kubeconfig's user.",
						NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
							"api_version": schema.StringAttribute{Required: true, MarkdownDescription: "`ExecCredential` API version the plugin speaks: `client.authentication.k8s.io/v1` or `client.authentication.k8s.io/v1beta1`.",
								Validators: []validator.String{stringvalidator.OneOf("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")}},
							"command": schema.StringAttribute{Required: true, MarkdownDescription: "Executable (a path, or a name looked up in `PATH`).",
								Validators: []validator.String{stringvalidator.LengthAtLeast(1)}},
							"args": schema.ListAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Arguments."},
							"env":  schema.MapAttribute{Optional: true, ElementType: types.StringType, MarkdownDescription: "Environment variables added to the provider's for the plugin."},
						}},
						Validators: []validator.List{listvalidator.SizeAtMost(1)},
					},
				}},
				Validators: []validator.List{listvalidator.SizeAtMost(1)},
			},
		},
	}
}

// Configure builds the AWS configuration and (lazily) the Kubernetes client from the provider
// block, and hands them to every resource and data source.
func (p *karpenterProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	c, diags := newClients(ctx, m)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.ResourceData = c
	resp.DataSourceData = c
}

// Resources lists every resource type.
func (p *karpenterProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		NewDiscoveryTagsResource,
		NewNodeRoleResource,
		NewInstanceProfileResource,
		NewControllerRoleResource,
		NewNodeAccessResource,
		NewControllerResource,
		NewProvisionerResource,
	}
}

// DataSources lists every data source type.
func (p *karpenterProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewClusterDataSource}
}
