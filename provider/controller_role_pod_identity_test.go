package provider

import (
	"fmt"
	"regexp"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// TestAccControllerRolePodIdentity covers identity = "pod_identity": the trust and the
// association are made; an association someone else made for a service account is refused and
// kept; import finds the association by role; a trust and an association changed outside
// Terraform are planned back; another service account moves the association; destroy removes
// only this resource's association.
func TestAccControllerRolePodIdentity(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	const addr = "karpenter_controller_role.test"
	ekc := eks.NewFromConfig(awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(env.url),
		Credentials: env.iam.Options().Credentials, HTTPClient: env.iam.Options().HTTPClient})
	cluster := awssdk.String(testClusterName)
	trust := PodIdentityTrustPolicy().JSON()
	other, err := env.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("someone-else"), AssumeRolePolicyDocument: &trust})
	must(t, err)
	_, err = ekc.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: cluster,
		Namespace: awssdk.String("karpenter"), ServiceAccount: awssdk.String("taken"), RoleArn: other.Role.Arn})
	must(t, err)
	cfgAs := func(identity, sa string) string {
		return `resource "karpenter_node_role" "node" {
  name = "acc-pi-role-node"
}
resource "karpenter_controller_role" "test" {
  name                 = "acc-pi-role"
  cluster_name         = "` + testClusterName + `"
  node_role_arn        = karpenter_node_role.node.arn
  identity             = "` + identity + `"
  service_account_name = "` + sa + `"
}
`
	}
	cfg := func(sa string) string { return cfgAs(identityPodIdentity, sa) }
	associated := func(sa, wantRole string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got, ok := env.e.PodIdentityRole("karpenter", sa); !ok || got != wantRole {
				return fmt.Errorf("association of karpenter/%s: role %q (%v), want %q", sa, got, ok, wantRole)
			}
			return nil
		}
	}
	notAssociated := func(sa string) resource.TestCheckFunc {
		return func(*terraform.State) error {
			if got, ok := env.e.PodIdentityRole("karpenter", sa); ok {
				return fmt.Errorf("karpenter/%s is still associated with %s", sa, got)
			}
			return nil
		}
	}
	const roleARN = "arn:aws:iam::111122223333:role/acc-pi-role"
	var associationID string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: cfg("taken"), ExpectError: regexp.MustCompile(`already has a Pod Identity association`)},
			{Config: cfg("karpenter"), Check: resource.ComposeAggregateTestCheckFunc(
				associated("karpenter", roleARN), associated("taken", *other.Role.Arn),
				resource.TestCheckResourceAttr(addr, "oidc_provider_created", "false"),
				resource.TestCheckNoResourceAttr(addr, "oidc_issuer_url"),
				func(s *terraform.State) error {
					associationID = s.RootModule().Resources[addr].Primary.Attributes["pod_identity_association_id"]
					role, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("acc-pi-role")})
					if err != nil {
						return err
					}
					doc, err := ParsePolicyDocument(awssdk.ToString(role.Role.AssumeRolePolicyDocument))
					if err != nil || !isPodIdentityTrust(doc) {
						return fmt.Errorf("trust = %s (%v)", doc.JSON(), err)
					}
					return nil
				},
			)},
			{ResourceName: addr, ImportState: true, ImportStateVerify: true, ImportStateId: "acc-pi-role",
				ImportStateVerifyIgnore: []string{"oidc_provider_created", "timeouts"}},
			{ // the trust replaced outside Terraform is planned back
				PreConfig: func() {
					_, err := env.iam.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("acc-pi-role"),
						PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"sts:AssumeRole"}]}`)})
					must(t, err)
				},
				Config:           cfg("karpenter"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check:            associated("karpenter", roleARN),
			},
			{ // the association deleted outside Terraform is made again
				PreConfig: func() {
					_, err := ekc.DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{ClusterName: cluster, AssociationId: &associationID})
					must(t, err)
				},
				Config:           cfg("karpenter"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check:            associated("karpenter", roleARN),
			},
			{Config: cfg("karpenter-controller"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate)}},
				Check:            resource.ComposeAggregateTestCheckFunc(associated("karpenter-controller", roleARN), notAssociated("karpenter"))},
			{Config: cfg("karpenter-controller"), PlanOnly: true},
			// A move onto a service account someone else associated is refused, and the role's
			// own association stays (made before the old one is deleted).
			{Config: cfg("taken"), ExpectError: regexp.MustCompile(`already has a Pod Identity association`)},
			{PreConfig: func() {
				if got, ok := env.e.PodIdentityRole("karpenter", "karpenter-controller"); !ok || got != roleARN {
					t.Fatalf("after the refused move karpenter/karpenter-controller is associated with %q (%v), want %s", got, ok, roleARN)
				}
			}, Config: cfg("karpenter-controller"), Check: associated("karpenter-controller", roleARN)},
			// A switch to Pod Identity that EKS refuses (the service account has another role's
			// association) leaves the IRSA trust the running pods' credentials need.
			{Config: cfgAs(identityIRSA, "taken"), Check: notAssociated("karpenter-controller")},
			{Config: cfg("taken"), ExpectError: regexp.MustCompile(`already has a Pod Identity association`)},
			{PreConfig: func() { requireIRSATrust(t, env.iam, "acc-pi-role", "karpenter", "taken") }, Config: cfgAs(identityIRSA, "taken")},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(notAssociated("karpenter-controller"), associated("taken", *other.Role.Arn)),
	})
}

// requireIRSATrust fails t unless role's trust policy is IRSA's for service account ns/sa.
func requireIRSATrust(t *testing.T, c *iam.Client, role, ns, sa string) {
	t.Helper()
	out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(role)})
	must(t, err)
	doc, err := ParsePolicyDocument(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
	if _, _, gotNS, gotSA, ok := trustPolicyFacts(doc); err != nil || !ok || gotNS != ns || gotSA != sa {
		t.Fatalf("role %s trust is %s (%v), want IRSA for %s:%s", role, doc.JSON(), err, ns, sa)
	}
}
