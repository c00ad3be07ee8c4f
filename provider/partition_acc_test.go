package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nodeform/terraform-provider-karpenter/controller/apis/v1alpha5"
	"github.com/nodeform/terraform-provider-karpenter/sandbox"
	emulator "github.com/nodeform/terraform-provider-karpenter/sandbox/aws"
)

// partitionCase is a region and what its partition makes the provider write: the partition of
// every ARN and the EC2 service principal of the node role's trust and of iam:PassedToService
// (ec2.amazonaws.com.cn in China, ec2.amazonaws.com elsewhere: see partition.go and
// sandbox/aws.Partition.EC2ServicePrincipal for the sources).
type partitionCase struct {
	region, partition, ec2Principal string
}

// partitionPrefix is the resource-name prefix of every IAM entity these tests create.
const partitionPrefix = "acc-part"

// TestAccPartitionChina applies the IAM-facing resources (node role, instance profile, an IRSA
// and a Pod Identity controller role, an access-entry node access) and the controller in a
// sandbox whose region is cn-north-1: every ARN in state, in IAM and in the policies is
// arn:aws-cn:, the node role trusts ec2.amazonaws.com.cn and the controller may pass it to
// ec2.amazonaws.com.cn only, and no arn:aws: is left anywhere. The controller, on IRSA with
// that policy, launches an instance for a pending pod in a cn-north-1 zone, and the instance
// joins (the sandbox lets instances join only when their role trusts the partition's EC2
// principal). Destroy leaves no role, instance profile, policy, OIDC provider, association,
// access entry or launched instance.
func TestAccPartitionChina(t *testing.T) {
	testAccPreCheck(t)
	if testing.Short() {
		t.Skip("needs a sandbox (skipped with -short)")
	}
	if os.Getenv("KARPENTER_BIN") == "" {
		t.Skip("KARPENTER_BIN unset: the sandbox runs controller pods from that binary (go build -o bin/terraform-provider-karpenter .)")
	}
	pc := partitionCase{region: "cn-north-1", partition: "aws-cn", ec2Principal: "ec2.amazonaws.com.cn"}
	sb, kc := startRegionSandbox(t, pc.region)
	iamc := iam.NewFromConfig(sb.AWSConfig())
	ec2c := ec2.NewFromConfig(sb.AWSConfig())
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: partitionConfig(sb.ClusterName, true), Check: resource.ComposeTestCheckFunc(
				checkPartition(pc, sb.ClusterName, iamc, sb.Emulator),
				checkLaunchesNode(t, kc, partitionPrefix),
				checkNodeInRegion(kc, pc.region),
			)},
			{Config: partitionConfig(sb.ClusterName, true), PlanOnly: true},
		},
		CheckDestroy: checkPartitionDestroyed(iamc, ec2c, sb.Emulator),
	})
}

// TestAccPartitionGovCloud applies the IAM-facing resources against an AWS emulator in
// us-gov-west-1 (no controller: that path is TestAccPartitionChina's): every ARN is
// arn:aws-us-gov:, the EC2 principal stays ec2.amazonaws.com, and destroy leaves nothing.
func TestAccPartitionGovCloud(t *testing.T) {
	testAccPreCheck(t)
	pc := partitionCase{region: "us-gov-west-1", partition: "aws-us-gov", ec2Principal: "ec2.amazonaws.com"}
	env := startEmulatorIn(t, pc.region)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: partitionConfig(testClusterName, false), Check: checkPartition(pc, testClusterName, env.iam, env.e)},
			{Config: partitionConfig(testClusterName, false), PlanOnly: true},
		},
		CheckDestroy: checkPartitionDestroyed(env.iam, env.ec2, env.e),
	})
}

