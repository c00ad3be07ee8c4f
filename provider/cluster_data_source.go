package provider

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

var _ datasource.DataSourceWithConfigure = (*clusterDataSource)(nil)

// NewClusterDataSource returns the karpenter_cluster data source (EKS DescribeCluster).
func NewClusterDataSource() datasource.DataSource { return &clusterDataSource{} }

type clusterDataSource struct{ c *clients }

type clusterModel struct {
	Name                     types.String `tfsdk:"name"`
	ID                       types.String `tfsdk:"id"`
	Endpoint                 types.String `tfsdk:"endpoint"`
	CertificateAuthorityData types.String `tfsdk:"certificate_authority_data"`
	OIDCIssuerURL            types.String `tfsdk:"oidc_issuer_url"`
	Version                  types.String `tfsdk:"version"`
	VPCID                    types.String `tfsdk:"vpc_id"`
	SubnetIDs                types.List   `tfsdk:"subnet_ids"`
	ClusterSecurityGroupID   types.String `tfsdk:"cluster_security_group_id"`
	ARN                      types.String `tfsdk:"arn"`
	AuthenticationMode       types.String `tfsdk:"authentication_mode"`
}

// Metadata names the data source karpenter_cluster.
func (d *clusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

// Schema describes the data source.
func (d *clusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads an EKS cluster (EKS `DescribeCluster`): API endpoint, CA, OIDC issuer and network settings.",
		Attributes: map[string]schema.Attribute{
			"name": schema.StringAttribute{Required: true, MarkdownDescription: "EKS cluster name.",
				Validators: []validator.String{stringvalidator.LengthBetween(1, 100)}},
			"id":                         schema.StringAttribute{Computed: true, MarkdownDescription: "The cluster name."},
			"endpoint":                   schema.StringAttribute{Computed: true, MarkdownDescription: "Kubernetes API server URL (https)."},
			"certificate_authority_data": schema.StringAttribute{Computed: true, MarkdownDescription: "Base64-encoded PEM CA bundle of the API server (use `base64decode()` for the provider's `cluster_ca_certificate`)."},
			"oidc_issuer_url":            schema.StringAttribute{Computed: true, MarkdownDescription: "OIDC issuer URL of the cluster's service account tokens (https)."},
			"version":                    schema.StringAttribute{Computed: true, MarkdownDescription: "Kubernetes minor version, e.g. `1.37`."},
			"vpc_id":                     schema.StringAttribute{Computed: true, MarkdownDescription: "VPC id of the cluster."},
			"subnet_ids":                 schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Subnet ids of the cluster's VPC configuration."},
			"cluster_security_group_id":  schema.StringAttribute{Computed: true, MarkdownDescription: "Security group EKS created for the cluster."},
			"arn":                        schema.StringAttribute{Computed: true, MarkdownDescription: "Cluster ARN."},
			"authentication_mode": schema.StringAttribute{Computed: true, MarkdownDescription: "How the cluster authenticates IAM principals " +
				"(`accessConfig.authenticationMode`): `CONFIG_MAP` (aws-auth only), `API_AND_CONFIG_MAP` or `API` (access entries only). " +
				"`CONFIG_MAP` when EKS reports none (clusters made before access entries existed)."},
		},
	}
}

// Configure receives the provider's clients.
func (d *clusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.c = clientsFrom(req.ProviderData, &resp.Diagnostics)
}

// Read calls DescribeCluster.
func (d *clusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	out, err := d.c.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(m.Name.ValueString())})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("name"), "Cannot describe EKS cluster", err.Error())
		return
	}
	cl := out.Cluster
	m.ID = m.Name
	m.Endpoint = types.StringValue(aws.ToString(cl.Endpoint))
	m.ARN = types.StringValue(aws.ToString(cl.Arn))
	m.Version = types.StringValue(aws.ToString(cl.Version))
	m.CertificateAuthorityData = types.StringNull()
	if cl.CertificateAuthority != nil {
		m.CertificateAuthorityData = types.StringValue(aws.ToString(cl.CertificateAuthority.Data))
	}
	m.OIDCIssuerURL = types.StringNull()
	if cl.Identity != nil && cl.Identity.Oidc != nil {
		m.OIDCIssuerURL = types.StringValue(aws.ToString(cl.Identity.Oidc.Issuer))
	}
	m.VPCID, m.ClusterSecurityGroupID, m.SubnetIDs = types.StringNull(), types.StringNull(), listValue(nil)
	if v := cl.ResourcesVpcConfig; v != nil {
		m.VPCID = types.StringValue(aws.ToString(v.VpcId))
		m.ClusterSecurityGroupID = types.StringValue(aws.ToString(v.ClusterSecurityGroupId))
		m.SubnetIDs = listValue(v.SubnetIds)
	}
	m.AuthenticationMode = types.StringValue("CONFIG_MAP")
	if cl.AccessConfig != nil && cl.AccessConfig.AuthenticationMode != "" {
		m.AuthenticationMode = types.StringValue(string(cl.AccessConfig.AuthenticationMode))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}
