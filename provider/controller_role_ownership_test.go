package provider

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
)

// emulatorIssuer is the OIDC issuer of the test emulator's cluster (startEmulator).
const emulatorIssuer = "https://127.0.0.1:6443/oidc"

// controllerRoleConfig is a node role and karpenter_controller_role.test named name.
func controllerRoleConfig(name string) string {
	return `resource "karpenter_node_role" "node" {
  name = "` + name + `-node"
}
resource "karpenter_controller_role" "test" {
  name          = "` + name + `"
  cluster_name  = "` + testClusterName + `"
  node_role_arn = karpenter_node_role.node.arn
}
`
}

// TestAccControllerRoleAdoptedOIDCProvider starts from an IAM OIDC provider for the cluster's
// issuer that another IRSA role trusts: karpenter_controller_role adopts it
// (oidc_provider_created = false) and its destroy leaves both the provider and the other role.
func TestAccControllerRoleAdoptedOIDCProvider(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	out, err := env.iam.CreateOpenIDConnectProvider(ctx, &iam.CreateOpenIDConnectProviderInput{
		Url: awssdk.String(emulatorIssuer), ClientIDList: []string{"sts.amazonaws.com"}})
	must(t, err)
	providerARN := awssdk.ToString(out.OpenIDConnectProviderArn)
	other := createTrustingRole(t, env, "acc-other-irsa", providerARN)
	const addr = "karpenter_controller_role.test"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: controllerRoleConfig("acc-adopts"), Check: resource.ComposeAggregateTestCheckFunc(
				resource.TestCheckResourceAttr(addr, "oidc_provider_arn", providerARN),
				resource.TestCheckResourceAttr(addr, "oidc_provider_created", "false"))},
		},
		CheckDestroy: resource.ComposeAggregateTestCheckFunc(checkOIDCProvider(env, providerARN, true), checkRole(env, other)),
	})
}

// TestAccControllerRoleCreatedOIDCProvider lets karpenter_controller_role create the OIDC
// provider: destroyed alone it deletes it; while another role trusts it, the destroy keeps it.
func TestAccControllerRoleCreatedOIDCProvider(t *testing.T) {
	testAccPreCheck(t)
	env := startEmulator(t)
	const addr = "karpenter_controller_role.test"
	var providerARN string
	created := resource.ComposeAggregateTestCheckFunc(resource.TestCheckResourceAttr(addr, "oidc_provider_created", "true"),
		func(s *terraform.State) error {
			providerARN = s.RootModule().Resources[addr].Primary.Attributes["oidc_provider_arn"]
			return nil
		})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: controllerRoleConfig("acc-creates"), Check: created},
			{ // an update that keeps the identity plans the OIDC attributes it keeps as known
				Config: strings.Replace(controllerRoleConfig("acc-creates"), "  node_role_arn", "  service_account_namespace = \"moved\"\n  node_role_arn", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(addr, plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("oidc_provider_created"), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(addr, tfjsonpath.New("pod_identity_association_id"), knownvalue.Null())}},
				Check: created,
			},
		},
		CheckDestroy: func(*terraform.State) error { return checkOIDCProvider(env, providerARN, false)(nil) },
	})
	var other string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: controllerRoleConfig("acc-creates"), Check: created},
			{ // another IRSA role comes to trust the provider this resource created
				PreConfig: func() { other = createTrustingRole(t, env, "acc-later-irsa", providerARN) },
				Config:    controllerRoleConfig("acc-creates"),
			},
		},
		CheckDestroy: func(*terraform.State) error {
			return resource.ComposeAggregateTestCheckFunc(checkOIDCProvider(env, providerARN, true), checkRole(env, other))(nil)
		},
	})
}

// createTrustingRole creates IAM role name trusting providerARN (a second IRSA role on the
// cluster) and returns its name.
func createTrustingRole(t *testing.T, env *awsEnv, name, providerARN string) string {
	t.Helper()
	trust := OIDCTrustPolicy(providerARN, emulatorIssuer, "other", "other")
	_, err := env.iam.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String(name), AssumeRolePolicyDocument: awssdk.String(trust.JSON())})
	must(t, err)
	return name
}

// checkOIDCProvider checks that the OIDC provider exists (or not).
func checkOIDCProvider(env *awsEnv, providerARN string, exists bool) resource.TestCheckFunc {
	return func(*terraform.State) error {
		_, err := env.iam.GetOpenIDConnectProvider(ctx, &iam.GetOpenIDConnectProviderInput{OpenIDConnectProviderArn: awssdk.String(providerARN)})
		switch {
		case exists && err != nil:
			return fmt.Errorf("OIDC provider %s: %w", providerARN, err)
		case !exists && err == nil:
			return fmt.Errorf("OIDC provider %s still exists", providerARN)
		case !exists && !isIAMNotFound(err):
			return err
		}
		return nil
	}
}

// checkRole checks that role name exists and still trusts an OIDC provider.
func checkRole(env *awsEnv, name string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		out, err := env.iam.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(name)})
		if err != nil {
			return fmt.Errorf("role %s: %w", name, err)
		}
		doc, _ := url.QueryUnescape(awssdk.ToString(out.Role.AssumeRolePolicyDocument))
		if !strings.Contains(doc, ":oidc-provider/") {
			return fmt.Errorf("role %s trust changed: %s", name, doc)
		}
		return nil
	}
}
