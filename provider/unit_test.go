package provider

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/types"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestProvisionerModelRoundTrip(t *testing.T) {
	in := provisionerModel{
		Name: types.StringValue("default"), Labels: mapValue(map[string]string{"team": "a"}, true),
		Weight: types.Int64Value(10), TTLSecondsAfterEmpty: types.Int64Value(30), TTLSecondsUntilExpired: types.Int64Null(),
		TerminationGracePeriod: types.StringValue("90m"),
		Requirements: []requirementModel{
			{Key: types.StringValue("karpenter.sh/capacity-type"), Operator: types.StringValue("In"), Values: listValue([]string{"spot", "on-demand"})},
			{Key: types.StringValue("karpenter.k8s.aws/instance-family"), Operator: types.StringValue("Exists"), Values: types.ListNull(types.StringType)},
		},
		Taints:        []taintModel{{Key: types.StringValue("dedicated"), Value: types.StringValue("gpu"), Effect: types.StringValue("NoSchedule")}},
		StartupTaints: []taintModel{},
		Limits:        []limitsModel{{CPU: types.StringValue("1000"), Memory: types.StringValue("1000Gi")}},
		Provider: []awsModel{{SubnetSelector: mapValue(map[string]string{"karpenter.sh/discovery": "demo"}, false),
			SecurityGroupSelector: mapValue(map[string]string{"karpenter.sh/discovery": "demo"}, false),
			InstanceProfile:       types.StringValue("KarpenterNode"), Tags: types.MapNull(types.StringType),
			AMIFamily: types.StringNull(), LaunchTemplate: types.StringNull()}},
		KubeletConfiguration: []kubeletModel{{ClusterDNS: types.ListNull(types.StringType), MaxPods: types.Int64Value(110), ContainerRuntime: types.StringNull()}},
		Consolidation:        []consolidationModel{{Enabled: types.BoolValue(false)}},
	}
	spec, diags := in.toSpec(ctx)
	if diags.HasError() {
		t.Fatal(diags)
	}
	if got := spec.Limits.Resources.Cpu().String(); got != "1k" {
		t.Errorf("cpu limit = %s, want 1k (1000 cores)", got)
	}
	if *spec.TTLSecondsAfterEmpty != 30 || *spec.Weight != 10 || spec.TTLSecondsUntilExpired != nil {
		t.Errorf("ttl/weight = %v/%v/%v", *spec.TTLSecondsAfterEmpty, *spec.Weight, spec.TTLSecondsUntilExpired)
	}
	if spec.Requirements[1].Values != nil || string(spec.Requirements[0].Operator) != "In" || len(spec.Requirements[0].Values) != 2 {
		t.Errorf("requirements = %+v", spec.Requirements)
	}
	if *spec.Provider.InstanceProfile != "KarpenterNode" || spec.Provider.AMIFamily != nil || *spec.KubeletConfiguration.MaxPods != 110 {
		t.Errorf("provider/kubelet = %+v %+v", spec.Provider, spec.KubeletConfiguration)
	}
	out := provisionerFromSpec("default", spec, in)
	in.ID = types.StringValue("default")
	spec2, _ := out.toSpec(ctx)
	if out.Limits[0].CPU.ValueString() != "1000" {
		t.Errorf("quantity spelling not kept: %s", out.Limits[0].CPU)
	}
	if !out.Labels.Equal(in.Labels) || !out.Requirements[1].Values.IsNull() || !out.Provider[0].Tags.IsNull() || out.Taints[0].Value.ValueString() != "gpu" {
		t.Errorf("round trip changed the model: %+v", out)
	}
	if len(spec2.Requirements) != 2 || spec2.Consolidation == nil || *spec2.Consolidation.Enabled {
		t.Errorf("second conversion differs: %+v", spec2)
	}
	// A live value that differs is reported in its canonical form.
	spec.Limits.Resources["cpu"] = resource.MustParse("2000")
	if got := provisionerFromSpec("default", spec, in).Limits[0].CPU.ValueString(); got != "2000" {
		t.Errorf("drifted cpu = %s, want 2000", got)
	}
	// The grace period keeps the user's spelling while it denotes the same duration.
	if spec.TerminationGracePeriod == nil || spec.TerminationGracePeriod.Duration != 90*time.Minute {
		t.Errorf("terminationGracePeriod = %v, want 1h30m", spec.TerminationGracePeriod)
	}
	if got := out.TerminationGracePeriod.ValueString(); got != "90m" {
		t.Errorf("grace period spelling not kept: %s", got)
	}
	spec.TerminationGracePeriod.Duration = 2 * time.Hour
	if got := provisionerFromSpec("default", spec, in).TerminationGracePeriod.ValueString(); got != "2h" {
		t.Errorf("drifted grace period = %s, want 2h", got)
	}
	for d, want := range map[time.Duration]string{48 * time.Hour: "48h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", time.Hour + time.Second: "1h0m1s", 0: "0s"} {
		if got := shortDuration(d); got != want || !gracePeriodPattern.MatchString(got) {
			t.Errorf("shortDuration(%v) = %q, want %q matching the CRD's pattern", d, got, want)
		}
	}
	// Without a prior value (import) quantities are spelled as users write them.
	for in, want := range map[string]string{"1000": "1000", "1k": "1000", "500m": "500m", "1000Gi": "1000Gi", "1.5": "1500m"} {
		if got := quantityString(resource.MustParse(in)); got != want {
			t.Errorf("quantityString(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestControllerPolicy(t *testing.T) {
	doc := ControllerPolicy(ControllerPolicyInput{Partition: "aws", Region: "us-east-1", AccountID: "111122223333",
		ClusterName: "demo", NodeRoleARN: "arn:aws:iam::111122223333:role/KarpenterNode"})
	js := doc.JSON()
	for _, want := range []string{
		`"ec2:ResourceTag/karpenter.sh/cluster":"demo"`,
		`"Action":["ec2:DeleteLaunchTemplate","ec2:TerminateInstances"]`,
		`"Action":"iam:PassRole","Resource":"arn:aws:iam::111122223333:role/KarpenterNode"`,
		`"Resource":"arn:aws:eks:us-east-1:111122223333:cluster/demo"`,
		`arn:aws:ssm:us-east-1::parameter/aws/service/eks/optimized-ami/*`,
		`"Action":"pricing:GetProducts"`,
		// Launches only into discovery-tagged subnets and security groups, from cluster-tagged
		// launch templates.
		`"Resource":["arn:aws:ec2:us-east-1:*:security-group/*","arn:aws:ec2:us-east-1:*:subnet/*"],"Condition":{"StringEquals":{"ec2:ResourceTag/karpenter.sh/discovery":"demo"}}`,
		`"Resource":"arn:aws:ec2:us-east-1:*:launch-template/*","Condition":{"StringEquals":{"ec2:ResourceTag/karpenter.sh/cluster":"demo"}}`,
		`"Condition":{"StringEquals":{"iam:PassedToService":"ec2.amazonaws.com"}}`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("policy lacks %s:\n%s", want, js)
		}
	}
	// Subnets and security groups are reachable for launches only under the discovery tag.
	for _, st := range doc.Statement {
		for _, res := range st.Resource {
			if (strings.Contains(res, ":subnet/") || strings.Contains(res, ":security-group/")) &&
				st.Condition["StringEquals"]["ec2:ResourceTag/karpenter.sh/discovery"] == nil {
				t.Errorf("statement %s reaches %s without the discovery tag condition", st.Sid, res)
			}
		}
	}
	// No statement allows a mutating EC2 action on "*".
	for _, s := range doc.Statement {
		for _, a := range s.Action {
			if (strings.HasPrefix(a, "ec2:Terminate") || strings.HasPrefix(a, "ec2:Delete") || strings.HasPrefix(a, "ec2:Create") || a == "ec2:RunInstances") && len(s.Resource) == 1 && s.Resource[0] == "*" {
				t.Errorf("statement %s allows %s on *", s.Sid, a)
			}
		}
	}
	// IAM returns documents URL-encoded; parsing recovers the facts Read needs.
	parsed, err := ParsePolicyDocument(strings.ReplaceAll(strings.ReplaceAll(js, "{", "%7B"), "}", "%7D"))
	if err != nil {
		t.Fatal(err)
	}
	if parsed.JSON() != js {
		t.Errorf("round trip differs")
	}
	if c, r := controllerPolicyFacts(parsed); c != "demo" || r != "arn:aws:iam::111122223333:role/KarpenterNode" {
		t.Errorf("facts = %q %q", c, r)
	}
	if _, err := ParsePolicyDocument(`{"Statement": 3}`); err == nil {
		t.Error("bad document parsed")
	}
}

func TestOIDCTrustPolicy(t *testing.T) {
	arn := "arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC"
	doc := OIDCTrustPolicy(arn, "https://oidc.eks.us-east-1.amazonaws.com/id/ABC", "karpenter", "karpenter")
	js := doc.JSON()
	for _, want := range []string{`"oidc.eks.us-east-1.amazonaws.com/id/ABC:sub":"system:serviceaccount:karpenter:karpenter"`,
		`"oidc.eks.us-east-1.amazonaws.com/id/ABC:aud":"sts.amazonaws.com"`, `"Action":"sts:AssumeRoleWithWebIdentity"`} {
		if !strings.Contains(js, want) {
			t.Errorf("trust lacks %s: %s", want, js)
		}
	}
	p, issuer, ns, sa, ok := trustPolicyFacts(doc)
	if !ok || p != arn || issuer != "https://oidc.eks.us-east-1.amazonaws.com/id/ABC" || ns != "karpenter" || sa != "karpenter" {
		t.Errorf("facts = %v %q %q %q %q", ok, p, issuer, ns, sa)
	}
}

func TestAWSAuthMerge(t *testing.T) {
	existing := `- rolearn: arn:aws:iam::111122223333:role/static
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:bootstrappers, system:nodes]
  extra: kept
`
	entries, err := parseMapRoles(existing)
	if err != nil {
		t.Fatal(err)
	}
	role := awsAuthRole{RoleARN: "arn:aws:iam::111122223333:role/karpenter", Username: defaultNodeUsername, Groups: defaultNodeGroups}
	out, err := upsertMapRole(entries, role)
	if err != nil {
		t.Fatal(err)
	}
	entries, _ = parseMapRoles(out)
	if len(entries) != 2 || entries[0]["extra"] != "kept" {
		t.Fatalf("other entry clobbered:\n%s", out)
	}
	got, ok := findMapRole(entries, role.RoleARN)
	if !ok || got.Username != defaultNodeUsername || len(got.Groups) != 2 {
		t.Errorf("entry = %+v %v", got, ok)
	}
	role.Groups = []string{"system:nodes"}
	out, _ = upsertMapRole(entries, role)
	entries, _ = parseMapRoles(out)
	if got, _ := findMapRole(entries, role.RoleARN); len(entries) != 2 || len(got.Groups) != 1 {
		t.Errorf("update: %s", out)
	}
	out, _ = removeMapRole(entries, role.RoleARN)
	entries, _ = parseMapRoles(out)
	if _, ok := findMapRole(entries, role.RoleARN); ok || len(entries) != 1 {
		t.Errorf("remove: %s", out)
	}
	if _, err := parseMapRoles("rolearn: not-a-list"); err == nil {
		t.Error("malformed mapRoles accepted")
	}
}

// TestAWSAuthOwnership checks that addMapRole refuses a role that is already mapped (naming
// the entry, and suggesting import or node_access_method = "none") and that upsertMapRole and removeMapRole touch only the first entry of a role,
// keeping one added for the same role later.
func TestAWSAuthOwnership(t *testing.T) {
	const arn = "arn:aws:iam::111122223333:role/shared"
	entries, err := parseMapRoles("- rolearn: " + arn + "\n  username: legacy\n  groups: [system:nodes]\n")
	if err != nil {
		t.Fatal(err)
	}
	_, err = addMapRole(entries, awsAuthRole{RoleARN: arn, Username: defaultNodeUsername, Groups: defaultNodeGroups})
	var exists *mapRoleExistsError
	if !errors.As(err, &exists) || exists.Existing.Username != "legacy" || !strings.Contains(err.Error(), "terraform import") ||
		!strings.Contains(err.Error(), `node_access_method = "none"`) {
		t.Fatalf("addMapRole over an existing entry: %v", err)
	}
	out, err := addMapRole(nil, awsAuthRole{RoleARN: arn, Username: "mine", Groups: defaultNodeGroups})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ = parseMapRoles(out + "- rolearn: " + arn + "\n  username: later\n")
	out, _ = upsertMapRole(entries, awsAuthRole{RoleARN: arn, Username: "mine2"})
	entries, _ = parseMapRoles(out)
	if len(entries) != 2 || entries[0]["username"] != "mine2" || entries[1]["username"] != "later" {
		t.Fatalf("upsert touched another entry of the role:\n%s", out)
	}
	out, _ = removeMapRole(entries, arn)
	entries, _ = parseMapRoles(out)
	if len(entries) != 1 || entries[0]["username"] != "later" {
		t.Fatalf("remove took the later entry of the role:\n%s", out)
	}
}
