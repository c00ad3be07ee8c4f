package provider

// The pod_identity mode of karpenter_controller_role: the role trusts EKS Pod Identity
// (PodIdentityTrustPolicy) and an EKS Pod Identity association binds it to the controller's
// namespace and service account (Amazon EKS User Guide, "Learn how EKS Pod Identity grants
// pods access to AWS services"). The resource manages only the association it created (its ID
// is in state); an association someone else made for the same service account is refused.

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Identity modes of karpenter_controller_role.
const (
	identityIRSA        = "irsa"
	identityPodIdentity = "pod_identity"
)

func (m controllerRoleModel) podIdentity() bool {
	return m.Identity.ValueString() == identityPodIdentity
}

// createPodIdentityAssociation associates the role with the service account and records the
// association's ID in m. An existing association for the service account is refused.
func (r *controllerRoleResource) createPodIdentityAssociation(ctx context.Context, m *controllerRoleModel, diags *diag.Diagnostics) {
	out, err := r.c.eks.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String(m.ClusterName.ValueString()), Namespace: aws.String(m.ServiceAccountNamespace.ValueString()),
		ServiceAccount: aws.String(m.ServiceAccountName.ValueString()), RoleArn: aws.String(m.ARN.ValueString()),
		Tags: r.c.withDefaultTags(stringMap(ctx, m.Tags, diags)),
	})
	if awsErrorCode(err) == "ResourceInUseException" {
		diags.AddAttributeError(path.Root("service_account_name"), "The service account already has a Pod Identity association",
			fmt.Sprintf("%s\n\nEKS cluster %s already associates %s/%s with a role; that association is left as it is. Delete it, "+
				"or use another service account.", err, m.ClusterName.ValueString(), m.ServiceAccountNamespace.ValueString(), m.ServiceAccountName.ValueString()))
		return
	}
	if err != nil {
		diags.AddAttributeError(path.Root("identity"), "Cannot create the Pod Identity association", err.Error())
		return
	}
	m.PodIdentityAssociationID = types.StringValue(aws.ToString(out.Association.AssociationId))
}

// readPodIdentityAssociation refreshes the service account of m from its association. An
// imported role has no association ID yet: it is looked up by role among the cluster's
// associations. A missing association, or one moved to another role, reads as an empty
// namespace and name, so the plan puts it back.
func (r *controllerRoleResource) readPodIdentityAssociation(ctx context.Context, m *controllerRoleModel, diags *diag.Diagnostics) {
	cluster := aws.String(m.ClusterName.ValueString())
	id := m.PodIdentityAssociationID.ValueString()
	if id == "" {
		p := eks.NewListPodIdentityAssociationsPaginator(r.c.eks, &eks.ListPodIdentityAssociationsInput{ClusterName: cluster})
		for p.HasMorePages() && id == "" {
			page, err := p.NextPage(ctx)
			if err != nil {
				diags.AddError("Cannot list Pod Identity associations", err.Error())
				return
			}
			for _, s := range page.Associations {
				d, err := r.c.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: cluster, AssociationId: s.AssociationId})
				if err == nil && aws.ToString(d.Association.RoleArn) == m.ARN.ValueString() {
					id = aws.ToString(s.AssociationId)
					break
				}
			}
		}
	}
	m.ServiceAccountNamespace, m.ServiceAccountName = types.StringValue(""), types.StringValue("")
	if id == "" {
		m.PodIdentityAssociationID = types.StringNull()
		return
	}
	out, err := r.c.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: cluster, AssociationId: aws.String(id)})
	if awsErrorCode(err) == "ResourceNotFoundException" {
		m.PodIdentityAssociationID = types.StringNull()
		return
	}
	if err != nil {
		diags.AddError("Cannot read the Pod Identity association", err.Error())
		return
	}
	a := out.Association
	m.PodIdentityAssociationID = types.StringValue(id)
	if aws.ToString(a.RoleArn) == m.ARN.ValueString() {
		m.ServiceAccountNamespace, m.ServiceAccountName = types.StringValue(aws.ToString(a.Namespace)), types.StringValue(aws.ToString(a.ServiceAccount))
	}
}

// updatePodIdentityAssociation makes plan's association exist: the state's one is kept when it
// still binds the planned service account to the role; otherwise the new one is made first
// (so that a refused create leaves the old one in place), then the state's one is deleted,
// unless it binds keep ("<namespace>/<name>"), the service account a hand-over keeps trusting
// (controller_handover.go). adopt: the planned service account is the one a pending hand-over
// kept, so its association is the role's already and is taken over.
func (r *controllerRoleResource) updatePodIdentityAssociation(ctx context.Context, plan *controllerRoleModel, state controllerRoleModel, keep string, adopt bool, diags *diag.Diagnostics) {
	stale := false // the state's association exists and binds another service account
	if id := state.PodIdentityAssociationID.ValueString(); id != "" {
		cur := state
		r.readPodIdentityAssociation(ctx, &cur, diags)
		if diags.HasError() {
			return
		}
		if cur.PodIdentityAssociationID.ValueString() == id && cur.ServiceAccountNamespace.Equal(plan.ServiceAccountNamespace) &&
			cur.ServiceAccountName.Equal(plan.ServiceAccountName) {
			plan.PodIdentityAssociationID = cur.PodIdentityAssociationID
			return
		}
		stale = !cur.PodIdentityAssociationID.IsNull() &&
			(keep == "" || serviceAccountRef(cur.ServiceAccountNamespace.ValueString(), cur.ServiceAccountName.ValueString()) != keep)
	}
	if !r.adoptPodIdentityAssociation(ctx, plan, adopt, diags) {
		if diags.HasError() {
			return
		}
		r.createPodIdentityAssociation(ctx, plan, diags)
		if diags.HasError() {
			return
		}
	}
	if stale {
		r.deletePodIdentityAssociation(ctx, state, diags)
	}
}

// adoptPodIdentityAssociation takes over, when adopt, the association of plan's service account
// with the role that a pending hand-over kept, and reports whether it found one.
func (r *controllerRoleResource) adoptPodIdentityAssociation(ctx context.Context, plan *controllerRoleModel, adopt bool, diags *diag.Diagnostics) bool {
	if !adopt {
		return false
	}
	roles, err := r.c.associatedRoles(ctx, plan.ClusterName.ValueString(), plan.ServiceAccountNamespace.ValueString(), plan.ServiceAccountName.ValueString())
	if err != nil {
		diags.AddError("Cannot list Pod Identity associations", err.Error())
		return false
	}
	for _, a := range roles {
		if a.arn == plan.ARN.ValueString() {
			plan.PodIdentityAssociationID = types.StringValue(a.associationID)
			return true
		}
	}
	return false
}

// deletePodIdentityAssociation deletes the association this resource created (none: nothing).
func (r *controllerRoleResource) deletePodIdentityAssociation(ctx context.Context, m controllerRoleModel, diags *diag.Diagnostics) {
	id := m.PodIdentityAssociationID.ValueString()
	if id == "" {
		return
	}
	_, err := r.c.eks.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
		ClusterName: aws.String(m.ClusterName.ValueString()), AssociationId: aws.String(id)})
	if err != nil && awsErrorCode(err) != "ResourceNotFoundException" {
		diags.AddError("Cannot delete the Pod Identity association", err.Error())
	}
}
