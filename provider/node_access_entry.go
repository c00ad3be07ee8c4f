package provider

// The access_entry method of karpenter_node_access: an EKS access entry of type EC2_LINUX for
// the node role (Amazon EKS User Guide, "Create access entries": EC2_LINUX entries get the
// user system:node:{{EC2PrivateDNSName}} and the groups system:bootstrappers and system:nodes;
// they take neither a username nor groups).

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// accessEntryTypeEC2Linux is the access entry type of Linux nodes.
const accessEntryTypeEC2Linux = "EC2_LINUX"

// accessEntryID is the resource ID of an access entry: <cluster_name>:<role_arn>.
func accessEntryID(cluster, roleARN string) string { return cluster + ":" + roleARN }

// createAccessEntry creates the role's EC2_LINUX entry and fills m's ID and ARN. An existing
// entry for the role (ResourceInUseException) is refused, never adopted.
func (r *nodeAccessResource) createAccessEntry(ctx context.Context, m *nodeAccessModel, diags *diag.Diagnostics) {
	out, err := r.c.eks.CreateAccessEntry(ctx, &eks.CreateAccessEntryInput{
		ClusterName: aws.String(m.ClusterName.ValueString()), PrincipalArn: aws.String(m.RoleARN.ValueString()),
		Type: aws.String(accessEntryTypeEC2Linux),
	})
	switch code := awsErrorCode(err); {
	case code == "ResourceInUseException":
		diags.AddAttributeError(path.Root("role_arn"), "The cluster already has an access entry for this role",
			fmt.Sprintf("EKS cluster %s has an access entry for %s that this resource did not create; it is left as it is. "+
				"To let nodes join through that entry as it is, manage no node access for the role (with the karpenter "+
				"module: node_access_method = \"none\"); to manage it with Terraform, import it (terraform import <address> %s); "+
				"otherwise delete it first.",
				m.ClusterName.ValueString(), m.RoleARN.ValueString(), accessEntryID(m.ClusterName.ValueString(), m.RoleARN.ValueString())))
		return
	case code == "InvalidRequestException":
		diags.AddAttributeError(path.Root("method"), "The cluster does not accept access entries",
			err.Error()+"\n\nA cluster in authentication mode CONFIG_MAP has no access entries: use method = \"aws_auth\", "+
				"or change the cluster's authentication mode to API_AND_CONFIG_MAP or API.")
		return
	case err != nil:
		diags.AddAttributeError(path.Root("role_arn"), "Cannot create the EKS access entry", err.Error())
		return
	}
	m.ID = types.StringValue(accessEntryID(m.ClusterName.ValueString(), m.RoleARN.ValueString()))
	m.AccessEntryARN = types.StringValue(aws.ToString(out.AccessEntry.AccessEntryArn))
}

// readAccessEntry refreshes m from the entry; false when the entry (or the cluster) is gone.
// An entry of another type reads back its user name, so the plan shows the difference.
func (r *nodeAccessResource) readAccessEntry(ctx context.Context, m *nodeAccessModel, diags *diag.Diagnostics) bool {
	out, err := r.c.eks.DescribeAccessEntry(ctx, &eks.DescribeAccessEntryInput{
		ClusterName: aws.String(m.ClusterName.ValueString()), PrincipalArn: aws.String(m.RoleARN.ValueString()),
	})
	if awsErrorCode(err) == "ResourceNotFoundException" {
		return false
	}
	if err != nil {
		diags.AddError("Cannot read the EKS access entry", err.Error())
		return false
	}
	e := out.AccessEntry
	m.AccessEntryARN = types.StringValue(aws.ToString(e.AccessEntryArn))
	m.Username = types.StringValue(aws.ToString(e.Username))
	if aws.ToString(e.Type) != accessEntryTypeEC2Linux {
		m.Username = types.StringValue(aws.ToString(e.Type) + " entry, user " + aws.ToString(e.Username))
	}
	if m.Groups.IsNull() {
		m.Groups = listValue(defaultNodeGroups)
	}
	return true
}

// replaceAccessEntry puts back the role's EC2_LINUX entry when it was changed outside
// Terraform (this resource's entry: the role has one entry per cluster).
func (r *nodeAccessResource) replaceAccessEntry(ctx context.Context, m *nodeAccessModel, diags *diag.Diagnostics) {
	cur := *m
	found := r.readAccessEntry(ctx, &cur, diags)
	if diags.HasError() {
		return
	}
	if found && cur.Username.ValueString() == defaultNodeUsername {
		m.ID, m.AccessEntryARN = types.StringValue(accessEntryID(m.ClusterName.ValueString(), m.RoleARN.ValueString())), cur.AccessEntryARN
		return
	}
	if found {
		r.deleteAccessEntry(ctx, *m, diags)
		if diags.HasError() {
			return
		}
	}
	r.createAccessEntry(ctx, m, diags)
}

// deleteAccessEntry deletes the role's entry; an entry already gone is not an error.
func (r *nodeAccessResource) deleteAccessEntry(ctx context.Context, m nodeAccessModel, diags *diag.Diagnostics) {
	_, err := r.c.eks.DeleteAccessEntry(ctx, &eks.DeleteAccessEntryInput{
		ClusterName: aws.String(m.ClusterName.ValueString()), PrincipalArn: aws.String(m.RoleARN.ValueString()),
	})
	if err != nil && awsErrorCode(err) != "ResourceNotFoundException" {
		diags.AddError("Cannot delete the EKS access entry", err.Error())
	}
}