// startRegionSandbox starts a sandbox of its own in region for the test (one static node for
// the controller's single replica) and points the process environment at it; it is stopped
// when the test ends and its state directory removed unless the test failed.
func startRegionSandbox(t *testing.T, region string) (*sandbox.Sandbox, client.Client) {
	t.Helper()
	dir, err := os.MkdirTemp("", "karpenter-partition-")
	must(t, err)
	startCtx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	sb, err := sandbox.Start(startCtx, sandbox.Config{Dir: dir, ClusterName: "acc-" + region, Region: region,
		StaticNodes: 1, BootDelay: time.Second})
	if err != nil {
		t.Fatalf("sandbox in %s did not start: %v (state in %s)", region, err, dir)
	}
	t.Cleanup(func() {
		sb.Stop()
		if t.Failed() {
			t.Logf("sandbox state kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	for _, kv := range sb.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	kc, err := client.New(sb.RESTConfig(), client.Options{Scheme: scheme})
	must(t, err)
	return sb, kc
}

// partitionConfig: node role, instance profile, IRSA controller role, Pod Identity controller
// role (service account karpenter-pi, so the two roles do not compete for one), access-entry
// node access; withController adds the discovery tags, the controller (one replica, on the
// IRSA role) and provisioner "acc-part".
func partitionConfig(cluster string, withController bool) string {
	cfg := `resource "karpenter_node_role" "node" {
  name = "` + partitionPrefix + `-node"
}
resource "karpenter_instance_profile" "node" {
  name = "` + partitionPrefix + `-node"
  role = karpenter_node_role.node.name
}
resource "karpenter_controller_role" "irsa" {
  name          = "` + partitionPrefix + `-irsa"
  cluster_name  = "` + cluster + `"
  node_role_arn = karpenter_node_role.node.arn
}
resource "karpenter_controller_role" "pi" {
  name                 = "` + partitionPrefix + `-pi"
  cluster_name         = "` + cluster + `"
  node_role_arn        = karpenter_node_role.node.arn
  identity             = "pod_identity"
  service_account_name = "karpenter-pi"
}
resource "karpenter_node_access" "node" {
  role_arn     = karpenter_node_role.node.arn
  method       = "access_entry"
  cluster_name = "` + cluster + `"
}
`
	if !withController {
		return cfg
	}
	var ids []string
	for _, sn := range emulator.SeedSubnets {
		ids = append(ids, sn.ID)
	}
	ids = append(ids, emulator.SeedClusterSecurityGroupID)
	return cfg + `resource "karpenter_discovery_tags" "net" {
  cluster_name = "` + cluster + `"
  resource_ids = ["` + strings.Join(ids, `", "`) + `"]
}
resource "karpenter_controller" "test" {
  cluster_name             = "` + cluster + `"
  controller_role_arn      = karpenter_controller_role.irsa.arn
  default_instance_profile = karpenter_instance_profile.node.name
  replicas                 = 1
  resources {
    cpu_request    = "100m"
    memory_request = "128Mi"
  }
  depends_on = [karpenter_node_access.node, karpenter_discovery_tags.net]
}
` + onDemandProvisionerHCL(partitionPrefix, cluster)
}

// arnRE matches every ARN in a text (up to a quote, comma, whitespace or bracket).
var arnRE = regexp.MustCompile(`arn:[^"\s,\]\[]+`)

// checkARNs fails if text holds an ARN outside partition pc.partition.
func checkARNs(pc partitionCase, where, text string) error {
	for _, a := range arnRE.FindAllString(text, -1) {
		if !strings.HasPrefix(a, "arn:"+pc.partition+":") {
			return fmt.Errorf("%s: ARN %s is not in partition %s", where, a, pc.partition)
		}
	}
	return nil
}

// checkPartition checks state, IAM and the emulator after partitionConfig was applied: every
// ARN of every attribute in state, of the roles' trust policies and attached policies and of
// the controller policy's stored default version is in pc's partition; the node role's
// managed policies are the partition's AWS managed policies; the node role trusts
// pc.ec2Principal only; the controller policy passes the node role to pc.ec2Principal only and
// scopes its EC2, SSM and EKS resources to pc's partition and region; the IRSA trust names the
// partition's OIDC provider with audience sts.amazonaws.com; the Pod Identity role trusts
// pods.eks.amazonaws.com and is associated; the node role has an EC2_LINUX access entry.
func checkPartition(pc partitionCase, cluster string, iamc *iam.Client, e *emulator.Emulator) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		if p := e.Partition(); p.ID != pc.partition || p.EC2ServicePrincipal() != pc.ec2Principal {
			return fmt.Errorf("emulator partition %+v, want %s", p, pc.partition)
		}
		res := s.RootModule().Resources
		for addr, r := range res {
			for k, v := range r.Primary.Attributes {
				if err := checkARNs(pc, addr+"."+k, v); err != nil {
					return err
				}
			}
		}
		attr := func(addr, key string) string { return res[addr].Primary.Attributes[key] }
		nodeARN := attr("karpenter_node_role.node", "arn")
		acct := `[0-9]{12}`
		for what, c := range map[string]struct{ value, pattern string }{
			"node role":            {nodeARN, `^arn:` + pc.partition + `:iam::` + acct + `:role/` + partitionPrefix + `-node$`},
			"instance profile":     {attr("karpenter_instance_profile.node", "arn"), `^arn:` + pc.partition + `:iam::` + acct + `:instance-profile/` + partitionPrefix + `-node$`},
			"IRSA role":            {attr("karpenter_controller_role.irsa", "arn"), `^arn:` + pc.partition + `:iam::` + acct + `:role/` + partitionPrefix + `-irsa$`},
			"IRSA policy":          {attr("karpenter_controller_role.irsa", "policy_arn"), `^arn:` + pc.partition + `:iam::` + acct + `:policy/`},
			"OIDC provider":        {attr("karpenter_controller_role.irsa", "oidc_provider_arn"), `^arn:` + pc.partition + `:iam::` + acct + `:oidc-provider/`},
			"Pod Identity role":    {attr("karpenter_controller_role.pi", "arn"), `^arn:` + pc.partition + `:iam::` + acct + `:role/` + partitionPrefix + `-pi$`},
			"access entry":         {attr("karpenter_node_access.node", "access_entry_arn"), `^arn:` + pc.partition + `:eks:` + pc.region + `:` + acct + `:access-entry/` + cluster + `/role/`},
			"managed policy count": {attr("karpenter_node_role.node", "managed_policy_arns.#"), `^4$`},
		} {
			if !regexp.MustCompile(c.pattern).MatchString(c.value) {
				return fmt.Errorf("%s = %q, want %s", what, c.value, c.pattern)
			}
		}
		if err := checkNodeRoleInIAM(pc, iamc); err != nil {
			return err
		}
		if err := checkIRSARoleInIAM(pc, cluster, iamc, attr("karpenter_controller_role.irsa", "policy_json"),
			attr("karpenter_controller_role.irsa", "policy_arn"), attr("karpenter_controller_role.irsa", "oidc_provider_arn"), nodeARN); err != nil {
			return err
		}
		pi, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(partitionPrefix + "-pi")})
		if err != nil {
			return err
		}
		if doc, err := ParsePolicyDocument(awssdk.ToString(pi.Role.AssumeRolePolicyDocument)); err != nil || !isPodIdentityTrust(doc) {
			return fmt.Errorf("Pod Identity trust %s (%v)", awssdk.ToString(pi.Role.AssumeRolePolicyDocument), err)
		}
		if r, ok := e.PodIdentityRole("karpenter", "karpenter-pi"); !ok || r != attr("karpenter_controller_role.pi", "arn") {
			return fmt.Errorf("Pod Identity association: %q %v", r, ok)
		}
		if typ, ok := e.AccessEntryType(nodeARN); !ok || typ != emulator.AccessEntryEC2Linux {
			return fmt.Errorf("access entry of %s: %q %v", nodeARN, typ, ok)
		}
		return nil
	}
}

