package provider

// The hand-over of the controller role between two service accounts.
//
// Terraform applies karpenter_controller_role before karpenter_controller (the controller
// names the role), so when the controller's namespace or service account changes, the role
// has been told to trust the new service account while the installation that runs is still
// the old one. If the move then fails, karpenter_controller puts the old installation back
// (undoMove) — and a role trusting only the new service account would leave it without AWS
// access as soon as its credentials are refreshed (IRSA) or its pods restart.
//
// So the role hands over instead of switching: an update that changes the service account
// while a karpenter_controller installation runs as the previous one keeps trusting it (IRSA: a second trust statement with Sid
// PreviousServiceAccount; Pod Identity: the previous association is kept) and marks the role
// with the tag previousServiceAccountTag = "<namespace>/<name>". The controller ends the
// hand-over once its installation runs under the new service account (releaseHandover, after
// a successful move or any update); until then its Read shows a hand-over that outlived its
// move as drift in missing_objects, so a failed release is retried by the next apply.

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// previousServiceAccountTag marks a controller role that still trusts the previous service
// account ("<namespace>/<name>") of a controller whose move may not have happened yet. Not
// part of the role's tags attribute.
const previousServiceAccountTag = "terraform-provider-karpenter/previous-service-account"

// previousServiceAccountSid is the Sid of the IRSA trust statement for the previous service
// account during a hand-over.
const previousServiceAccountSid = "PreviousServiceAccount"

// serviceAccountRef is "<namespace>/<name>", the form of previousServiceAccountTag's value.
func serviceAccountRef(namespace, name string) string {
	if namespace == "" || name == "" {
		return ""
	}
	return namespace + "/" + name
}

// previousServiceAccount is the value of previousServiceAccountTag among tags ("" if absent).
func previousServiceAccount(tags []iamtypes.Tag) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == previousServiceAccountTag {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// handoverFrom decides which service account ("<namespace>/<name>", "" for none) an update
// of a controller role keeps trusting besides the planned one (want): the one a pending
// hand-over already keeps (tagged), else the one the role trusted until now (had), as long
// as it is not want itself and the identity mode stays the same (a switch rolls the
// controller's pods anyway). The caller still drops it when no controller runs as it
// (controllerRunsAs).
func handoverFrom(tagged, had, want string, sameIdentity bool) string {
	prev := tagged
	if prev == "" {
		prev = had
	}
	if !sameIdentity || prev == want {
		return ""
	}
	return prev
}

// controllerRunsAs reports whether a karpenter_controller installation (its Deployment, with
// the controller container) runs as the service account ref ("<namespace>/<name>") with the
// role roleARN: with IRSA (identity irsa) the service account's role annotation names it,
// with Pod Identity an association in cluster binds the service account to it. Only then
// does a role update hand over, since only then will a controller's move end the hand-over.
// False when the cluster cannot be read (no Kubernetes configuration, an error): the role then
// switches at once, as without a controller.
func (c *clients) controllerRunsAs(ctx context.Context, cluster, ref, roleARN, identity string) bool {
	ns, name, ok := strings.Cut(ref, "/")
	if !ok || roleARN == "" {
		return false
	}
	kc, err := c.kube()
	if err != nil {
		return false
	}
	var d appsv1.Deployment
	if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: deploymentName}, &d); err != nil {
		return false
	}
	if d.Spec.Template.Spec.ServiceAccountName != name ||
		!slices.ContainsFunc(d.Spec.Template.Spec.Containers, func(c corev1.Container) bool { return c.Name == containerName }) {
		return false
	}
	var sa corev1.ServiceAccount
	if err := kc.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &sa); err != nil {
		return false
	}
	if identity == identityPodIdentity {
		// A role annotation wins over Pod Identity (the SDK's credential chain tries web
		// identity first): then the controller does not use this role's association.
		if sa.Annotations[roleARNAnnotation] != "" {
			return false
		}
		roles, err := c.associatedRoles(ctx, cluster, ns, name)
		return err == nil && slices.ContainsFunc(roles, func(a associatedRole) bool { return a.arn == roleARN })
	}
	return sa.Annotations[roleARNAnnotation] == roleARN
}

// withPreviousServiceAccount returns the IRSA trust policy trust (one statement, as
// OIDCTrustPolicy makes it) with a second statement, Sid PreviousServiceAccount, that lets
// the service account ref ("<namespace>/<name>") assume the role as well.
func withPreviousServiceAccount(trust PolicyDocument, ref string) PolicyDocument {
	if ref == "" || len(trust.Statement) != 1 {
		return trust
	}
	s := trust.Statement[0]
	prev := PolicyStatement{Sid: previousServiceAccountSid, Effect: s.Effect, Principal: s.Principal, Action: s.Action,
		Condition: map[string]map[string]policyValues{}}
	for op, kv := range s.Condition {
		c := map[string]policyValues{}
		for k, v := range kv {
			if strings.HasSuffix(k, ":sub") {
				v = policyValues{"system:serviceaccount:" + strings.Replace(ref, "/", ":", 1)}
			}
			c[k] = v
		}
		prev.Condition[op] = c
	}
	trust.Statement = append(trust.Statement, prev)
	return trust
}