// checkNodeRoleInIAM: the node role's trust names exactly pc.ec2Principal, and its attached
// policies are the four default AWS managed policies of pc's partition.
func checkNodeRoleInIAM(pc partitionCase, iamc *iam.Client) error {
	name := awssdk.String(partitionPrefix + "-node")
	role, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: name})
	if err != nil {
		return err
	}
	trust, err := ParsePolicyDocument(awssdk.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil {
		return err
	}
	if len(trust.Statement) != 1 || !slices.Equal(trust.Statement[0].Principal["Service"], []string{pc.ec2Principal}) {
		return fmt.Errorf("node role trust %s, want principal %s only", trust.JSON(), pc.ec2Principal)
	}
	attached, err := iamc.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: name})
	if err != nil {
		return err
	}
	var got []string
	for _, p := range attached.AttachedPolicies {
		got = append(got, awssdk.ToString(p.PolicyArn))
	}
	var want []string
	for _, n := range DefaultNodePolicyNames {
		want = append(want, "arn:"+pc.partition+":iam::aws:policy/"+n)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		return fmt.Errorf("node role policies %v, want %v", got, want)
	}
	return nil
}

// checkIRSARoleInIAM: the stored default version of the controller policy is policyJSON; it
// passes nodeARN to pc.ec2Principal only and names EC2, SSM and EKS resources in pc's
// partition and region; the trust federates the partition's OIDC provider (providerARN) with
// audience sts.amazonaws.com (the audience in every partition, policy.go irsaAudience).
func checkIRSARoleInIAM(pc partitionCase, cluster string, iamc *iam.Client, policyJSON, policyARN, providerARN, nodeARN string) error {
	pol, err := iamc.GetPolicy(ctx, &iam.GetPolicyInput{PolicyArn: &policyARN})
	if err != nil {
		return err
	}
	v, err := iamc.GetPolicyVersion(ctx, &iam.GetPolicyVersionInput{PolicyArn: &policyARN, VersionId: pol.Policy.DefaultVersionId})
	if err != nil {
		return err
	}
	stored, err := ParsePolicyDocument(awssdk.ToString(v.PolicyVersion.Document))
	if err != nil {
		return err
	}
	if stored.JSON() != policyJSON {
		return fmt.Errorf("stored controller policy %s differs from policy_json %s", stored.JSON(), policyJSON)
	}
	if err := checkARNs(pc, "controller policy", policyJSON); err != nil {
		return err
	}
	pass, ok := stored.statement(sidPassNodeRole)
	if !ok || !slices.Equal(pass.Resource, []string{nodeARN}) ||
		!slices.Equal(pass.Condition["StringEquals"]["iam:PassedToService"], []string{pc.ec2Principal}) {
		return fmt.Errorf("PassRole statement %+v, want %s passed to %s only", pass, nodeARN, pc.ec2Principal)
	}
	for _, want := range []string{
		`"arn:` + pc.partition + `:ec2:` + pc.region + `:*:instance/*"`,
		`"arn:` + pc.partition + `:ssm:` + pc.region + `::parameter/aws/service/eks/optimized-ami/*"`,
		`:eks:` + pc.region + `:`, `:cluster/` + cluster + `"`,
		`"aws:RequestedRegion":"` + pc.region + `"`,
	} {
		if !strings.Contains(policyJSON, want) {
			return fmt.Errorf("controller policy lacks %s: %s", want, policyJSON)
		}
	}
	role, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String(partitionPrefix + "-irsa")})
	if err != nil {
		return err
	}
	trust, err := ParsePolicyDocument(awssdk.ToString(role.Role.AssumeRolePolicyDocument))
	if err != nil {
		return err
	}
	if got, _, _, _, ok := trustPolicyFacts(trust); !ok || got != providerARN || !strings.Contains(trust.JSON(), `:aud":"`+irsaAudience+`"`) {
		return fmt.Errorf("IRSA trust %s, want provider %s and audience %s", trust.JSON(), providerARN, irsaAudience)
	}
	return nil
}