// withoutPreviousServiceAccount drops the PreviousServiceAccount statements of trust and
// reports whether there were any.
func withoutPreviousServiceAccount(trust PolicyDocument) (PolicyDocument, bool) {
	kept := make([]PolicyStatement, 0, len(trust.Statement))
	for _, s := range trust.Statement {
		if s.Sid != previousServiceAccountSid {
			kept = append(kept, s)
		}
	}
	dropped := len(kept) != len(trust.Statement)
	trust.Statement = kept
	return trust, dropped
}

// handover is a controller role's pending hand-over: the role (name) still trusts the
// service account previous ("<namespace>/<name>").
type handover struct {
	role, previous string
}

// pendingHandover returns the hand-over of the role of a controller that runs as service
// account namespace/name: the role is roleARN (IRSA), or with Pod Identity ("" roleARN) the
// role of the service account's association in cluster. found is false when the role has no
// hand-over, or one that keeps trusting namespace/name itself (its move is still pending).
// Errors: an AWS call failed (a missing role or association is no hand-over).
func (c *clients) pendingHandover(ctx context.Context, cluster, namespace, name, roleARN string) (h handover, found bool, err error) {
	roleName := roleNameOf(roleARN)
	if roleARN == "" && cluster != "" {
		roles, err := c.associatedRoles(ctx, cluster, namespace, name)
		if err != nil || len(roles) == 0 {
			return h, false, err
		}
		roleName = roles[0].name
	}
	if roleName == "" {
		return h, false, nil
	}
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(roleName)})
	if isIAMNotFound(err) {
		return h, false, nil
	}
	if err != nil {
		return h, false, err
	}
	prev := previousServiceAccount(out.Role.Tags)
	if prev == "" || prev == serviceAccountRef(namespace, name) {
		return h, false, nil
	}
	return handover{role: roleName, previous: prev}, true, nil
}

// roleNameOf is the name of the IAM role roleARN (arn:<partition>:iam::<account>:role/<path>/<name>;
// "" for "").
func roleNameOf(roleARN string) string { return roleARN[strings.LastIndex(roleARN, "/")+1:] }

// associatedRole is a Pod Identity association of a service account and the role it binds.
type associatedRole struct {
	associationID, arn, name string
}

// associatedRoles lists the Pod Identity associations of namespace/name in cluster with their
// roles. Errors: an EKS call failed.
func (c *clients) associatedRoles(ctx context.Context, cluster, namespace, name string) ([]associatedRole, error) {
	var roles []associatedRole
	p := eks.NewListPodIdentityAssociationsPaginator(c.eks, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(cluster), Namespace: aws.String(namespace), ServiceAccount: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Associations {
			d, err := c.eks.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String(cluster), AssociationId: s.AssociationId})
			if awsErrorCode(err) == "ResourceNotFoundException" {
				continue
			}
			if err != nil {
				return nil, err
			}
			roleARN := aws.ToString(d.Association.RoleArn)
			roles = append(roles, associatedRole{associationID: aws.ToString(s.AssociationId), arn: roleARN, name: roleNameOf(roleARN)})
		}
	}
	return roles, nil
}

// releaseHandover ends h: the role stops trusting h.previous (its PreviousServiceAccount
// trust statement is removed, and in cluster the Pod Identity associations of h.previous
// with the role are deleted) and loses previousServiceAccountTag. Errors: an AWS call failed
// (what was done stays done; the tag goes last, so a retry finds the hand-over again).
func (c *clients) releaseHandover(ctx context.Context, cluster string, h handover) error {
	out, err := c.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(h.role)})
	if isIAMNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading role %s: %w", h.role, err)
	}
	if trust, err := ParsePolicyDocument(aws.ToString(out.Role.AssumeRolePolicyDocument)); err == nil {
		if kept, dropped := withoutPreviousServiceAccount(trust); dropped {
			if _, err := c.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
				RoleName: aws.String(h.role), PolicyDocument: aws.String(kept.JSON())}); err != nil {
				return fmt.Errorf("updating the trust policy of role %s: %w", h.role, err)
			}
		}
	}
	if err := c.deletePreviousAssociations(ctx, cluster, aws.ToString(out.Role.Arn), h.previous); err != nil {
		return err
	}
	if _, err := c.iam.UntagRole(ctx, &iam.UntagRoleInput{RoleName: aws.String(h.role), TagKeys: []string{previousServiceAccountTag}}); err != nil &&
		!isIAMNotFound(err) {
		return fmt.Errorf("untagging role %s: %w", h.role, err)
	}
	return nil
}

// deletePreviousAssociations deletes the Pod Identity associations in cluster that bind the
// service account ref ("<namespace>/<name>") to roleARN. Errors: an EKS call failed.
func (c *clients) deletePreviousAssociations(ctx context.Context, cluster, roleARN, ref string) error {
	ns, name, ok := strings.Cut(ref, "/")
	if cluster == "" || !ok {
		return nil
	}
	roles, err := c.associatedRoles(ctx, cluster, ns, name)
	if err != nil {
		return fmt.Errorf("listing the Pod Identity associations of %s: %w", ref, err)
	}
	for _, a := range roles {
		if a.arn != roleARN {
			continue
		}
		_, err := c.eks.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: aws.String(a.associationID)})
		if err != nil && awsErrorCode(err) != "ResourceNotFoundException" {
			return fmt.Errorf("deleting the Pod Identity association %s of %s: %w", a.associationID, ref, err)
		}
	}
	return nil
}