// checkNodeInRegion: every Node of provisioner acc-part is labelled with region and one of its
// zones, and its provider ID names that zone.
func checkNodeInRegion(kc client.Client, region string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		var nodes corev1.NodeList
		if err := kc.List(ctx, &nodes, client.MatchingLabels{v1alpha5.LabelProvisionerName: partitionPrefix}); err != nil {
			return err
		}
		if len(nodes.Items) == 0 {
			return fmt.Errorf("no node of provisioner %s", partitionPrefix)
		}
		for _, n := range nodes.Items {
			zone := n.Labels[corev1.LabelTopologyZone]
			if n.Labels[corev1.LabelTopologyRegion] != region || !strings.HasPrefix(zone, region) || !strings.HasPrefix(n.Spec.ProviderID, "aws:///"+zone+"/") {
				return fmt.Errorf("node %s: region %q zone %q provider ID %s, want %s", n.Name, n.Labels[corev1.LabelTopologyRegion], zone, n.Spec.ProviderID, region)
			}
		}
		return nil
	}
}

// checkPartitionDestroyed: no role, instance profile or customer managed policy named
// acc-part*, no OIDC provider, no Pod Identity association of karpenter/karpenter-pi, no
// access entry of the node role, and no instance launched by the controller still alive.
func checkPartitionDestroyed(iamc *iam.Client, ec2c *ec2.Client, e *emulator.Emulator) resource.TestCheckFunc {
	return func(*terraform.State) error {
		roles, err := iamc.ListRoles(ctx, &iam.ListRolesInput{})
		if err != nil {
			return err
		}
		for _, r := range roles.Roles {
			if strings.HasPrefix(awssdk.ToString(r.RoleName), partitionPrefix) {
				return fmt.Errorf("role %s left after destroy", awssdk.ToString(r.Arn))
			}
		}
		profiles, err := iamc.ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{})
		if err != nil {
			return err
		}
		for _, p := range profiles.InstanceProfiles {
			if strings.HasPrefix(awssdk.ToString(p.InstanceProfileName), partitionPrefix) {
				return fmt.Errorf("instance profile %s left after destroy", awssdk.ToString(p.Arn))
			}
		}
		policies, err := iamc.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Local"})
		if err != nil {
			return err
		}
		for _, p := range policies.Policies {
			if strings.HasPrefix(awssdk.ToString(p.PolicyName), partitionPrefix) {
				return fmt.Errorf("policy %s left after destroy", awssdk.ToString(p.Arn))
			}
		}
		oidc, err := iamc.ListOpenIDConnectProviders(ctx, &iam.ListOpenIDConnectProvidersInput{})
		if err != nil {
			return err
		}
		if len(oidc.OpenIDConnectProviderList) > 0 {
			return fmt.Errorf("OIDC provider %s left after destroy", awssdk.ToString(oidc.OpenIDConnectProviderList[0].Arn))
		}
		if r, ok := e.PodIdentityRole("karpenter", "karpenter-pi"); ok {
			return fmt.Errorf("Pod Identity association of %s left after destroy", r)
		}
		nodeARN := e.Partition().ARN("iam", "", "111122223333", "role/"+partitionPrefix+"-node")
		if _, ok := e.AccessEntryType(nodeARN); ok {
			return fmt.Errorf("access entry of %s left after destroy", nodeARN)
		}
		out, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
			{Name: awssdk.String("tag-key"), Values: []string{v1alpha5.LabelProvisionerName}},
			{Name: awssdk.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"}},
		}})
		if err != nil {
			return err
		}
		for _, r := range out.Reservations {
			for _, i := range r.Instances {
				return fmt.Errorf("instance %s launched by the controller left after destroy", awssdk.ToString(i.InstanceId))
			}
		}
		return nil
	}
}
